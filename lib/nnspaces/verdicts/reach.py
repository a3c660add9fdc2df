"""The conditions behind the reachability chapter's conclusions (``06_reachability``).

Each function takes numbers the chapter has already computed (per network, from
:func:`nnspaces.ideal.reach_summary` and :func:`nnspaces.nearest.summarize`) and returns a
:class:`~nnspaces.verdicts.Verdict`. A network missing from a run (the ``models``
parameter) is simply absent from the mappings; a condition about no network at all does not
hold, so the page never states a conclusion nothing was measured for. NaN (a number that
was not measured) never satisfies a condition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..inverse import REACHED_TOL
from . import Verdict

#: An unconstrained preimage "is not an image" when its pixels reach below this or above
#: ``1 - NOT_IMAGE_MARGIN`` … ``1 + NOT_IMAGE_MARGIN`` (half the pixel range beyond [0, 1]).
NOT_IMAGE_MARGIN = 0.5
#: ... and when the median number of its 784 pixels outside [0, 1] is at least this.
NOT_IMAGE_PIXELS = 100
#: Gradient descent "stalls" on a target that has an exact preimage when its error stays
#: this many times above the exact methods' (floored at :data:`ROUND_OFF`).
STALL_FACTOR = 1e3
#: ... and "at similar errors" when its unconstrained error is within this factor of the boxed.
SIMILAR_FACTOR = 10.0
#: Relative errors below this are round-off of float64.
ROUND_OFF = 1e-12
#: The closed form's κ that a nearest point shows in float64 (round-off, not a test of
#: nearness: the closed form is the nearest point by convexity).
CLOSED_FORM_KAPPA = 1e-10
#: Gauss–Newton's preimage is "plainly not nearest" when κ is at least this for every digit.
NOT_NEAREST_KAPPA = 1e-2
#: The refined preimages "still reach their targets" at relative errors up to this.
REFINED_TOL = 1e-10
#: At a kink: κ stays at least this, κ with the kink directions at most KINK_KAPPA,
#: κ at points without a kink at most SMOOTH_KAPPA.
KINKED_KAPPA = 1e-3
KINK_KAPPA = 1e-5
SMOOTH_KAPPA = 1e-6


def _fmt(x: float, spec: str = ".2g") -> str:
    return "NaN" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _nets(values: Mapping) -> str:
    return ", ".join(f"{net} {v}" for net, v in values.items()) or "no network"


def minmax_out_of_reach(reached: Mapping[str, int], digits: Mapping[str, int]) -> Verdict:
    """No min/max target is reached inside the box, by any network of the run.

    Parameters
    ----------
    reached, digits : mapping network → int
        Digits whose min/max target a box image reaches, and digits tried
        (``reach_summary``'s ``reached`` and ``digits`` for ``target_kind == "minmax"``).

    Examples
    --------
    >>> minmax_out_of_reach({"fcnn1": 0, "fcnn5": 0}, {"fcnn1": 10, "fcnn5": 10}).holds
    True
    >>> minmax_out_of_reach({"fcnn1": 1}, {"fcnn1": 10}).reason
    'min/max targets reached inside [0, 1]: fcnn1 1 of 10'
    """
    holds = bool(reached) and all(reached[n] == 0 for n in reached)
    counts = {n: f"{reached[n]} of {digits[n]}" for n in reached}
    return Verdict(holds, f"min/max targets reached inside [0, 1]: {_nets(counts)}")


def class_mean_reached(reached: Mapping[str, int], digits: Mapping[str, int]) -> Verdict:
    """Every class-mean target is reached inside the box, for every network given.

    Parameters
    ----------
    reached, digits : mapping network → int
        ``reach_summary``'s ``reached`` and ``digits`` for ``target_kind == "class-mean"``.

    Examples
    --------
    >>> class_mean_reached({"fcnn1": 10}, {"fcnn1": 10}).holds
    True
    >>> class_mean_reached({"fcnn1": 10, "fcnn5": 9}, {"fcnn1": 10, "fcnn5": 10}).holds
    False
    """
    holds = bool(reached) and all(0 < digits[n] == reached[n] for n in reached)
    counts = {n: f"{reached[n]} of {digits[n]}" for n in reached}
    return Verdict(
        holds,
        f"class-mean targets reached inside [0, 1] (relative error ≤ {REACHED_TOL:g}): "
        f"{_nets(counts)}",
    )


def free_exact_not_images(
    free: Mapping[str, Mapping[str, float]], tol: float = REACHED_TOL
) -> Verdict:
    """Without the box every min/max target is hit, and no such preimage is an image.

    Parameters
    ----------
    free : mapping network → mapping
        Per network, ``reach_summary``'s row for the min/max targets: ``free_rel_error_max``,
        ``free_min_pixel``, ``free_max_pixel``, ``free_outside_median``.
    tol : float
        The largest relative error that counts as reached.

    Notes
    -----
    Holds when, for every network, the largest relative error is at most ``tol``, the
    pixels reach below ``-NOT_IMAGE_MARGIN`` and above ``1 + NOT_IMAGE_MARGIN``, and the
    median count of pixels outside [0, 1] is at least :data:`NOT_IMAGE_PIXELS`.

    Examples
    --------
    >>> row = {"free_rel_error_max": 1e-15, "free_min_pixel": -3.0, "free_max_pixel": 4.0,
    ...        "free_outside_median": 400}
    >>> free_exact_not_images({"fcnn1": row}).holds
    True
    >>> free_exact_not_images({"fcnn1": {**row, "free_max_pixel": 1.2}}).holds
    False
    """

    def ok(r):
        return (
            r["free_rel_error_max"] <= tol
            and r["free_min_pixel"] < -NOT_IMAGE_MARGIN
            and r["free_max_pixel"] > 1 + NOT_IMAGE_MARGIN
            and r["free_outside_median"] >= NOT_IMAGE_PIXELS
        )

    holds = bool(free) and all(ok(r) for r in free.values())
    parts = {
        n: f"(error ≤ {_fmt(r['free_rel_error_max'], '.1e')}, pixels "
        f"{_fmt(r['free_min_pixel'], '.3g')} to {_fmt(r['free_max_pixel'], '.3g')}, "
        f"median {_fmt(r['free_outside_median'], '.0f')} outside [0, 1])"
        for n, r in free.items()
    }
    return Verdict(
        holds,
        f"unconstrained min/max preimages: {_nets(parts)}; thresholds error {tol:g}, pixels "
        f"beyond [−{NOT_IMAGE_MARGIN:g}, {1 + NOT_IMAGE_MARGIN:g}], "
        f"{NOT_IMAGE_PIXELS} pixels outside",
    )


def resnet_reach(
    class_mean_reached: int,
    digits: int,
    minmax_reached: int,
    minmax_free_median: float,
    tol: float = REACHED_TOL,
) -> Verdict:
    """ResNet18's short Gauss–Newton runs reach every class-mean target inside the box, no
    min/max target inside it, and not even the min/max targets without it.

    Parameters
    ----------
    class_mean_reached, digits : int
        Class-mean targets reached inside the box, of ``digits``.
    minmax_reached : int
        Min/max targets reached inside the box.
    minmax_free_median : float
        Median relative error of the min/max targets without the box.

    Examples
    --------
    >>> resnet_reach(10, 10, 0, 0.3).holds
    True
    >>> resnet_reach(10, 10, 0, 1e-9).holds
    False
    """
    holds = (
        digits > 0
        and class_mean_reached == digits
        and minmax_reached == 0
        and minmax_free_median > tol
    )
    return Verdict(
        holds,
        f"ResNet18: class-mean {class_mean_reached} of {digits} and min/max {minmax_reached} "
        f"reached inside [0, 1]; min/max median error without the box "
        f"{_fmt(minmax_free_median)} (threshold {tol:g})",
    )


def gradient_cannot_decide(
    gradient_free: Mapping[str, float],
    gradient_box: Mapping[str, float],
    exact_free: Mapping[str, float],
) -> Verdict:
    """Gradient descent's residual cannot tell a reachable target from an unreachable one.

    Parameters
    ----------
    gradient_free, gradient_box : mapping network → float
        Gradient descent's median relative error on the min/max targets without and with the
        box.
    exact_free : mapping network → float
        The exact methods' largest relative error on the same targets without the box.

    Notes
    -----
    Holds when, for every network, gradient descent's unconstrained error is more than
    :data:`STALL_FACTOR` times the exact methods' (floored at :data:`ROUND_OFF`): it stalls
    where an exact preimage exists, and more than ``1 / SIMILAR_FACTOR`` of its boxed error:
    it stalls about where no exact preimage exists.

    Examples
    --------
    >>> gradient_cannot_decide({"fcnn1": 0.1}, {"fcnn1": 0.2}, {"fcnn1": 1e-15}).holds
    True
    >>> gradient_cannot_decide({"fcnn1": 0.01}, {"fcnn1": 0.2}, {"fcnn1": 1e-15}).holds
    False
    """
    nets = list(gradient_free)

    def ok(n):
        g, b, e = gradient_free[n], gradient_box[n], exact_free[n]
        return g > STALL_FACTOR * max(e, ROUND_OFF) and g > b / SIMILAR_FACTOR

    holds = bool(nets) and all(ok(n) for n in nets)
    parts = {
        n: f"(gradient {_fmt(gradient_free[n])} without, {_fmt(gradient_box[n])} with the box; "
        f"exact {_fmt(exact_free[n], '.1e')})"
        for n in nets
    }
    return Verdict(
        holds,
        f"median min/max errors {_nets(parts)}; stalled means ≥ {STALL_FACTOR:g}× the exact "
        f"error and ≥ 1/{SIMILAR_FACTOR:g} of the boxed",
    )


def closed_form_nearest(
    proven: int, digits: int, kappa_max: float, tol: float = CLOSED_FORM_KAPPA
) -> Verdict:
    """Every closed-form image of the 1-layer network carries the convexity proof of
    nearness (``InverseResult.nearest``) and its κ is at round-off level (a check of the
    computation).

    Parameters
    ----------
    proven : int
        Closed-form results with ``nearest`` true (proof ``"convex"``).
    digits : int
        Closed-form results.
    kappa_max : float
        Their largest κ.

    Examples
    --------
    >>> closed_form_nearest(10, 10, 3e-15).holds, closed_form_nearest(9, 10, 3e-15).holds
    (True, False)
    >>> closed_form_nearest(10, 10, float("nan")).holds
    False
    """
    holds = digits > 0 and proven == digits and kappa_max <= tol
    return Verdict(
        holds,
        f"{proven} of {digits} closed-form images proven nearest (convex); largest κ "
        f"{_fmt(kappa_max, '.1e')} (threshold {tol:g})",
    )


def gauss_newton_not_nearest(kappa_min: float, threshold: float = NOT_NEAREST_KAPPA) -> Verdict:
    """Every Gauss–Newton preimage of the network fails the first-order test plainly (κ far
    from 0), so none is the nearest.

    Examples
    --------
    >>> gauss_newton_not_nearest(0.2).holds, gauss_newton_not_nearest(1e-3).holds
    (True, False)
    """
    return Verdict(
        kappa_min >= threshold,
        f"smallest Gauss–Newton κ {_fmt(kappa_min)} (threshold {threshold:g})",
    )


def refined_nearer(
    nearer: int, digits: int, rel_error_max: float, tol: float = REFINED_TOL
) -> Verdict:
    """The walk along the preimage ends strictly nearer the class average for every digit,
    and every refined point still reaches its target.

    Examples
    --------
    >>> refined_nearer(10, 10, 1e-13).holds, refined_nearer(9, 10, 1e-13).holds
    (True, False)
    """
    holds = digits > 0 and nearer == digits and rel_error_max <= tol
    return Verdict(
        holds,
        f"{nearer} of {digits} refined preimages nearer; largest relative error "
        f"{_fmt(rel_error_max, '.1e')} (threshold {tol:g})",
    )


def kinks_explain_kappa(
    digits: int,
    kinked: int,
    kinked_kappa_min: float,
    kappa_kinks_max: float,
    smooth_kappa_max: float,
) -> Verdict:
    """Where the refined points' κ stays away from 0, a kink is the reason: κ is large only
    at points with a hidden pre-activation at SELU's kink, and there adding the kink
    directions brings it to 0 (the first-order condition of a corner holds).

    Parameters
    ----------
    digits : int
        Refined points.
    kinked : int
        Points with a pre-activation at a kink.
    kinked_kappa_min : float
        Smallest κ over the kinked points (NaN if none).
    kappa_kinks_max : float
        Largest κ with the kink directions over all points.
    smooth_kappa_max : float
        Largest κ over the points without a kink (NaN if none).

    Examples
    --------
    >>> kinks_explain_kappa(10, 7, 0.05, 1e-9, 1e-12).holds
    True
    >>> kinks_explain_kappa(10, 10, 0.05, 1e-9, float("nan")).holds  # every point at a kink
    True
    >>> kinks_explain_kappa(10, 7, 0.05, 1e-9, 1e-3).holds  # a smooth point with κ far from 0
    False
    """
    smooth = digits - kinked
    holds = (
        kinked > 0
        and kinked_kappa_min >= KINKED_KAPPA
        and kappa_kinks_max <= KINK_KAPPA
        and (smooth == 0 or smooth_kappa_max <= SMOOTH_KAPPA)
    )
    return Verdict(
        holds,
        f"{kinked} of {digits} points at a kink with κ ≥ {_fmt(kinked_kappa_min)} (threshold "
        f"{KINKED_KAPPA:g}); κ with kink directions ≤ {_fmt(kappa_kinks_max, '.1e')} (threshold "
        f"{KINK_KAPPA:g}); κ without a kink ≤ {_fmt(smooth_kappa_max, '.1e')} (threshold "
        f"{SMOOTH_KAPPA:g})",
    )
