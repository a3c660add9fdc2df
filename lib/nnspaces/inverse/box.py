"""Box solvers: the pixel box ``[lo, hi]`` in the closed form and in Gauss–Newton.

- :func:`_box_qp` — the point of ``{x : W x = z} ∩ box`` nearest ``r``, by a dual semismooth
  Newton (the closed form's box problem);
- :func:`_box_least_squares` — bounded least squares with few rows, by a primal–dual
  interior-point method (the bounded linearised Gauss–Newton step, :func:`_bounded_step`);
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
    (``scipy.optimize.lsq_linear``, bounded-variable least squares).

    The dual of ``min ½‖x − r‖²  s.t.  W x = z, x ∈ box`` is the unconstrained, convex,
    piecewise-quadratic ``ψ(λ) = −½‖x(λ) − r‖² + λᵀ(W x(λ) − z)``, ``x(λ) = clip(r + Wᵀλ)``,
    with gradient ``W x(λ) − z`` and generalised Hessian ``W_F W_Fᵀ`` (F: unclipped pixels).
    Newton converges in a few steps when the set is non-empty; when it has not converged
    after ``check_every`` steps (and every ``check_every`` after), bounded least squares
    decides whether the set is empty (``min over the box of ‖W x − z‖ > 1e-9 max(1, ‖z‖)``).
    """
    from scipy.optimize import lsq_linear

    m = W.shape[0]
    scale = max(1.0, float(np.linalg.norm(z)))
    Wn2 = float(np.linalg.norm(W, 2)) ** 2 or 1.0
    done = "nearest point of the preimage inside the box"

    def psi(lam):
        x = np.clip(r + W.T @ lam, lo, hi)
        g = W @ x - z
        return -0.5 * float((x - r) @ (x - r)) + float(lam @ g), x, g

    def least_squares():
        ls = np.clip(lsq_linear(W, z, bounds=(lo, hi), method="bvls").x, lo, hi)
        return ls, float(np.linalg.norm(W @ ls - z))

    lam = np.linalg.lstsq(W.T, start - r, rcond=None)[0]  # start = r + Wᵀλ: the box ignored
    val, x, g = psi(lam)
    it, ls = 0, None
    for it in range(1, max_iter + 1):
        if np.linalg.norm(g) <= tol * scale:
            return x, True, it - 1, done
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


def _bounded_step(J: torch.Tensor, res: torch.Tensor, x: torch.Tensor, lo: float, hi: float):
    """``argmin ‖J d − res‖`` over ``lo ≤ x + d ≤ hi``: the bounded linearised step.

    Parameters
    ----------
    J : (K, n) Tensor
    res : (K,) Tensor
    x : Tensor with n elements, inside ``[lo, hi]``

    Returns
    -------
    d : Tensor, shape and dtype of ``x``

    Notes
    -----
    Solved by :func:`_box_least_squares` (interior point, K × K Newton systems) in float64;
    scipy's bounded-variable least squares (``lsq_linear(method="bvls")``) gives the same
    residual (tested) but pivots one pixel at a time, ~7× slower on this book's problems.
    """
    J64 = J.detach().cpu().double().numpy()
    xf = x.reshape(-1).detach().cpu().double().numpy()
    d = _box_least_squares(J64, res.detach().cpu().double().numpy(), lo - xf, hi - xf)
    return torch.as_tensor(d, dtype=x.dtype, device=x.device).reshape(x.shape)


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
    J : (K, n) ndarray
    r : (K,) ndarray
    lower, upper : (n,) ndarray
        Bounds, ``lower ≤ upper``.
    reg : float
        Tikhonov weight relative to ``‖J‖_F²``: makes the solution unique (the one of least
        norm among the minimisers, to ``reg``) when the minimum is not attained at one point.
    tol : float
        Relative tolerance on the dual residual and the complementarity gap.

    Returns
    -------
    d : (n,) ndarray
        ``argmin ½‖J d − r‖² + ½δ‖d‖²`` over ``lower ≤ d ≤ upper``, ``δ = reg ‖J‖_F²``.

    Notes
    -----
    Mehrotra predictor–corrector on the bound-constrained QP with Hessian ``JᵀJ + δI``.
    Each Newton system ``(Σ + JᵀJ) Δd = g``, ``Σ`` diagonal, is solved by the Woodbury
    identity with one K × K Cholesky factorisation, so an iteration costs O(K² n) and the
    iteration count (10–25 here) does not grow with the number of pixels that change bounds.
    """
    K, n = J.shape
    scale = max(1.0, float(np.linalg.norm(r)), float(np.abs(J).max(initial=0.0)))
    delta = reg * float(np.einsum("ij,ij->", J, J)) or reg
    width = upper - lower
    fixed = width <= 0  # no room: d_i = lower_i
    d = lower + 0.5 * width
    zl, zu = np.ones(n), np.ones(n)
    eye = np.eye(K)
    for _ in range(max_iter):
        s, t = np.maximum(d - lower, 1e-300), np.maximum(upper - d, 1e-300)
        rd = J.T @ (J @ d - r) + delta * d - zl + zu  # (n,) dual residual
        rd[fixed] = 0.0
        gap = (s @ zl + t @ zu) / (2 * n)
        if np.abs(rd).max() <= tol * scale and gap <= 1e-2 * tol * scale**2:
            break
        si = 1.0 / (zl / s + zu / t + delta)  # Σ⁻¹, (n,)
        si[fixed] = 0.0
        chol = np.linalg.cholesky(eye + (J * si) @ J.T)  # I + J Σ⁻¹ Jᵀ, (K, K)
        state = (J, chol, si, rd, s, t, zl, zu)
        step = _ipm_newton(state, 0.0, 0.0, 0.0)  # predictor: the affine-scaling direction
        a = _ipm_longest(state, step, fixed)
        dd, dzl, dzu = step
        gap_aff = ((s + a * dd) @ (zl + a * dzl) + (t - a * dd) @ (zu + a * dzu)) / (2 * n)
        sigma = (gap_aff / gap) ** 3 if gap > 0 else 0.0
        step = _ipm_newton(state, sigma * gap, dd * dzl, -dd * dzu)  # corrector
        a = min(1.0, 0.995 * _ipm_longest(state, step, fixed))
        d, zl, zu = d + a * step[0], zl + a * step[1], zu + a * step[2]
    return np.clip(d, lower, upper)


def _ipm_newton(state, mu, cl, cu):
    """Newton direction ``(Δd, Δz_l, Δz_u)`` of :func:`_box_least_squares` for centring ``mu``
    and second-order corrections ``cl``, ``cu`` (Woodbury: one K × K Cholesky solve)."""
    J, chol, si, rd, s, t, zl, zu = state
    g = -rd + (mu - s * zl - cl) / s - (mu - t * zu - cu) / t  # (n,)
    a = si * g
    dd = a - si * (J.T @ np.linalg.solve(chol.T, np.linalg.solve(chol, J @ a)))
    return dd, (mu - s * zl - cl - zl * dd) / s, (mu - t * zu - cu + zu * dd) / t


def _ipm_longest(state, step, fixed) -> float:
    """Largest α ≤ 1 that keeps slacks and multipliers non-negative along ``step``."""
    _, _, _, _, s, t, zl, zu = state
    dd, dzl, dzu = step
    alpha = 1.0
    for v, dv in ((s, dd), (t, -dd), (zl, dzl), (zu, dzu)):
        neg = (dv < 0) & ~fixed
        if neg.any():
            alpha = min(alpha, float(np.min(-v[neg] / dv[neg])))
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
