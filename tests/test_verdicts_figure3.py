"""The Figure 3 chapter's conditions: both outcomes, the threshold edge, bad input."""

from __future__ import annotations

import math

import pytest

from nnspaces.verdicts import figure3


def test_none_reached_and_exact_closest_count():
    assert figure3.none_reached(0, 30).holds
    v = figure3.none_reached(1, 30)
    assert not v.holds and v.reason == "1 of 30 chosen images reach their target"
    assert figure3.exact_closest(30, 30).holds and not figure3.exact_closest(29, 30).holds
    for bad in ((31, 30), (-1, 30), (0, 0)):
        with pytest.raises(ValueError, match="counts"):
            figure3.none_reached(*bad)


def test_mostly_on_bounds_at_the_threshold():
    assert figure3.mostly_on_bounds(0.5).holds  # the edge counts
    assert not figure3.mostly_on_bounds(0.49).holds
    assert figure3.mostly_on_bounds(0.3, threshold=0.25).holds
    for bad in (math.nan, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            figure3.mostly_on_bounds(bad)


def test_barely_moves_is_decided_by_the_worst_network():
    assert figure3.barely_moves({"a": 0.01, "b": 0.099}).holds
    v = figure3.barely_moves({"a": 0.01, "b": 0.1})  # the edge does not count
    assert not v.holds and "(b;" in v.reason
    with pytest.raises(ValueError, match="non-empty"):
        figure3.barely_moves({})
    with pytest.raises(ValueError, match="finite"):
        figure3.barely_moves({"a": math.nan})


def test_like_released_log_within_a_factor_of_the_range():
    log = (-0.035, -0.017)
    assert figure3.like_released_log(-0.02, log).holds
    assert figure3.like_released_log(-0.14, log).holds  # 4 × 3.5 %: the edge counts
    assert figure3.like_released_log(-0.00425, log).holds  # 1.7 % / 4
    assert not figure3.like_released_log(-0.15, log).holds
    assert not figure3.like_released_log(-0.004, log).holds
    assert not figure3.like_released_log(0.02, log).holds  # the wrong sign
    assert figure3.like_released_log(0.05, (0.02, 0.07)).holds  # a log whose loss rose
    assert figure3.like_released_log(-0.02, (-0.017, -0.035)).holds  # either order
    with pytest.raises(ValueError, match="one sign"):
        figure3.like_released_log(-0.02, (-0.01, 0.01))


def test_starts_unchanged_below_one_grey_level():
    assert figure3.starts_unchanged(0.0).holds
    assert figure3.starts_unchanged(0.99 / 255).holds
    v = figure3.starts_unchanged(1 / 255)  # one grey level: the edge does not count
    assert not v.holds and "1 grey levels" in v.reason
    assert figure3.starts_unchanged(0.01, tol=0.02).holds
    with pytest.raises(ValueError, match="finite"):
        figure3.starts_unchanged(-1.0)


def test_chosen_by_rounding_below_the_tolerance():
    assert figure3.chosen_by_rounding(0.0).holds
    assert not figure3.chosen_by_rounding(1e-3).holds  # the edge does not count
    assert figure3.chosen_by_rounding(0.5, tol=1.0).holds
    with pytest.raises(ValueError, match="finite"):
        figure3.chosen_by_rounding(math.inf)


def test_rule_differs_at_half():
    assert figure3.rule_differs(0, 30).holds and figure3.rule_differs(15, 30).holds
    v = figure3.rule_differs(16, 30)
    assert not v.holds and v.reason == "the caption's start image picked for 16 of 30"
    with pytest.raises(ValueError, match="counts"):
        figure3.rule_differs(31, 30)


def test_rule_far_from_caption_compares_medians():
    assert figure3.rule_far_from_caption([6.0, 7.0, 8.0], [6.9]).holds
    assert not figure3.rule_far_from_caption([6.0, 7.0, 8.0], [7.0]).holds  # equal: not farther
    with pytest.raises(ValueError, match="non-empty"):
        figure3.rule_far_from_caption([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        figure3.rule_far_from_caption([1.0], [math.nan])


def test_moved_little_against_the_class_spread():
    assert figure3.moved_little(0.0, 6.0).holds
    assert figure3.moved_little(0.29, 6.0).holds
    assert not figure3.moved_little(0.31, 6.0).holds
    assert not figure3.moved_little(1.0, 4.0, share=0.25).holds  # the edge does not count
    assert figure3.moved_little(0.5, 6.0, share=0.1).holds
    for bad in ((-1.0, 6.0), (1.0, 0.0), (math.nan, 6.0)):
        with pytest.raises(ValueError, match="spread"):
            figure3.moved_little(*bad)
