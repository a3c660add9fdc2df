"""The Figure 2 chapter's conditions: both outcomes, the threshold edge, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnspaces.verdicts import figure2


def test_close_to_one_up_to_the_limit():
    assert figure2.close_to_one(1.0).holds and figure2.close_to_one(1.2).holds
    v = figure2.close_to_one(1.25)
    assert not v.holds and v.reason == "condition number 1.250 (limit 1.2)"
    for bad in (0.9, math.inf, math.nan):
        with pytest.raises(ValueError, match="at least 1"):
            figure2.close_to_one(bad)


def test_accuracy_matches_in_points_not_per_cent():
    assert figure2.accuracy_matches(0.99, 0.99).holds
    assert figure2.accuracy_matches(0.98, 0.99).holds  # 1 point: the edge counts
    v = figure2.accuracy_matches(0.886, 0.92)
    assert not v.holds and "−3.4 points" in v.reason  # not "lower by 3.7 %"
    assert "+0.5 points" in figure2.accuracy_matches(0.995, 0.99).reason
    with pytest.raises(ValueError, match="fractions"):
        figure2.accuracy_matches(99.0, 0.99)


def test_trained_in_init_range_includes_the_ends():
    k = np.array([1.05, 1.08, 1.10])
    assert figure2.trained_in_init_range(k, 1.05).holds
    assert figure2.trained_in_init_range(k, 1.10).holds
    assert not figure2.trained_in_init_range(k, 1.101).holds
    assert not figure2.trained_in_init_range(k, 1.04).holds
    with pytest.raises(ValueError, match="non-empty"):
        figure2.trained_in_init_range([], 1.0)
    with pytest.raises(ValueError, match="finite"):
        figure2.trained_in_init_range([1.0, math.nan], 1.0)


def test_paper_typical_of_init_uses_the_central_95_per_cent():
    k = np.linspace(1.0, 1.2, 201)  # percentiles 2.5 and 97.5 at 1.005 and 1.195
    assert figure2.paper_typical_of_init(k, 1.07).holds
    assert figure2.paper_typical_of_init(k, 1.005).holds
    assert not figure2.paper_typical_of_init(k, 1.004).holds
    assert not figure2.paper_typical_of_init(k, 1.196).holds
    lo, hi = np.percentile(k, [2.5, 97.5])
    assert f"{lo:.3f} to {hi:.3f}" in figure2.paper_typical_of_init(k, 1.1).reason


def test_kernels_best_conditioned_names_the_best_and_worst():
    assert figure2.kernels_best_conditioned({"kernels": 1.1, "unfold": 2.0}).holds
    assert figure2.kernels_best_conditioned({"kernels": 2.0, "unfold": 2.0}).holds  # a tie
    v = figure2.kernels_best_conditioned({"kernels": 2.0, "unfold": 1.5, "operator": math.inf})
    assert not v.holds and "best unfold 1.5" in v.reason and "worst operator inf" in v.reason
    with pytest.raises(ValueError, match="no view"):
        figure2.kernels_best_conditioned({"unfold": 1.5})


def test_condition_matches_is_figure_1s():
    assert figure2.condition_matches(1.07 * 1.05, 1.07).holds
    assert not figure2.condition_matches(1.2, 1.07).holds
