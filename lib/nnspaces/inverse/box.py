"""Box solvers: the pixel box ``[lo, hi]`` in the closed form and in Gauss–Newton.

- :func:`_box_qp` — the point of ``{x : W x = z} ∩ box`` nearest ``r``, by a dual semismooth
  Newton (the closed form's box problem);
- :func:`_box_least_squares` — bounded least squares with few rows, by a primal–dual
  interior-point method, for one problem or a batch (the bounded linearised Gauss–Newton
  step, :func:`_bounded_step`);
- :func:`_box_step` — the minimum-norm Gauss–Newton step with the pixels at a bound that it
  would push outward held fixed;
- :func:`_box_min` — an exact KKT point of ``min φ(W x)`` over the box for separable smooth
  ``φ`` (few rows): bounded least squares (the closed form's unreachable targets) and the
  output error of a SELU layer, by proximal Newton then an active-set Newton.

All work on flattened images; all but :func:`_box_step` in NumPy float64.
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
    best: bool = True,
) -> tuple[np.ndarray, bool, int, str]:
    """Nearest point to ``r`` on ``{x : W x = z} ∩ [lo, hi]^n``, by a dual semismooth Newton.

    ``W`` (m, n), ``z`` (m,), ``r`` (n,); ``start`` (n,) is the nearest point of the preimage
    with the box ignored, ``r + W⁺(z − W r)`` (:func:`~nnspaces.inverse.closed_form_inverse`),
    which is the answer when it lies in the box. Returns ``(x, feasible, iterations, message)``.
    When the set is empty, ``x`` minimises ``‖W x − z‖`` over the box, exactly: the
    active-set Newton of :func:`_box_min` started from the last dual iterate (scipy's
    bounded-variable least squares, ``lsq_linear(method="bvls")``, if that fails; the
    message says so). With ``best=False`` an empty set returns the last dual iterate
    instead, a box point for a caller that goes on to minimise another error from there
    (the closed form of a SELU layer).

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

    def least_squares(start):
        # the answer when the set is empty: exact bounded least squares, min over the box of
        # ½‖W x − z‖², by the active-set Newton of _box_min started from the dual iterate;
        # scipy's bounded-variable least squares if that ends without a KKT point (the
        # interior point of _box_least_squares stops short by up to a few % of the residual
        # on some problems, fine for a Gauss–Newton step, not for a returned best point)
        ls, ok, _, _ = _box_min(W, _ls_objective(z), start, lo, hi)
        if not ok:
            from scipy.optimize import lsq_linear

            ls = lsq_linear(W, z, bounds=(float(lo), float(hi)), method="bvls").x
            ls = np.clip(ls, lo, hi)
        return ls, float(np.linalg.norm(W @ ls - z)), ok

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
            ls, resid, exact = least_squares(x)
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
    if ls is None and not best and empty(g):
        note = "target not reachable inside the box: {x : W x = z} misses it (Farkas certificate)"
        return x, False, it, note
    if ls is None:
        ls, resid, exact = least_squares(x)
    if resid <= 1e-9 * scale:
        note = (
            "the box meets the preimage, but the dual Newton did not converge: returned a "
            "point of the intersection (bounded least squares), not necessarily the nearest"
        )
        return ls, True, it, note
    note = (
        "target not reachable inside the box: {x : W x = z} misses it "
        f"(min over the box of ‖W x − z‖ = {resid:.3g}"
        + ("" if exact else "; bounded least squares by scipy bvls: active-set Newton failed")
        + ")"
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


# --------------------------------------------------------------------------------------
# min over the box of a separable smooth function of W x: exact active-set Newton
# --------------------------------------------------------------------------------------


def _ls_objective(z: np.ndarray):
    """``φ(u) = ½‖u − z‖²`` for :func:`_box_min`: ``u`` (m,) → ``(φ, ∇φ, h, h_gn)``, the last
    three (m,)."""

    def phi(u):
        r = u - z
        one = np.ones_like(u)
        return 0.5 * float(r @ r), r, one, one

    return phi


def _box_min(
    W: np.ndarray,
    phi,
    x: np.ndarray,
    lo: float,
    hi: float,
    max_outer: int = 60,
    max_iter: int = 200,
    kkt_tol: float = 1e-10,
) -> tuple[np.ndarray, bool, int, float]:
    """A KKT point of ``min φ(W x)`` over ``lo ≤ x ≤ hi``, for separable smooth ``φ``.

    Parameters
    ----------
    W : (m, n) ndarray
        Few rows (m ≤ ~10), many columns.
    phi : callable
        ``u`` (m,) ↦ ``(φ(u), μ = ∇φ(u), h, h_gn)``: the value, the gradient, the diagonal of
        the Hessian and a positive diagonal that may replace it (Gauss–Newton), each (m,).
    x : (n,) ndarray
        The start (clipped to the box); a point near the answer's bound pattern helps.
    lo, hi : float
    max_outer, max_iter : int
        Proximal Newton steps (phase 1) and active-set steps (phase 2).
    kkt_tol : float
        The answer must have ``kkt ≤ kkt_tol``.

    Returns
    -------
    x : (n,) ndarray
        In the box; pixels at a bound are exactly ``lo`` or ``hi``.
    ok : bool
        Whether ``kkt ≤ kkt_tol`` (else ``x`` is the best point reached, not a KKT point).
    iterations : int
        Phase 1 and phase 2 steps together.
    kkt : float
        The relative KKT residual ``‖v‖ / ‖g‖`` of :func:`_box_kkt` at ``x`` (``ok`` also
        when ``‖v‖ ≤ 1e-13 ‖W‖ max(‖∇φ‖ at the start, ‖|W| |x|‖)``, round-off of the
        gradient: a zero-residual problem). Where ``φ`` has kinks (``phi.interval``: SELU's
        output error where ``W x + b`` has an entry at 0) the multipliers of the kinks range
        over their one-sided derivatives (:func:`_kink_multipliers`): a minimum can sit on a
        kink, where no gradient vanishes.

    Notes
    -----
    The gradient is ``g = Wᵀμ`` with ``μ = ∇φ(W x) ∈ ℝᵐ``, so at a KKT point every pixel with
    ``g_j ≠ 0`` sits at the bound ``g`` points away from, and for generic ``W`` at most
    ``m − 1`` pixels are free: the answer is bang-bang but for a few pixels. Two phases:

    1. *Finding the bound pattern* — proximal Newton: at ``x_k`` the model
       ``½‖W x − c‖²_H + (1/2σ)‖x − x_k‖²`` (``H`` = the Hessian diagonal ``h`` where positive,
       else ``h_gn``; ``c = W x_k − H⁻¹μ``) is minimised over the box through its dual in ℝᵐ,
       ``x(y) = clip(x_k − σ Wᵀy)``, by semismooth Newton (systems ``H⁻¹ + σ W_F W_Fᵀ``, F the
       unclipped pixels), and ``x`` moves there with backtracking on ``φ``; ``σ`` grows ×3
       per step. A step flips any number of pixels. It stops when the pattern repeats with
       at most ``m`` free pixels.
    2. *Exactness* — an active-set method (Lawson–Hanson / BVLS in kind, for smooth ``φ``):
       Newton on the free pixels with the exact reduced Hessian ``W_Fᵀ diag(h) W_F`` (when
       positive definite; else ``h_gn``, or a minimum-norm step when ``|F| > m``), a ratio
       test that moves a blocking pixel to its bound, and, once the free pixels are
       stationary, the bound pixel whose multiplier has the wrong sign set free. It ends at a
       KKT point to round-off (for a quadratic ``φ``, bounded least squares, the exact
       minimiser).

    ``ok`` comes from an independent check of the KKT conditions at the end
    (:func:`_box_kkt`), never from the iteration's own stopping rule.
    """
    return _box_min_batch(
        W, [phi], np.asarray(x, dtype=float)[None], lo, hi, max_outer, max_iter, kkt_tol
    )[0]


def _box_min_batch(
    W: np.ndarray,
    phis: list,
    X: np.ndarray,
    lo: float,
    hi: float,
    max_outer: int = 60,
    max_iter: int = 200,
    kkt_tol: float = 1e-10,
) -> list[tuple[np.ndarray, bool, int, float]]:
    """:func:`_box_min` for ``B`` problems that share ``W`` (m, n): ``phis`` (B callables),
    starts ``X`` (B, n). Phase 1 runs on all of them at once (the dual Newton systems of
    the problems are solved as one batch); phase 2 and the KKT check run per problem.
    Returns ``_box_min``'s ``(x (n,), ok, iterations, kkt)`` for each problem, in order."""
    X = np.clip(np.array(X, dtype=float, ndmin=2), lo, hi)  # (B, n)
    # where the answer's gradient is round-off (a zero-residual least squares) the relative
    # residual means nothing: there the size of the gradient at the start, or the round-off
    # of W x itself (|W| |x|), decides
    norm_w = float(np.linalg.norm(W))
    starts = [float(np.linalg.norm(phi(W @ x)[1])) for phi, x in zip(phis, X)]
    X, steps1 = _prox_newton(W, phis, X, lo, hi, max_outer)
    out = []
    for phi, x, it1, start in zip(phis, X, steps1, starts):
        x, it2 = _active_set(W, phi, x, lo, hi, max_iter)
        kkt, size = _box_kkt(W, _kink_multipliers(W, phi, x, lo, hi), x, lo, hi)
        floor = 1e-13 * norm_w * max(start, float(np.linalg.norm(np.abs(W) @ np.abs(x))))
        out.append((x, bool(kkt <= kkt_tol or size <= floor), int(it1) + it2, kkt))
    return out


def _kink_multipliers(W, phi, x, lo, hi) -> np.ndarray:
    """``μ`` (m,) for the KKT check of ``min φ(W x)`` at ``x`` (n,): ``∇φ(W x)``, except that
    where ``φ`` has a kink (``phi.interval``, e.g. SELU's at ``u + b = 0``) each kink's
    entry may lie anywhere between its one-sided derivatives: the Clarke subdifferential.
    Those entries are chosen to leave the least KKT violation (L-BFGS-B on the few of them;
    the violation is convex and piecewise quadratic in them)."""
    u = W @ x
    mu = phi(u)[1]
    lower, upper = phi.interval(u) if hasattr(phi, "interval") else (mu, mu)
    kink = np.flatnonzero(upper > lower)
    if not len(kink):
        return mu
    from scipy.optimize import minimize

    def violation(c):
        m = mu.copy()
        m[kink] = c
        g = W.T @ m
        v = np.where(x <= lo, np.minimum(g, 0.0), np.where(x >= hi, np.maximum(g, 0.0), g))
        return 0.5 * float(v @ v), W[kink] @ v

    bounds = list(zip(lower[kink], upper[kink]))
    c = minimize(
        violation,
        mu[kink],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-30, "gtol": 1e-30, "maxiter": 500},
    ).x
    out = mu.copy()
    out[kink] = c
    return out


def _box_kkt(W: np.ndarray, mu: np.ndarray, x: np.ndarray, lo: float, hi: float):
    """KKT residual of ``min φ(W x)`` over the box at ``x`` (n,), with ``μ = ∇φ(W x)`` (m,):
    ``(‖v‖ / ‖g‖, ‖v‖)``, ``g = Wᵀμ``, ``v`` = ``g`` on free pixels, ``min(g, 0)`` at ``lo``,
    ``max(g, 0)`` at ``hi`` (relative residual 0 when ``g = 0``)."""
    g = W.T @ mu
    at_lo, at_hi = x <= lo, x >= hi
    v = np.where(at_lo, np.minimum(g, 0.0), np.where(at_hi, np.maximum(g, 0.0), g))
    gn, vn = float(np.linalg.norm(g)), float(np.linalg.norm(v))
    return (vn / gn if gn > 0 else 0.0), vn


def _prox_newton(W, phis, X, lo, hi, max_outer, grow=3.0, inner_tol=1e-6):
    """Phase 1 of :func:`_box_min` for problems sharing ``W`` (m, n): ``phis`` (B callables),
    starts ``X`` (B, n) in the box → ``(X (B, n), steps (B,))``. Each problem stops on its
    own; the dual solves of those still running form one batch (:func:`_prox_dual`)."""
    m = W.shape[0]
    X = X.copy()
    U = X @ W.T  # (B, m)
    state = [phi(u) for phi, u in zip(phis, U)]
    val = np.array([st[0] for st in state])  # (B,)
    MU, H, GN = (np.array([st[i] for st in state]) for i in (1, 2, 3))  # (B, m) each
    gmax = np.abs(MU @ W).max(axis=1, initial=0.0)  # (B,)
    steps = np.zeros(len(X), dtype=int)
    running = gmax > 0.0
    sigma = np.where(running, 1.0 / np.where(running, gmax, 1.0), 0.0)  # (B,)
    Y, pattern = MU.copy(), [None] * len(X)
    for _ in range(max_outer):
        rows = np.flatnonzero(running)
        if not len(rows):
            break
        steps[rows] += 1
        # a stationary point to round-off (zero residual), or no room to grow σ
        stop = (np.abs(MU[rows] @ W).max(axis=1) <= 1e-14 * gmax[rows]) | (
            sigma[rows] * gmax[rows] > 1e15
        )
        running[rows[stop]] = False
        rows = rows[~stop]
        if not len(rows):
            break
        Hi = 1.0 / np.where(H[rows] > 0, H[rows], GN[rows])  # inverse positive model Hessians
        C = U[rows] - MU[rows] * Hi
        tol = inner_tol * (1.0 + np.linalg.norm(C, axis=1))
        Y[rows], XY = _prox_dual(W, Hi, C, X[rows], sigma[rows], Y[rows], lo, hi, tol)
        D = XY - X[rows]  # the models' steps, inside the box
        DU = D @ W.T
        for i, xy, d, du in zip(rows, XY, D, DU):
            phi, u = phis[i], U[i]
            slope, s = min(float(MU[i] @ du), 0.0), 1.0
            while phi(u + s * du)[0] > val[i] + 1e-4 * s * slope and s > 1e-8:
                s *= 0.5
            X[i] = np.clip(X[i] + s * d, lo, hi) if s < 1.0 else xy
            U[i] = W @ X[i]
            val[i], MU[i], H[i], GN[i] = phi(U[i])
            new = (X[i] <= lo).astype(np.int8) - (X[i] >= hi)
            free = int(np.count_nonzero(new == 0))
            if pattern[i] is not None and s == 1.0 and free <= m:
                if np.array_equal(new, pattern[i]):
                    running[i] = False
                    continue
            pattern[i], sigma[i] = new, sigma[i] * grow
    return X, steps


def _prox_dual(W, Hi, C, Xbar, sigma, Y, lo, hi, tol, max_iter=50):
    """Semismooth Newton on the duals of ``min ½‖W x − c‖²_H + (1/2σ)‖x − x̄‖²`` over the box,
    for problems sharing ``W`` (m, n): ``Hi``, ``C``, ``Y`` (B, m), ``Xbar`` (B, n), ``sigma``,
    ``tol`` (B,). Each dual ``ψ(y) = ½yᵀH⁻¹y + cᵀy − min_box (yᵀW x + (1/2σ)‖x − x̄‖²)`` is
    convex, with gradient ``H⁻¹y + c − W x(y)``, ``x(y) = clip(x̄ − σWᵀy)``. Returns
    ``(Y (B, m), X(Y) (B, n))``; each problem stops on its own."""
    m = W.shape[0]

    def psi(Y, k):  # the rows k of the batch at duals Y (len(k), m)
        V = Xbar[k] - sigma[k, None] * (Y @ W)
        XY = np.clip(V, lo, hi)
        DX = XY - Xbar[k]
        WX = XY @ W.T
        q = np.vecdot(Y, WX) + 0.5 / sigma[k] * np.vecdot(DX, DX)
        val = 0.5 * np.vecdot(Y, Hi[k] * Y) + np.vecdot(C[k], Y) - q
        return val, Hi[k] * Y + C[k] - WX, V, XY

    Y = Y.copy()
    allk = np.arange(len(Y))
    val, G, V, XY = psi(Y, allk)
    running = np.ones(len(Y), dtype=bool)
    for _ in range(max_iter):
        gnorm = np.linalg.norm(G, axis=1)
        running &= gnorm > tol
        k = np.flatnonzero(running)
        if not len(k):
            break
        F = ((V[k] > lo) & (V[k] < hi)).astype(float)  # (b, n) the unclipped pixels
        M = sigma[k, None, None] * ((W * F[:, None, :]) @ W.T)  # (b, m, m)
        M[:, np.arange(m), np.arange(m)] += Hi[k]
        dY = -_solve_each(M, G[k])
        slope = np.vecdot(G[k], dY)
        ok = np.isfinite(slope) & np.isfinite(dY).all(axis=1)
        running[k[~ok]] = False
        k, dY, slope = k[ok], dY[ok], slope[ok]
        s = np.ones(len(k))
        todo = np.arange(len(k))  # positions in k still searching for a step
        while len(todo):
            kk = k[todo]
            nv, nG, nV, nXY = psi(Y[kk] + s[todo, None] * dY[todo], kk)
            # near the answer ψ's decrease drowns in round-off: accept a full step that
            # halves the gradient; otherwise Armijo
            accept = (nv <= val[kk] + 1e-4 * s[todo] * slope[todo]) | (
                (s[todo] == 1.0) & (np.linalg.norm(nG, axis=1) < 0.5 * gnorm[kk])
            )
            acc = todo[accept]
            ka = k[acc]
            Y[ka] += s[acc, None] * dY[acc]
            val[ka], G[ka], V[ka], XY[ka] = nv[accept], nG[accept], nV[accept], nXY[accept]
            todo = todo[~accept]
            s[todo] *= 0.5
            gave_up = s[todo] < 1e-10
            running[k[todo[gave_up]]] = False
            todo = todo[~gave_up]
    return Y, XY


def _solve_each(M: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``M⁻¹g`` for each of the systems ``M`` (b, m, m), ``G`` (b, m); a row whose system is
    singular (never seen: each ``M`` is positive definite) gets NaN, which stops it."""
    try:
        return np.linalg.solve(M, G[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full_like(G, np.nan)
        for i in range(len(G)):
            try:
                out[i] = np.linalg.solve(M[i], G[i])
            except np.linalg.LinAlgError:
                pass
        return out


def _active_set(W, phi, x, lo, hi, max_iter):
    """Phase 2 of :func:`_box_min`: ``(x (n,), steps)``."""
    x = x.copy()
    at_lo, at_hi = x <= lo, x >= hi
    x[at_lo], x[at_hi] = lo, hi
    u = W @ x
    val, mu, h, gn = phi(u)
    stall, it = 0, 0
    while it < max_iter:
        it += 1
        F = np.flatnonzero(~(at_lo | at_hi))
        gscale = float(np.abs(W.T @ mu).max(initial=0.0))
        if gscale == 0.0:
            break
        if len(F):
            WF = W[:, F]  # (m, |F|)
            gF = WF.T @ mu
            gnorm = float(np.abs(gF).max())
            d = _reduced_newton(WF, gF, mu, h, gn)
            if gnorm > 1e-14 * gscale and stall < 2 and np.abs(d).max() > 1e-15:
                taken = _free_step(W, phi, x, u, val, F, WF, gF, d, lo, hi, at_lo, at_hi)
                u = W @ x
                val, mu, h, gn = phi(u)
                if taken is None:
                    stall = 2  # no step decreases φ: stationary to round-off
                elif taken == "full" and np.abs(WF.T @ mu).max() > 0.5 * gnorm:
                    stall += 1  # Newton no longer converging: round-off reached
                continue
        # the free pixels are stationary: price the bound ones
        g = W.T @ mu
        wrong = np.where(at_lo, -g, 0.0) + np.where(at_hi, g, 0.0)  # > 0: wrong sign
        j = int(np.argmax(wrong))
        if wrong[j] <= 1e-12 * gscale:
            break
        at_lo[j] = at_hi[j] = False
        stall = 0
    return x, it


def _reduced_newton(WF, gF, mu, h, gn):
    """Newton step (|F|,) for the free pixels: the exact reduced Hessian ``W_Fᵀ diag(h) W_F``
    when positive definite, else Gauss–Newton's; minimum norm when ``|F| > m``."""
    m, k = WF.shape
    if k <= m:
        for hh in (h, gn):
            try:
                c = np.linalg.cholesky((WF.T * hh) @ WF)
            except np.linalg.LinAlgError:
                continue
            d = -np.linalg.solve(c.T, np.linalg.solve(c, gF))
            if np.all(np.isfinite(d)):
                return d
    sq = np.sqrt(np.where(h > 0, h, gn))
    return -np.linalg.lstsq(WF * sq[:, None], mu / sq, rcond=None)[0]


def _free_step(W, phi, x, u, val, F, WF, gF, d, lo, hi, at_lo, at_hi):
    """One step on the free pixels ``F`` along ``d``, in place on ``x`` and the bound masks.

    With a blocking pixel before the full step, first the projected path
    ``clip(x_F + a d)`` (many pixels reach a bound at once) if it decreases ``φ``; else the
    ratio test (Lawson–Hanson): backtrack on ``φ`` up to the first blocking pixel, which goes
    to its bound. Returns ``"full"`` (the Newton step, no pixel reached a bound),
    ``"blocked"`` (some did) or None (no step decreases ``φ``)."""
    xF = x[F]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d < 0, (lo - xF) / d, np.where(d > 0, (hi - xF) / d, np.inf))
    amax = float(ratio.min())
    if amax < 1.0:
        a = 1.0
        while a > amax:
            xp = np.clip(xF + a * d, lo, hi)
            nv = phi(u + WF @ (xp - xF))[0]
            if nv <= val + 1e-4 * float(gF @ (xp - xF)):
                x[F] = xp
                at_lo[F], at_hi[F] = xp <= lo, xp >= hi
                return "blocked"
            a *= 0.25
    step = min(1.0, amax)
    du, slope = WF @ d, float(gF @ d)
    gnorm = float(np.abs(gF).max())
    while True:
        nv, nmu, _, _ = phi(u + step * du)
        if nv <= val + 1e-4 * step * slope:
            break
        if step == 1.0 and np.abs(WF.T @ nmu).max() < 0.5 * gnorm:
            break
        step *= 0.5
        if step < 1e-12:
            return None
    xp = xF + step * d
    if step >= amax:
        block = ratio <= amax * (1 + 1e-12)
        xp[block & (d < 0)], xp[block & (d > 0)] = lo, hi
    xp = np.clip(xp, lo, hi)
    x[F] = xp
    at_lo[F], at_hi[F] = xp <= lo, xp >= hi
    return "blocked" if step >= amax else "full"
