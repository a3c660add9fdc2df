"""The conditions behind the Figure 3 chapter (ideal input images).

Each function takes numbers the chapter has computed and returns a
:class:`~nnspaces.verdicts.Verdict`; the sentences live in the chapter's markdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import Verdict

__all__ = [
    "GREY_LEVEL",
    "LOG_FACTOR",
    "ROUNDING",
    "SGD_SHARE",
    "barely_moves",
    "chosen_by_rounding",
    "exact_closest",
    "like_released_log",
    "MOVE_SHARE",
    "mostly_on_bounds",
    "moved_little",
    "none_reached",
    "rule_differs",
    "rule_far_from_caption",
    "starts_unchanged",
]

#: One grey level of an 8-bit image: a change of a pixel below it cannot be displayed.
GREY_LEVEL = 1 / 255
#: The released "+training" "barely moves" an image: its median distance from the start is
#: below this fraction of Gauss–Newton's.
SGD_SHARE = 0.1
#: A loss change "like the released log's" lies within this factor of the log's range.
LOG_FACTOR = 4.0
#: An image "stays at its start image": it moved by less than this fraction of the distance at
#: which a class's training digits typically lie from their class mean.
MOVE_SHARE = 0.05
#: A choice "decided by rounding": the candidates' losses differ by less than this fraction.
ROUNDING = 1e-3


def _count(part: int, whole: int) -> None:
    if not (0 <= part <= whole and whole > 0):
        raise ValueError(f"counts must satisfy 0 ≤ {part} ≤ {whole} and {whole} > 0")


def none_reached(reached: int, chosen: int) -> Verdict:
    """No chosen image reaches its target (relative output error ≤ 1e-6).

    >>> none_reached(0, 30)
    Verdict(holds=True, reason='0 of 30 chosen images reach their target')
    """
    _count(reached, chosen)
    return Verdict(reached == 0, f"{reached} of {chosen} chosen images reach their target")


def exact_closest(exact: int, chosen: int) -> Verdict:
    """For every network and digit an exact method (closed form or Gauss–Newton) gives the
    chosen image or ties with it.

    >>> exact_closest(29, 30).holds
    False
    """
    _count(exact, chosen)
    return Verdict(exact == chosen, f"an exact method chosen or tied for {exact} of {chosen}")


def mostly_on_bounds(share: float, threshold: float = 0.5) -> Verdict:
    """The exact methods' images put most pixels on the box's bounds: median share of pixels
    at 0 or 1 at least ``threshold``.

    >>> mostly_on_bounds(0.62).reason
    'median 62 % of pixels at 0 or 1 (threshold 50 %)'
    """
    if not math.isfinite(share) or not 0 <= share <= 1:
        raise ValueError(f"share must be a fraction in [0, 1], got {share!r}")
    return Verdict(
        share >= threshold,
        f"median {100 * share:.0f} % of pixels at 0 or 1 (threshold {100 * threshold:.0f} %)",
    )


def barely_moves(ratios: Mapping[str, float], threshold: float = SGD_SHARE) -> Verdict:
    """The released SGD settings move their images little: for every network the median
    distance from the start image is below ``threshold`` times Gauss–Newton's.

    Parameters
    ----------
    ratios : mapping network → float
        Median distance of ``paper-sgd``'s images from their start over Gauss–Newton's.

    >>> barely_moves({"fcnn1": 0.01, "resnet18": 0.2}).reason
    'largest ratio 0.2 (resnet18; threshold 0.1)'
    """
    r = {k: float(v) for k, v in ratios.items()}
    if not r or not all(math.isfinite(v) and v >= 0 for v in r.values()):
        raise ValueError(f"ratios must be a non-empty mapping of finite ratios ≥ 0, got {r!r}")
    worst = max(r, key=r.get)
    return Verdict(
        r[worst] < threshold, f"largest ratio {r[worst]:.2g} ({worst}; threshold {threshold:g})"
    )


def like_released_log(
    change: float, released: tuple[float, float], factor: float = LOG_FACTOR
) -> Verdict:
    """A loss change (a fraction; negative when the loss fell) is like the released log's: the
    same sign as the log's range and within ``factor`` of it.

    Parameters
    ----------
    change : float
        The run's (median) relative loss change.
    released : (lo, hi)
        The log's smallest and largest change, both of one sign.

    >>> like_released_log(-0.02, (-0.035, -0.017)).holds
    True
    >>> like_released_log(-0.2, (-0.035, -0.017)).reason
    '−20.0 % against the log’s −3.5 % to −1.7 % (within a factor 4: −14.0 % to −0.4 %)'
    """
    lo, hi = sorted(released)
    if not (lo * hi > 0 and math.isfinite(change) and factor >= 1):
        raise ValueError(
            f"released range {released!r} must be of one sign, change finite, factor ≥ 1"
        )
    small, large = sorted((abs(lo), abs(hi)))
    a, b = math.copysign(small / factor, lo), math.copysign(large * factor, lo)
    a, b = sorted((a, b))
    holds = a <= change <= b

    def pct(v: float) -> str:
        return f"{100 * v:+.1f} %".replace("-", "−").replace("+", "")

    return Verdict(
        holds,
        f"{pct(change)} against the log’s {pct(lo)} to {pct(hi)} "
        f"(within a factor {factor:g}: {pct(a)} to {pct(b)})",
    )


def starts_unchanged(pixel_change: float, tol: float = GREY_LEVEL) -> Verdict:
    """Images are their start images as a display shows them: no pixel changed by as much as
    ``tol`` (one 8-bit grey level).

    >>> starts_unchanged(0.0).holds, starts_unchanged(0.01).holds
    (True, False)
    """
    if not math.isfinite(pixel_change) or pixel_change < 0:
        raise ValueError(f"pixel_change must be finite and ≥ 0, got {pixel_change!r}")
    return Verdict(
        pixel_change < tol,
        f"largest pixel change {pixel_change:.2g} ({pixel_change / GREY_LEVEL:.2g} grey levels; "
        f"threshold {tol / GREY_LEVEL:.2g})",
    )


def moved_little(moved: float, spread: float, share: float = MOVE_SHARE) -> Verdict:
    """Images stay at their start images: the largest distance moved, ``moved``, is below
    ``share`` times ``spread``, the (median) distance of a training digit from its class mean.

    >>> moved_little(0.08, 6.3).reason
    'moved at most 0.08, 1.3 % of a training digit’s distance 6.3 from its class mean (threshold 5 %)'
    """
    if not (math.isfinite(moved) and moved >= 0 and math.isfinite(spread) and spread > 0):
        raise ValueError(f"moved must be finite and ≥ 0 and spread > 0, got {moved!r}, {spread!r}")
    return Verdict(
        moved < share * spread,
        f"moved at most {moved:.2g}, {100 * moved / spread:.2g} % of a training digit’s distance "
        f"{spread:.2g} from its class mean (threshold {100 * share:.0f} %)",
    )


def chosen_by_rounding(choice_range: float, tol: float = ROUNDING) -> Verdict:
    """The released min-img search cannot tell its candidates apart: within every class their
    losses differ by less than a fraction ``tol`` of their value.

    >>> chosen_by_rounding(2e-7).holds, chosen_by_rounding(0.5).holds
    (True, False)
    """
    if not math.isfinite(choice_range) or choice_range < 0:
        raise ValueError(f"choice_range must be finite and ≥ 0, got {choice_range!r}")
    return Verdict(
        choice_range < tol, f"candidates' losses differ by at most {choice_range:.2g} (of {tol:g})"
    )


def rule_differs(same: int, pairs: int) -> Verdict:
    """The book's rule picks the caption's start image for at most half the digits.

    >>> rule_differs(15, 30).holds, rule_differs(16, 30).holds
    (True, False)
    """
    _count(same, pairs)
    return Verdict(2 * same <= pairs, f"the caption's start image picked for {same} of {pairs}")


def rule_far_from_caption(distances, spread) -> Verdict:
    """The rule's images differ from the caption's by more than a training digit differs from
    its class mean: median of ``distances`` above the median of ``spread``.

    Parameters
    ----------
    distances : array of float
        ``‖x_rule − x_caption‖`` per network and digit.
    spread : array of float
        A training digit's (median) distance from its class mean, per class.

    >>> rule_far_from_caption([8.0, 9.0, 10.0], [5.0, 6.0]).reason
    'median distance 9 between the two images; a training digit lies 5.5 from its class mean'
    """
    d = np.asarray(distances, dtype=float).reshape(-1)
    s = np.asarray(spread, dtype=float).reshape(-1)
    if d.size == 0 or s.size == 0 or not (np.isfinite(d).all() and np.isfinite(s).all()):
        raise ValueError("distances and spread must be non-empty arrays of finite numbers")
    dm, sm = float(np.median(d)), float(np.median(s))
    return Verdict(
        dm > sm,
        f"median distance {dm:.2g} between the two images; a training digit lies {sm:.2g} "
        "from its class mean",
    )
