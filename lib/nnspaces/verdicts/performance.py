"""The Performance appendix's conclusions, from ``nnspaces.performance.inverse_table`` and the
book-build timings of a benchmark result file."""

from __future__ import annotations

import pandas as pd

from . import Verdict

#: The methods that solve the inverse problem exactly (up to round-off) when it is solvable.
EXACT = ("closed-form", "gauss-newton")
#: A run of an exact method reached its target when its worst relative error is at most this.
REACHED = 1e-6
#: The columns that name one setting: a network, a target kind and a box.
SETTING = ["network", "target", "box"]


def _names(rows: pd.DataFrame) -> list[str]:
    return rows[SETTING].astype(str).agg(" ".join, axis=1).tolist()


def exact_lowest(table: pd.DataFrame) -> Verdict:
    """Holds when, in every setting, an exact method has the lowest median relative error.

    Parameters
    ----------
    table : DataFrame
        One row per network, target, box and method, with ``median_rel_error``.
    """
    best = table.loc[table.groupby(SETTING, sort=False)["median_rel_error"].idxmin()]
    other = best[~best["method"].isin(EXACT)]
    n, k = len(best), len(best) - len(other)
    if other.empty:
        return Verdict(True, f"an exact method is best in all {n} settings")
    return Verdict(
        False, f"an exact method is best in {k} of {n} settings, not in " + ", ".join(_names(other))
    )


def sgd_least_accurate(table: pd.DataFrame) -> Verdict:
    """Holds when the released procedure (``paper-sgd``) has the largest median relative error
    in every setting where it ran."""
    worst = table.loc[table.groupby(SETTING, sort=False)["median_rel_error"].idxmax()]
    sgd_settings = table.loc[table["method"] == "paper-sgd", SETTING].drop_duplicates()
    worst = worst.merge(sgd_settings, on=SETTING)
    other = worst[worst["method"] != "paper-sgd"]
    n = len(worst)
    if other.empty:
        return Verdict(True, f"paper-sgd has the largest median error in all {n} of its settings")
    return Verdict(
        False,
        f"paper-sgd has the largest median error in {n - len(other)} of {n} settings, not in "
        + ", ".join(_names(other)),
    )


def sgd_faster(table: pd.DataFrame) -> int:
    """In how many settings paper-sgd takes less median time than the most accurate method."""
    best = table.loc[table.groupby(SETTING, sort=False)["median_rel_error"].idxmin()]
    sgd = table[table["method"] == "paper-sgd"].set_index(SETTING)["median_seconds"]
    return int((sgd < best.set_index(SETTING)["median_seconds"].reindex(sgd.index)).sum())


def unreached_only_minmax_box(table: pd.DataFrame, reached: float = REACHED) -> Verdict:
    """Holds when every exact run that misses its target (worst relative error above
    ``reached``) is one of the min/max targets inside the box [0, 1], which no image reaches."""
    exact = table[table["method"].isin(EXACT)]
    missed = exact[exact["worst_rel_error"] > reached]
    other = missed[~((missed["target"] == "minmax") & (missed["box"] == "[0,1]"))]
    if other.empty:
        return Verdict(
            True, f"{len(missed)} exact runs miss their target, all min/max inside [0, 1]"
        )
    names = (other[SETTING].astype(str) + " ").sum(axis=1) + other["method"]
    return Verdict(
        False,
        f"{len(other)} of the {len(missed)} exact runs that miss their target are not min/max "
        "inside [0, 1]: " + ", ".join(names.str.strip()),
    )


def chapters_overlap(chapter_seconds, wall_seconds: float | None) -> Verdict:
    """Holds when the chapters' seconds add up to more than the build's wall time (they ran
    side by side); fails when they do not, or when no build was measured (``wall_seconds``
    None or NaN)."""
    total = float(sum(chapter_seconds))
    if wall_seconds is None or wall_seconds != wall_seconds:
        return Verdict(False, "no book build measured")
    holds = total > wall_seconds
    word = "more" if holds else "not more"
    return Verdict(
        holds, f"chapters {total:.0f} s in all, {word} than the wall time {wall_seconds:.0f} s"
    )
