"""Box Gauss–Newton steps: the pixel box ``[lo, hi]`` in the linearised problem.

- :func:`box_step` — the minimum-norm Gauss–Newton step with the pixels at a bound that it
  would push outward held fixed: a projected Gauss–Newton step in the manner of Bertsekas'
  projected Newton method [1]_ (the caller clips and backtracks along the projection);
- :func:`bounded_step` — the bounded linearised step ``argmin ‖J d − res‖`` over
  ``x + d ∈ box`` of a batch, by :func:`box_least_squares`;
- :func:`box_least_squares` — bounded least squares with few rows, by Mehrotra's
  primal–dual interior-point method [2]_ [3]_ (its state: :class:`IPMState`).

References
----------
.. [1] D. P. Bertsekas, "Projected Newton methods for optimization problems with simple
   constraints", SIAM J. Control Optim. 20 (1982), pp. 221–246.
.. [2] S. Mehrotra, "On the implementation of a primal-dual interior point method", SIAM J.
   Optim. 2 (1992), pp. 575–601.
.. [3] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006,
   §14.2 (the predictor–corrector) and §16.6 (interior-point methods for QP).
.. [4] P. B. Stark and R. L. Parker, "Bounded-variable least-squares: an algorithm and
   applications", Computational Statistics 10 (1995), pp. 129–141.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .linalg import min_norm_step


def box_step(J: torch.Tensor, res: torch.Tensor, x: torch.Tensor, lo: float, hi: float):
    """Minimum-norm GN step ``d`` (n,) with pixels at a bound that the step pushes outward
    held fixed: ``J`` (K, n), ``res`` (K,), ``x`` (n,) in the box."""
    fixed = torch.zeros_like(x, dtype=torch.bool)
    d = torch.zeros_like(x)
    for _ in range(10):
        free = ~fixed
        d = torch.zeros_like(x)
        if not free.any():
            break
        d[free] = min_norm_step(J[:, free], res)
        push = ((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0))
        if not push.any():
            break
        fixed |= push
    return d


def bounded_step(J: torch.Tensor, res: torch.Tensor, X: torch.Tensor, lo: float, hi: float):
    """``argmin ‖J_b d_b − res_b‖`` over ``lo ≤ x_b + d_b ≤ hi``: the bounded linearised steps
    of a batch.

    Parameters
    ----------
    J : (B, K, n) Tensor
    res : (B, K) Tensor
    X : (B, *S) Tensor
        Points inside ``[lo, hi]``, ``n`` elements each.

    Returns
    -------
    D : Tensor, shape and dtype of ``X``

    Notes
    -----
    Solved by :func:`box_least_squares` (interior point, K × K Newton systems) in float64,
    all B problems in one call; scipy's bounded-variable least squares
    (``lsq_linear(method="bvls")``) gives the same residual (tested) but pivots one pixel at
    a time, ~7× slower on this book's problems.
    """
    J64 = J.detach().cpu().double().numpy()
    xf = X.reshape(len(X), -1).detach().cpu().double().numpy()  # (B, n)
    D = box_least_squares(J64, res.detach().cpu().double().numpy(), lo - xf, hi - xf)
    return torch.as_tensor(D, dtype=X.dtype, device=X.device).reshape(X.shape)


@dataclass
class IPMState:
    """One iteration of :func:`box_least_squares` for a batch of B problems of K rows and n
    unknowns: what its Newton systems need.

    Attributes
    ----------
    J : (B, K, n) ndarray
    chol : (B, K, K) ndarray
        Cholesky factor of ``I + J Σ⁻¹ Jᵀ`` (the Woodbury capacitance matrix).
    si : (B, n) ndarray
        ``Σ⁻¹``: the inverse of the diagonal ``z_l / s + z_u / t + δ`` (0 on fixed unknowns).
    rd : (B, n) ndarray
        The dual residual ``Jᵀ(J d − r) + δ d − z_l + z_u``.
    s, t : (B, n) ndarray
        The slacks ``d − lower`` and ``upper − d``.
    zl, zu : (B, n) ndarray
        Their multipliers.
    """

    J: np.ndarray
    chol: np.ndarray
    si: np.ndarray
    rd: np.ndarray
    s: np.ndarray
    t: np.ndarray
    zl: np.ndarray
    zu: np.ndarray

    def newton(self, mu, cl, cu):
        """Newton direction ``(Δd, Δz_l, Δz_u)`` (each (B, n)) for centring ``mu`` and
        second-order corrections ``cl``, ``cu`` (Woodbury: one K × K Cholesky solve per
        problem)."""
        s, t, zl, zu = self.s, self.t, self.zl, self.zu
        g = -self.rd + (mu - s * zl - cl) / s - (mu - t * zu - cu) / t  # (B, n)
        a = self.si * g
        w = np.linalg.solve(self.chol, _bm(self.J, a)[..., None])  # (B, K, 1)
        w = np.linalg.solve(self.chol.transpose(0, 2, 1), w)[..., 0]  # (B, K)
        dd = a - self.si * _bt(self.J, w)
        return dd, (mu - s * zl - cl - zl * dd) / s, (mu - t * zu - cu + zu * dd) / t

    def longest(self, step, fixed) -> np.ndarray:
        """Largest α ≤ 1 per problem (B,) that keeps slacks and multipliers non-negative."""
        dd, dzl, dzu = step
        alpha = np.ones(len(self.s))
        for v, dv in ((self.s, dd), (self.t, -dd), (self.zl, dzl), (self.zu, dzu)):
            neg = (dv < 0) & ~fixed
            ratio = np.where(neg, -v / np.where(neg, dv, -1.0), np.inf)
            alpha = np.minimum(alpha, ratio.min(1))
        return alpha


def box_least_squares(
    J: np.ndarray,
    r: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    reg: float = 1e-12,
    tol: float = 1e-11,
    max_iter: int = 100,
) -> np.ndarray:
    """Bounded least squares with few rows, by a primal–dual interior-point method.

    Parameters
    ----------
    J : (K, n) or (B, K, n) ndarray
        One problem, or a batch of B solved together (each to its own tolerance, with the
        iterates it would have alone).
    r : (K,) or (B, K) ndarray
    lower, upper : (n,) or (B, n) ndarray
        Bounds, ``lower ≤ upper``.
    reg : float
        Tikhonov weight relative to ``‖J‖_F²``: makes the solution unique (the one of least
        norm among the minimisers, to ``reg``) when the minimum is not attained at one point.
    tol : float
        Relative tolerance on the dual residual and the complementarity gap.

    Returns
    -------
    d : (n,) or (B, n) ndarray
        ``argmin ½‖J d − r‖² + ½δ‖d‖²`` over ``lower ≤ d ≤ upper``, ``δ = reg ‖J‖_F²``.

    Notes
    -----
    Mehrotra predictor–corrector on the bound-constrained QP with Hessian ``JᵀJ + δI``.
    Each Newton system ``(Σ + JᵀJ) Δd = g``, ``Σ`` diagonal, is solved by the Woodbury
    identity with one K × K Cholesky factorisation, so an iteration costs O(K² n) and the
    iteration count (10–25 here) does not grow with the number of pixels that change bounds.
    A batch shares each iteration's array operations (what makes it fast: the problems are
    small); a problem that has converged keeps its iterate. A problem whose iterate still
    violates the first-order conditions by more than :data:`KKT_TOL` (the iterations can
    stall short of the minimiser: about 1 random problem in 1 500 here) is solved again by
    scipy's BVLS [4]_, which is exact.
    """
    single = J.ndim == 2
    if single:  # a batch of one: (1, K, n), (1, K), (1, n)
        J, r, lower, upper = J[None], r[None], np.atleast_2d(lower), np.atleast_2d(upper)
    B, K, n = J.shape
    lower, upper = np.broadcast_to(lower, (B, n)), np.broadcast_to(upper, (B, n))
    scale = np.maximum.reduce(
        [np.ones(B), np.linalg.norm(r, axis=1), np.abs(J).max(axis=(1, 2), initial=0.0)]
    )  # (B,)
    delta = reg * np.einsum("bij,bij->b", J, J)
    delta[delta == 0] = reg
    width = upper - lower
    fixed = width <= 0  # no room: d_i = lower_i
    d = lower + 0.5 * width
    zl, zu = np.ones((B, n)), np.ones((B, n))
    eye = np.eye(K)
    run = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        s, t = np.maximum(d - lower, 1e-300), np.maximum(upper - d, 1e-300)
        rd = _bt(J, _bm(J, d) - r) + delta[:, None] * d - zl + zu  # (B, n) dual residual
        rd[fixed] = 0.0
        gap = ((s * zl).sum(1) + (t * zu).sum(1)) / (2 * n)  # (B,)
        run &= ~((np.abs(rd).max(1) <= tol * scale) & (gap <= 1e-2 * tol * scale**2))
        if not run.any():
            break
        si = 1.0 / (zl / s + zu / t + delta[:, None])  # Σ⁻¹, (B, n)
        si[fixed] = 0.0
        chol = np.linalg.cholesky(eye + (J * si[:, None, :]) @ J.transpose(0, 2, 1))  # (B,K,K)
        state = IPMState(J, chol, si, rd, s, t, zl, zu)
        step = state.newton(0.0, 0.0, 0.0)  # predictor: the affine-scaling direction
        a = state.longest(step, fixed)[:, None]  # (B, 1)
        dd, dzl, dzu = step
        gap_aff = (
            ((s + a * dd) * (zl + a * dzl)).sum(1) + ((t - a * dd) * (zu + a * dzu)).sum(1)
        ) / (2 * n)
        sigma = np.where(gap > 0, (gap_aff / np.where(gap > 0, gap, 1.0)) ** 3, 0.0)
        step = state.newton((sigma * gap)[:, None], dd * dzl, -dd * dzu)  # corrector
        a = np.minimum(1.0, 0.995 * state.longest(step, fixed))
        a = np.where(run, a, 0.0)[:, None]  # converged problems keep their iterate
        d, zl, zu = d + a * step[0], zl + a * step[1], zu + a * step[2]
    d = np.clip(d, lower, upper)
    for b in np.flatnonzero(_kkt_violation(J, r, lower, upper, delta, d) > KKT_TOL):
        d[b] = _bvls(J[b], r[b], lower[b], upper[b], delta[b])  # the IPM stalled: exact
    return d[0] if single else d


#: Largest violation of the first-order conditions (in the units of ``d``: pixels) that
#: :func:`box_least_squares` accepts from its interior-point iterations.
KKT_TOL = 1e-6


def _kkt_violation(J, r, lower, upper, delta, d) -> np.ndarray:
    """Per problem, ``‖d − clip(d − g / L)‖_∞`` with ``g`` the gradient of
    ``½‖J d − r‖² + ½δ‖d‖²`` and ``L = ‖J‖_F² + δ``: zero exactly at the minimiser (the
    projected-gradient fixed point), in the units of ``d``. (B,)"""
    g = _bt(J, _bm(J, d) - r) + delta[:, None] * d
    L = np.einsum("bij,bij->b", J, J) + delta
    return np.abs(d - np.clip(d - g / L[:, None], lower, upper)).max(1, initial=0.0)


def _bvls(J, r, lower, upper, delta) -> np.ndarray:
    """The same problem by scipy's bounded-variable least squares (an active-set method,
    exact in finitely many steps), on ``[J; √δ I] d ≈ [r; 0]``: the fallback when the
    interior-point iterations stop short of the minimiser."""
    from scipy.optimize import lsq_linear

    n = J.shape[1]
    A = np.vstack([J, np.sqrt(delta) * np.eye(n)])
    b = np.concatenate([r, np.zeros(n)])
    fixed = upper <= lower
    hi = np.where(fixed, lower + 1e-300, upper)  # lsq_linear wants lower < upper
    d = lsq_linear(
        A, b, bounds=(lower, np.maximum(hi, np.nextafter(lower, np.inf))), method="bvls"
    ).x
    return np.where(fixed, lower, np.clip(d, lower, upper))


def _bm(J: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``J_b v_b`` for each problem: (B, K, n), (B, n) → (B, K)."""
    return (J @ v[:, :, None])[:, :, 0]


def _bt(J: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``J_bᵀ w_b`` for each problem: (B, K, n), (B, K) → (B, n)."""
    return (w[:, None, :] @ J)[:, 0, :]
