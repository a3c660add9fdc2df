"""The candidate steps of :func:`nnspaces.nearest.refine` and the search along each.

- :data:`STEPS` — the kinds of candidate step; :data:`MAX_STEP` — the longest step length;
- :func:`direction` — one candidate step (tangent, Newton, corner, corner-Newton, release);
- :func:`kkt_step` — the Newton step of the local problem (push-through solve);
- :func:`restore` — minimum-norm Gauss–Newton back onto the preimage;
- :func:`distance_search` — the step length whose restored point comes nearest the reference.
"""

from __future__ import annotations

import math

import torch

from .. import certificate
from ..inverse.common import line_search
from ..inverse.linalg import min_norm_step, outputs_and_jacobians
from ..inverse.selu import SELU_ALPHA, SELU_LAMBDA
from .kinks import constraint_hessian, local

#: The candidate steps :func:`refine` tries at every point (the nearest restored one wins).
STEPS = ("tangent", "newton", "corner", "corner-newton", "release")
#: Longest step length :func:`refine` tries (it doubles from 1 while the distance falls).
MAX_STEP = 16.0


def restore(f, chain, T, Y, tn, tol, max_iter):
    """Minimum-norm Gauss–Newton from each ``Y[i]`` back onto ``f(x) = T[i]``.

    Returns ``(Y, rel)``: the restored points (B, *S) and their relative errors (B,) (``inf``
    where a line search found no decrease before ``tol`` was reached).
    """
    Y = Y.clone()
    B, K = T.shape
    with torch.no_grad():
        err = torch.linalg.vector_norm(T - f(Y).reshape(B, -1), dim=1)
    rel = (err / tn).tolist()
    pending = [i for i in range(B) if rel[i] > tol]
    for _ in range(max_iter):
        if not pending:
            break
        out, J = outputs_and_jacobians(f, chain, Y[pending], K)
        res = T[pending] - out  # (P, K)
        D = torch.stack([min_norm_step(Ji, ri) for Ji, ri in zip(J, res)])
        errs = torch.linalg.vector_norm(res, dim=1).tolist()
        new = line_search(f, T[pending], Y[pending], D.reshape(Y[pending].shape), errs, None)
        still = []
        for i, (y, e) in zip(pending, new):
            if y is None:
                rel[i] = math.inf
                continue
            Y[i], rel[i] = y, e / float(tn[i])
            if rel[i] > tol:
                still.append(i)
        pending = still
    for i in pending:
        rel[i] = math.inf if rel[i] > tol else rel[i]
    return Y, rel


def direction(name, chain, J, x, r, res, loc) -> torch.Tensor | None:
    """A candidate step (n,) of kind ``name`` (:data:`STEPS`), or None where it does not
    apply (no kink for the corner steps, no wrong-sign kink for ``"release"``, not a
    Linear/SELU stack (``loc`` None) for the Newton, corner and release steps, a singular
    Newton system)."""
    K = len(res)
    if name == "release":
        return _release(chain, x, r, res, loc)
    A, rhs, corner = J, res, name.startswith("corner")
    if corner:
        if loc is None or len(loc.kink_values) == 0:
            return None
        # also drive the kink pre-activations u_A to 0: constraints u_A(x + d) = 0
        A, rhs = torch.cat([J, loc.kink_rows]), torch.cat([res, -loc.kink_values])
    if not name.endswith("newton"):
        return certificate.null_component(A, r - x).reshape(-1) + min_norm_step(A, rhs)
    if loc is None:
        return None
    mult = certificate.multipliers(A, x, r)  # (K [+ m],)
    G, w = constraint_hessian(chain, loc, mult[:K], mult[K:] if corner else None)
    return kkt_step(A, x, r, rhs, G, w)


def _release(chain, x, r, res, loc) -> torch.Tensor | None:
    """The tangent step with the kink of the most wrongly signed multiplier let go to the
    side it may leave to (:func:`~nnspaces.nearest.kinks.kink_multipliers`), the other kinks
    held at ``u = 0``; None without such a kink (``loc.release``: the scaled multipliers
    ``(m, 2)``, the mask of :func:`~nnspaces.nearest.kinks.wrong_sign_kinks` and the kinks
    at :data:`~nnspaces.nearest.kinks.AT_KINK_TOL`).

    On that side's piece ``x − r = J±ᵀλ + Σ_k ν_k ∇u_k``, so the step towards ``r`` in the
    null space of ``[J±; ∇u_{A∖j}]`` is ``−ν_j (I − P)∇u_j``, which moves ``u_j`` by
    ``−ν_j ‖(I − P)∇u_j‖²``: into ``u_j > 0`` for ``ν⁺_j < 0``, into ``u_j < 0`` for
    ``ν⁻_j > 0`` — the side where the distance falls.
    """
    if loc is None or loc.release is None:
        return None
    nu, wrong, tight = loc.release
    if not wrong.any():
        return None
    score = torch.where(wrong, torch.stack([-nu[:, 0], nu[:, 1]], dim=1), -torch.inf)
    p, side = divmod(int(score.argmax()), 2)
    slope = SELU_LAMBDA if side == 0 else SELU_LAMBDA * SELU_ALPHA
    one = local(chain, x, tight.tol, {tight.kink_index[p]: slope})
    keep = [k for k in range(len(tight.kink_index)) if k != p]
    A = torch.cat([one.J, one.kink_rows[keep]])  # (K + m − 1, n)
    rhs = torch.cat([res, -one.kink_values[keep]])
    return certificate.null_component(A, r - x).reshape(-1) + min_norm_step(A, rhs)


def kkt_step(A, x, r, rhs, G, w) -> torch.Tensor | None:
    """Newton step ``d`` (n,) of ``min ½‖x − r‖² s.t. c(x) = c*`` with ``∂c/∂x = A`` (p, n):

        (I − H) d − Aᵀμ = r − x,   A d = rhs,   H = Gᵀ diag(w) G,

    ``H`` the constraints' curvature weighted by the multipliers. ``(I − H)⁻¹`` is applied by
    the push-through identity ``(I − GᵀWG)⁻¹ = I + Gᵀ(I − WGGᵀ)⁻¹WG`` (an m' × m' solve);
    None when a system is singular.
    """
    V = torch.cat([(r - x).reshape(-1, 1), A.T], dim=1)  # (n, 1 + p)
    try:
        if len(w):
            C = torch.eye(len(w), dtype=w.dtype, device=w.device) - w[:, None] * (G @ G.T)
            V = V + G.T @ torch.linalg.solve(C, w[:, None] * (G @ V))  # (I − H)⁻¹ V
        y, Y = V[:, 0], V[:, 1:]
        mu = torch.linalg.solve(A @ Y, rhs - A @ y)  # (p,)
    except RuntimeError:  # torch.linalg.LinAlgError: a singular system
        return None
    d = y + Y @ mu
    return d if torch.isfinite(d).all() else None


def distance_search(
    f, chain, T, X, D, R, tn, dists, tol, restore_iter, min_step, max_step=MAX_STEP
):
    """The step length for ``x + αd`` (restored onto the preimage) that brings it nearer ``r``.

    Backtracks from ``α = 1`` (halving down to ``min_step``) until the restored point is
    nearer; where the full step is accepted, doubles ``α`` (up to ``max_step``) while that
    comes nearer still — the linearised step ignores the preimage's curvature and may be too
    short. Returns a list of ``(x_new, distance)``, or ``(None, distance)`` where no step length
    helps.
    """
    B = len(X)
    new = [(None, d) for d in dists]

    def trial(ids, step):
        Y, rel = restore(f, chain, T[ids], X[ids] + step * D[ids], tn[ids], tol, restore_iter)
        dy = torch.linalg.vector_norm((Y - R[ids]).reshape(len(ids), -1), dim=1).tolist()
        return [
            (Y[j], dy[j]) if math.isfinite(rel[j]) else (None, math.inf) for j in range(len(ids))
        ]

    pending, step, full = list(range(B)), 1.0, []
    while pending and step >= min_step:
        still = []
        for i, (y, d) in zip(pending, trial(pending, step)):
            if y is not None and d < new[i][1]:
                new[i] = (y, d)
                if step == 1.0:
                    full.append(i)
            else:
                still.append(i)
        pending, step = still, step / 2
    step = 2.0
    while full and step <= max_step:
        longer = []
        for i, (y, d) in zip(full, trial(full, step)):
            if y is not None and d < new[i][1]:
                new[i] = (y, d)
                longer.append(i)
        full, step = longer, step * 2
    return new
