"""Minimum over the pixel box of a separable smooth function of ``W x``, exactly.

:func:`box_min` (one problem) and :func:`box_min_batch` (problems sharing ``W``, few rows):
a KKT point of ``min φ(W x)`` over ``lo ≤ x ≤ hi`` — bounded least squares
(:func:`~nnspaces.inverse.box_qp.ls_objective`) or the output error of a SELU layer — by a
proximal Newton method [1]_ whose box subproblems are solved in their dual by semismooth
Newton [2]_, then an active-set method in the manner of NNLS and BVLS [3]_ [4]_ ([5]_ §16.5,
with the projected path of §16.7).
:func:`box_kkt` checks the result; :func:`kink_multipliers` lets the multipliers of SELU's
kinks range over the Clarke subdifferential [6]_.

References
----------
.. [1] J. D. Lee, Y. Sun and M. A. Saunders, "Proximal Newton-type methods for minimizing
   composite functions", SIAM J. Optim. 24 (2014), pp. 1420–1443.
.. [2] L. Qi and J. Sun, "A nonsmooth version of Newton's method", Math. Programming 58
   (1993), pp. 353–367.
.. [3] C. L. Lawson and R. J. Hanson, *Solving Least Squares Problems*, Prentice-Hall 1974,
   ch. 23.
.. [4] P. B. Stark and R. L. Parker, "Bounded-variable least-squares: an algorithm and
   applications", Computational Statistics 10 (1995), pp. 129–141.
.. [5] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006.
.. [6] F. H. Clarke, *Optimization and Nonsmooth Analysis*, Wiley 1983.
"""

from __future__ import annotations

import numpy as np


def box_min(
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
        The relative KKT residual ``‖v‖ / ‖g‖`` of :func:`box_kkt` at ``x`` (``ok`` also
        when ``‖v‖ ≤ 1e-13 ‖W‖ max(‖∇φ‖ at the start, ‖|W| |x|‖)``, round-off of the
        gradient: a zero-residual problem). Where ``φ`` has kinks (``phi.interval``: SELU's
        output error where ``W x + b`` has an entry at 0) the multipliers of the kinks range
        over their one-sided derivatives (:func:`kink_multipliers`): a minimum can sit on a
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
    (:func:`box_kkt`), never from the iteration's own stopping rule.
    """
    return box_min_batch(
        W, [phi], np.asarray(x, dtype=float)[None], lo, hi, max_outer, max_iter, kkt_tol
    )[0]


def box_min_batch(
    W: np.ndarray,
    phis: list,
    X: np.ndarray,
    lo: float,
    hi: float,
    max_outer: int = 60,
    max_iter: int = 200,
    kkt_tol: float = 1e-10,
) -> list[tuple[np.ndarray, bool, int, float]]:
    """:func:`box_min` for ``B`` problems that share ``W`` (m, n): ``phis`` (B callables),
    starts ``X`` (B, n). Phase 1 runs on all of them at once (the dual Newton systems of
    the problems are solved as one batch); phase 2 and the KKT check run per problem.
    Returns ``box_min``'s ``(x (n,), ok, iterations, kkt)`` for each problem, in order."""
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
        kkt, size = box_kkt(W, kink_multipliers(W, phi, x, lo, hi), x, lo, hi)
        floor = 1e-13 * norm_w * max(start, float(np.linalg.norm(np.abs(W) @ np.abs(x))))
        out.append((x, bool(kkt <= kkt_tol or size <= floor), int(it1) + it2, kkt))
    return out


def kink_multipliers(W, phi, x, lo, hi) -> np.ndarray:
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


def box_kkt(W: np.ndarray, mu: np.ndarray, x: np.ndarray, lo: float, hi: float):
    """KKT residual of ``min φ(W x)`` over the box at ``x`` (n,), with ``μ = ∇φ(W x)`` (m,):
    ``(‖v‖ / ‖g‖, ‖v‖)``, ``g = Wᵀμ``, ``v`` = ``g`` on free pixels, ``min(g, 0)`` at ``lo``,
    ``max(g, 0)`` at ``hi`` (relative residual 0 when ``g = 0``)."""
    g = W.T @ mu
    at_lo, at_hi = x <= lo, x >= hi
    v = np.where(at_lo, np.minimum(g, 0.0), np.where(at_hi, np.maximum(g, 0.0), g))
    gn, vn = float(np.linalg.norm(g)), float(np.linalg.norm(v))
    return (vn / gn if gn > 0 else 0.0), vn


def _prox_newton(W, phis, X, lo, hi, max_outer, grow=3.0, inner_tol=1e-6):
    """Phase 1 of :func:`box_min` for problems sharing ``W`` (m, n): ``phis`` (B callables),
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
    """Phase 2 of :func:`box_min`: ``(x (n,), steps)``."""
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
