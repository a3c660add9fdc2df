"""The ``"gauss-newton"`` method: minimum-norm Gauss–Newton for any differentiable network.

``x ← x + α J(x)⁺ (t − f(x))`` with ``J`` the (K, n) Jacobian and backtracking on ``α``
(:func:`_line_search`); with a box, the steps of :mod:`nnspaces.inverse.box`. The Jacobians
come in closed form for Linear/SELU stacks (:func:`_chain_jacobian`), else from one autograd
pass for the whole batch (:func:`_jacobian`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from .box import _bounded_step, _box_step
from .common import _leaf_modules, _min_norm_step, _progress, _reject_unused
from .result import InverseResult, _build_results
from .selu import selu_slope


def _selu_chain(f: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor, bool]] | None:
    """``[(W, b, selu_after), …]`` if ``f`` is a stack of Flatten / Linear / SELU, else None.

    Only ``nn.Sequential`` containers (nested or not) qualify: their leaves run in module order.
    """
    if not isinstance(f, nn.Sequential):
        return None
    if any(not isinstance(m, nn.Sequential) for m in f.modules() if next(m.children(), None)):
        return None
    chain: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
    for m in _leaf_modules(f):
        if isinstance(m, (nn.Flatten, nn.Identity)):
            if isinstance(m, nn.Flatten) and chain:
                return None  # a Flatten after a Linear: not a plain stack
        elif isinstance(m, nn.Linear):
            b = m.bias if m.bias is not None else m.weight.new_zeros(m.out_features)
            chain.append((m.weight.detach(), b.detach(), False))
        elif isinstance(m, nn.SELU) and chain and not chain[-1][2]:
            W, b, _ = chain[-1]
            chain[-1] = (W, b, True)
        else:
            return None
    return chain or None


def _chain_jacobian(chain, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(x) (K,), J (K, n))`` of a Linear/SELU stack, in closed form.

    Notes
    -----
    ``J = W_L D_{L−1} W_{L−1} ⋯ D_1 W_1`` with ``D_l = diag(σ'(u_l))``, ``u_l`` the
    pre-activations and ``σ'(u) = λ`` for ``u > 0``, ``λα eᵘ`` otherwise; the product is taken
    from the output side, so every factor has only K rows.
    """
    h = x.reshape(-1)  # (n,)
    slopes = []
    for W, b, selu in chain:
        u = W @ h + b
        slopes.append(selu_slope(u) if selu else None)
        h = torch.selu(u) if selu else u
    J = None
    for (W, _, _), slope in zip(reversed(chain), reversed(slopes)):
        if slope is not None:
            J = torch.diag(slope) if J is None else J * slope  # (K, m_l): columns scaled
        J = W if J is None else J @ W  # (K, n_l)
    return h, J


def _jacobian(f: nn.Module, X: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(X) (B, K), J (B, K, n))`` for a batch ``X`` (B, *S), from one forward and one
    backward pass over ``B · K`` copies.

    Output ``k`` of copy ``k`` of ``x_b``: the gradient of ``Σ_{b,k} f(x_{b,k})[k]`` w.r.t.
    copy ``(b, k)`` is row ``k`` of ``J_b`` (images in a batch are independent in eval mode).
    """
    B = len(X)
    xb = X.detach().repeat_interleave(K, dim=0).requires_grad_(True)  # (B·K, *S)
    with torch.enable_grad():
        out = f(xb).reshape(B, K, -1)  # (B, K copies, K outputs)
        (g,) = torch.autograd.grad(out.diagonal(dim1=1, dim2=2).sum(), xb)
    return out[:, 0].detach(), g.reshape(B, K, -1)


def _outputs_and_jacobians(f, chain, X: torch.Tensor, K: int):
    """``(f(X) (B, K), J (B, K, n))``: closed form when ``chain`` (:func:`_selu_chain`) is
    given, else autograd."""
    if chain is not None:
        out, J = zip(*(_chain_jacobian(chain, x) for x in X))
        return torch.stack(out), torch.stack(J)
    return _jacobian(f, X, K)


def _jacobians(f: nn.Module, X: torch.Tensor, K: int, chunk: int = 64) -> torch.Tensor:
    """``J`` (B, K, n) at each image of ``X`` (B, *S), in chunks of ``chunk`` images."""
    chain = _selu_chain(f)
    parts = [
        _outputs_and_jacobians(f, chain, X[i : i + chunk], K)[1] for i in range(0, len(X), chunk)
    ]
    return torch.cat(parts)


def _line_search(f, T, X, D, errs, box):
    """Backtrack ``x_i + α_i d_i`` (clipped to the box) from α_i = 1, for a batch of problems
    at once, until each error falls sufficiently.

    Parameters
    ----------
    T : (B, K) Tensor
    X, D : (B, *S) Tensors
        Points and directions.
    errs : list of B float
        ``‖t_i − f(x_i)‖``.

    Returns
    -------
    new : list of B ``(x_new, err_new)``, or ``(None, err)`` where no step length helps
    """
    new = [(None, e) for e in errs]
    pending, step = list(range(len(X))), 1.0
    while pending and step > 2.0**-30:
        cand = X[pending] + step * D[pending]
        if box is not None:
            cand = cand.clamp(*box)
        with torch.no_grad():
            out = f(cand).reshape(len(pending), -1)  # (P, K)
        e = torch.linalg.vector_norm(T[pending] - out, dim=1).tolist()
        still = []
        for j, i in enumerate(pending):
            if e[j] <= (1 - 1e-4 * step) * errs[i]:
                new[i] = (cand[j], e[j])
            else:
                still.append(i)
        pending, step = still, step / 2
    return new


def _steps(f, T, X, J, res, errs, box):
    """One accepted step per problem: ``(x_new, err_new)``, or ``(None, err)`` (stagnation).

    With a box the held-pixel step (:func:`_box_step`) comes first; where it gains less than
    10 %, the bounded linearised step (:func:`_bounded_step`, one batched solve for all of
    them) is tried too and the better kept.
    """
    if box is None:
        D = torch.stack([_min_norm_step(Ji, ri) for Ji, ri in zip(J, res)]).reshape(X.shape)
        return _line_search(f, T, X, D, errs, None)
    D = torch.stack([_box_step(Ji, ri, x.reshape(-1), *box) for Ji, ri, x in zip(J, res, X)])
    new = _line_search(f, T, X, D.reshape(X.shape), errs, box)
    weak = [j for j, (x, e) in enumerate(new) if x is None or e > 0.9 * errs[j]]
    if weak:
        D2 = _bounded_step(J[weak], res[weak], X[weak], *box)  # all weak problems at once
        more = _line_search(f, T[weak], X[weak], D2, [errs[j] for j in weak], box)
        for j, (x2, e2) in zip(weak, more):
            if x2 is not None and e2 < new[j][1]:
                new[j] = (x2, e2)
    return new


@dataclass
class _Run:
    """One problem of the batch: its output errors so far and how it ended."""

    errs: list[float]  # ‖t − f(x)‖ at the start and after every accepted step
    iterations: int
    message: str
    active: bool = True

    @property
    def err(self) -> float:
        return self.errs[-1]

    def stop(self, iterations: int, message: str) -> None:
        self.iterations, self.message, self.active = iterations, message, False


def solve(
    f, T, R, box, *, classes, max_iter=100, tol=1e-12, patience=10, progress=False, **unused
) -> list[InverseResult]:
    """Minimum-norm Gauss–Newton with backtracking, for a batch of B problems at once.

    ``T`` (B, K) targets, ``R`` (B, *S) references. Each problem follows its own iterates and
    stops on its own (its :class:`_Run`); what the batch shares is the work: one forward and
    backward pass for all the Jacobians of a step (closed form for Linear/SELU stacks,
    :func:`_chain_jacobian`) and one forward pass per step length of the line search.

    With a box, each step first tries the minimum-norm step on the pixels that are free to
    move (:func:`_box_step`, clipped); when that gains less than 10 %, the bounded linearised
    problem ``min ‖J d − res‖, x + d ∈ box`` (:func:`_bounded_step`) is tried too and the better
    step taken — what lets the iteration reach the box point of least output error when the
    target is out of reach (it matches L-BFGS-B's minimum in our tests, ~10× faster).
    """
    _reject_unused("gauss-newton", unused)
    start = time.perf_counter()
    B, K = T.shape
    tn = [float(torch.linalg.vector_norm(t)) or 1.0 for t in T]
    X = R.clone() if box is None else R.clamp(*box)
    chain = _selu_chain(f)
    with torch.no_grad():
        err0 = torch.linalg.vector_norm(T - f(X).reshape(B, -1), dim=1).tolist()
    runs = [_Run([e], max_iter, f"max_iter={max_iter} reached") for e in err0]
    converged = f"converged: rel_error ≤ tol={tol:g}"
    for it in _progress(range(1, max_iter + 1), progress, "gauss-newton"):
        for run, n in zip(runs, tn):
            if run.active and run.err / n <= tol:
                run.stop(it - 1, converged)
        active = [i for i, run in enumerate(runs) if run.active]
        if not active:
            break
        out, J = _outputs_and_jacobians(f, chain, X[active], K)  # (A, K), (A, K, n)
        errs = [runs[i].err for i in active]
        new = _steps(f, T[active], X[active], J, T[active] - out, errs, box)
        for i, (x_new, e_new) in zip(active, new):
            run = runs[i]
            if x_new is None:
                run.stop(it - 1, "stopped: no step reduces the output error (stagnation)")
                continue
            X[i] = x_new
            run.errs.append(e_new)
            e = run.errs
            if patience and len(e) > patience and e_new > (1 - 1e-3) * e[-1 - patience]:
                run.stop(it, f"stopped: error fell by < 0.1 % in {patience} steps (stagnation)")
    for run, n in zip(runs, tn):  # those that ran all max_iter steps
        if run.active and run.err / n <= tol:
            run.message = converged
    return _build_results(
        f,
        X,
        T,
        R,
        classes,
        method="gauss-newton",
        start=start,
        iterations=[run.iterations for run in runs],
        messages=[run.message for run in runs],
        histories=[[e**2 / K for e in run.errs] for run in runs],
        box=box,
    )
