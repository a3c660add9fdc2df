"""The refinement: :func:`refine` (from given preimages) and :func:`nearest_preimage`
(Gauss–Newton from the reference, then :func:`refine`). Each result's ``status`` is a key of
:data:`TERMINATION_MESSAGES`."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import certificate
from ..inverse import InverseResult, frozen, invert_classes
from ..inverse.common import check_classes, work_copy
from ..inverse.linalg import outputs_and_jacobians, selu_chain
from ..inverse.result import build_results
from ..models import device_of
from .kinks import (
    AT_KINK_TOL,
    KINK_TOL,
    constraint_hessian,
    kink_multipliers,
    local,
    wrong_sign_kinks,
)
from .result import CURVATURE_TOL, NearestResult, nearest_result
from .steps import STEPS, direction, distance_search, restore

#: Why :func:`refine` stopped, by status (the second-order test's verdict follows it).
TERMINATION_MESSAGES = {
    -1: "the start is not a preimage: Gauss–Newton cannot bring it to {tol:g}",
    0: "max_iter={max_iter} steps taken",
    1: "converged: κ ≤ {kappa_tol:g} (first-order stationary)",
    2: "stopped: distance fell by < {rtol:g} (relative) in {patience} steps",
    3: "stopped: no step along the preimage reduces the distance "
    "(step lengths down to {min_step:g} tried)",
}


@dataclass(frozen=True)
class _Options:
    """The options of :func:`refine` (its docstring says what each means)."""

    max_iter: int
    tol: float
    restore_iter: int
    min_step: float
    patience: int
    rtol: float
    kappa_tol: float
    kink_tol: float
    steps: tuple[str, ...]


@dataclass
class _Run:
    """One problem of :func:`refine`: its record at the start and after every accepted step."""

    dists: list[float]  # ‖x − r‖
    kappas: list[float] = field(default_factory=list)
    kappas_kinks: list[float] = field(default_factory=list)
    kinks: list[float] = field(default_factory=list)
    mse: list[float] = field(default_factory=list)
    wrong: list[float] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    iters: int = 0
    status: int = 0  # a key of TERMINATION_MESSAGES
    x: torch.Tensor | None = None  # the end point
    curvature: float = math.nan  # the second-order test there


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
        The corner steps try to hold the hidden SELU pre-activations with ``|u| ≤ kink_tol``
        at 0 (the certificates count a unit as at a kink at ``|u| ≤``
        :data:`~nnspaces.nearest.kinks.AT_KINK_TOL`).
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
      ``{u_j = 0}`` that the other steps keep crossing;
    - ``"release"``: where a kink's multiplier has the wrong sign
      (:func:`~nnspaces.nearest.kinks.kink_multipliers`), the tangent step on the side it
      may leave to, that kink let go and the others held.

    Each trial point ``x + αd`` (``α = 1, ½, ¼, … ≥ min_step``, and ``2, 4, … ≤ 16`` after a
    full step) is brought back onto the preimage by minimum-norm Gauss–Newton and accepted
    only if its relative error is at most ``tol`` and it is strictly nearer ``r``; of the
    candidates, the nearest accepted point is taken. The distance therefore decreases
    monotonically over points that are all preimages, and the iteration stops when no
    candidate comes nearer. At a smooth first-order stationary point ``κ = 0``; at a
    corner the condition becomes ``x − r ∈ row(J) + span{∇u_j}``, which ``kappa_kinks``
    measures, with kink multipliers of the right signs (``wrong_kinks`` counts those
    without). Both are necessary conditions for a local minimum of the distance, not
    sufficient: ``κ = 0`` holds at the farthest point of a closed preimage too. At a point
    without kinks the second-order test decides (``curvature``, the smallest eigenvalue of
    the Lagrangian's Hessian on the tangent space, :func:`nnspaces.certificate.reduced_curvature`):
    ``curvature > CURVATURE_TOL`` with ``κ ≤`` :data:`~nnspaces.inverse.CERTIFIED_TOL` proves a
    strict local minimum (``proof = "second-order"``, ``locally_nearest``); at a kink
    nothing is proven. No result is proven *the* nearest: another path may end at a nearer
    preimage.
    """
    T, X0, R = _check(model, targets, starts, references, steps)
    opts = _Options(
        max_iter, tol, restore_iter, min_step, patience, rtol, kappa_tol, kink_tol, tuple(steps)
    )
    classes = check_classes(target_classes, len(T), T.shape[1])
    device = device_of(model)
    with frozen(model):
        start = time.perf_counter()
        f = work_copy(model, dtype)
        T, X, R = (v.to(device=device, dtype=dtype) for v in (T, X0, R))
        runs = _refine(f, T, X, R, opts)
        bases = build_results(
            f,
            [run.x for run in runs],
            T,
            R,
            classes,
            method="nearest",
            start=start,
            iterations=[run.iters for run in runs],
            messages=[_message(run, opts) for run in runs],
            statuses=[run.status for run in runs],
            histories=[run.mse for run in runs],
        )
    return [nearest_result(base, run) for base, run in zip(bases, runs)]


def _check(model, targets, starts, references, steps):
    """The problems as tensors ``(T, X0, R)``, or a ValueError naming what is wrong."""
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
    return T, X0, R


def _message(run: _Run, opts: _Options) -> str:
    """:data:`TERMINATION_MESSAGES` of the run's status, and the second-order test's verdict."""
    message = TERMINATION_MESSAGES[run.status].format(**dataclasses.asdict(opts))
    h = run.curvature
    if math.isnan(h):
        return message
    verdict = "a strict local minimum" if h > CURVATURE_TOL else "not proven a local minimum"
    return f"{message}; second-order test: curvature {h:.2g} ({verdict})"


def _refine(f, T, X, R, opts: _Options) -> list[_Run]:
    """The iteration of :func:`refine` on prepared tensors; one :class:`_Run` per problem."""
    B, K = T.shape
    chain = selu_chain(f)
    tn = torch.linalg.vector_norm(T, dim=1).clamp_min(torch.finfo(T.dtype).tiny)  # (B,)
    X, rel = restore(f, chain, T, X, tn, opts.tol, opts.restore_iter)
    dist = torch.linalg.vector_norm((X - R).reshape(B, -1), dim=1).tolist()
    runs = [_Run([d]) for d in dist]
    active = []
    for i in range(B):
        if math.isfinite(rel[i]):
            active.append(i)
        else:
            runs[i].status = -1
    for it in range(opts.max_iter + 1):
        if not active:
            break
        todo = _certify_or_stop(f, chain, T, X, R, runs, active, it, opts)
        if not todo:
            break
        moved = _nearest_candidates(f, chain, T, X, R, tn, dist, todo, opts)
        active = []
        for (i, *_), (x_new, d_new, name) in zip(todo, moved):
            if x_new is None:
                runs[i].status = 3
                continue
            X[i], dist[i] = x_new, d_new
            runs[i].dists.append(d_new)
            runs[i].steps.append(name)
            runs[i].iters += 1
            active.append(i)
    for i, run in enumerate(runs):
        run.x, run.curvature = X[i], _second_order(chain, X[i], R[i])
    return runs


def _certify_or_stop(f, chain, T, X, R, runs, active, it, opts: _Options) -> list[tuple]:
    """Record each active run's certificates at its point, and stop those that are done
    (their status set); returns ``(i, J_i (K, n), t_i − f(x_i) (K,), Local or None)`` for
    the others."""
    out, J = outputs_and_jacobians(f, chain, X[active], T.shape[1])  # (A, K), (A, K, n)
    todo = []
    for j, i in enumerate(active):
        run = runs[i]
        loc = local(chain, X[i], opts.kink_tol) if chain is not None else None
        _record(run, chain, J[j], X[i], R[i], out[j], T[i], loc)
        d = run.dists
        if run.kappas[-1] <= opts.kappa_tol:
            run.status = 1
        elif len(d) > opts.patience and d[-1] > (1 - opts.rtol) * d[-1 - opts.patience]:
            run.status = 2
        elif it == opts.max_iter:
            run.status = 0
        else:
            todo.append((i, J[j], T[i] - out[j], loc))
    return todo


def _nearest_candidates(f, chain, T, X, R, tn, dist, todo, opts: _Options) -> list[tuple]:
    """For each problem of ``todo``, the nearest restored point over the candidate steps:
    ``(x_new, distance, step name)``, or ``(None, distance, "")`` where none comes nearer."""
    idx = [i for i, *_ in todo]
    moved = [(None, dist[i], "") for i in idx]
    for name in opts.steps:
        # candidate directions of this kind (None where it does not apply)
        cand = [direction(name, chain, Ji, X[i], R[i], res, loc) for i, Ji, res, loc in todo]
        sub = [k for k, d in enumerate(cand) if d is not None]
        if not sub:
            continue
        ids = [idx[k] for k in sub]
        D = torch.stack([cand[k] for k in sub]).reshape(X[ids].shape)
        found = distance_search(
            f,
            chain,
            T[ids],
            X[ids],
            D,
            R[ids],
            tn[ids],
            [dist[i] for i in ids],
            opts.tol,
            opts.restore_iter,
            opts.min_step,
        )
        for k, (x2, d2) in zip(sub, found):
            if x2 is not None and d2 < moved[k][1]:
                moved[k] = (x2, d2, name)
    return moved


def _record(run, chain, J, x, r, out, t, loc) -> None:
    """Append ``κ``, ``κ`` with the kink gradients, the kink count, the number of kinks that
    fail the sign test and the MSE to ``run``; the sign test's multipliers go to
    ``loc.release`` (for the ``"release"`` step)."""
    run.kappas.append(certificate.kappa(J, x, r))
    run.mse.append(float(((out - t) ** 2).mean()))
    if loc is None:
        for key in ("kappas_kinks", "kinks", "wrong"):
            getattr(run, key).append(math.nan)
        return
    tight = local(chain, x, AT_KINK_TOL)  # the units that are at a kink, not near one
    G = tight.kink_rows
    run.kappas_kinks.append(certificate.kappa(J, x, r, extra=G) if len(G) else run.kappas[-1])
    run.kinks.append(float(len(G)))
    wrong = 0.0
    if len(G):
        nu = kink_multipliers(chain, x, r, AT_KINK_TOL)
        mask = wrong_sign_kinks(nu, slack=run.kappas_kinks[-1])
        loc.release, wrong = (nu, mask, tight), float(mask.any(dim=1).sum())
    run.wrong.append(wrong)


def _second_order(chain, x, r) -> float:
    """:func:`nnspaces.certificate.reduced_curvature` at ``x`` (NaN for a network that is not
    a Linear/SELU stack, or where a hidden unit sits at a kink: no Hessian there)."""
    if chain is None:
        return math.nan
    loc = local(chain, x, AT_KINK_TOL)
    if len(loc.kink_values):
        return math.nan
    lam = certificate.multipliers(loc.J, x, r)
    G, w = constraint_hessian(chain, loc, lam)
    return certificate.reduced_curvature(loc.J, G, w)


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

    Notes
    -----
    Computes and returns (writes nothing); the chapters call it through
    :func:`nnspaces.notebook.nearest_preimage`, which memoises it on disk.
    """
    gn_opts = dict(gauss_newton or {})
    for key in ("dtype", "target_classes"):
        if key in options:
            gn_opts.setdefault(key, options[key])
    gn = invert_classes(model, targets, references, "gauss-newton", **gn_opts)
    starts = torch.stack([g.image for g in gn])
    return gn, refine(model, targets, starts, references, **options)
