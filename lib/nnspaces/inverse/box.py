"""Box solvers: the pixel box ``[lo, hi]`` in the closed form and in Gauss–Newton.

- :func:`_box_qp` — the point of ``{x : W x = z} ∩ box`` nearest ``r``, by a dual semismooth
  Newton (the closed form's box problem);
- :func:`_box_least_squares` — bounded least squares with few rows, by a primal–dual
  interior-point method, for one problem or a batch (the bounded linearised Gauss–Newton
  step, :func:`_bounded_step`, and the closed form's unreachable targets);
- :func:`_box_step` — the minimum-norm Gauss–Newton step with the pixels at a bound that it
  would push outward held fixed.

All work on flattened images; the first two in NumPy float64.
"""

from __future__ import annotations

import numpy as np
import torch

from .common import _min_norm_step


def _box_qp(
    W: np.ndarray,
    z: np.ndarray,
    r: np.ndarray,
    start: np.ndarray,
    lo: float,
    hi: float,
    max_iter: int = 100,
    tol: float = 1e-12,
    check_every: int = 15,
) -> tuple[np.ndarray, bool, int, str]:
    """Nearest point to ``r`` on ``{x : W x = z} ∩ [lo, hi]^n``, by a dual semismooth Newton.

    ``W`` (m, n), ``z`` (m,), ``r`` (n,); ``start`` (n,) is the nearest point of the preimage
    with the box ignored, ``r + W⁺(z − W r)`` (:func:`~nnspaces.inverse.closed_form_inverse`),
    which is the answer when it lies in the box. Returns ``(x, feasible, iterations, message)``.
    When the set is empty, ``x`` minimises ``‖W x − z‖`` over the box
    (scipy's bounded-variable least squares, exact).

    The dual of ``min ½‖x − r‖²  s.t.  W x = z, x ∈ box`` is the unconstrained, convex,
    piecewise-quadratic ``ψ(λ) = −½‖x(λ) − r‖² + λᵀ(W x(λ) − z)``, ``x(λ) = clip(r + Wᵀλ)``,
    with gradient ``W x(λ) − z`` and generalised Hessian ``W_F W_Fᵀ`` (F: unclipped pixels).
    Newton converges in a few steps when the set is non-empty. When it is empty, ψ is
    unbounded below and Newton drives ``λ`` off along a Farkas direction: each step tests
    ``v = z − W x(λ)``, which proves the set empty when ``max over the box of vᵀW x < vᵀz``
    (``Σ_i max(lo a_i, hi a_i)`` with ``a = Wᵀv``) — usually after two or three steps. When
    neither has happened after ``check_every`` steps (and every ``check_every`` after),
    bounded least squares decides (``min over the box of ‖W x − z‖ > 1e-9 max(1, ‖z‖)``).
    """
    m = W.shape[0]
    scale = max(1.0, float(np.linalg.norm(z)))
    Wn2 = float(np.linalg.norm(W, 2)) ** 2 or 1.0
    done = "nearest point of the preimage inside the box"

    def psi(lam):
        x = np.clip(r + W.T @ lam, lo, hi)
        g = W @ x - z
        return -0.5 * float((x - r) @ (x - r)) + float(lam @ g), x, g

    def least_squares():
        # the answer when the set is empty: exact bounded-variable least squares (the
        # interior point of _box_least_squares stops short by up to a few % of the residual
        # on some problems, fine for a Gauss–Newton step, not for a returned best point)
        from scipy.optimize import lsq_linear

        ls = np.clip(lsq_linear(W, z, bounds=(float(lo), float(hi)), method="bvls").x, lo, hi)
        return ls, float(np.linalg.norm(W @ ls - z))

    def empty(g):
        """Farkas: ``v = −g`` separates ``z`` from ``W · box`` by a clear margin."""
        v = -g
        a = W.T @ v
        return float(np.maximum(lo * a, hi * a).sum()) < float(v @ z) - 1e-9 * scale * float(
            np.linalg.norm(v)
        )

    lam = np.linalg.lstsq(W.T, start - r, rcond=None)[0]  # start = r + Wᵀλ: the box ignored
    val, x, g = psi(lam)
    it, ls = 0, None
    for it in range(1, max_iter + 1):
        if np.linalg.norm(g) <= tol * scale:
            return x, True, it - 1, done
        if empty(g):
            break
        if it % check_every == 0:
            ls, resid = least_squares()
            if resid > 1e-9 * scale:
                break
        u = r + W.T @ lam
        free = (u > lo) & (u < hi)
        WF = W[:, free]  # (m, |F|)
        mu = 1e-12 * Wn2 + min(float(np.linalg.norm(g)), 1e-3 * Wn2)  # keeps H invertible
        d = -np.linalg.solve(WF @ WF.T + mu * np.eye(m), g)
        slope = float(g @ d)
        new = psi(lam + d)
        # near the solution ψ's decrease (~‖g‖²) drowns in round-off: accept a full step that
        # halves the residual; otherwise backtrack on ψ (Armijo)
        if np.linalg.norm(new[2]) > 0.5 * np.linalg.norm(g):
            s = 1.0
            while s > 1e-12:
                new = psi(lam + s * d)
                if new[0] <= val + 1e-4 * s * slope:
                    break
                s *= 0.5
            else:
                break  # no descent: stalled
            d = s * d
        lam = lam + d
        val, x, g = new
    if np.linalg.norm(g) <= tol * scale:
        return x, True, it, done
    if ls is None:
        ls, resid = least_squares()
    if resid <= 1e-9 * scale:
        note = (
            "the box meets the preimage, but the dual Newton did not converge: returned a "
            "point of the intersection (bounded least squares), not necessarily the nearest"
        )
        return ls, True, it, note
    note = (
        "target not reachable inside the box: {x : W x = z} misses it "
        f"(min over the box of ‖W x − z‖ = {resid:.3g})"
    )
    return ls, False, it, note


def _bounded_step(J: torch.Tensor, res: torch.Tensor, X: torch.Tensor, lo: float, hi: float):
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
    Solved by :func:`_box_least_squares` (interior point, K × K Newton systems) in float64,
    all B problems in one call; scipy's bounded-variable least squares
    (``lsq_linear(method="bvls")``) gives the same residual (tested) but pivots one pixel at
    a time, ~7× slower on this book's problems.
    """
    J64 = J.detach().cpu().double().numpy()
    xf = X.reshape(len(X), -1).detach().cpu().double().numpy()  # (B, n)
    D = _box_least_squares(J64, res.detach().cpu().double().numpy(), lo - xf, hi - xf)
    return torch.as_tensor(D, dtype=X.dtype, device=X.device).reshape(X.shape)


def _box_least_squares(
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
    small); a problem that has converged keeps its iterate.
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
        state = (J, chol, si, rd, s, t, zl, zu)
        step = _ipm_newton(state, 0.0, 0.0, 0.0)  # predictor: the affine-scaling direction
        a = _ipm_longest(state, step, fixed)[:, None]  # (B, 1)
        dd, dzl, dzu = step
        gap_aff = (
            ((s + a * dd) * (zl + a * dzl)).sum(1) + ((t - a * dd) * (zu + a * dzu)).sum(1)
        ) / (2 * n)
        sigma = np.where(gap > 0, (gap_aff / np.where(gap > 0, gap, 1.0)) ** 3, 0.0)
        step = _ipm_newton(state, (sigma * gap)[:, None], dd * dzl, -dd * dzu)  # corrector
        a = np.minimum(1.0, 0.995 * _ipm_longest(state, step, fixed))
        a = np.where(run, a, 0.0)[:, None]  # converged problems keep their iterate
        d, zl, zu = d + a * step[0], zl + a * step[1], zu + a * step[2]
    d = np.clip(d, lower, upper)
    return d[0] if single else d


def _bm(J: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``J_b v_b`` for each problem: (B, K, n), (B, n) → (B, K)."""
    return (J @ v[:, :, None])[:, :, 0]


def _bt(J: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``J_bᵀ w_b`` for each problem: (B, K, n), (B, K) → (B, n)."""
    return (w[:, None, :] @ J)[:, 0, :]


def _ipm_newton(state, mu, cl, cu):
    """Newton direction ``(Δd, Δz_l, Δz_u)`` (each (B, n)) of :func:`_box_least_squares` for
    centring ``mu`` and second-order corrections ``cl``, ``cu`` (Woodbury: one K × K Cholesky
    solve per problem)."""
    J, chol, si, rd, s, t, zl, zu = state
    g = -rd + (mu - s * zl - cl) / s - (mu - t * zu - cu) / t  # (B, n)
    a = si * g
    w = np.linalg.solve(chol, _bm(J, a)[..., None])  # (B, K, 1)
    w = np.linalg.solve(chol.transpose(0, 2, 1), w)[..., 0]  # (B, K)
    dd = a - si * _bt(J, w)
    return dd, (mu - s * zl - cl - zl * dd) / s, (mu - t * zu - cu + zu * dd) / t


def _ipm_longest(state, step, fixed) -> np.ndarray:
    """Largest α ≤ 1 per problem (B,) that keeps slacks and multipliers non-negative."""
    _, _, _, _, s, t, zl, zu = state
    dd, dzl, dzu = step
    alpha = np.ones(len(s))
    for v, dv in ((s, dd), (t, -dd), (zl, dzl), (zu, dzu)):
        neg = (dv < 0) & ~fixed
        ratio = np.where(neg, -v / np.where(neg, dv, -1.0), np.inf)
        alpha = np.minimum(alpha, ratio.min(1))
    return alpha


def _box_step(J: torch.Tensor, res: torch.Tensor, x: torch.Tensor, lo: float, hi: float):
    """Minimum-norm GN step with pixels at a bound that the step pushes outward held fixed."""
    fixed = torch.zeros_like(x, dtype=torch.bool)
    d = torch.zeros_like(x)
    for _ in range(10):
        free = ~fixed
        d = torch.zeros_like(x)
        if not free.any():
            break
        d[free] = _min_norm_step(J[:, free], res)
        push = ((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0))
        if not push.any():
            break
        fixed |= push
    return d
