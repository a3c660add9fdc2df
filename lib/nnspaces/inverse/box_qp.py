"""The closed form's box problem: the point of ``{x : W x = z} ∩ [lo, hi]ⁿ`` nearest ``r``.

:func:`box_qp` solves the dual of this projection by semismooth Newton [1]_ (the scheme of
[2]_ for a projection onto an affine set intersected with a cone); when the set is empty it
proves so (a Farkas certificate [3]_, or bounded least squares by the active-set Newton of
:func:`~nnspaces.inverse.box_min.box_min`, scipy's BVLS [4]_ as the fallback) and returns the
box point of least ``‖W x − z‖``. Its :class:`BoxQP` result says why it stopped: a status
and :data:`TERMINATION_MESSAGES`.

References
----------
.. [1] L. Qi and J. Sun, "A nonsmooth version of Newton's method", Math. Programming 58
   (1993), pp. 353–367.
.. [2] H. Qi and D. Sun, "A quadratically convergent Newton method for computing the nearest
   correlation matrix", SIAM J. Matrix Anal. Appl. 28 (2006), pp. 360–385.
.. [3] J. Farkas, "Theorie der einfachen Ungleichungen", J. Reine Angew. Math. 124 (1902),
   pp. 1–27.
.. [4] P. B. Stark and R. L. Parker, "Bounded-variable least-squares: an algorithm and
   applications", Computational Statistics 10 (1995), pp. 129–141.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .box_min import box_min

_MISSES = "target not reachable inside the box: {{x : W x = z}} misses it"

#: Why :func:`box_qp` stopped, by status: > 0 a point of the intersection, < 0 none exists.
TERMINATION_MESSAGES = {
    1: "nearest point of the preimage inside the box",
    2: "the box meets the preimage, but the dual Newton did not converge: returned a point of "
    "the intersection (bounded least squares), not necessarily the nearest",
    -1: _MISSES + " (Farkas certificate)",
    -2: _MISSES + " (min over the box of ‖W x − z‖ = {residual:.3g})",
    -3: _MISSES + " (min over the box of ‖W x − z‖ = {residual:.3g}; bounded least squares "
    "by scipy bvls: active-set Newton failed)",
}


@dataclass
class BoxQP:
    """What :func:`box_qp` returns.

    Attributes
    ----------
    x : (n,) ndarray
        The nearest point of the intersection, or (status < 0) the box point of least
        ``‖W x − z‖`` (or, with ``best=False``, the last dual iterate).
    status : int
        A key of :data:`TERMINATION_MESSAGES`.
    iterations : int
        Dual Newton steps.
    residual : float
        ``min over the box of ‖W x − z‖`` where bounded least squares decided (else 0).
    """

    x: np.ndarray
    status: int
    iterations: int
    residual: float = 0.0

    @property
    def feasible(self) -> bool:
        """Whether the box meets ``{x : W x = z}``."""
        return self.status > 0

    @property
    def message(self) -> str:
        """:data:`TERMINATION_MESSAGES` of the status."""
        return TERMINATION_MESSAGES[self.status].format(residual=self.residual)


def ls_objective(z: np.ndarray):
    """``φ(u) = ½‖u − z‖²`` for :func:`~nnspaces.inverse.box_min.box_min`: ``u`` (m,) →
    ``(φ, ∇φ, h, h_gn)``, the last three (m,)."""

    def phi(u):
        r = u - z
        one = np.ones_like(u)
        return 0.5 * float(r @ r), r, one, one

    return phi


def box_qp(
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
) -> BoxQP:
    """Nearest point to ``r`` on ``{x : W x = z} ∩ [lo, hi]^n``, by a dual semismooth Newton.

    ``W`` (m, n), ``z`` (m,), ``r`` (n,); ``start`` (n,) is the nearest point of the preimage
    with the box ignored, ``r + W⁺(z − W r)`` (:func:`~nnspaces.inverse.closed_form_inverse`),
    which is the answer when it lies in the box. When the set is empty, ``x`` minimises
    ``‖W x − z‖`` over the box, exactly: the active-set Newton of
    :func:`~nnspaces.inverse.box_min.box_min` started from the last dual iterate (scipy's
    bounded-variable least squares, ``lsq_linear(method="bvls")``, if that fails; the
    status says so). With ``best=False`` an empty set proven by Farkas returns the last
    dual iterate instead, a box point for a caller that goes on to minimise another error
    from there (the closed form of a SELU layer).

    Notes
    -----
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
    scale = max(1.0, float(np.linalg.norm(z)))
    Wn2 = float(np.linalg.norm(W, 2)) ** 2 or 1.0
    lam = np.linalg.lstsq(W.T, start - r, rcond=None)[0]  # start = r + Wᵀλ: the box ignored
    val, x, g = _dual(W, z, r, lo, hi, lam)
    it, ls = 0, None
    for it in range(1, max_iter + 1):
        if np.linalg.norm(g) <= tol * scale:
            return BoxQP(x, 1, it - 1)
        if _separated(W, z, g, lo, hi, scale):
            break
        if it % check_every == 0:
            ls = _least_squares(W, z, x, lo, hi)
            if ls[1] > 1e-9 * scale:
                break
        step = _newton_step(W, z, r, lo, hi, lam, val, g, Wn2)
        if step is None:
            break  # no descent: stalled
        lam, (val, x, g) = step
    if np.linalg.norm(g) <= tol * scale:
        return BoxQP(x, 1, it)
    if ls is None and not best and _separated(W, z, g, lo, hi, scale):
        return BoxQP(x, -1, it)
    xs, resid, exact = _least_squares(W, z, x, lo, hi) if ls is None else ls
    if resid <= 1e-9 * scale:
        return BoxQP(xs, 2, it)
    return BoxQP(xs, -2 if exact else -3, it, resid)


def _dual(W, z, r, lo, hi, lam):
    """``(ψ(λ), x(λ) (n,), ∇ψ(λ) = W x(λ) − z (m,))``."""
    x = np.clip(r + W.T @ lam, lo, hi)
    g = W @ x - z
    return -0.5 * float((x - r) @ (x - r)) + float(lam @ g), x, g


def _separated(W, z, g, lo, hi, scale) -> bool:
    """Farkas: ``v = −g`` separates ``z`` from ``W · box`` by a clear margin."""
    v = -g
    a = W.T @ v
    margin = 1e-9 * scale * float(np.linalg.norm(v))
    return float(np.maximum(lo * a, hi * a).sum()) < float(v @ z) - margin


def _least_squares(W, z, start, lo, hi):
    """The answer when the set is empty: exact bounded least squares, ``min over the box of
    ½‖W x − z‖²``, as ``(x, ‖W x − z‖, exact)``.

    By the active-set Newton of :func:`box_min` from ``start``; scipy's bounded-variable
    least squares where that ends without a KKT point (``exact`` False). The interior point
    of :func:`~nnspaces.inverse.box_lsq.box_least_squares` stops short by up to a few % of
    the residual on some problems: fine for a Gauss–Newton step, not for a returned point.
    """
    ls, ok, _, _ = box_min(W, ls_objective(z), start, lo, hi)
    if not ok:
        from scipy.optimize import lsq_linear

        ls = lsq_linear(W, z, bounds=(float(lo), float(hi)), method="bvls").x
        ls = np.clip(ls, lo, hi)
    return ls, float(np.linalg.norm(W @ ls - z)), ok


def _newton_step(W, z, r, lo, hi, lam, val, g, Wn2):
    """One damped semismooth Newton step on ψ: ``(λ, (ψ, x, g))`` there, or None when no
    step length decreases ψ."""
    m = W.shape[0]
    u = r + W.T @ lam
    free = (u > lo) & (u < hi)
    WF = W[:, free]  # (m, |F|)
    mu = 1e-12 * Wn2 + min(float(np.linalg.norm(g)), 1e-3 * Wn2)  # keeps H invertible
    d = -np.linalg.solve(WF @ WF.T + mu * np.eye(m), g)
    slope = float(g @ d)
    new = _dual(W, z, r, lo, hi, lam + d)
    # near the solution ψ's decrease (~‖g‖²) drowns in round-off: accept a full step that
    # halves the residual; otherwise backtrack on ψ (Armijo)
    if np.linalg.norm(new[2]) > 0.5 * np.linalg.norm(g):
        s = 1.0
        while s > 1e-12:
            new = _dual(W, z, r, lo, hi, lam + s * d)
            if new[0] <= val + 1e-4 * s * slope:
                break
            s *= 0.5
        else:
            return None
        d = s * d
    return lam + d, new
