"""One convolution layer seen through every matrix its weights define (Figure 2's chapter):
the kernels, unfold and taps views of :mod:`~nnspaces.spaces.matrices` and the whole operator."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ..common import eval_mode
from ..models import device_of
from .matrices import weight_matrix
from .operator import conv_operator_singular_values
from .svd import LayerSpaces, layer_spaces


def conv_layer(model: nn.Module, name: str) -> nn.Conv2d:
    """The ``Conv2d`` called ``name`` in ``model`` (e.g. ``"layer1.0.conv1"``).

    Raises
    ------
    ValueError
        No such module, or it is not a ``Conv2d``; the message lists the convolutions.
    """
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    try:
        layer = model.get_submodule(name)
    except AttributeError:
        layer = None
    if not isinstance(layer, nn.Conv2d):
        raise ValueError(
            f"{name!r} is not a Conv2d of this model: choose one of {', '.join(convs)}"
        )
    return layer


@torch.no_grad()
def input_sizes(model: nn.Module, input_shape=(1, 28, 28)) -> dict[str, tuple[int, int]]:
    """Spatial size ``(H, W)`` of the input each ``Conv2d`` receives, from one zero image."""
    sizes: dict[str, tuple[int, int]] = {}

    def record(name):
        def hook(module, args):  # returns None: the input passes on unchanged
            sizes.setdefault(name, tuple(args[0].shape[-2:]))

        return hook

    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    hooks = [m.register_forward_pre_hook(record(n)) for n, m in convs]
    try:
        with eval_mode(model):
            dtype = next(model.parameters()).dtype
            model(torch.zeros(1, *input_shape, device=device_of(model), dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
    return sizes


def layer_views(model: nn.Module, name: str, input_shape=(1, 28, 28)) -> dict:
    """The spectra of one convolution in the four views.

    Parameters
    ----------
    model : nn.Module
    name : str
        Dotted name of a ``Conv2d`` of ``model``.
    input_shape : tuple
        One network input's shape (the operator view needs the layer's input size).

    Returns
    -------
    views : dict
        ``"kernels"`` and ``"unfold"`` → :class:`~nnspaces.spaces.LayerSpaces`;
        ``"taps"`` → (kh·kw·min(C_out, C_in),) singular values of the kh·kw tap matrices,
        pooled and sorted; ``"operator HxW"`` → the singular values of the whole circular
        convolution on H×W inputs.
    """
    conv = conv_layer(model, name)
    H, W = input_sizes(model, input_shape)[name]
    taps = weight_matrix(conv, view="taps").double()  # (kh*kw, C_out, C_in)
    pooled = torch.linalg.svdvals(taps).flatten().sort(descending=True).values
    return {
        "kernels": layer_spaces(conv, view="kernels"),
        "unfold": layer_spaces(conv, view="unfold"),
        "taps": pooled,
        f"operator {H}x{W}": conv_operator_singular_values(conv, (H, W)),
    }


def views_table(views: dict) -> pd.DataFrame:
    """One row per view: number of singular values, largest, smallest, their ratio."""
    rows = []
    for label, v in views.items():
        S = v.S if isinstance(v, LayerSpaces) else torch.as_tensor(v, dtype=torch.float64)
        shape = "×".join(map(str, v.shape)) if isinstance(v, LayerSpaces) else "—"
        smax, smin = float(S.max()), float(S.min())
        cond = smax / smin if smin > 0 else float("inf")
        rows.append(
            {
                "view": label,
                "matrix": shape,
                "singular values": len(S),
                "sigma_max": smax,
                "sigma_min": smin,
                "condition number": cond,
            }
        )
    return pd.DataFrame(rows).set_index("view")
