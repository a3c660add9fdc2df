"""SELU, the activation of the paper's networks, and its inverse on SELU's range."""

from __future__ import annotations

import torch

#: SELU's scale λ, exactly the constant torch.nn.SELU uses.
SELU_LAMBDA = 1.0507009873554804934193349852946
#: SELU's α, exactly the constant torch.nn.SELU uses.
SELU_ALPHA = 1.6732632423543772848170429916717
#: SELU's floor −λα: SELU maps ℝ onto (−λα, ∞).
SELU_FLOOR = -SELU_LAMBDA * SELU_ALPHA


def selu_inverse(a: torch.Tensor) -> torch.Tensor:
    """Invert SELU elementwise.

    Parameters
    ----------
    a : Tensor, any shape
        Values in SELU's range ``(−λα, ∞)``, ``λα ≈ 1.7581``.

    Returns
    -------
    u : Tensor, same shape and dtype as ``a``
        ``selu(u) == a``.

    Raises
    ------
    ValueError
        If ``a`` holds NaN or ±inf, or values at or below the floor ``−λα`` (no input reaches
        them); the message says how many and the smallest.

    Notes
    -----
    ``σ⁻¹(a) = a / λ`` for ``a > 0`` and ``log(1 + a / (λα))`` for ``a ≤ 0``.

    Examples
    --------
    >>> u = torch.tensor([-3.0, 0.0, 2.0], dtype=torch.float64)
    >>> torch.allclose(selu_inverse(torch.selu(u)), u)
    True
    """
    a = torch.as_tensor(a)
    if not torch.is_floating_point(a):
        a = a.to(torch.get_default_dtype())
    bad = ~torch.isfinite(a)
    if bad.any():
        raise ValueError(f"selu_inverse: {int(bad.sum())} value(s) are NaN or inf")
    below = a <= SELU_FLOOR
    if below.any():
        raise ValueError(
            f"selu_inverse: {int(below.sum())} value(s) at or below SELU's floor "
            f"-λα = {SELU_FLOOR:.6f} (smallest {float(a.min()):.6g}); no input reaches them"
        )
    neg = torch.log1p(torch.clamp(a, max=0.0) / (SELU_LAMBDA * SELU_ALPHA))
    return torch.where(a > 0, a / SELU_LAMBDA, neg)


def selu_slope(u: torch.Tensor) -> torch.Tensor:
    """``σ'(u)`` elementwise: ``λ`` for ``u > 0``, ``λα eᵘ`` otherwise (same shape and dtype)."""
    return torch.where(u > 0, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * u.exp())
