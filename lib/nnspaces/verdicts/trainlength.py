"""Conditions of the training-length chapter (``09_training_length``).

Each function takes numbers the chapter computed with :mod:`nnspaces.trainlength` and
returns a :class:`~nnspaces.verdicts.Verdict`.
"""

from __future__ import annotations

from . import Verdict

#: Relative difference under which two condition numbers of the same weights count as equal
#: (they come from two SVDs of the same float32 matrix, in float64).
SAME_RTOL = 1e-6


def gap_closes(cond_before: float, cond_after: float, reference: float, on_paper_data: bool):
    """More SGD steps bring the condition number closer to the paper's.

    Parameters
    ----------
    cond_before, cond_after : float
        Condition numbers after this profile's steps and after the curve's last step.
    reference : float
        The paper's value (7.22).
    on_paper_data : bool
        Whether the run used the paper's data set; off MNIST there is nothing to approach.

    Returns
    -------
    Verdict
        Holds when ``|cond_after − reference| < |cond_before − reference|`` on the paper's
        data.

    Examples
    --------
    >>> gap_closes(3.6, 7.0, 7.22, True).holds
    True
    """
    before, after = abs(cond_before - reference), abs(cond_after - reference)
    reason = f"distance to {reference:g}: {before:.2f} before, {after:.2f} after the extra steps"
    if not on_paper_data:
        return Verdict(False, reason + "; not the paper's data set")
    return Verdict(after < before, reason)


def same_run(pairs: dict, rtol: float = SAME_RTOL):
    """The curves at this profile's step count hold the networks the other chapters use.

    Parameters
    ----------
    pairs : dict
        Name → (curve's condition number, network's), from
        :func:`nnspaces.trainlength.same_run_pairs`.
    rtol : float

    Returns
    -------
    Verdict
        Holds when there is at least one pair and every pair agrees to a relative ``rtol``.
    """
    if not pairs:
        return Verdict(False, "no network's step count was recorded on its curve")
    worst = max(abs(a - b) / abs(b) for a, b in pairs.values())
    same = worst <= rtol
    return Verdict(same, f"largest relative difference {worst:.1e} (tolerance {rtol:g})")


def no_size_trend(effect: dict):
    """At a fixed number of steps, no trend of the condition number with the number of images
    shows: the interval of the change per doubling of the images includes 0.

    Parameters
    ----------
    effect : dict
        From :func:`nnspaces.trainlength.size_effect` (``slope``, ``low``, ``high``,
        ``level``).

    Returns
    -------
    Verdict
        Holds when ``low <= 0 <= high``. (No trend *shows*: with few runs a small one may hide
        inside the interval, whose width the chapter quotes.)

    Examples
    --------
    >>> no_size_trend({"slope": 0.1, "low": -0.2, "high": 0.4, "level": 0.95}).holds
    True
    """
    low, high = effect["low"], effect["high"]
    pct = f"{100 * effect.get('level', 0.95):g} %"
    return Verdict(
        low <= 0 <= high,
        f"{effect['slope']:+.3f} per doubling of the images, {pct} interval "
        f"[{low:+.3f}, {high:+.3f}]",
    )


def length_over_size(per_step_doubling: float, effect: dict):
    """Doubling the SGD steps changes the condition number more than doubling the images.

    Parameters
    ----------
    per_step_doubling : float
        :func:`nnspaces.trainlength.steps_effect` between this profile's and the paper's steps.
    effect : dict
        :func:`nnspaces.trainlength.size_effect` at the paper's steps (its ``high`` and
        ``low``: the interval of the change per doubling of the images).

    Returns
    -------
    Verdict
        Holds when the whole interval of the per-doubling size effect is smaller in magnitude
        than the per-doubling step effect.

    Examples
    --------
    >>> length_over_size(0.9, {"slope": 0.1, "low": -0.05, "high": 0.25}).holds
    True
    >>> length_over_size(0.2, {"slope": 0.1, "low": -0.05, "high": 0.25}).holds
    False
    """
    bound = max(abs(effect["low"]), abs(effect["high"]))
    return Verdict(
        bound < abs(per_step_doubling),
        f"per doubling: steps {per_step_doubling:+.3f}, images {effect['slope']:+.3f} "
        f"(at most {bound:.3f} in magnitude)",
    )


def reference_within_runs(reference: float, low: float, high: float):
    """The paper's value lies within the range of the runs at its step count.

    Parameters
    ----------
    reference : float
        The paper's condition number (7.22).
    low, high : float
        The smallest and largest condition number of the runs after the paper's step count.

    Examples
    --------
    >>> reference_within_runs(7.22, 4.5, 7.8).holds, reference_within_runs(7.22, 4.5, 7.0).holds
    (True, False)
    """
    return Verdict(
        low <= reference <= high,
        f"paper {reference:g}; runs from {low:.2f} to {high:.2f}",
    )


def grows_with_size(effect: dict, unit: float = 1.0, what: str = ""):
    """At a fixed number of steps the quantity grows with the number of training images: the
    interval of its change per doubling of the images lies above 0.

    Parameters
    ----------
    effect : dict
        :func:`nnspaces.trainlength.size_effect` (``slope``, ``low``, ``high``, ``level``).
    unit : float
        Multiplies the numbers in the reason (100 for an accuracy in points).
    what : str
        The unit's name in the reason (``" points"``).

    Examples
    --------
    >>> grows_with_size({"slope": 0.019, "low": 0.015, "high": 0.023}, 100, " points").reason
    '+1.9 points per doubling of the images, 95 % interval [+1.5, +2.3]'
    """
    low, high = effect["low"], effect["high"]
    pct = f"{100 * effect.get('level', 0.95):g} %"
    return Verdict(
        low > 0,
        f"{unit * effect['slope']:+.1f}{what} per doubling of the images, {pct} interval "
        f"[{unit * low:+.1f}, {unit * high:+.1f}]",
    )
