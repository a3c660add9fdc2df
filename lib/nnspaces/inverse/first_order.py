"""First-order methods on the paper's loss ``mean((f(x) − t)²)``: ``"gradient"`` (Adam or
SGD, the best iterate kept) and ``"paper-sgd"`` (the released procedure, exactly). Each
result's ``status`` is a key of :data:`TERMINATION_MESSAGES`; ``"paper-sgd"`` always reports
its fixed recipe (:data:`PAPER_SGD_MESSAGE`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .common import progress_bar, reject_unused
from .result import InverseResult, build_results

# Paper-sgd: the released "+training" procedure (NOTES §2; TrainerHelper.find_invertable_input).
PAPER_SGD_LR = 1e-4
PAPER_SGD_STEPS = 100
PAPER_SGD_MOMENTUM = 0.0  # torch.optim.SGD([z], lr=0.0001): momentum left at its default 0

#: Why a first-order run stopped, by status.
TERMINATION_MESSAGES = {
    0: "{max_iter} steps",
    1: "converged: rel_error ≤ tol={tol:g}",
    2: "stopped: no improvement for {patience} steps",
}
#: The message of every ``"paper-sgd"`` result, whatever its status.
PAPER_SGD_MESSAGE = (
    "released procedure: SGD lr={lr:g}, momentum 0, {steps} steps on MSE; loss {first:.5g} → "
    "{last:.5g}"
)


@dataclass
class _Run:
    """One problem of the batch: its image (a parameter of the optimizer) and its progress."""

    x: torch.Tensor
    scale: float  # mean(t²): the loss is relative to it for ``tol``
    status: int = 0  # a key of TERMINATION_MESSAGES
    history: list[float] = field(default_factory=list)  # loss at the start, after each step
    best: float = math.inf
    best_x: torch.Tensor | None = None
    since: int = 0  # steps since the loss last fell below ``best``
    active: bool = True

    def __post_init__(self) -> None:
        if self.best_x is None:
            self.best_x = self.x.detach().clone()

    def record(self, value: float, tol: float, patience: int | None) -> None:
        """Log the loss of the current image; stop on ``tol`` or ``patience``."""
        self.history.append(value)
        if value < self.best:
            self.best, self.best_x, self.since = value, self.x.detach().clone(), 0
        else:
            self.since += 1
        if math.sqrt(value / self.scale) <= tol:
            self.status, self.active = 1, False
        elif patience is not None and self.since >= patience:
            self.status, self.active = 2, False


def _descent(
    f,
    T,
    R,
    box,
    *,
    opt: str,
    lr: float,
    steps: int,
    tol: float,
    patience: int | None,
    progress: bool,
    momentum: float,
) -> list[_Run]:
    """Minimise ``MSE(f(x_i), t_i)`` for a batch of ``B`` problems with a torch optimizer.

    Parameters
    ----------
    f : torch.nn.Module
        Frozen, eval mode: maps ``(B, *S)`` to ``(B, K)``; images in a batch are independent.
    T : (B, K) Tensor
        Targets.
    R : (B, *S) Tensor
        Starting images (clipped to the box when there is one).

    Returns
    -------
    runs : list of B :class:`_Run`
        Each with its last iterate ``x``, its best ``best_x``, ``history`` and ``status``.

    Notes
    -----
    One forward and one backward pass serve the whole batch: the gradient of
    ``Σ_i MSE(f(x_i), t_i)`` with respect to ``x_i`` is the gradient of problem ``i`` alone.
    Each image is its own parameter of the optimizer (SGD and Adam act elementwise), so every
    problem follows exactly the iterates it would follow alone; a problem that has stopped
    (``tol`` or ``patience``) gets no gradient, which the optimizers skip.
    """
    runs = [
        _Run(
            x=(r.clone() if box is None else r.clamp(*box)).requires_grad_(True),
            scale=float((t**2).mean()) or 1.0,
        )
        for r, t in zip(R, T)
    ]
    xs = [run.x for run in runs]
    if opt == "adam":
        optimizer = torch.optim.Adam(xs, lr=lr)
    else:
        optimizer = torch.optim.SGD(xs, lr=lr, momentum=momentum)
    active = list(range(len(runs)))
    for it in progress_bar(range(steps + 1), progress, opt):
        optimizer.zero_grad(set_to_none=True)
        with torch.enable_grad():
            out = f(torch.stack([xs[i] for i in active]))  # (A, K)
            per = ((out - T[active]) ** 2).mean(1)  # (A,): the paper's loss of each problem
        for i, value in zip(active, per.detach().tolist()):
            runs[i].record(value, tol, patience)
        still = [i for i in active if runs[i].active]
        if it == steps or not still:
            break
        keep = torch.tensor([runs[i].active for i in active])
        (per * keep).sum().backward()
        for i in active:
            if not runs[i].active:
                xs[i].grad = None  # finished: the optimizer leaves it alone
        optimizer.step()
        if box is not None:
            with torch.no_grad():
                for i in still:
                    xs[i].clamp_(*box)
        active = still
    return runs


def _results(f, T, R, box, classes, runs, method, start, keep_best, messages):
    """Score each run of :func:`_descent` (its best or its last iterate)."""
    return build_results(
        f,
        [run.best_x if keep_best else run.x.detach() for run in runs],
        T,
        R,
        classes,
        method=method,
        start=start,
        iterations=[len(run.history) - 1 for run in runs],
        messages=messages,
        statuses=[run.status for run in runs],
        histories=[run.history for run in runs],
        box=box,
    )


def gradient(
    f,
    T,
    R,
    box,
    *,
    classes,
    optimizer="adam",
    lr=None,
    max_iter=500,
    tol=1e-12,
    patience=100,
    momentum=0.9,
    progress=False,
    **unused,
) -> list[InverseResult]:
    """The ``"gradient"`` method: Adam or SGD on the loss, the best iterate kept."""
    reject_unused("gradient", unused)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {optimizer!r}: choose 'adam' or 'sgd'")
    start = time.perf_counter()
    lr = (1e-2 if optimizer == "adam" else 1e-1) if lr is None else lr
    momentum = momentum if optimizer == "sgd" else 0.0
    runs = _descent(
        f,
        T,
        R,
        box,
        opt=optimizer,
        lr=lr,
        steps=max_iter,
        tol=tol,
        patience=patience,
        progress=progress,
        momentum=momentum,
    )
    fields = {"max_iter": max_iter, "tol": tol, "patience": patience}
    messages = [TERMINATION_MESSAGES[run.status].format(**fields) for run in runs]
    return _results(f, T, R, box, classes, runs, "gradient", start, True, messages)


def paper_sgd(f, T, R, box, *, classes, progress=False, **unused) -> list[InverseResult]:
    """The ``"paper-sgd"`` method: the released procedure, the last iterate returned."""
    reject_unused("paper-sgd", unused)
    start = time.perf_counter()
    runs = _descent(
        f,
        T,
        R,
        box,
        opt="sgd",
        lr=PAPER_SGD_LR,
        steps=PAPER_SGD_STEPS,
        tol=0.0,
        patience=None,
        progress=progress,
        momentum=PAPER_SGD_MOMENTUM,
    )
    messages = [
        PAPER_SGD_MESSAGE.format(
            lr=PAPER_SGD_LR, steps=PAPER_SGD_STEPS, first=run.history[0], last=run.history[-1]
        )
        for run in runs
    ]
    return _results(f, T, R, box, classes, runs, "paper-sgd", start, False, messages)
