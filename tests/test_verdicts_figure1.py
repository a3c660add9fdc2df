"""The Figure 1 chapter's conditions: both outcomes, the threshold edge, bad input."""

from __future__ import annotations

import math

import pytest

from nnspaces.verdicts import Verdict, figure1


def test_most_invisible_holds_above_half_and_not_at_it():
    assert figure1.most_invisible(0.56) == Verdict(
        True, "56 % of the energy in the null space (threshold 50 %)"
    )
    assert not figure1.most_invisible(0.5).holds  # "most" is strictly more than half
    assert not figure1.most_invisible(0.2).holds
    assert figure1.most_invisible(0.3, threshold=0.25).holds
    for bad in (math.nan, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            figure1.most_invisible(bad)


def test_condition_matches_within_five_per_cent_either_side():
    assert figure1.condition_matches(7.22, 7.22).holds
    assert figure1.condition_matches(7.22 * 1.05, 7.22).holds  # the edge counts
    assert figure1.condition_matches(7.22 * 0.95, 7.22).holds
    low = figure1.condition_matches(3.6, 7.22)
    assert not low.holds and "−" not in low.reason and "-50.1 %" in low.reason
    assert not figure1.condition_matches(7.22 * 1.06, 7.22).holds
    assert figure1.relative_difference(3.61, 7.22) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="non-zero"):
        figure1.relative_difference(1.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        figure1.condition_matches(math.inf, 7.22)


def test_same_dimensions_compares_the_rank_and_checks_the_sum():
    assert figure1.same_dimensions(10, 774, 10).holds
    v = figure1.same_dimensions(9, 775, 10)
    assert not v.holds and v.reason == "signal space 9, null space 775; the paper's 10 and 774"
    with pytest.raises(ValueError, match="must be n"):
        figure1.same_dimensions(10, 770, 10)
