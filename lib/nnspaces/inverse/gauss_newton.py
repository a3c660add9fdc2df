"""The ``"gauss-newton"`` method: minimum-norm Gauss–Newton for any differentiable network.

``x ← x + α J(x)⁺ (t − f(x))`` with ``J`` the (K, n) Jacobian
(:func:`~nnspaces.inverse.linalg.outputs_and_jacobians`) and backtracking on ``α``
(:func:`~nnspaces.inverse.common.line_search`); with a box, the steps of
:mod:`~nnspaces.inverse.box_lsq`. Each result's ``status`` is a key of
:data:`TERMINATION_MESSAGES`.

References
----------
.. [1] A. Ben-Israel, "A Newton-Raphson method for the solution of systems of equations",
   J. Math. Anal. Appl. 15 (1966), pp. 243–252 (the step with the Moore–Penrose inverse).
.. [2] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006, §10.3
   (Gauss–Newton) and §3.1 (backtracking).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .box_lsq import bounded_step, box_step
from .common import line_search, progress_bar, reject_unused
from .linalg import min_norm_step, outputs_and_jacobians, selu_chain
from .result import InverseResult, build_results

#: Why Gauss–Newton stopped, by status.
TERMINATION_MESSAGES = {
    -1: "stopped: no step reduces the output error (stagnation)",
    0: "max_iter={max_iter} reached",
    1: "converged: rel_error ≤ tol={tol:g}",
    2: "stopped: error fell by < 0.1 % in {patience} steps (stagnation)",
}


def _steps(f, T, X, J, res, errs, box):
    """One accepted step per problem: ``(x_new, err_new)``, or ``(None, err)`` (stagnation).

    With a box the held-pixel step (:func:`~nnspaces.inverse.box_lsq.box_step`) comes first;
    where it gains less than 10 %, the bounded linearised step
    (:func:`~nnspaces.inverse.box_lsq.bounded_step`, one batched solve for all of
    them) is tried too and the better kept.
    """
    if box is None:
        D = torch.stack([min_norm_step(Ji, ri) for Ji, ri in zip(J, res)]).reshape(X.shape)
        return line_search(f, T, X, D, errs, None)
    D = torch.stack([box_step(Ji, ri, x.reshape(-1), *box) for Ji, ri, x in zip(J, res, X)])
    new = line_search(f, T, X, D.reshape(X.shape), errs, box)
    weak = [j for j, (x, e) in enumerate(new) if x is None or e > 0.9 * errs[j]]
    if weak:
        D2 = bounded_step(J[weak], res[weak], X[weak], *box)  # all weak problems at once
        more = line_search(f, T[weak], X[weak], D2, [errs[j] for j in weak], box)
        for j, (x2, e2) in zip(weak, more):
            if x2 is not None and e2 < new[j][1]:
                new[j] = (x2, e2)
    return new


@dataclass
class _Run:
    """One problem of the batch: its output errors so far and how it ended (``status``, a
    key of :data:`TERMINATION_MESSAGES`)."""

    errs: list[float]  # ‖t − f(x)‖ at the start and after every accepted step
    iterations: int
    status: int = 0
    active: bool = True

    @property
    def err(self) -> float:
        return self.errs[-1]

    def stop(self, iterations: int, status: int) -> None:
        self.iterations, self.status, self.active = iterations, status, False


def solve(
    f, T, R, box, *, classes, max_iter=100, tol=1e-12, patience=10, progress=False, **unused
) -> list[InverseResult]:
    """Minimum-norm Gauss–Newton with backtracking, for a batch of B problems at once.

    ``T`` (B, K) targets, ``R`` (B, *S) references. Each problem follows its own iterates and
    stops on its own (its :class:`_Run`); what the batch shares is the work: one forward and
    backward pass for all the Jacobians of a step (closed form for Linear/SELU stacks,
    :func:`~nnspaces.inverse.linalg.chain_jacobian`) and one forward pass per step length of
    the line search.

    With a box, each step first tries the minimum-norm step on the pixels that are free to
    move (:func:`~nnspaces.inverse.box_lsq.box_step`, clipped); when that gains less than
    10 %, the bounded linearised problem ``min ‖J d − res‖, x + d ∈ box``
    (:func:`~nnspaces.inverse.box_lsq.bounded_step`) is tried too and the better
    step taken — what lets the iteration reach the box point of least output error when the
    target is out of reach (it matches L-BFGS-B's minimum in our tests, ~10× faster).
    """
    reject_unused("gauss-newton", unused)
    start = time.perf_counter()
    B, K = T.shape
    tn = [float(torch.linalg.vector_norm(t)) or 1.0 for t in T]
    X = R.clone() if box is None else R.clamp(*box)
    chain = selu_chain(f)
    with torch.no_grad():
        err0 = torch.linalg.vector_norm(T - f(X).reshape(B, -1), dim=1).tolist()
    runs = [_Run([e], max_iter) for e in err0]
    for it in progress_bar(range(1, max_iter + 1), progress, "gauss-newton"):
        for run, n in zip(runs, tn):
            if run.active and run.err / n <= tol:
                run.stop(it - 1, 1)
        active = [i for i, run in enumerate(runs) if run.active]
        if not active:
            break
        out, J = outputs_and_jacobians(f, chain, X[active], K)  # (A, K), (A, K, n)
        errs = [runs[i].err for i in active]
        new = _steps(f, T[active], X[active], J, T[active] - out, errs, box)
        for i, (x_new, e_new) in zip(active, new):
            run = runs[i]
            if x_new is None:
                run.stop(it - 1, -1)
                continue
            X[i] = x_new
            run.errs.append(e_new)
            e = run.errs
            if patience and len(e) > patience and e_new > (1 - 1e-3) * e[-1 - patience]:
                run.stop(it, 2)
    for run, n in zip(runs, tn):  # those that ran all max_iter steps
        if run.active and run.err / n <= tol:
            run.status = 1
    fields = {"max_iter": max_iter, "tol": tol, "patience": patience}
    return build_results(
        f,
        X,
        T,
        R,
        classes,
        method="gauss-newton",
        start=start,
        iterations=[run.iterations for run in runs],
        messages=[TERMINATION_MESSAGES[run.status].format(**fields) for run in runs],
        statuses=[run.status for run in runs],
        histories=[[e**2 / K for e in run.errs] for run in runs],
        box=box,
    )
