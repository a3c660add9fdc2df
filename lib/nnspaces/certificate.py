"""Certificates for "the input nearest ``r`` with ``f(x) = t``": first and second order.

An inverse method that returns *a* preimage ``x`` of a target ``t`` (``f(x) = t``) does not
say whether ``x`` is the preimage *nearest* the reference ``r``. Where ``f`` is smooth, a
nearest preimage ``x`` satisfies the Lagrange condition of

    min ½‖x − r‖²  subject to  f(x) = t   (and, optionally, lo ≤ x ≤ hi):

``x − r`` lies in the row space of the (K, n) Jacobian ``J = ∂f/∂x`` at ``x`` (plus the
normal cone of the box at ``x``). This module measures how far a point is from satisfying
it, from arrays alone (no network): it is the pure mathematics under
:mod:`nnspaces.nearest` and the inverse-map chapters.

The first-order condition is necessary, not sufficient: it holds just as well at the
*farthest* point of a closed preimage and at saddle points. A first-order point is proven
nearest only (a) when the problem is convex — an affine preimage, with or without the box:
the closed form — where it is the unique global minimiser, or (b) *locally*, by the
second-order test :func:`reduced_curvature` (the Lagrangian's Hessian positive definite on
the tangent space): a strict local minimum, still not the global one.

Public API
----------
- :func:`rank_cutoff` — the singular-value cutoff used for every pseudo-inverse here: the
  library's one rule, :func:`nnspaces.spaces.rank_cutoff`, re-exported.
- :func:`row_basis` — an orthonormal basis of the row space of ``J`` (optionally with extra
  rows), by SVD with that cutoff.
- :func:`null_component` — ``(I − J⁺J) v``: the part of ``v`` the linearised constraint
  does not see.
- :func:`multipliers` — least-squares Lagrange multipliers ``(Jᵀ)⁺(x − r)``.
- :func:`kappa` — ``κ = ‖(I − J⁺J)(x − r)‖ / ‖x − r‖``, 0 exactly at a smooth first-order
  stationary point of the distance on the preimage; :func:`kappas` for a batch.
- :func:`kkt_residual` — the same question with the pixel box: Lagrange multipliers of the
  equality and of the bounds, and the relative size of what they cannot explain.
- :func:`kappa_roundoff` — the ``κ`` round-off alone gives a point computed exactly from a
  matrix's SVD (the closed form's tolerance).
- :func:`reduced_curvature` — the second-order test: the smallest eigenvalue of the
  Lagrangian's Hessian on the tangent space of the preimage (> 0: a strict local minimum).
- :func:`error_kkt_residual` — for a target out of reach inside the box: how far ``x`` is
  from a first-order stationary point of the output error ``½‖f(x) − t‖²`` over the box
  (the best approximation, the problem an exact method solves then).

The functions take torch Tensors or NumPy arrays and compute in the input's floating dtype
(float64 is what the inverse methods use). ``x`` and ``r`` may have any shape with ``n``
elements (e.g. an image ``(1, 28, 28)``); they are flattened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .spaces import rank_cutoff

__all__ = [
    "KKT",
    "kappa",
    "kappa_roundoff",
    "kappas",
    "kkt_residual",
    "multipliers",
    "null_component",
    "rank_cutoff",
    "reduced_curvature",
    "row_basis",
]


def _as_tensor(a, like: torch.Tensor | None = None) -> torch.Tensor:
    t = torch.as_tensor(a)
    if not torch.is_floating_point(t):
        t = t.to(torch.float64 if like is None else like.dtype)
    return t if like is None else t.to(dtype=like.dtype, device=like.device)


def _check_J(J) -> torch.Tensor:
    J = _as_tensor(J)
    if J.ndim != 2:
        raise ValueError(f"J must be a (K, n) matrix, got shape {tuple(J.shape)}")
    if not torch.isfinite(J).all():
        raise ValueError(f"J holds {int((~torch.isfinite(J)).sum())} NaN or inf value(s)")
    return J


def _flat(v, J: torch.Tensor, name: str) -> torch.Tensor:
    v = _as_tensor(v, like=J).reshape(-1)
    if v.numel() != J.shape[1]:
        raise ValueError(
            f"{name} has {v.numel()} elements but J has {J.shape[1]} columns (one per pixel)"
        )
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} holds {int((~torch.isfinite(v)).sum())} NaN or inf value(s)")
    return v


def row_basis(J, extra=None) -> torch.Tensor:
    """Orthonormal basis of ``row(J)`` (plus the rows of ``extra``).

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    extra : (m, n) Tensor or ndarray, optional
        Further directions to include, e.g. the gradients of pre-activations that sit at a
        kink of SELU (:func:`nnspaces.nearest.kink_gradients`).

    Returns
    -------
    V : (k, n) Tensor
        ``k`` = numerical rank of ``[J; extra]`` (:func:`rank_cutoff`); ``Vᵀ V = J⁺J``.
    """
    J = _check_J(J)
    if extra is not None:
        E = _as_tensor(extra, like=J).reshape(-1, J.shape[1])  # (m, n)
        J = torch.cat([J, E])
    _, S, Vh = torch.linalg.svd(J, full_matrices=False)
    return Vh[S > rank_cutoff(S, tuple(J.shape))]


def null_component(J, v, extra=None) -> torch.Tensor:
    """``(I − J⁺J) v``: the component of ``v`` orthogonal to the row space of ``J``.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    v : Tensor or ndarray with n elements (any shape)
    extra : (m, n), optional
        As in :func:`row_basis`.

    Returns
    -------
    w : Tensor, shape of ``v``, dtype of ``J``
    """
    J = _check_J(J)
    shape = torch.as_tensor(v).shape
    vf = _flat(v, J, "v")
    V = row_basis(J, extra)  # (k, n)
    return (vf - V.T @ (V @ vf)).reshape(shape)


def multipliers(J, x, r) -> torch.Tensor:
    """Least-squares Lagrange multipliers ``λ = (Jᵀ)⁺(x − r)`` (K,) of the equality.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    x, r : Tensor or ndarray with n elements each

    Returns
    -------
    lam : (K,) Tensor
        The ``λ`` for which ``‖x − r − Jᵀλ‖`` is least (minimum norm; cutoff
        :func:`rank_cutoff`); at a point with ``κ = 0``, ``x − r = Jᵀλ`` exactly.
    """
    J = _check_J(J)
    g = _flat(x, J, "x") - _flat(r, J, "r")
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    keep = S > rank_cutoff(S, tuple(J.shape))
    return U[:, keep] @ ((Vh[keep] @ g) / S[keep])


def kappa(J, x, r, extra=None) -> float:
    """How far ``x − r`` is from the row space of ``J``: the first-order certificate.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
        The Jacobian ``∂f/∂x`` at ``x``.
    x, r : Tensor or ndarray with n elements each (any shape, e.g. (1, 28, 28))
        A preimage point and the reference.
    extra : (m, n), optional
        Directions added to the row space (see :func:`row_basis`): ``κ`` of ``[J; extra]``.

    Returns
    -------
    kappa : float in [0, 1]
        ``‖(I − J⁺J)(x − r)‖ / ‖x − r‖``; ``0.0`` when ``x == r`` (the reference is itself a
        preimage, trivially the nearest: the condition holds with multipliers 0).

    Notes
    -----
    At a preimage ``x`` nearest ``r`` where ``f`` is differentiable, the Lagrange condition of
    ``min ½‖x − r‖² s.t. f(x) = t`` reads ``x − r = Jᵀλ``, i.e. ``(I − J⁺J)(x − r) = 0``, so
    ``κ = 0``; ``κ = 1`` when ``x − r ⟂ row(J)`` (a step along the preimage straight towards
    ``r`` is then possible). ``κ = 0`` is necessary, not sufficient: it also holds at the
    farthest and at saddle points. ``J⁺J = VᵀV`` with ``V`` the right singular vectors whose
    singular values exceed :func:`rank_cutoff`. For a one-layer network
    ``f(x) = σ(Wx + b)``, ``J = diag(σ'(Wx + b)) W`` has the row space of ``W``, and the
    closed form ``x* = r + W⁺(σ⁻¹(t) − b − W r)`` has ``κ = 0``.

    Examples
    --------
    >>> J = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    >>> kappa(J, torch.tensor([2.0, 0.0, 0.0]), torch.zeros(3))
    0.0
    >>> kappa(J, torch.tensor([0.0, 3.0, 4.0]), torch.zeros(3))
    1.0
    """
    J = _check_J(J)
    d = _flat(x, J, "x") - _flat(r, J, "r")  # (n,)
    dn = float(torch.linalg.vector_norm(d))
    if dn == 0.0:
        return 0.0
    V = row_basis(J, extra)
    w = d - V.T @ (V @ d)
    return min(1.0, float(torch.linalg.vector_norm(w)) / dn)


def kappas(J, X, R) -> list[float]:
    """:func:`kappa` of a batch: one SVD call for every Jacobian.

    Parameters
    ----------
    J : (B, K, n) Tensor or ndarray
        The Jacobians ``∂f/∂x`` at each point.
    X, R : Tensor or ndarray with B · n elements each (e.g. (B, 1, 28, 28))
        The points and their references.

    Returns
    -------
    list of float
        ``κ`` of each point: what :func:`kappa` gives for ``(J[b], X[b], R[b])``, with the
        same cutoff :func:`rank_cutoff` per matrix.
    """
    J = _as_tensor(J)
    if J.ndim != 3:
        raise ValueError(f"J must be a (B, K, n) stack of Jacobians, got shape {tuple(J.shape)}")
    B, K, n = J.shape
    if not torch.isfinite(J).all():
        raise ValueError(f"J holds {int((~torch.isfinite(J)).sum())} NaN or inf value(s)")
    D = torch.stack([_flat(x, J[0], "x") - _flat(r, J[0], "r") for x, r in zip(X, R)])  # (B, n)
    if len(D) != B:
        raise ValueError(f"{len(D)} points for {B} Jacobians")
    _, S, Vh = torch.linalg.svd(J, full_matrices=False)  # (B, k), (B, k, n)
    keep = torch.stack([S[b] > rank_cutoff(S[b], (K, n)) for b in range(B)]).to(J.dtype)
    coef = torch.einsum("bkn,bn->bk", Vh, D) * keep  # coordinates in each kept row basis
    W = D - torch.einsum("bkn,bk->bn", Vh, coef)
    dn, wn = torch.linalg.vector_norm(D, dim=1), torch.linalg.vector_norm(W, dim=1)
    return [0.0 if float(d) == 0.0 else min(1.0, float(w) / float(d)) for d, w in zip(dn, wn)]


def kappa_roundoff(W, x, r) -> float:
    """The ``κ`` that round-off alone gives a point computed exactly from ``W``'s SVD.

    Parameters
    ----------
    W : (m, n) Tensor or ndarray
        The matrix whose row space ``κ`` is measured against (a layer's weight).
    x, r : Tensor or ndarray with n elements each

    Returns
    -------
    bound : float
        ``10 ε (cond(W) + √n (‖x‖ + ‖r‖) / ‖x − r‖)``, ``ε`` the dtype's machine epsilon,
        ``cond(W)`` the ratio of the largest to the smallest singular value above
        :func:`rank_cutoff`; ``inf`` when ``x == r``.

    Notes
    -----
    Two round-off errors make the computed null component of ``x − r`` nonzero at an exact
    point: the computed row space is tilted by up to ``ε cond(W)`` (Wedin's ``sin θ``
    theorem), which leaves that share of ``‖x − r‖`` in the null space; and ``x − r`` and its
    projection are formed from ``x`` and ``r`` with absolute errors of ``ε √n (‖x‖ + ‖r‖)``,
    which dominate when ``x`` is within round-off of ``r``. The factor 10 is a margin: a
    ``κ`` above the bound is not round-off.

    References
    ----------
    .. [1] P.-Å. Wedin, "Perturbation bounds in connection with singular value
       decomposition", BIT 12 (1972), pp. 99–111.
    """
    W = _check_J(W)
    xf, rf = _flat(x, W, "x"), _flat(r, W, "r")
    d = float(torch.linalg.vector_norm(xf - rf))
    if d == 0.0:
        return math.inf
    S = torch.linalg.svdvals(W)
    S = S[S > rank_cutoff(S, tuple(W.shape))]
    cond = float(S[0] / S[-1]) if len(S) else 1.0
    size = float(torch.linalg.vector_norm(xf)) + float(torch.linalg.vector_norm(rf))
    eps = torch.finfo(W.dtype).eps
    return 10 * eps * (cond + math.sqrt(W.shape[1]) * size / d)


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
        (:func:`nnspaces.nearest.kinks._curvature` for a Linear/SELU stack).
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
    J = _check_J(J)
    G = _as_tensor(G, like=J).reshape(-1, J.shape[1])  # (m', n)
    w = _as_tensor(w, like=J).reshape(-1)
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
    J = _check_J(J)
    xf, rf = _flat(x, J, "x"), _flat(r, J, "r")
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
    J = _check_J(J)
    xf = _flat(x, J, "x")
    e = _as_tensor(err, J).reshape(-1)
    if e.numel() != J.shape[0]:
        raise ValueError(f"err must have {J.shape[0]} elements (one per output), got {e.numel()}")
    lo, hi = (float(v) for v in box)
    g = J.T @ e  # (n,)
    lower, upper = xf <= lo + active_tol, xf >= hi - active_tol
    v = torch.where(lower, g.clamp(max=0.0), torch.where(upper, g.clamp(min=0.0), g))
    gn = float(torch.linalg.vector_norm(g))
    return float(torch.linalg.vector_norm(v)) / gn if gn > 0 else 0.0
