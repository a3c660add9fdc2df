"""The inverse problems' inputs: target outputs per class and starting (reference) images.

Both follow the paper's released code (NOTES §2) and take the network's outputs over the data
(``Z``: the caller may keep them, e.g. :func:`nnspaces.outputs.cached_outputs`; else one
forward pass, :func:`nnspaces.models.collect_outputs`); nothing here solves anything.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import collect_outputs

TARGET_KINDS = ("minmax", "percentile", "class-mean", "minmax-per-output", "percentile-per-output")
START_KINDS = ("avg", "min", "avg-min", "noise")


def class_targets(
    model: nn.Module | None,
    X: torch.Tensor | None,
    y: torch.Tensor | None,
    kind: str = "minmax",
    Z: torch.Tensor | None = None,
) -> torch.Tensor:
    """Target outputs, one per class, from the network's outputs over the data.

    Parameters
    ----------
    model : torch.nn.Module or None
        Maps ``(N, 1, 28, 28)`` to ``(N, K)``. Not used when ``Z`` is given.
    X : (N, 1, 28, 28) Tensor or None
        Images (all training images for the paper's targets). Not used when ``Z`` is given.
    y : (N,) Tensor or None
        Labels; needed for ``"class-mean"`` only.
    kind : str
        - ``"minmax"`` (the paper's, as its released code builds it): for class ``c`` every
          entry is the minimum over the data of output ``c``, except entry ``c``, its maximum:
          ``T[c, c] = max_n Z[n, c]``, ``T[c, j] = min_n Z[n, c]`` (``j ≠ c``).
        - ``"percentile"``: the same with the 75th / 25th percentiles of output ``c``
          (the released code's variant).
        - ``"class-mean"``: ``T[c] = mean of Z[n] over the images of class c`` — the
          average output of real images of class c.
        - ``"minmax-per-output"`` / ``"percentile-per-output"`` (this book's variants, not the
          authors'): every off-class entry at the minimum (25th percentile) of *its own*
          output, ``T[c, j] = min_n Z[n, j]``.
    Z : (N, K) Tensor, optional
        Precomputed outputs ``model(X)`` (e.g. :func:`nnspaces.outputs.cached_outputs`);
        else computed by :func:`nnspaces.models.collect_outputs`.

    Returns
    -------
    T : (K, K) Tensor
        Row ``c`` is the target output for class ``c``; dtype of the outputs, on the CPU.

    Notes
    -----
    Percentiles use linear interpolation (``torch.quantile``, as ``np.percentile``).
    """
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target kind {kind!r}: choose one of {', '.join(TARGET_KINDS)}")
    if Z is None:
        if model is None or X is None:
            raise ValueError("class_targets needs either Z (precomputed outputs) or model and X")
        Z = collect_outputs(model, X)
    Z = Z.detach().cpu()
    if Z.ndim != 2 or len(Z) == 0:
        raise ValueError(f"outputs Z must be a non-empty (N, K) matrix, got {tuple(Z.shape)}")
    if not torch.isfinite(Z).all():
        raise ValueError("the network's outputs hold NaN or inf: no targets can be built")
    K = Z.shape[1]
    if kind == "class-mean":
        if y is None:
            raise ValueError("class_targets(kind='class-mean') needs the labels y")
        y = torch.as_tensor(y).cpu()
        counts = torch.bincount(y, minlength=K)[:K]
        if (counts == 0).any():
            empty = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"class-mean targets: no images of class(es) {empty}")
        return torch.stack([Z[y == c].mean(0) for c in range(K)])
    if kind.startswith("minmax"):
        hi, lo = Z.max(0).values, Z.min(0).values
    else:
        q = torch.tensor([0.75, 0.25], dtype=Z.dtype)
        hi, lo = torch.quantile(Z, q, dim=0)  # (K,), (K,)
    if kind.endswith("per-output"):
        T = lo[None, :].expand(K, K).clone()  # column j: min of output j
    else:
        T = lo[:, None].expand(K, K).clone()  # row c: min of output c everywhere (released)
    T[torch.arange(K), torch.arange(K)] = hi
    return T


def start_image(
    kind: str,
    X: torch.Tensor,
    y: torch.Tensor,
    c: int,
    model: nn.Module | None = None,
    target: torch.Tensor | None = None,
    frac: float = 0.25,
    seed: int = 0,
    Z: torch.Tensor | None = None,
) -> torch.Tensor:
    """A starting (reference) image for class ``c``, as the released code builds it.

    Parameters
    ----------
    kind : {"avg", "min", "avg-min", "noise"}
        - ``"avg"``: the class-mean image of class ``c``.
        - ``"min"``: the class-``c`` image whose output is nearest (mean squared error) to
          ``target``.
        - ``"avg-min"``: the mean of the nearest ``frac`` of the class-``c`` images (at least
          one).
        - ``"noise"``: the class-mean image plus independent ``U(0, 1)`` noise per pixel, drawn
          from a ``torch.Generator`` seeded with ``seed`` (pixels then lie in ``[0, 2)``, as in
          the released code, which does not clip).
    X : (N, 1, 28, 28) Tensor
    y : (N,) Tensor
    c : int
        The class.
    model, target : needed for ``"min"`` and ``"avg-min"``; ``target`` is ``(K,)``.
    frac : float in (0, 1]
    seed : int
    Z : (N, K) Tensor, optional
        Precomputed outputs ``model(X)``; saves the forward passes.

    Returns
    -------
    x0 : (1, 28, 28) Tensor
        Same dtype as ``X``, on the CPU.
    """
    if kind not in START_KINDS:
        raise ValueError(f"unknown start kind {kind!r}: choose one of {', '.join(START_KINDS)}")
    y = torch.as_tensor(y).cpu()
    idx = torch.nonzero(y == c).flatten()
    if len(idx) == 0:
        raise ValueError(f"start_image: no images of class {c}")
    Xc = X[idx].detach().cpu()  # (Nc, 1, 28, 28)
    if kind == "avg":
        return Xc.mean(0)
    if kind == "noise":
        gen = torch.Generator().manual_seed(seed)
        noise = torch.rand(Xc.shape[1:], generator=gen, dtype=Xc.dtype)
        return Xc.mean(0) + noise
    if target is None:
        raise ValueError(f"start kind {kind!r} needs the class target (and the model or Z)")
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    if Z is None:
        if model is None:
            raise ValueError(f"start kind {kind!r} needs the model (or precomputed outputs Z)")
        Zc = collect_outputs(model, Xc)
    else:
        Zc = Z[idx].detach().cpu()
    t = torch.as_tensor(target, dtype=Zc.dtype).reshape(-1)
    mse = ((Zc - t) ** 2).mean(1)  # (Nc,)
    order = torch.argsort(mse, stable=True)
    if kind == "min":
        return Xc[order[0]]
    n = max(1, int(len(order) * frac))
    return Xc[order[:n]].mean(0)
