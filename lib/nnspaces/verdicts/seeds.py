"""Conditions of the seeds chapter: is the paper's single value one more run of this recipe?

Each of the chapter's comparisons holds the paper's value against the runs over training
seeds (:func:`nnspaces.summary.seed_spread`); the verdict reads the Holm-adjusted p-value, so
that the chapter's whole family of comparisons has a family-wise error of at most
:data:`ALPHA` (five comparisons each at 95 % would have 1 − 0.95⁵ = 23 %).
"""

from __future__ import annotations

import math

import pandas as pd

from . import Verdict

#: Family-wise error rate of the chapter's comparisons.
ALPHA = 0.05


def familywise_error(level: float, m: int) -> float:
    """Chance that at least one of ``m`` independent tests, each at ``level``, rejects a true
    hypothesis: ``1 − level**m`` (0.23 for five at 95 %).

    Examples
    --------
    >>> round(familywise_error(0.95, 5), 3)
    0.226
    """
    if not 0 < level < 1 or m < 0:
        raise ValueError(f"level must lie in (0, 1) and m ≥ 0, got {level!r}, {m!r}")
    return 1 - level**m


def consistent_with_seeds(spread: pd.DataFrame, quantity: str, alpha: float = ALPHA) -> Verdict:
    """The paper's value could be one more run of this recipe: its Holm-adjusted p-value as
    a further run (column ``p (Holm)`` of :func:`nnspaces.summary.seed_spread`) is at least
    ``alpha``.

    Parameters
    ----------
    spread : DataFrame
        From :func:`nnspaces.summary.seed_spread`, indexed by quantity.
    quantity : str
        A row of ``spread``.
    alpha : float
        Family-wise error rate.

    Returns
    -------
    Verdict
        Does not hold (with the reason) when the quantity was not computed, has no paper
        value, or rests on fewer than two seeds: there is then nothing to be consistent with.
    """
    if quantity not in spread.index:
        return Verdict(False, f"{quantity}: not computed on this run")
    r = spread.loc[quantity]
    if math.isnan(r["paper"]):
        return Verdict(False, f"{quantity}: the paper reports no value on this data set")
    if r["n"] < 2 or math.isnan(r["p (Holm)"]):
        return Verdict(False, f"{quantity}: {int(r['n'])} seed, no spread to compare with")
    p = r["p (Holm)"]
    return Verdict(
        p >= alpha,
        f"{quantity}: paper {r['paper']:.4g}, mean {r['mean']:.4g}, s {r['std']:.2g} over "
        f"{int(r['n'])} seeds; Holm-adjusted p {p:.2g} (family-wise α {alpha:g})",
    )
