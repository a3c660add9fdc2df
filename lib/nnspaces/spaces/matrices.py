"""The matrix a layer's weights define, in several views, and back (:func:`weight_matrix`,
:func:`weight_from_matrix`); the weight checks every other module of the package relies on."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

#: Views accepted by :func:`weight_matrix` (``"taps"`` is a stack of matrices).
VIEWS = ("kernels", "unfold", "taps")


def check_view(view: object, allowed: tuple[str, ...]) -> str:
    """``view`` if it is one of ``allowed``, else a ValueError listing them."""
    if view not in allowed:
        hint = ""
        if view == "operator" and "operator" not in allowed:
            hint = " (the operator view is conv_operator_singular_values(layer, size))"
        raise ValueError(f"unknown view {view!r}: choose one of {', '.join(allowed)}{hint}")
    return view


def layer_label(layer: object, name: str | None) -> str:
    """How an error message names a layer: its name, else its class."""
    return name if name else type(layer).__name__


def all_finite(t: Tensor) -> bool:
    """No NaN or inf in t. A finite sum proves it (NaN and inf propagate) and is cheaper."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def check_finite(x: Tensor, what: str) -> None:
    """A ValueError naming ``what`` when ``x`` holds NaN or inf."""
    if not all_finite(x):
        raise ValueError(f"{what} holds NaN or inf values")


def weight_of(layer: object, name: str | None = None) -> tuple[Tensor, int]:
    """The detached weight tensor of ``layer`` and its ``groups``; refuses NaN/inf weights."""
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        w, groups = layer.weight.detach(), getattr(layer, "groups", 1)
    elif isinstance(layer, Tensor):
        w, groups = layer.detach(), 1
    elif isinstance(layer, np.ndarray):
        w, groups = torch.from_numpy(layer), 1
    else:
        raise TypeError(
            f"expected an nn.Linear, an nn.Conv2d or a weight tensor, got {type(layer).__name__}"
        )
    if w.ndim not in (2, 4):
        raise ValueError(
            f"{layer_label(layer, name)}: a weight must be 2-D (Linear, (out, in)) or 4-D "
            f"(Conv2d, (C_out, C_in, kh, kw)), got shape {tuple(w.shape)}"
        )
    if not w.is_floating_point():
        w = w.double()
    if not all_finite(w):
        bad = int((~torch.isfinite(w)).sum())
        raise ValueError(
            f"layer {layer_label(layer, name)!r} has {bad} non-finite (NaN or inf) weights out of "
            f"{w.numel()}: its spaces are undefined; check the checkpoint or the training run"
        )
    return w, groups


def weight_matrix(layer, view: str = "kernels", name: str | None = None) -> Tensor:
    """The matrix (or stack of matrices) a layer's weights define.

    Parameters
    ----------
    layer : nn.Linear, nn.Conv2d, or weight Tensor of shape (m, n) or (C_out, C_in, kh, kw)
        A raw 4-D tensor is read as a convolution with ``groups=1``.
    view : {"kernels", "unfold", "taps"}
        How a convolution weight ``w`` (C_out, C_in, kh, kw) becomes a matrix:

        - ``"kernels"`` (the paper's): ``(C_out*C_in, kh*kw)``, one row per 2-D kernel
          ``w[o, c]``, row index ``o*C_in + c``;
        - ``"unfold"``: ``(C_out, C_in*kh*kw)``, the map from one input patch (as
          ``torch.nn.functional.unfold`` orders it: channel slowest) to the output channels;
        - ``"taps"``: ``(kh*kw, C_out, C_in)``, one channel-mixing matrix per kernel position,
          tap index ``p*kw + q`` (as WeightWatcher pools conv layers).

        A Linear weight ``W`` (m, n) is its own matrix: ``"kernels"`` and ``"unfold"`` return
        ``W``, ``"taps"`` returns ``W[None]`` (1, m, n), the single tap of a 1x1 convolution.
    name : str, optional
        The layer's name, used in error messages.

    Returns
    -------
    M : (m, n) Tensor, or (kh*kw, C_out, C_in) Tensor for ``"taps"``
        Detached, in the weight's dtype and on its device; may share memory with it.

    Raises
    ------
    ValueError
        Unknown view, non-finite weights (the message names the layer), a weight that is
        neither 2-D nor 4-D, or ``groups > 1`` with the ``"unfold"``/``"taps"`` views.

    See Also
    --------
    weight_from_matrix : the inverse reshape.
    conv_operator_singular_values : the spectrum of the whole convolution.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv2d(64, 64, 3, bias=False)
    >>> [tuple(weight_matrix(conv, v).shape) for v in VIEWS]
    [(4096, 9), (64, 576), (9, 64, 64)]
    """
    check_view(view, VIEWS)
    w, groups = weight_of(layer, name)
    if w.ndim == 2:
        return w.unsqueeze(0) if view == "taps" else w  # (1, m, n) or (m, n)
    C_out, C_in, kh, kw = w.shape
    if view == "kernels":
        return w.reshape(C_out * C_in, kh * kw)  # (C_out*C_in, kh*kw): one row per 2-D kernel
    if groups != 1:
        raise ValueError(
            f"{layer_label(layer, name)}: groups={groups} > 1: the {view!r} view of a grouped "
            "convolution is block-diagonal and not built here; use view='kernels'"
        )
    if view == "unfold":
        return w.reshape(C_out, C_in * kh * kw)  # (C_out, C_in*kh*kw), columns ordered (c, p, q)
    return w.permute(2, 3, 0, 1).reshape(kh * kw, C_out, C_in)  # (kh*kw, C_out, C_in), t=p*kw+q


def weight_from_matrix(M: Tensor, view: str, weight_shape: tuple[int, ...]) -> Tensor:
    """Undo :func:`weight_matrix`: rebuild the weight tensor from one of its views.

    Parameters
    ----------
    M : Tensor
        ``weight_matrix(w, view)`` for a weight ``w`` of shape ``weight_shape``.
    view : {"kernels", "unfold", "taps"}
    weight_shape : tuple
        ``(m, n)`` for a Linear weight or ``(C_out, C_in, kh, kw)`` for a convolution.

    Returns
    -------
    w : Tensor of shape ``weight_shape``, same dtype and device as ``M``.

    Examples
    --------
    >>> import torch
    >>> w = torch.randn(8, 3, 3, 3)
    >>> all(torch.equal(weight_from_matrix(weight_matrix(w, v), v, w.shape), w) for v in VIEWS)
    True
    """
    check_view(view, VIEWS)
    shape = tuple(int(s) for s in weight_shape)
    if len(shape) == 2:
        expected = (1, *shape) if view == "taps" else shape
    elif len(shape) == 4:
        C_out, C_in, kh, kw = shape
        expected = {
            "kernels": (C_out * C_in, kh * kw),
            "unfold": (C_out, C_in * kh * kw),
            "taps": (kh * kw, C_out, C_in),
        }[view]
    else:
        raise ValueError(f"weight_shape must have 2 or 4 entries, got {shape}")
    if tuple(M.shape) != expected:
        raise ValueError(
            f"a {view!r} view of a weight {shape} has shape {expected}, got {tuple(M.shape)}"
        )
    if len(shape) == 2:
        return M.reshape(shape)  # (m, n)
    if view == "taps":
        return (
            M.reshape(kh, kw, C_out, C_in).permute(2, 3, 0, 1).contiguous()
        )  # (C_out, C_in, kh, kw)
    return M.reshape(shape)  # (C_out, C_in, kh, kw)
