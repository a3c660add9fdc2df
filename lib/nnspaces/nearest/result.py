"""What :func:`nnspaces.nearest.refine` returns: :class:`NearestResult`, and its builder."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..inverse import CERTIFIED_TOL, InverseResult

#: The smallest eigenvalue of the Lagrangian's reduced Hessian (``NearestResult.curvature``;
#: the distance's own Hessian is ``I``, so this is relative) above which a first-order point
#: is a proven strict local minimum.
CURVATURE_TOL = 1e-8


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
        Hidden SELU pre-activations at a kink, ``|u| ≤ 1e-8``
        (:data:`~nnspaces.nearest.kinks.AT_KINK_TOL`), at the final point
        (NaN for a network that is not a Linear/SELU stack); ``kinks_start`` the same at the
        start.
    kappa_kinks : float
        ``κ`` with the gradients of those pre-activations added to the row space
        (``certificate.kappa(J, x, r, extra=G)``, ``G`` their gradients; equal to ``kappa`` without
        kinks, NaN where ``kinks`` is): what remains of ``x − r`` once the directions that
        cross a kink are accounted for.
    wrong_kinks : float
        Kinks at the final point whose multiplier fails the sign test
        (:func:`~nnspaces.nearest.kinks.kink_multipliers`): the distance falls when such a
        unit leaves its kink to one side, so the point is no local minimum (NaN where
        ``kinks`` is).
    curvature : float
        The second-order test at the final point: the smallest eigenvalue of the Lagrangian's
        Hessian on the tangent space (:func:`nnspaces.certificate.reduced_curvature`);
        ``> CURVATURE_TOL`` with ``κ ≤ CERTIFIED_TOL`` gives ``proof = "second-order"``
        (a strict local minimum: ``locally_nearest``), ``< 0`` a saddle or a local maximum
        of the distance; NaN at a kink or for a network that is not a Linear/SELU stack.
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
    wrong_kinks: float = math.nan
    curvature: float = math.nan
    steps: list[str] = field(default_factory=list)


def nearest_result(base: InverseResult, run) -> NearestResult:
    """A :class:`NearestResult` from the scored end point ``base`` and the refinement's
    record ``run`` (:func:`~nnspaces.nearest.refine`'s, per problem); ``proof`` is
    ``"second-order"`` where the second-order test proves a strict local minimum."""
    d, k, kk, nk = run.dists, run.kappas, run.kappas_kinks, run.kinks
    nan = math.nan
    base.kappa = k[-1] if k else nan
    h = run.curvature
    if base.reached and base.kappa <= CERTIFIED_TOL and h > CURVATURE_TOL:
        base.proof = "second-order"
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
        wrong_kinks=run.wrong[-1] if run.wrong else nan,
        curvature=h,
        steps=run.steps,
    )
