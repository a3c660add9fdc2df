"""The released code's passes over the data in the mode the network is in, and what they build.

- :data:`BATCH_SIZE` — the released batch (and number of copies), 32;
- :func:`released_targets` — the min/max targets from outputs over the data;
- :func:`batch_outputs` — outputs in shuffled batches; :func:`copies_outputs` — each image as
  identical copies;
- :func:`nearest_start` — the released "min" start image; :func:`choice_range` — how decisive
  that choice is; :func:`near_binary_fraction` — how black-and-white images are;
- :func:`running_stat_drift` — how far BatchNorm running statistics moved.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import device_of

#: Images per batch in the released code; also the number of copies of the optimised image.
BATCH_SIZE = 32


def released_targets(Z: torch.Tensor) -> torch.Tensor:
    """The released code's min/max targets from outputs over the data.

    Parameters
    ----------
    Z : (N, K) Tensor
        Raw outputs of ``N`` images.

    Returns
    -------
    T : (K, K) Tensor
        Row ``c`` is the target of class ``c``; dtype of ``Z``, on the CPU.

    Notes
    -----
    ``T[c, j] = min_n Z[n, c]`` for ``j ≠ c`` and ``T[c, c] = max_n Z[n, c]``: every entry of row
    ``c`` is built from output ``c`` alone (NOTES §2).

    Examples
    --------
    >>> released_targets(torch.tensor([[0.0, 5.0], [2.0, 1.0]]))
    tensor([[2., 0.],
            [1., 5.]])
    """
    Z = torch.as_tensor(Z).detach().cpu()
    if Z.ndim != 2 or len(Z) == 0:
        raise ValueError(f"outputs Z must be a non-empty (N, K) matrix, got {tuple(Z.shape)}")
    if not torch.isfinite(Z).all():
        raise ValueError("the outputs hold NaN or inf: no targets can be built")
    K = Z.shape[1]
    T = Z.min(0).values[:, None].expand(K, K).clone()  # (K, K): row c = min of output c
    T[torch.arange(K), torch.arange(K)] = Z.max(0).values
    return T


def _batches(n: int, batch_size: int, seed: int | None) -> list[torch.Tensor]:
    """Index batches of a seeded permutation; a last batch of one image joins the one before
    (a BatchNorm layer in training mode refuses a single value per channel)."""
    order = torch.arange(n) if seed is None else torch.randperm(n, generator=_gen(seed))
    parts = list(torch.split(order, batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def batch_outputs(
    model: nn.Module, X: torch.Tensor, batch_size: int = BATCH_SIZE, seed: int | None = 0
) -> torch.Tensor:
    """Outputs over a data set, computed in batches in whatever mode ``model`` is in.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C, H, W)`` to ``(B, K)``. Used as it is: in training mode every BatchNorm layer
        normalises with the batch's statistics and updates its running statistics.
    X : (N, C, H, W) Tensor
    batch_size : int
        Images per batch (the released 32).
    seed : int or None
        Seeds the random order of the images (the released loader shuffled); ``None`` keeps the
        given order. In training mode an image's output depends on the other images of its batch.

    Returns
    -------
    Z : (N, K) Tensor
        Row ``n`` is the output of ``X[n]`` (in the original order); CPU, the model's dtype.
    """
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty (N, C, H, W) Tensor, got {tuple(X.shape)}")
    device = device_of(model)
    parts = _batches(len(X), batch_size, seed)
    outs = [model(X[idx].to(device)).cpu() for idx in parts]
    Z = torch.empty(len(X), outs[0].shape[1], dtype=outs[0].dtype)
    Z[torch.cat(parts)] = torch.cat(outs)
    return Z


@torch.no_grad()
def copies_outputs(model: nn.Module, X: torch.Tensor, copies: int = BATCH_SIZE) -> torch.Tensor:
    """Each image's outputs when it is passed as a batch of ``copies`` identical copies.

    Parameters
    ----------
    model : torch.nn.Module
        Used in the mode it is in (the released "min" start: training mode).
    X : (N, C, H, W) Tensor
    copies : int
        ``B``.

    Returns
    -------
    Z : (N, B, K) Tensor
        ``Z[n, b]`` is the output of copy ``b`` of ``X[n]``; CPU, the model's dtype. (The copies'
        rows can differ in the last bits: the network need not treat batch entries identically.)
    """
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty (N, C, H, W) Tensor, got {tuple(X.shape)}")
    device = device_of(model)
    return torch.stack(
        [model(x.to(device).expand(copies, *x.shape).contiguous()).cpu() for x in X]
    )  # (N, B, K)


def nearest_start(
    X: torch.Tensor, y: torch.Tensor, c: int, Z: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """The released "min" start: the class-``c`` image whose outputs are nearest the target.

    Parameters
    ----------
    X : (N, C, H, W) Tensor
    y : (N,) Tensor
    c : int
    Z : (N, B, K) Tensor
        Outputs of every image as ``B`` copies (:func:`copies_outputs`); ``B = 1`` for one output
        per image (``Z[:, None]``).
    target : (K,) Tensor

    Returns
    -------
    x0 : (C, H, W) Tensor
        ``X[n*]`` with ``n* = argmin_{n : y_n = c} mean_{b,k} (Z[n, b, k] − t[k])²``, the first
        of equal minima (the released strict ``<``).
    """
    idx, mse = _choice_losses(y, c, Z, target)
    best = int(torch.nonzero(mse == mse.min())[0])
    return X[idx[best]].detach().cpu()


def _choice_losses(y, c: int, Z: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the class-``c`` images and their losses ``mean_{b,k} (Z[n, b, k] − t[k])²``."""
    idx = torch.nonzero(torch.as_tensor(y).cpu() == c).flatten()
    if len(idx) == 0:
        raise ValueError(f"nearest_start: no images of class {c}")
    t = torch.as_tensor(target, dtype=Z.dtype).reshape(1, 1, -1)
    return idx, ((Z[idx] - t) ** 2).mean((1, 2))  # (Nc,), (Nc,)


def choice_range(y: torch.Tensor, Z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """How decisive the "min" choice is: the relative range of the candidates' losses.

    Parameters
    ----------
    y : (N,) Tensor
    Z : (N, B, K) Tensor
        As in :func:`nearest_start`.
    T : (K, K) Tensor
        Targets, row ``c`` for class ``c``.

    Returns
    -------
    r : (K,) float64 Tensor
        ``(max − min) / min`` of the losses of the class-``c`` images: near 0 when every image of
        the class is (almost) equally near the target, so that rounding decides the choice.
    """
    out = []
    for c in range(len(T)):
        _, mse = _choice_losses(y, c, Z, T[c])
        mse = mse.double()
        out.append(float((mse.max() - mse.min()) / mse.min().clamp_min(1e-300)))
    return torch.tensor(out, dtype=torch.float64)


def near_binary_fraction(images: torch.Tensor, tol: float = 0.1) -> float:
    """Fraction of pixels within ``tol`` of black (0) or white (1).

    Parameters
    ----------
    images : (N, C, H, W) Tensor
    tol : float

    Returns
    -------
    fraction : float

    Examples
    --------
    >>> near_binary_fraction(torch.tensor([0.0, 0.05, 0.5, 0.97]).reshape(1, 1, 2, 2))
    0.75
    """
    x = torch.as_tensor(images).double()
    return float(((x <= tol) | (x >= 1 - tol)).double().mean())


def _batch_norms(model: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    return {
        n: m
        for n, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    }


def running_stat_drift(before: nn.Module, after: nn.Module) -> dict:
    """How far BatchNorm running statistics moved between two copies of a network.

    Returns
    -------
    drift : dict
        ``running_mean`` and ``running_var``: the largest relative change
        ``‖s_after − s_before‖ / ‖s_before‖`` over the BatchNorm layers (0 without any);
        ``running_mean_layer`` and ``running_var_layer``: the layer where it is largest
        (``""`` without any).
    """
    old, new = _batch_norms(before), _batch_norms(after)
    drift = {
        "running_mean": 0.0,
        "running_var": 0.0,
        "running_mean_layer": "",
        "running_var_layer": "",
    }
    for name, m in old.items():
        for key in ("running_mean", "running_var"):
            a, b = getattr(m, key), getattr(new[name], key).to(getattr(m, key).device)
            rel = float((b - a).norm() / a.norm().clamp_min(torch.finfo(a.dtype).tiny))
            if rel > drift[key]:
                drift[key], drift[f"{key}_layer"] = rel, name
    return drift
