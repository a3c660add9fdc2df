"""The conditions of the training-length chapter: both outcomes and the edge of each."""

import pytest

from nnspaces import verdicts
from nnspaces.verdicts import trainlength as v


def test_gap_closes_both_ways_the_edge_and_off_the_papers_data():
    assert v.gap_closes(3.6, 7.0, 7.22, True).holds
    assert "3.62 before, 0.22 after" in v.gap_closes(3.6, 7.0, 7.22, True).reason
    assert not v.gap_closes(7.3, 9.0, 7.22, True).holds
    assert not v.gap_closes(7.0, 7.44, 7.22, True).holds  # equally far: does not close
    off = v.gap_closes(3.6, 7.0, 7.22, False)
    assert not off.holds and "not the paper's data set" in off.reason
    assert isinstance(off, verdicts.Verdict)


def test_same_run_within_the_tolerance_only():
    assert v.same_run({"fcnn1": (3.0, 3.0), "fcnn5": (40.0, 40.0 * (1 + 1e-7))}).holds
    at_edge = {"fcnn1": (3.0 * (1 + 1e-6), 3.0)}
    assert v.same_run(at_edge, rtol=1.01e-6).holds and not v.same_run(at_edge, rtol=0.99e-6)
    assert not v.same_run({"fcnn1": (3.0, 3.1)}).holds
    empty = v.same_run({})
    assert not empty.holds and "no network" in empty.reason


@pytest.mark.parametrize(
    ("low", "high", "holds"),
    [(0.1, 0.5, False), (-0.5, -0.1, False), (-0.1, 0.3, True), (0.0, 0.3, True)],
)
def test_no_size_trend_when_the_interval_includes_zero(low, high, holds):
    effect = {"slope": (low + high) / 2, "low": low, "high": high, "level": 0.95}
    verdict = v.no_size_trend(effect)
    assert verdict.holds is holds and "95 % interval" in verdict.reason


def test_length_over_size_compares_per_doubling():
    effect = {"slope": 0.1, "low": -0.05, "high": 0.25}
    assert v.length_over_size(0.9, effect).holds
    assert v.length_over_size(-0.9, effect).holds  # the magnitude counts
    assert not v.length_over_size(0.25, effect).holds  # the edge: not smaller
    assert not v.length_over_size(0.2, {"slope": -0.1, "low": -0.3, "high": 0.1}).holds


def test_reference_within_runs_includes_the_ends():
    assert v.reference_within_runs(7.22, 4.5, 7.8).holds
    assert v.reference_within_runs(7.22, 7.22, 7.8).holds  # the edge counts
    assert not v.reference_within_runs(7.22, 4.5, 7.0).holds
    assert v.reference_within_runs(7.22, 4.5, 7.0).reason == "paper 7.22; runs from 4.50 to 7.00"


def test_grows_with_size_only_when_the_whole_interval_is_above_zero():
    assert v.grows_with_size({"slope": 0.02, "low": 0.01, "high": 0.03}).holds
    assert not v.grows_with_size({"slope": 0.01, "low": 0.0, "high": 0.02}).holds  # the edge
    assert not v.grows_with_size({"slope": -0.02, "low": -0.03, "high": -0.01}).holds
    reason = v.grows_with_size({"slope": 0.02, "low": 0.01, "high": 0.03, "level": 0.9}, 100, " pt")
    assert reason.reason == "+2.0 pt per doubling of the images, 90 % interval [+1.0, +3.0]"
