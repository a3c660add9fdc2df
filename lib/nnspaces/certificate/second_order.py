"""The second-order test: the Lagrangian's curvature on the tangent space of the preimage."""

from __future__ import annotations

import math

import torch

from ..spaces import rank_cutoff
from .common import as_tensor, check_jacobian
from .first_order import row_basis


def reduced_curvature(J, G, w, extra=None) -> float:
    """Smallest eigenvalue of the Lagrangian's Hessian on the tangent space: the
    second-order test of ``min ½‖x − r‖² s.t. f(x) = t``.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
        The Jacobian of ``f`` at ``x``.
    G : (m', n) Tensor or ndarray
    w : (m',) Tensor or ndarray
        The constraints' curvature ``H = ∇²(λᵀf) = Gᵀ diag(w) G`` at the multipliers ``λ``
        (:func:`nnspaces.nearest.kinks.constraint_hessian` for a Linear/SELU stack).
    extra : (p, n), optional
        Further constraint gradients held fixed (e.g. the kink rows): the tangent space is
        the null space of ``[J; extra]``.

    Returns
    -------
    h_min : float
        ``λ_min(Zᵀ(I − H)Z)``, ``Z`` an orthonormal basis of the tangent space ``N(J)``
        (1.0 where ``H`` vanishes on it; ``inf`` when the tangent space is ``{0}``).

    Notes
    -----
    The Lagrangian of the problem is ``L = ½‖x − r‖² − λᵀ(f(x) − t)``, with Hessian
    ``I − H``. At a first-order point (``x − r = Jᵀλ``, :func:`kappa` 0), ``h_min > 0`` is
    the second-order sufficient condition: ``x`` is a strict *local* minimum of the distance
    on the preimage [1]_; ``h_min < 0`` means a direction along the preimage in which the
    distance falls (a saddle, or the farthest point of a closed preimage). It proves nothing
    global. With ``P = G(I − J⁺J)`` (m' × n, thin SVD ``P = U S Qᵀ``), ``ZᵀHZ`` has the
    nonzero eigenvalues of ``S Uᵀ diag(w) U S`` (r × r) and zeros on the rest of ``N(J)``.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006,
       Theorem 12.6.

    Examples
    --------
    >>> J = torch.tensor([[1.0, 0.0]], dtype=torch.float64)  # tangent space: the x₂ axis
    >>> G = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    >>> reduced_curvature(J, G, torch.tensor([0.25])), reduced_curvature(J, G, torch.tensor([3.0]))
    (0.75, -2.0)
    """
    J = check_jacobian(J)
    G = as_tensor(G, like=J).reshape(-1, J.shape[1])  # (m', n)
    w = as_tensor(w, like=J).reshape(-1)
    V = row_basis(J, extra)  # (k, n)
    null_dim = J.shape[1] - len(V)
    if null_dim == 0:
        return math.inf
    P = G - (G @ V.T) @ V  # (m', n): G on the tangent space
    U, S, _ = torch.linalg.svd(P, full_matrices=False)
    keep = S > rank_cutoff(S, tuple(P.shape)) if len(S) else S > 0
    US = U[:, keep] * S[keep]  # (m', r)
    eig = torch.linalg.eigvalsh(US.T @ (w[:, None] * US))  # (r,)
    h = 1.0 - float(eig.max()) if len(eig) else 1.0
    return min(h, 1.0) if null_dim > len(eig) else h
