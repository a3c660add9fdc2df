"""The conditions behind the Figure 2 chapter: ResNet18's ``layer1.0.conv1`` as a matrix.

Each function takes numbers the chapter has computed and returns a
:class:`~nnspaces.verdicts.Verdict`; the sentences live in the chapter's markdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import Verdict
from .figure1 import condition_matches, relative_difference

__all__ = [
    "ACCURACY_POINTS",
    "NEAR_ONE",
    "accuracy_matches",
    "close_to_one",
    "condition_matches",
    "kernels_best_conditioned",
    "paper_typical_of_init",
    "relative_difference",
    "trained_in_init_range",
]

#: A condition number "close to 1": at most this.
NEAR_ONE = 1.2
#: An accuracy "matches" the paper's within this many percentage points (the book's one
#: tolerance for accuracies, :data:`nnspaces.summary.TOLERANCE`).
ACCURACY_POINTS = 1.0


def _kappa(kappa) -> np.ndarray:
    k = np.asarray(kappa, dtype=float).reshape(-1)
    if k.size == 0 or not np.isfinite(k).all():
        raise ValueError("kappa must be a non-empty array of finite condition numbers")
    return k


def close_to_one(condition: float, limit: float = NEAR_ONE) -> Verdict:
    """The kernels weigh the nine positions of a patch almost equally: ``condition ≤ limit``.

    >>> close_to_one(1.07)
    Verdict(holds=True, reason='condition number 1.070 (limit 1.2)')
    >>> close_to_one(1.5).holds
    False
    """
    if not math.isfinite(condition) or condition < 1:
        raise ValueError(f"a condition number is finite and at least 1, got {condition!r}")
    return Verdict(condition <= limit, f"condition number {condition:.3f} (limit {limit:g})")


def accuracy_matches(accuracy: float, theirs: float, points: float = ACCURACY_POINTS) -> Verdict:
    """An accuracy (a fraction) lies within ``points`` percentage points of the paper's.

    >>> accuracy_matches(0.985, 0.99)
    Verdict(holds=True, reason='98.5 % against the paper’s 99 %: −0.5 points (tolerance ±1 point)')
    >>> accuracy_matches(0.97, 0.99).holds
    False
    """
    for a in (accuracy, theirs):
        if not math.isfinite(a) or not 0 <= a <= 1:
            raise ValueError(f"accuracies are fractions in [0, 1], got {a!r}")
    d = 100 * (accuracy - theirs)
    sign = "−" if d < 0 else "+"
    return Verdict(
        abs(d) <= points + 1e-12,
        f"{100 * accuracy:.1f} % against the paper’s {100 * theirs:g} %: {sign}{abs(d):.1f} "
        f"points (tolerance ±{points:g} point{'s' if points != 1 else ''})",
    )


def trained_in_init_range(kappa, trained: float) -> Verdict:
    """The trained layer's condition number lies within the range of the initialisations.

    Parameters
    ----------
    kappa : (n,) array_like
        Condition numbers of the layer over ``n`` random initialisations.
    trained : float

    >>> trained_in_init_range([1.05, 1.08, 1.1], 1.07).holds
    True
    >>> trained_in_init_range([1.05, 1.08, 1.1], 1.2).reason
    'trained 1.200; 3 initialisations from 1.050 to 1.100'
    """
    k = _kappa(kappa)
    return Verdict(
        k.min() <= trained <= k.max(),
        f"trained {trained:.3f}; {k.size} initialisations from {k.min():.3f} to {k.max():.3f}",
    )


def paper_typical_of_init(kappa, paper_value: float) -> Verdict:
    """The paper's value lies in the central 95 % (2.5th to 97.5th percentile) of the
    initialisations' condition numbers.

    >>> paper_typical_of_init(np.linspace(1.0, 1.2, 101), 1.07).holds
    True
    >>> paper_typical_of_init(np.linspace(1.0, 1.2, 101), 1.199).reason
    'paper 1.199; central 95 % of 101 initialisations from 1.005 to 1.195'
    """
    k = _kappa(kappa)
    lo, hi = np.percentile(k, [2.5, 97.5])
    return Verdict(
        lo <= paper_value <= hi,
        f"paper {paper_value:g}; central 95 % of {k.size} initialisations from {lo:.3f} "
        f"to {hi:.3f}",
    )


def kernels_best_conditioned(conditions: Mapping[str, float], view: str = "kernels") -> Verdict:
    """The paper's view of the layer has the smallest condition number of all views.

    Parameters
    ----------
    conditions : mapping
        View name → condition number (``inf`` for a rank-deficient view).
    view : str
        The paper's view.

    >>> kernels_best_conditioned({"kernels": 1.07, "unfold": 3.1, "operator": 40.0})
    Verdict(holds=True, reason='kernels 1.07; best kernels 1.07, worst operator 40')
    """
    if view not in conditions:
        raise ValueError(f"no view {view!r} among {sorted(conditions)}")
    best = min(conditions, key=conditions.get)
    worst = max(conditions, key=conditions.get)
    return Verdict(
        conditions[view] <= conditions[best],
        f"{view} {conditions[view]:.3g}; best {best} {conditions[best]:.3g}, "
        f"worst {worst} {conditions[worst]:.3g}",
    )
