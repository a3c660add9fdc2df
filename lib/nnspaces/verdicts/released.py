"""Conditions of the released-ResNet chapter (``10_released_resnet``).

Each function takes numbers of :meth:`nnspaces.released.Reenactment.numbers` and returns a
:class:`~nnspaces.verdicts.Verdict`.
"""

from __future__ import annotations

from . import Verdict

#: Accuracy difference (fraction) under which training mode "changes the classification
#: little" on batches of real images.
ACCURACY_TOL = 0.02

#: Ratio of the 32-copy outputs' spread to the eval-mode spread under which the output counts
#: as independent of the input (rounding level, far below any real difference of outputs).
CONSTANT_RATIO = 1e-3

#: Relative range of the candidates' losses under which the "min" choice is decided by
#: rounding rather than by the network.
ROUNDING_RANGE = 1e-3

#: One grey level of an 8-bit image: a smaller change of a pixel cannot be seen.
GREY_LEVEL = 1 / 255

#: The larger step accounts for most of the eval-mode drop when one image's drop exceeds
#: this multiple of the 32 copies' drop in every run (more than half of it is the step's).
STEP_SHARE = 2.0


def batches_change_little(acc_train_mode: float, acc_eval: float, tol: float = ACCURACY_TOL):
    """On batches of 32 real images, training mode changes the test accuracy little.

    Examples
    --------
    >>> batches_change_little(0.985, 0.99).holds
    True
    """
    gap = abs(acc_train_mode - acc_eval)
    return Verdict(
        gap < tol,
        f"accuracy {100 * acc_train_mode:.2f} % in training mode, {100 * acc_eval:.2f} % in "
        f"eval mode ({100 * gap:.2f} points apart; threshold {100 * tol:g})",
    )


def output_constant(spread_ratio: float, threshold: float = CONSTANT_RATIO):
    """On 32 identical copies in training mode the output does not depend on the image.

    Parameters
    ----------
    spread_ratio : float
        Largest distance between two images' 32-copy outputs over the same in eval mode.
    """
    return Verdict(
        spread_ratio < threshold,
        f"32-copy outputs spread {spread_ratio:.1e} of the eval-mode spread (threshold "
        f"{threshold:g})",
    )


def choice_by_rounding(range_max: float, threshold: float = ROUNDING_RANGE):
    """The released "min" start is decided by rounding: within every class the candidates'
    32-copy losses differ by less than a fraction ``threshold`` of their value."""
    return Verdict(
        range_max < threshold,
        f"candidates' losses differ by at most {range_max:.1e} of their value (threshold "
        f"{threshold:g})",
    )


def images_still(pixel_max: float, grey: float = GREY_LEVEL):
    """No pixel of any released result moved by as much as one 8-bit grey level."""
    return Verdict(
        pixel_max < grey,
        f"largest change of a pixel {pixel_max:.1e} (one grey level {grey:.1e})",
    )


def rose_everywhere(rose: int, runs: int):
    """The loss rose in every run, as in the released log (all ten classes).

    Examples
    --------
    >>> rose_everywhere(10, 10).holds, rose_everywhere(9, 10).holds
    (True, False)
    """
    return Verdict(rose == runs and runs > 0, f"rose in {rose} of {runs} runs")


def fell_everywhere(fell: int, runs: int):
    """The loss fell in every run.

    Examples
    --------
    >>> fell_everywhere(30, 30).holds
    True
    """
    return Verdict(fell == runs and runs > 0, f"fell in {fell} of {runs} runs")


def step_dominates(drop_ratio_min: float | None, share: float = STEP_SHARE):
    """The 32 times larger step, not the mode, gives most of the eval-mode drop of the loss.

    Parameters
    ----------
    drop_ratio_min : float or None
        The smallest, over runs, of one image's loss drop over the 32 copies' drop
        (``drop_ratio_min`` of the numbers); None when no run fell under both.
    share : float
        Holds when every run's ratio exceeds this (2: more than half of the drop is the step's).

    Examples
    --------
    >>> step_dominates(25.0).holds, step_dominates(1.5).holds, step_dominates(None).holds
    (True, False, False)
    """
    if drop_ratio_min is None:
        return Verdict(False, "no run lowered the loss both with and without the larger step")
    return Verdict(
        drop_ratio_min > share,
        f"one image's drop at least {drop_ratio_min:.1f} times the 32 copies' (threshold "
        f"{share:g})",
    )


def paper_images_unchanged(constant: Verdict, choice: Verdict, still: Verdict):
    """The three premises of the conclusion on the paper's ResNet18 images together: the
    32-copy output is constant, the ``min`` choice is rounding, the images do not move."""
    failed = [n for n, v in (("output", constant), ("choice", choice), ("still", still)) if not v]
    return Verdict(
        not failed,
        "all three premises hold" if not failed else f"failed: {', '.join(failed)}",
    )


def binarized_are_starts(unchanged: Verdict, binary_min: float, binary_avg: float):
    """The paper's "binarized" ResNet18 digits are probably unchanged training images: the
    premises hold and the ``min`` starts are more nearly black and white than the class means.

    Examples
    --------
    >>> binarized_are_starts(Verdict(True, "ok"), 0.9, 0.5).holds
    True
    """
    ok = unchanged.holds and binary_min > binary_avg
    return Verdict(
        ok,
        f"{100 * binary_min:.0f} % of the min starts' pixels near 0 or 1, "
        f"{100 * binary_avg:.0f} % of the class means'; premises: {unchanged.reason}",
    )
