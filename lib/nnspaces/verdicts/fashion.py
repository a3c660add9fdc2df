"""The conditions behind the chapter that sets Fashion-MNIST beside MNIST.

Each function takes numbers of the two runs (digits and clothing) and returns a
:class:`~nnspaces.verdicts.Verdict`; the sentences live in the chapter's markdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from . import Verdict


def _same_keys(a: Mapping, b: Mapping, what: str) -> list:
    if set(a) != set(b) or not a:
        raise ValueError(
            f"{what}: the two runs must have the same networks, got {list(a)}, {list(b)}"
        )
    return list(a)


def harder_networks(acc_digits: Mapping[str, float], acc_clothing: Mapping[str, float]) -> list:
    """The networks that are *not* less accurate on clothing than on digits."""
    names = _same_keys(acc_digits, acc_clothing, "accuracies")
    return [n for n in names if not acc_clothing[n] < acc_digits[n]]


def clothing_harder(acc_digits: Mapping[str, float], acc_clothing: Mapping[str, float]) -> Verdict:
    """Every network is less accurate on clothing than on digits.

    Parameters
    ----------
    acc_digits, acc_clothing : mapping
        Network → test accuracy (a fraction) on each data set.

    >>> clothing_harder({"fcnn1": 0.89, "fcnn5": 0.93}, {"fcnn1": 0.79, "fcnn5": 0.82})
    Verdict(holds=True, reason='lower on clothing for 2 of 2 networks')
    >>> clothing_harder({"fcnn1": 0.89}, {"fcnn1": 0.89}).holds
    False
    """
    not_lower = harder_networks(acc_digits, acc_clothing)
    n = len(acc_digits)
    reason = f"lower on clothing for {n - len(not_lower)} of {n} networks"
    if not_lower:
        reason += f" (not: {', '.join(not_lower)})"
    return Verdict(not not_lower, reason)


def resnet_near_init(conditions: Mapping[str, float], init: float, rel_tol: float) -> Verdict:
    """The Figure 2 layer's condition number stays within ``rel_tol`` of its value at
    initialisation on every data set.

    Parameters
    ----------
    conditions : mapping
        Data set → trained condition number.
    init : float
        The same layer's condition number at the initialisation both runs start from.
    rel_tol : float

    >>> resnet_near_init({"digits": 1.10, "clothing": 1.12}, 1.11, 0.05)
    Verdict(holds=True, reason='digits 0.9 %, clothing 0.9 % from 1.110 at initialisation (tolerance 5 %)')
    """
    if not conditions or not math.isfinite(init) or init <= 0:
        raise ValueError("need at least one condition number and a positive initial one")
    drift = {k: abs(v / init - 1) for k, v in conditions.items()}
    parts = ", ".join(f"{k} {100 * d:.1f} %" for k, d in drift.items())
    return Verdict(
        max(drift.values()) <= rel_tol + 1e-12,  # the edge counts (round-off)
        f"{parts} from {init:.3f} at initialisation (tolerance {100 * rel_tol:g} %)",
    )


def same_dimensions(dims: Mapping[str, tuple[int, int]]) -> Verdict:
    """The 1-layer network has the same signal- and null-space dimensions on every data set.

    Parameters
    ----------
    dims : mapping
        Data set → (rank, null dimension) of the 10×784 ``W``.

    >>> same_dimensions({"digits": (10, 774), "clothing": (10, 774)}).holds
    True
    """
    if not dims:
        raise ValueError("no runs given")
    parts = "; ".join(f"{k} {r} and {n}" for k, (r, n) in dims.items())
    return Verdict(len(set(dims.values())) == 1, f"signal and null dimensions: {parts}")


def reachability_changes(
    reached_digits: Mapping[str, int], reached_clothing: Mapping[str, int]
) -> Verdict:
    """For at least one network, the number of classes whose min/max target an image in
    [0, 1] reaches differs between the data sets.

    >>> reachability_changes({"fcnn1": 0, "fcnn5": 2}, {"fcnn1": 0, "fcnn5": 5})
    Verdict(holds=True, reason='min/max targets reached (digits → clothing): fcnn1 0 → 0, fcnn5 2 → 5')
    """
    names = _same_keys(reached_digits, reached_clothing, "reached counts")
    parts = ", ".join(f"{n} {reached_digits[n]:.0f} → {reached_clothing[n]:.0f}" for n in names)
    return Verdict(
        any(reached_digits[n] != reached_clothing[n] for n in names),
        f"min/max targets reached (digits → clothing): {parts}",
    )


def changed_networks(
    reached_digits: Mapping[str, int], reached_clothing: Mapping[str, int]
) -> list:
    """The networks whose count of reached min/max targets differs between the data sets."""
    names = _same_keys(reached_digits, reached_clothing, "reached counts")
    return [n for n in names if reached_digits[n] != reached_clothing[n]]
