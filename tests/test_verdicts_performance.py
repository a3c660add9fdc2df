"""The Performance appendix's verdicts, each on a table where it holds, one where it fails, and
at its threshold."""

import math

import pandas as pd
import pytest

from nnspaces.verdicts import performance as v


def _table(rows):
    cols = [
        "network",
        "target",
        "box",
        "method",
        "median_rel_error",
        "worst_rel_error",
        "median_seconds",
    ]
    return pd.DataFrame(rows, columns=cols)


GOOD = _table(
    [
        ("fcnn1", "minmax", "none", "closed-form", 1e-16, 2e-16, 0.001),
        ("fcnn1", "minmax", "none", "gradient", 1e-3, 1e-2, 0.01),
        ("fcnn1", "minmax", "none", "paper-sgd", 0.5, 0.9, 0.002),
        ("fcnn1", "minmax", "[0,1]", "closed-form", 0.3, 0.4, 0.005),
        ("fcnn1", "minmax", "[0,1]", "paper-sgd", 0.6, 0.9, 0.002),
    ]
)


def test_exact_lowest():
    assert v.exact_lowest(GOOD).holds
    assert "all 2 settings" in v.exact_lowest(GOOD).reason
    bad = GOOD.copy()
    bad.loc[1, "median_rel_error"] = 1e-17  # gradient beats the closed form
    out = v.exact_lowest(bad)
    assert not out.holds and "1 of 2" in out.reason and "fcnn1 minmax none" in out.reason


def test_sgd_least_accurate_and_faster():
    assert v.sgd_least_accurate(GOOD).holds
    bad = GOOD.copy()
    bad.loc[1, "median_rel_error"] = (
        0.5  # a tie is not "largest" for paper-sgd: idxmax picks the first
    )
    assert not v.sgd_least_accurate(bad).holds
    assert v.sgd_faster(GOOD) == 1  # faster than the closed form only in the box


@pytest.mark.parametrize(("worst", "holds"), [(v.REACHED, True), (v.REACHED * 1.01, False)])
def test_unreached_only_minmax_box_at_the_threshold(worst, holds):
    t = GOOD.copy()
    t.loc[0, "worst_rel_error"] = worst  # an unconstrained run: must reach its target
    out = v.unreached_only_minmax_box(t)
    assert out.holds is holds
    assert (
        ("1 exact runs miss" in out.reason)
        if holds
        else ("fcnn1 minmax none closed-form" in out.reason)
    )


@pytest.mark.parametrize(
    ("wall", "holds"), [(99.0, True), (100.0, False), (math.nan, False), (None, False)]
)
def test_chapters_overlap(wall, holds):
    out = v.chapters_overlap([60.0, 40.0], wall)
    assert out.holds is holds
    if wall is None or wall != wall:
        assert out.reason == "no book build measured"


def test_the_constants_are_those_of_the_benchmark_reader():
    from nnspaces import performance

    assert v.EXACT == performance.EXACT and v.REACHED == performance.REACHED
