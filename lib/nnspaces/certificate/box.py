"""First-order (KKT) certificates with the pixel box: of the nearest preimage point
(:func:`kkt_residual`) and of the best approximation of an unreachable target
(:func:`error_kkt_residual`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import as_tensor, check_jacobian, flat
from .first_order import multipliers


@dataclass
class KKT:
    """What :func:`kkt_residual` found.

    Attributes
    ----------
    residual : float
        ``‖v‖ / ‖x − r‖`` (0 when ``x == r``): the relative violation of stationarity and of
        the multipliers' signs.
    violation : (n,) Tensor
        ``v``: per pixel, what the multipliers cannot explain.
    lam : (K,) Tensor
        Multipliers of ``f(x) = t``.
    mu : (n,) Tensor
        Bound multipliers: ``g − Jᵀλ`` on pixels at a bound, 0 on free pixels (``≥ 0`` is
        the right sign at ``lo``, ``≤ 0`` at ``hi``).
    n_lower, n_upper, n_free : int
        Pixels at ``lo``, at ``hi`` and strictly inside.
    """

    residual: float
    violation: torch.Tensor
    lam: torch.Tensor
    mu: torch.Tensor
    n_lower: int
    n_upper: int
    n_free: int


def kkt_residual(J, x, r, box=None, active_tol: float = 1e-9) -> KKT:
    """First-order (KKT) residual of ``min ½‖x − r‖² s.t. f(x) = t, lo ≤ x ≤ hi`` at ``x``.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
        The Jacobian of ``f`` at ``x``.
    x, r : Tensor or ndarray with n elements each
    box : (lo, hi), optional
        ``None``: no bounds (then ``residual == kappa(J, x, r)``).
    active_tol : float
        A pixel within ``active_tol`` of a bound (or beyond it) counts as at that bound.

    Returns
    -------
    KKT
        ``residual``, the violation vector, the multipliers, and the active-set sizes.

    Notes
    -----
    With ``g = x − r``, stationarity of the Lagrangian
    ``½‖x − r‖² − λᵀ(f(x) − t) − μ_loᵀ(x − lo) + μ_hiᵀ(x − hi)`` is
    ``g = Jᵀλ + μ_lo − μ_hi`` with ``μ_lo, μ_hi ≥ 0``, each zero off its bound. Let ``F`` be the
    free pixels, ``L`` (``U``) those at ``lo`` (``hi``). ``λ`` and ``μ`` are fitted together,
    as the bounded least-squares problem

        min ‖g − Jᵀλ − μ‖  over  λ ∈ ℝᴷ,  μ_L ≥ 0,  μ_U ≤ 0,  μ_F = 0.

    For a given ``λ`` the best ``μ`` is the clipped ``s = g − Jᵀλ`` on ``L ∪ U``, so the
    problem is ``min_λ ½‖v(λ)‖²`` with the violation

        v_F = s_F,   v_L = min(s_L, 0),   v_U = max(s_U, 0),

    convex and piecewise quadratic in ``λ`` alone (K unknowns): :func:`_fit_kkt` solves it by
    Newton's method on the pieces (exact in finitely many steps; tested against
    ``scipy.optimize.lsq_linear`` on the joint problem). ``residual = ‖v‖ / ‖g‖`` is 0
    exactly when KKT multipliers exist, whatever the number of free pixels (fitting ``λ`` on
    the free pixels alone, as before, is wrong when they are fewer than ``K``). Primal
    feasibility (``f(x) = t``, ``x`` in the box) is not checked here: ``J`` alone does not
    know ``t``.
    """
    J = check_jacobian(J)
    xf, rf = flat(x, J, "x"), flat(r, J, "r")
    g = xf - rf  # (n,)
    if box is None:
        lower = upper = torch.zeros_like(g, dtype=torch.bool)
    else:
        lo, hi = (float(v) for v in box)
        if not lo < hi:
            raise ValueError(f"box must be a pair (lo, hi) with lo < hi, got {box!r}")
        lower, upper = xf <= lo + active_tol, xf >= hi - active_tol
        upper &= ~lower
    free = ~(lower | upper)
    lam = _fit_kkt(J, g, lower, upper)
    s = g - J.T @ lam  # (n,)
    v = _violation(s, lower, upper)
    mu = torch.where(free, torch.zeros_like(s), s - v)  # the clipped s: ≥ 0 at lo, ≤ 0 at hi
    gn = float(torch.linalg.vector_norm(g))
    res = float(torch.linalg.vector_norm(v)) / gn if gn > 0 else 0.0
    return KKT(res, v, lam, mu, int(lower.sum()), int(upper.sum()), int(free.sum()))


def _violation(s: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """``v`` (n,): ``s`` on free pixels, ``min(s, 0)`` at ``lo``, ``max(s, 0)`` at ``hi``."""
    return torch.where(lower, s.clamp(max=0.0), torch.where(upper, s.clamp(min=0.0), s))


def _fit_kkt(J, g, lower, upper, max_iter: int = 100) -> torch.Tensor:
    """``λ`` (K,) minimising ``½‖v(λ)‖²`` of :func:`kkt_residual` (Notes there).

    Newton on the pieces: on the pixels where ``v = s`` (free ones, and bound ones whose ``s``
    has the wrong sign) ``λ`` is refitted by least squares (cutoff :func:`rank_cutoff`), with
    an Armijo backtrack on the convex objective; it stops when a full step keeps the set.
    """
    lam = multipliers(J, g, torch.zeros_like(g))  # all pixels: exact when no bound is active

    def state(lam):
        s = g - J.T @ lam
        v = _violation(s, lower, upper)
        on = ~(lower | upper) | (lower & (s < 0)) | (upper & (s > 0))  # the piece: v = s
        return 0.5 * float(v @ v), on, v

    val, on, v = state(lam)
    for _ in range(max_iter):
        if val == 0.0 or not on.any():
            break
        d = multipliers(J[:, on], g[on], torch.zeros_like(g[on])) - lam
        slope = -float((J @ v) @ d)  # ∇(½‖v‖²) = −J v
        step = 1.0
        while step > 1e-12:
            new = state(lam + step * d)
            if new[0] <= val + 1e-4 * step * min(slope, 0.0):
                break
            step *= 0.5
        else:
            break  # no decrease: the minimum, to round-off
        same = step == 1.0 and torch.equal(new[1], on)
        lam, (val, on, v) = lam + step * d, new
        if same:
            break
    return lam


def error_kkt_residual(J, x, err, box, active_tol: float = 1e-9) -> float:
    """Relative KKT residual of ``min ½‖f(x) − t‖²`` over ``lo ≤ x ≤ hi`` at ``x``.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
        The Jacobian of ``f`` at ``x``.
    x : Tensor or ndarray with n elements
    err : (K,) Tensor or ndarray
        ``f(x) − t``.
    box : (lo, hi)
    active_tol : float
        A pixel within ``active_tol`` of a bound (or beyond it) counts as at that bound.

    Returns
    -------
    residual : float
        ``‖v‖ / ‖g‖`` with ``g = Jᵀ(f(x) − t)`` the gradient and ``v`` its part the bounds
        cannot explain: ``g`` on free pixels, ``min(g, 0)`` at ``lo``, ``max(g, 0)`` at
        ``hi``; 0 when ``g = 0``. 0 is the KKT condition of the bound-constrained problem.

    Examples
    --------
    >>> J = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    >>> # f(x) = x1 + x2 with target 3 is out of reach in [0, 1]²: (1, 1) is the best point
    >>> error_kkt_residual(J, torch.tensor([1.0, 1.0]), torch.tensor([-1.0]), (0.0, 1.0))
    0.0
    >>> # at (0.5, 1) the free pixel could still lower the error: its share of g is left
    >>> error_kkt_residual(J, torch.tensor([0.5, 1.0]), torch.tensor([-1.5]), (0.0, 1.0))
    0.7071067811865476
    """
    J = check_jacobian(J)
    xf = flat(x, J, "x")
    e = as_tensor(err, J).reshape(-1)
    if e.numel() != J.shape[0]:
        raise ValueError(f"err must have {J.shape[0]} elements (one per output), got {e.numel()}")
    lo, hi = (float(v) for v in box)
    g = J.T @ e  # (n,)
    lower, upper = xf <= lo + active_tol, xf >= hi - active_tol
    v = _violation(g, lower, upper)
    gn = float(torch.linalg.vector_norm(g))
    return float(torch.linalg.vector_norm(v)) / gn if gn > 0 else 0.0
