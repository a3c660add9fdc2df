"""Preimages nearer the reference: walking along ``{x : f(x) = t}`` towards ``r``.

Gauss–Newton with minimum-norm steps (:func:`nnspaces.inverse.invert`, ``"gauss-newton"``)
reaches *a* preimage of ``t`` from the reference ``r``; for a deep network it is not the
preimage nearest ``r``. This module starts from such a point and reduces the distance to
``r`` while staying on the preimage, and reports the first-order certificate
(:func:`nnspaces.certificate.kappa`) along the way.

Public API
----------
- :func:`refine` — from given preimages ``starts``, a batch of problems.
- :func:`nearest_preimage` — Gauss–Newton from ``r``, then :func:`refine`.
- :class:`NearestResult` — an :class:`nnspaces.inverse.InverseResult` with the distance before
  and after, ``κ`` per iteration and the number of pre-activations at a kink.
- :func:`preactivations`, :func:`kink_gradients` — SELU pre-activations of a Linear/SELU
  stack and the gradients of those that sit at SELU's kink.
- :data:`STEPS`, :data:`KINK_TOL` — the candidate steps and the kink threshold.
- :func:`table`, :func:`summarize`, :func:`summary_keys` — per-digit table, per-network
  summary and its glue keys, for the chapters.

No box: the pixels are unconstrained (the problem :func:`refine` solves is
``min ‖x − r‖ s.t. f(x) = t`` over all of ``ℝⁿ``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import pandas as pd
import torch
from torch import nn

from . import certificate
from .inverse import SELU_ALPHA, SELU_LAMBDA, InverseResult, frozen, invert_classes
from .inverse.common import _min_norm_step, _work_copy
from .inverse.gauss_newton import _line_search, _outputs_and_jacobians, _selu_chain
from .inverse.result import _build_results
from .inverse.selu import selu_slope
from .models import MODEL_NAMES, device_of

__all__ = [
    "KINK_TOL",
    "STEPS",
    "NearestResult",
    "kink_gradients",
    "nearest_preimage",
    "preactivations",
    "refine",
    "summarize",
    "summary_keys",
    "table",
]

#: A hidden SELU pre-activation with ``|u| ≤ KINK_TOL`` counts as sitting at SELU's kink.
KINK_TOL = 1e-3
#: The candidate steps :func:`refine` tries at every point (the nearest restored one wins).
STEPS = ("tangent", "newton", "corner", "corner-newton")
#: Longest step length :func:`refine` tries (it doubles from 1 while the distance falls).
MAX_STEP = 16.0


@dataclass
class NearestResult(InverseResult):
    """What :func:`refine` found: an :class:`~nnspaces.inverse.InverseResult` (``method``
    ``"nearest"``; ``distance`` is the final ``‖x − r‖``, ``kappa`` the certificate
    :func:`nnspaces.certificate.kappa` there, ``history`` the mean squared output error per
    iteration) with the refinement's own record.

    Attributes
    ----------
    start_distance : float
        ``‖x₀ − r‖`` of the start (the Gauss–Newton point).
    gained : float
        ``start_distance − distance`` (≥ 0: only steps that reduce the distance are taken).
    kappa_start : float
        The certificate at the start.
    kappa_history, kappa_kinks_history, distance_history : list of float
        ``κ``, ``κ`` with the kink gradients, and ``‖x − r‖`` at the start and after every
        accepted step.
    kinks : float
        Hidden SELU pre-activations with ``|u| ≤ 1e-3`` (``kink_tol``) at the final point
        (NaN for a network that is not a Linear/SELU stack); ``kinks_start`` the same at the
        start.
    kappa_kinks : float
        ``κ`` with the gradients of those pre-activations added to the row space
        (``certificate.kappa(J, x, r, extra=kink_gradients(...))``; equal to ``kappa`` without
        kinks, NaN where ``kinks`` is): what remains of ``x − r`` once the directions that
        cross a kink are accounted for.
    steps : list of str
        The kind of each accepted step (:data:`STEPS`).
    """

    start_distance: float = math.nan
    gained: float = math.nan
    kappa_start: float = math.nan
    kappa_history: list[float] = field(default_factory=list)
    kappa_kinks_history: list[float] = field(default_factory=list)
    distance_history: list[float] = field(default_factory=list)
    kinks: float = math.nan
    kinks_start: float = math.nan
    kappa_kinks: float = math.nan
    steps: list[str] = field(default_factory=list)

    def as_inverse_result(self) -> InverseResult:
        """The plain :class:`~nnspaces.inverse.InverseResult` part."""
        return InverseResult(**{f.name: getattr(self, f.name) for f in fields(InverseResult)})


# --------------------------------------------------------------------------------------
# Pre-activations and kinks of a Linear/SELU stack
# --------------------------------------------------------------------------------------


def preactivations(chain, x: torch.Tensor) -> list[torch.Tensor]:
    """Pre-activations ``u_l`` (m_l,) of the *hidden* SELU layers of a Linear/SELU stack.

    Parameters
    ----------
    chain : list of (W (m, n), b (m,), selu_after)
        :func:`nnspaces.inverse.gauss_newton._selu_chain` of the network.
    x : Tensor with n elements

    Returns
    -------
    us : list of Tensor
        One per SELU layer that another Linear layer follows. A SELU that ends the network is
        left out: its pre-activations are ``σ⁻¹(t)``, fixed by the target, and do not bend the
        preimage.
    """
    h, us = x.reshape(-1), []
    for i, (W, b, selu) in enumerate(chain):
        u = W @ h + b
        if selu and i < len(chain) - 1:
            us.append(u)
        h = torch.selu(u) if selu else u
    return us


def kink_gradients(chain, x: torch.Tensor, tol: float = KINK_TOL) -> torch.Tensor:
    """Gradients ``∇ₓu_j`` of the hidden SELU pre-activations with ``|u_j| ≤ tol``.

    Parameters
    ----------
    chain : list of (W, b, selu_after)
    x : Tensor with n elements
    tol : float

    Returns
    -------
    G : (m, n) Tensor
        One row per pre-activation at the kink (``m`` may be 0).

    Notes
    -----
    SELU's derivative jumps from ``λα`` to ``λ`` at ``u = 0``, so the preimage bends along
    ``{u_j = 0}``. The one-sided Jacobians there differ by a rank-one term along ``∇u_j``,
    so ``row(J) + span{∇u_j}`` is the same from either side: the natural row space of a
    first-order condition at a kink. ``∇u_j`` is row ``j`` of
    ``W_l D_{l−1} W_{l−1} ⋯ D_1 W_1`` (the layers below ``u``).
    """
    return _local(chain, x, tol).kink_rows


@dataclass
class _Local:
    """What one forward pass of a Linear/SELU stack tells about the point ``x``.

    ``G[l]`` (m_l, n) is ``∂u_l/∂x`` and ``u[l]`` (m_l,) the pre-activation of layer ``l``;
    ``at[l]`` marks the hidden SELU pre-activations with ``|u| ≤ tol`` (None for the other
    layers).
    """

    G: list[torch.Tensor]
    u: list[torch.Tensor]
    at: list[torch.Tensor | None]

    @property
    def kink_rows(self) -> torch.Tensor:
        """(m, n): the gradients of the pre-activations at a kink, layer by layer."""
        rows = [G[a] for G, a in zip(self.G, self.at) if a is not None]
        return torch.cat(rows) if rows else self.G[0].new_zeros(0, self.G[0].shape[1])

    @property
    def kink_values(self) -> torch.Tensor:
        """(m,): their values."""
        vals = [u[a] for u, a in zip(self.u, self.at) if a is not None]
        return torch.cat(vals) if vals else self.u[0].new_zeros(0)


def _local(chain, x: torch.Tensor, tol: float) -> _Local:
    """Forward pass with the pre-activations' gradients (``G_l = W_l D_{l−1} G_{l−1}``)."""
    h, A = x.reshape(-1), None  # A = ∂h/∂x (None: the identity)
    Gs, us, ats = [], [], []
    for i, (W, b, selu) in enumerate(chain):
        u = W @ h + b
        G = W if A is None else W @ A  # (m, n)
        Gs.append(G)
        us.append(u)
        ats.append(u.abs() <= tol if selu and i < len(chain) - 1 else None)
        if selu:
            A, h = selu_slope(u)[:, None] * G, torch.selu(u)
        else:
            A, h = G, u
    return _Local(Gs, us, ats)


# --------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------


def _restore(f, chain, T, Y, tn, tol, max_iter):
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
        out, J = _outputs_and_jacobians(f, chain, Y[pending], K)
        res = T[pending] - out  # (P, K)
        D = torch.stack([_min_norm_step(Ji, ri) for Ji, ri in zip(J, res)])
        errs = torch.linalg.vector_norm(res, dim=1).tolist()
        new = _line_search(f, T[pending], Y[pending], D.reshape(Y[pending].shape), errs, None)
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


def refine(
    model: nn.Module,
    targets: torch.Tensor,
    starts: torch.Tensor,
    references: torch.Tensor,
    *,
    dtype: torch.dtype = torch.float64,
    max_iter: int = 200,
    tol: float = 1e-12,
    restore_iter: int = 20,
    min_step: float = 2.0**-20,
    patience: int = 10,
    rtol: float = 1e-9,
    kappa_tol: float = 1e-10,
    kink_tol: float = KINK_TOL,
    steps: Sequence[str] = STEPS,
    target_classes: Sequence[int] | None = None,
) -> list[NearestResult]:
    """Move preimages of ``targets`` nearer their ``references`` along the preimage.

    No box: the pixels are unconstrained (``min ‖x − r‖ s.t. f(x) = t`` over ``ℝⁿ``).

    Parameters
    ----------
    model : torch.nn.Module
        ``f``: maps ``(B, *S)`` to ``(B, K)``; frozen and in eval mode for the call.
    targets : (B, K) Tensor
    starts : (B, *S) Tensor
        Preimages, e.g. the Gauss–Newton images (:func:`nnspaces.inverse.invert_classes`).
        A start farther than ``tol`` from its target is first restored by Gauss–Newton.
    references : (B, *S) Tensor
        The points to come near, e.g. the class-mean images.
    dtype : torch.dtype
        Compute dtype (a converted copy of the model when it differs).
    max_iter : int
        Accepted steps at most.
    tol : float
        Relative output error ``‖f(x) − t‖ / ‖t‖`` every accepted point satisfies.
    restore_iter : int
        Gauss–Newton steps allowed to bring a trial point back to ``tol``.
    min_step : float
        Smallest step length tried.
    patience, rtol : int, float
        Stop when the distance fell by less than ``rtol`` (relative) over ``patience`` steps.
    kappa_tol : float
        Stop when ``κ ≤ kappa_tol`` (first-order stationary).
    kink_tol : float
        ``|u| ≤ kink_tol`` counts a hidden SELU pre-activation as at the kink.
    steps : sequence of str
        The candidate steps tried at every point, a subset of :data:`STEPS` (Notes).
    target_classes : sequence of B int, optional
        For ``margin``; default ``0 … B − 1``.

    Returns
    -------
    results : list of B NearestResult
        ``image`` has the reference's shape, compute dtype, CPU; ``seconds`` is the batch time
        divided by ``B``.

    Notes
    -----
    The problem is ``min ½‖x − r‖² s.t. f(x) = t``. At a preimage point ``x`` with Jacobian
    ``J`` (K, n), each candidate step solves a local model of it:

    - ``"tangent"``: the linearised problem ``min ½‖x + d − r‖² s.t. f(x) + J d = t``,
      ``d = (I − J⁺J)(r − x) + J⁺(t − f(x))``: towards ``r`` within the tangent space, plus
      a minimum-norm correction;
    - ``"newton"``: the same with the curvature of the preimage, the Newton (SQP) step
      ``(I − H) d − Jᵀμ = r − x``, ``J d = t − f(x)``, ``H = ∇²(λᵀf)`` at the least-squares
      multipliers ``λ = (Jᵀ)⁺(x − r)`` (Linear/SELU stacks, where ``H`` has a closed form);
    - ``"corner"``, ``"corner-newton"``: the two above with the hidden pre-activations that
      sit at SELU's kink (``|u_j| ≤ kink_tol``) held there, ``u_j(x + d) = 0`` to first order:
      SELU's slope jumps from ``λα`` to ``λ`` at 0, so the preimage has a corner along
      ``{u_j = 0}`` that the other steps keep crossing.

    Each trial point ``x + αd`` (``α = 1, ½, ¼, … ≥ min_step``, and ``2, 4, … ≤ 16`` after a
    full step) is brought back onto the preimage by minimum-norm Gauss–Newton and accepted
    only if its relative error is at most ``tol`` and it is strictly nearer ``r``; of the
    candidates, the nearest accepted point is taken. The distance therefore decreases
    monotonically over points that are all preimages, and the iteration stops when no
    candidate comes nearer. At a smooth first-order stationary point ``κ = 0``; at a
    corner the condition becomes ``x − r ∈ row(J) + span{∇u_j}``, which ``kappa_kinks``
    measures. Both are necessary conditions for a local minimum of the distance, not
    sufficient, and the point found is local: another path may end at a nearer preimage.
    """
    T, X0, R = map(torch.as_tensor, (targets, starts, references))
    if T.ndim != 2:
        raise ValueError(f"targets must be (B, K), got shape {tuple(T.shape)}")
    if not (len(X0) == len(R) == len(T)):
        raise ValueError(f"{len(T)} targets, {len(X0)} starts and {len(R)} references")
    if X0.shape != R.shape:
        raise ValueError(f"starts {tuple(X0.shape)} and references {tuple(R.shape)} differ")
    for name, v in (("targets", T), ("starts", X0), ("references", R)):
        if not torch.isfinite(v).all():
            raise ValueError(f"{name} hold {int((~torch.isfinite(v)).sum())} NaN or inf value(s)")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not len(steps):
        raise ValueError(
            f"steps must be a non-empty subset of {', '.join(STEPS)}; got {list(steps)!r}"
        )
    classes = list(range(len(T))) if target_classes is None else list(target_classes)
    device = device_of(model)
    with frozen(model):
        start = time.perf_counter()
        f = _work_copy(model, dtype)
        T, X, R = (v.to(device=device, dtype=dtype) for v in (T, X0, R))
        runs = _refine(
            f,
            T,
            X,
            R,
            max_iter=max_iter,
            tol=tol,
            restore_iter=restore_iter,
            min_step=min_step,
            patience=patience,
            rtol=rtol,
            kappa_tol=kappa_tol,
            kink_tol=kink_tol,
            steps=tuple(steps),
        )
        bases = _build_results(
            f,
            [run["x"] for run in runs],
            T,
            R,
            classes,
            method="nearest",
            start=start,
            iterations=[run["iters"] for run in runs],
            messages=[run["msg"] for run in runs],
            histories=[run["mse"] for run in runs],
        )
    return [_nearest_result(base, run) for base, run in zip(bases, runs)]


def _refine(
    f, T, X, R, *, max_iter, tol, restore_iter, min_step, patience, rtol, kappa_tol, kink_tol, steps
):
    """The iteration of :func:`refine` on prepared tensors; one dict per problem."""
    B, K = T.shape
    chain = _selu_chain(f)
    tn = torch.linalg.vector_norm(T, dim=1).clamp_min(torch.finfo(T.dtype).tiny)  # (B,)
    X, rel = _restore(f, chain, T, X, tn, tol, restore_iter)
    dist = torch.linalg.vector_norm((X - R).reshape(B, -1), dim=1).tolist()
    runs = [
        {
            "x0": X[i].clone(),
            "kappas": [],
            "kappas_kinks": [],
            "kinks": [],
            "dists": [dist[i]],
            "mse": [],
            "steps": [],
            "iters": 0,
            "msg": "",
        }
        for i in range(B)
    ]
    active = []
    for i in range(B):
        if math.isfinite(rel[i]):
            active.append(i)
        else:
            runs[i]["msg"] = f"the start is not a preimage: Gauss–Newton cannot bring it to {tol:g}"
    for it in range(max_iter + 1):
        if not active:
            break
        out, J = _outputs_and_jacobians(f, chain, X[active], K)  # (A, K), (A, K, n)
        todo = []  # (i, J_i, residual, kink rows or None)
        for j, i in enumerate(active):
            run = runs[i]
            loc = _local(chain, X[i], kink_tol) if chain is not None else None
            _record(run, J[j], X[i], R[i], out[j], T[i], loc)
            d = run["dists"]
            if run["kappas"][-1] <= kappa_tol:
                run["msg"] = f"converged: κ ≤ {kappa_tol:g} (first-order stationary)"
            elif len(d) > patience and d[-1] > (1 - rtol) * d[-1 - patience]:
                run["msg"] = f"stopped: distance fell by < {rtol:g} (relative) in {patience} steps"
            elif it == max_iter:
                run["msg"] = f"max_iter={max_iter} steps taken"
            else:
                todo.append((i, J[j], T[i] - out[j], loc))
        if not todo:
            break
        idx = [i for i, *_ in todo]
        moved = [(None, dist[i], "") for i in idx]
        for name in steps:
            # candidate directions of this kind (None where it does not apply)
            cand = [_direction(name, chain, Ji, X[i], R[i], res, loc) for i, Ji, res, loc in todo]
            sub = [k for k, d in enumerate(cand) if d is not None]
            if not sub:
                continue
            ids = [idx[k] for k in sub]
            D = torch.stack([cand[k] for k in sub]).reshape(X[ids].shape)
            found = _distance_search(
                f,
                chain,
                T[ids],
                X[ids],
                D,
                R[ids],
                tn[ids],
                [dist[i] for i in ids],
                tol,
                restore_iter,
                min_step,
            )
            for k, (x2, d2) in zip(sub, found):
                if x2 is not None and d2 < moved[k][1]:
                    moved[k] = (x2, d2, name)
        active = []
        for i, (x_new, d_new, name) in zip(idx, moved):
            if x_new is None:
                runs[i]["msg"] = (
                    "stopped: no step along the preimage reduces the distance "
                    f"(step lengths down to {min_step:g} tried)"
                )
                continue
            X[i], dist[i] = x_new, d_new
            runs[i]["dists"].append(d_new)
            runs[i]["steps"].append(name)
            runs[i]["iters"] += 1
            active.append(i)
    for i in range(B):
        runs[i]["x"] = X[i]
    return [dict(run, chain=chain, kink_tol=kink_tol) for run in runs]


def _record(run, J, x, r, out, t, loc) -> None:
    """Append ``κ``, ``κ`` with the kink gradients, the kink count and the MSE to ``run``."""
    run["kappas"].append(certificate.kappa(J, x, r))
    run["mse"].append(float(((out - t) ** 2).mean()))
    if loc is None:
        run["kappas_kinks"].append(math.nan)
        run["kinks"].append(math.nan)
    else:
        G = loc.kink_rows
        run["kappas_kinks"].append(
            certificate.kappa(J, x, r, extra=G) if len(G) else run["kappas"][-1]
        )
        run["kinks"].append(float(len(G)))


def _direction(name, chain, J, x, r, res, loc) -> torch.Tensor | None:
    """A candidate step (n,) of kind ``name`` (:data:`STEPS`), or None where it does not
    apply (no kink for the corner steps, not a Linear/SELU stack (``loc`` None) for the
    Newton and corner steps, a singular Newton system)."""
    K = len(res)
    A, rhs, corner = J, res, name.startswith("corner")
    if corner:
        if loc is None or len(loc.kink_values) == 0:
            return None
        # also drive the kink pre-activations u_A to 0: constraints u_A(x + d) = 0
        A, rhs = torch.cat([J, loc.kink_rows]), torch.cat([res, -loc.kink_values])
    if not name.endswith("newton"):
        return certificate.null_component(A, r - x).reshape(-1) + _min_norm_step(A, rhs)
    if loc is None:
        return None
    mult = certificate.multipliers(A, x, r)  # (K [+ m],)
    G, w = _curvature(chain, loc, mult[:K], mult[K:] if corner else None)
    return _kkt_step(A, x, r, rhs, G, w)


def _curvature(chain, loc: _Local, lam, nu=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(G (m', n), w (m',))`` with ``∇²φ = Gᵀ diag(w) G``: the Hessian of
    ``φ(x) = λᵀf(x) + νᵀu_A(x)`` for a Linear/SELU stack, in factored form.

    ``lam`` (K,); ``nu`` (m,), optional: multipliers of the kink pre-activations ``u_A``
    (in the order of :attr:`_Local.kink_values`).

    Notes
    -----
    Only SELU is curved: ``∇²φ = Σ_l G_lᵀ diag(β_l ⊙ σ''(u_l)) G_l`` over the SELU layers,
    with ``G_l = ∂u_l/∂x``, ``β_l = ∂φ/∂h_l`` (back-propagated from the output) and
    ``σ''(u) = λα eᵘ`` for ``u < 0``, 0 for ``u > 0``.
    """
    extra, at = {}, 0
    if nu is not None:
        for i, a in enumerate(loc.at):
            if a is not None:
                v = nu.new_zeros(len(a))
                v[a] = nu[at : at + int(a.sum())]
                extra[i], at = v, at + int(a.sum())
    rows, weights = [], []
    grad_h = lam  # ∂φ/∂(output of the top layer)
    for i in range(len(chain) - 1, -1, -1):
        W, _, selu = chain[i]
        u = loc.u[i]
        grad_u = grad_h
        if selu:
            w = grad_h * SELU_LAMBDA * SELU_ALPHA * u.exp() * (u < 0)  # β_l ⊙ σ''(u_l)
            rows.append(loc.G[i][w != 0])
            weights.append(w[w != 0])
            grad_u = grad_h * selu_slope(u)
        if i in extra:
            grad_u = grad_u + extra[i]
        grad_h = W.T @ grad_u  # ∂φ/∂h_{i−1}
    return torch.cat(rows), torch.cat(weights)  # (m', n), (m',)


def _kkt_step(A, x, r, rhs, G, w) -> torch.Tensor | None:
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


def _distance_search(
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
        Y, rel = _restore(f, chain, T[ids], X[ids] + step * D[ids], tn[ids], tol, restore_iter)
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


def _nearest_result(base: InverseResult, run: dict) -> NearestResult:
    d, k, kk, nk = run["dists"], run["kappas"], run["kappas_kinks"], run["kinks"]
    nan = math.nan
    base.kappa = k[-1] if k else nan
    return NearestResult(
        **{fl.name: getattr(base, fl.name) for fl in fields(InverseResult)},
        start_distance=d[0],
        gained=d[0] - base.distance,
        kappa_start=k[0] if k else nan,
        kappa_history=k,
        kappa_kinks_history=kk,
        distance_history=d,
        kinks=nk[-1] if nk else nan,
        kinks_start=nk[0] if nk else nan,
        kappa_kinks=kk[-1] if kk else nan,
        steps=run["steps"],
    )


def nearest_preimage(
    model: nn.Module,
    targets: torch.Tensor,
    references: torch.Tensor,
    *,
    gauss_newton: dict | None = None,
    **options,
) -> tuple[list[InverseResult], list[NearestResult]]:
    """Gauss–Newton from each reference, then :func:`refine`.

    Parameters
    ----------
    model : torch.nn.Module
    targets : (B, K) Tensor
    references : (B, *S) Tensor
    gauss_newton : dict, optional
        Options of :func:`nnspaces.inverse.invert_classes` ``(method="gauss-newton")``.
    **options
        Options of :func:`refine` (``dtype``, ``target_classes`` go to both).

    Returns
    -------
    gn : list of B InverseResult
        The Gauss–Newton preimages (the starts).
    refined : list of B NearestResult
    """
    gn_opts = dict(gauss_newton or {})
    for key in ("dtype", "target_classes"):
        if key in options:
            gn_opts.setdefault(key, options[key])
    gn = invert_classes(model, targets, references, "gauss-newton", **gn_opts)
    starts = torch.stack([g.image for g in gn])
    return gn, refine(model, targets, starts, references, **options)


# --------------------------------------------------------------------------------------
# Tables for the chapters
# --------------------------------------------------------------------------------------


def table(
    gn: Sequence[InverseResult], refined: Sequence[NearestResult], network: str = ""
) -> pd.DataFrame:
    """One row per problem: the Gauss–Newton start beside the refined preimage.

    Parameters
    ----------
    gn : sequence of B InverseResult
        The starts (e.g. :func:`nearest_preimage`'s first output).
    refined : sequence of B NearestResult
    network : str
        Written into the ``network`` column.

    Returns
    -------
    df : pandas.DataFrame
        Columns ``network, digit`` (the target class), ``gn_distance, distance, gained``
        (``‖x − r‖`` before and after, and the difference), ``gn_kappa, kappa, kappa_kinks``
        (the certificates), ``kinks_start, kinks`` (hidden pre-activations at a kink),
        ``rel_error`` (of the refined point), ``iterations, seconds, message``.
    """
    if len(gn) != len(refined):
        raise ValueError(f"{len(gn)} Gauss–Newton results but {len(refined)} refined ones")
    rows = [
        {
            "network": network,
            "digit": r.target_class,
            "gn_distance": g.distance,
            "distance": r.distance,
            "gained": g.distance - r.distance,
            "gn_kappa": g.kappa,
            "kappa": r.kappa,
            "kappa_kinks": r.kappa_kinks,
            "kinks_start": r.kinks_start,
            "kinks": r.kinks,
            "rel_error": r.rel_error,
            "iterations": r.iterations,
            "seconds": r.seconds,
            "message": r.message,
        }
        for g, r in zip(gn, refined)
    ]
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per network: how much nearer the refined preimages are, and their certificates.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`table` output (one or several networks).

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by network: ``digits``; ``nearer`` (refined strictly nearer than Gauss–Newton);
        ``gained_min, gained_max`` and ``gained_rel_min, gained_rel_max`` (relative to the
        Gauss–Newton distance); ``gn_kappa_min, gn_kappa_max``; ``kappa_max``;
        ``kappa_kinks_max``; ``rel_error_max``; ``kinked`` (digits whose refined point has a
        pre-activation at a kink); ``smooth_kappa_max`` (largest ``κ`` over the digits
        without: NaN if none); ``kinked_kappa_min`` (smallest ``κ`` over those with: NaN if
        none); ``iterations_median``; ``seconds_mean`` (per digit).
    """
    out = {}
    columns = [
        "digits",
        "nearer",
        "gained_min",
        "gained_max",
        "gained_rel_min",
        "gained_rel_max",
        "gn_kappa_min",
        "gn_kappa_max",
        "kappa_max",
        "kappa_kinks_max",
        "rel_error_max",
        "kinked",
        "smooth_kappa_max",
        "kinked_kappa_min",
        "iterations_median",
        "seconds_mean",
    ]
    for net, d in df.groupby("network", sort=False):
        kinked = d["kinks"] > 0
        nan = float("nan")
        out[net] = {
            "digits": len(d),
            "nearer": int((d["distance"] < d["gn_distance"]).sum()),
            "gained_min": d["gained"].min(),
            "gained_max": d["gained"].max(),
            "gained_rel_min": (d["gained"] / d["gn_distance"]).min(),
            "gained_rel_max": (d["gained"] / d["gn_distance"]).max(),
            "gn_kappa_min": d["gn_kappa"].min(),
            "gn_kappa_max": d["gn_kappa"].max(),
            "kappa_max": d["kappa"].max(),
            "kappa_kinks_max": d["kappa_kinks"].max(),
            "rel_error_max": d["rel_error"].max(),
            "kinked": int(kinked.sum()),
            "smooth_kappa_max": d.loc[~kinked, "kappa"].max() if (~kinked).any() else nan,
            "kinked_kappa_min": d.loc[kinked, "kappa"].min() if kinked.any() else nan,
            "iterations_median": d["iterations"].median(),
            "seconds_mean": d["seconds"].mean(),
        }
    summary = pd.DataFrame.from_dict(out, orient="index", columns=columns)
    return summary.rename_axis("network")


def summary_keys(summary: pd.DataFrame, prefix: str = "near_", fill=float("nan")) -> dict:
    """:func:`summarize`'s table as glue keys ``"<prefix><column>_<network>"`` for every
    network of :data:`nnspaces.models.MODEL_NAMES` (``fill`` where a network is missing)."""
    networks = list(MODEL_NAMES) + [n for n in summary.index if n not in MODEL_NAMES]
    out = {}
    for column in summary.columns:
        for net in networks:
            value = summary[column].get(net, fill)
            out[f"{prefix}{column}_{net}"] = value.item() if hasattr(value, "item") else value
    return out
