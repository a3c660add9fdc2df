"""Conditions of the landing page and the models chapter: does a number match the paper's?

Accuracies are compared in percentage points (the paper gives whole per cents, presumably
of validation images), condition numbers by their ratio. The tolerances are
:data:`nnspaces.summary.TOLERANCE`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import Verdict

#: Accuracies within this many percentage points of the paper's match it.
ACCURACY_POINTS = 1.0
#: Condition numbers within this relative difference of the paper's match it.
CONDITION_REL = 0.05


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def accuracy_matches(ours: float, paper: float, tol_points: float = ACCURACY_POINTS) -> Verdict:
    """An accuracy matches the paper's when it lies within ``tol_points`` percentage points.

    Parameters
    ----------
    ours, paper : float
        Accuracies as fractions (validation with validation).
    tol_points : float

    Examples
    --------
    >>> accuracy_matches(0.886, 0.92).reason
    '88.6 % against 92.0 %: −3.4 points (tolerance 1 point)'
    """
    points = 100 * (ours - paper)
    reason = f"{_pct(ours)} against {_pct(paper)}: {points:+.1f} points"
    return Verdict(
        abs(points) <= tol_points + 1e-9,
        f"{reason} (tolerance {tol_points:g} point{'s' * (tol_points != 1)})".replace("-", "−"),
    )


def accuracies_match(
    ours: Mapping[str, float], paper: Mapping[str, float], tol_points: float = ACCURACY_POINTS
) -> Verdict:
    """Every network's accuracy matches the paper's (:func:`accuracy_matches`).

    Parameters
    ----------
    ours, paper : mapping network name -> accuracy (fraction)
        Only the networks in ``ours`` are compared; each must be in ``paper``.

    Raises
    ------
    ValueError
        No network, or one without a paper value.
    """
    if not ours:
        raise ValueError("no accuracy to compare")
    missing = [n for n in ours if n not in paper]
    if missing:
        raise ValueError(f"the paper reports no accuracy for {missing}")
    points = {n: 100 * (ours[n] - paper[n]) for n in ours}
    worst = max(points, key=lambda n: abs(points[n]))
    diffs = ", ".join(f"{n} {p:+.1f}" for n, p in points.items())
    return Verdict(
        abs(points[worst]) <= tol_points + 1e-9,
        f"points from the paper: {diffs} (tolerance {tol_points:g})".replace("-", "−"),
    )


def reaches_paper(
    ours: Mapping[str, float], paper: Mapping[str, float], tol_points: float = ACCURACY_POINTS
) -> Verdict:
    """No network's accuracy is more than ``tol_points`` points below the paper's.

    Examples
    --------
    >>> bool(reaches_paper({"a": 0.95}, {"a": 0.92})), bool(reaches_paper({"a": 0.90}, {"a": 0.92}))
    (True, False)
    """
    if not ours:
        raise ValueError("no accuracy to compare")
    points = {n: 100 * (ours[n] - paper[n]) for n in ours}
    low = min(points.values())
    diffs = ", ".join(f"{n} {p:+.1f}" for n, p in points.items())
    return Verdict(
        low >= -tol_points - 1e-9,
        f"points from the paper: {diffs} (at most {tol_points:g} below allowed)".replace("-", "−"),
    )


def condition_matches(ours: float, paper: float, rel_tol: float = CONDITION_REL) -> Verdict:
    """A condition number matches the paper's when ``|ours/paper − 1| ≤ rel_tol``.

    Examples
    --------
    >>> v = condition_matches(3.6, 7.22)
    >>> bool(v), v.reason
    (False, '3.6 against 7.22: 50 % lower (tolerance 5 %)')
    """
    if not paper > 0 or not ours > 0:
        raise ValueError(f"condition numbers must be positive, got {ours!r} and {paper!r}")
    rel = ours / paper - 1
    side = "higher" if rel > 0 else "lower"
    return Verdict(
        abs(rel) <= rel_tol + 1e-12,
        f"{ours:.3g} against {paper:g}: {100 * abs(rel):.0f} % {side} (tolerance {100 * rel_tol:g} %)",
    )


def epoch_choice_immaterial(gaps: Mapping[str, float], tol: float = 0.01) -> Verdict:
    """Keeping the final epoch instead of the best-validation one changes no test accuracy
    by more than ``tol`` (a fraction: 0.01 is one point).

    Parameters
    ----------
    gaps : mapping network -> float
        Test accuracy of the best-validation weights minus that of the final ones.
    """
    if not gaps:
        raise ValueError("no network to compare")
    worst = max(abs(g) for g in gaps.values())
    return Verdict(
        worst <= tol + 1e-12,
        f"largest change {100 * worst:.2f} points (threshold {100 * tol:g} point)",
    )


def no_image_reaches(closest: Mapping[str, float], tol: float = 1e-6) -> Verdict:
    """No training image's output reaches a min/max target: the smallest relative error of
    any image's output from its class's target exceeds ``tol`` for every network.

    Parameters
    ----------
    closest : mapping network -> float
        The smallest relative output error over the training images
        (:func:`nnspaces.ideal.closest_output_errors`, minimum over classes).
    """
    if not closest:
        raise ValueError("no network to compare")
    low = min(closest.values())
    errs = ", ".join(f"{n} {e:.3g}" for n, e in closest.items())
    return Verdict(low > tol, f"smallest relative errors {errs} (threshold {tol:g})")


def grows_with_training(initial: float, trained: float) -> Verdict:
    """Training raised the condition number: the trained weights' exceeds the initial one's.

    Examples
    --------
    >>> grows_with_training(1.4, 3.6).reason
    'condition number 1.4 at initialisation, 3.6 trained'
    """
    return Verdict(
        trained > initial,
        f"condition number {initial:.3g} at initialisation, {trained:.3g} trained",
    )
