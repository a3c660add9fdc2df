"""Input checks every certificate shares: arrays or Tensors in, floating Tensors out."""

from __future__ import annotations

import torch


def as_tensor(a, like: torch.Tensor | None = None) -> torch.Tensor:
    """``a`` as a floating Tensor: float64 (or ``like``'s dtype, on its device)."""
    t = torch.as_tensor(a)
    if not torch.is_floating_point(t):
        t = t.to(torch.float64 if like is None else like.dtype)
    return t if like is None else t.to(dtype=like.dtype, device=like.device)


def check_jacobian(J) -> torch.Tensor:
    """``J`` as a finite (K, n) Tensor, or a ValueError saying what it is."""
    J = as_tensor(J)
    if J.ndim != 2:
        raise ValueError(f"J must be a (K, n) matrix, got shape {tuple(J.shape)}")
    if not torch.isfinite(J).all():
        raise ValueError(f"J holds {int((~torch.isfinite(J)).sum())} NaN or inf value(s)")
    return J


def flat(v, J: torch.Tensor, name: str) -> torch.Tensor:
    """``v`` flattened to ``J``'s n columns in its dtype, finite, or a ValueError naming it."""
    v = as_tensor(v, like=J).reshape(-1)
    if v.numel() != J.shape[1]:
        raise ValueError(
            f"{name} has {v.numel()} elements but J has {J.shape[1]} columns (one per pixel)"
        )
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} holds {int((~torch.isfinite(v)).sum())} NaN or inf value(s)")
    return v
