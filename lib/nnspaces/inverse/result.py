"""What an inverse method returns (:class:`InverseResult`) and the one helper that builds it.

Every method hands its images to :func:`build_results`, which scores them by an independent
forward pass of the network, so all methods are measured the same way. As in
``scipy.optimize.least_squares``, a result says why its method stopped by a ``status`` (a key
of the method's ``TERMINATION_MESSAGES``: positive when it converged, 0 at its iteration
limit, negative when it stopped short) and the ``message`` that table gives it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

#: Relative output error at or below which a target counts as reached (``feasible``).
REACHED_TOL = 1e-6

#: A reached result whose first-order certificate (``kappa``, or ``kkt`` with a box) is at or
#: below this is a first-order stationary point of the distance to the reference on the
#: preimage (``InverseResult.stationary``). Stationary is not nearest: the farthest point of
#: a closed preimage is stationary too (``InverseResult.nearest`` says what is proven).
CERTIFIED_TOL = 1e-6

#: What ``InverseResult.proof`` may say: how nearness was proven, if at all.
PROOFS = {
    "": "not proven: at most first-order stationary",
    "convex": "nearest: the preimage (∩ box) is convex, so the stationary point is the global "
    "minimiser of the distance (the closed form)",
    "second-order": "locally nearest: the Lagrangian's Hessian is positive definite on the "
    "tangent space (a strict local minimum of the distance; another may be nearer)",
}


@dataclass
class InverseResult:
    """What :func:`invert` found.

    Attributes
    ----------
    image : Tensor, shape of the reference
        The input found (compute dtype, CPU).
    output : (K,) Tensor
        ``f(image)`` by a forward pass of the network in the compute dtype.
    target : (K,) Tensor
    rel_error : float
        ``‖f(x) − t‖ / ‖t‖`` (``‖f(x) − t‖`` when ``t = 0``).
    predicted : int
        ``argmax f(x)``.
    target_class : int
        ``argmax t`` unless given.
    margin : float
        Target-class margin ``f(x)[c] − max_{j≠c} f(x)[j]`` with ``c = target_class``:
        positive exactly when the image is classified as the target class.
    distance : float
        ``‖x − reference‖`` over all pixels.
    outside_box : int
        Number of pixels outside the valid range ``[0, 1]``.
    iterations : int
    seconds : float
        Wall time of the call (per class for vectorised batches).
    history : list of float
        Mean squared output error ``mean((f(x) − t)²)`` (the paper's loss) at the start and
        after every step.
    feasible : bool or None
        Box problems only: whether the target can be reached inside the box
        (``rel_error ≤ 1e-6``; the closed form decides it from the problem itself, exactly:
        ``False`` there is a proof that no box image reaches the target).
    method : str
    message : str
        Why the method stopped, in words: its ``TERMINATION_MESSAGES[status]``.
    status : int
        Why the method stopped, as a key of its module's ``TERMINATION_MESSAGES``
        (``> 0`` converged, ``0`` iteration limit, ``< 0`` stopped short).
    kappa : float
        The first-order certificate ``‖(I − J⁺J)(x − r)‖ / ‖x − r‖`` with ``J`` the (K, n)
        Jacobian at ``x`` (:func:`nnspaces.certificate.kappa`; for the closed form, ``W``,
        which has the row space of ``J`` and no SELU slopes near 0 to blur it): 0 at a
        preimage point that is first-order stationary for the distance to ``r`` — a nearest
        point, but also a farthest point or a saddle; NaN when not computed.
    kkt : float or None
        Box problems only: for a reached target, the relative KKT residual of
        ``min ‖x − r‖ s.t. f(x) = t, lo ≤ x ≤ hi`` at ``x``
        (:func:`nnspaces.certificate.kkt_residual`); for a target out of reach, that of the
        best approximation ``min ‖f(x) − t‖ s.t. lo ≤ x ≤ hi``
        (:func:`nnspaces.certificate.error_kkt_residual`).
    proof : str
        How nearness was proven (:data:`PROOFS`): ``"convex"`` (the closed form: its
        stationarity checked against :func:`nnspaces.certificate.kappa_roundoff`),
        ``"second-order"`` (:func:`nnspaces.nearest.refine` at a smooth point), or ``""``.
    """

    image: torch.Tensor
    output: torch.Tensor
    target: torch.Tensor
    rel_error: float
    predicted: int
    target_class: int
    margin: float
    distance: float
    outside_box: int
    iterations: int
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)
    feasible: bool | None = None
    method: str = ""
    message: str = ""
    status: int = 0
    kappa: float = math.nan
    kkt: float | None = None
    proof: str = ""

    @property
    def reached(self) -> bool:
        """Whether ``f(x) = t`` to the relative error :data:`REACHED_TOL` — and the target is
        not proven out of reach (``feasible is False``: near SELU's floor an unreachable
        target's output can come within the tolerance)."""
        return self.rel_error <= REACHED_TOL and self.feasible is not False

    @property
    def stationary(self) -> bool:
        """Reached, and first-order stationary for the distance to the reference: ``kappa``
        (``kkt`` with a box) at or below :data:`CERTIFIED_TOL`, or proven by convexity.
        Necessary for a nearest preimage, not sufficient (:attr:`nearest`)."""
        cert = self.kappa if self.kkt is None else self.kkt
        return self.reached and (cert <= CERTIFIED_TOL or self.proof == "convex")

    @property
    def nearest(self) -> bool:
        """Reached, and proven the preimage point nearest the reference (``proof``
        ``"convex"``): only the closed form's problems are convex."""
        return self.reached and self.proof == "convex"

    @property
    def locally_nearest(self) -> bool:
        """Reached, and proven nearer than every preimage point close to it: :attr:`nearest`,
        or ``proof`` ``"second-order"`` (a strict local minimum of the distance)."""
        return self.reached and self.proof in ("convex", "second-order")

    @property
    def certified(self) -> bool:
        """Deprecated name of :attr:`stationary` (first-order only: it does not mean
        nearest); kept for old callers."""
        return self.stationary


def forward_one(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``f`` on one input (no batch dimension) → ``(K,)``."""
    with torch.no_grad():
        out = f(x.unsqueeze(0))
    return out.reshape(-1)


def mse(out: torch.Tensor, t: torch.Tensor) -> float:
    """The paper's loss ``mean((out − t)²)``."""
    return float(((out - t) ** 2).mean())


def build_results(
    f: nn.Module,
    X: Sequence[torch.Tensor],
    T: torch.Tensor,
    R: torch.Tensor,
    classes: Sequence[int | None],
    *,
    method: str,
    start: float,
    iterations: Sequence[int],
    messages: Sequence[str],
    statuses: Sequence[int] | None = None,
    histories: Sequence[list[float]] | None = None,
    box: tuple[float, float] | None = None,
    feasible: Sequence[bool | None] | None = None,
) -> list[InverseResult]:
    """Score the images a method found: one :class:`InverseResult` per problem.

    Parameters
    ----------
    f : torch.nn.Module
        The frozen network in the compute dtype.
    X : (B, *S) Tensor or B Tensors (*S)
        The images found.
    T : (B, K) Tensor
        The targets.
    R : (B, *S) Tensor
        The references (for ``distance``).
    classes : B int or None
        The class of each target for ``margin``; None: ``argmax`` of the target.
    method : str
    start : float
        ``time.perf_counter()`` when the method started: each result's ``seconds`` is the
        time since, divided by ``B`` (scoring included).
    iterations : B int
    messages : B str
    statuses : B int, optional
        Each problem's key of the method's ``TERMINATION_MESSAGES``; default 0.
    histories : B lists of float, optional
        The loss ``mean((f(x) − t)²)`` at the start and after every step; by default the loss
        of the result alone (a method that takes no step).
    box : (lo, hi), optional
        With a box, ``feasible`` is whether the target was reached (unless given).
    feasible : B bool or None, optional
        Decided by the method itself (the closed form decides it from the problem).

    Returns
    -------
    results : list of B InverseResult
        Image, output and target on the CPU; ``kappa`` and ``kkt`` are left for the caller.
    """
    results = []
    for i, (x, t, r, c) in enumerate(zip(X, T, R, classes)):
        out = forward_one(f, x)
        t = t.to(out)
        tn = float(torch.linalg.vector_norm(t))
        err = float(torch.linalg.vector_norm(out - t))
        c = int(torch.argmax(t)) if c is None else int(c)
        others = torch.cat([out[:c], out[c + 1 :]])
        res = InverseResult(
            image=x.detach().cpu(),
            output=out.detach().cpu(),
            target=t.detach().cpu(),
            rel_error=err / tn if tn > 0 else err,
            predicted=int(torch.argmax(out)),
            target_class=c,
            margin=float(out[c] - others.max()) if len(others) else math.nan,
            distance=float(torch.linalg.vector_norm(x - r.to(x))),
            outside_box=int(((x < 0) | (x > 1)).sum()),
            iterations=int(iterations[i]),
            method=method,
            message=messages[i],
            status=0 if statuses is None else int(statuses[i]),
        )
        res.history = list(histories[i]) if histories is not None else [mse(res.output, res.target)]
        if feasible is not None:
            res.feasible = feasible[i]
        elif box is not None:
            res.feasible = res.rel_error <= REACHED_TOL
        results.append(res)
    per = (time.perf_counter() - start) / max(1, len(results))
    for res in results:
        res.seconds = per
    return results
