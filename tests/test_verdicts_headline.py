"""The landing page's and the models chapter's conditions (nnspaces.verdicts.headline)."""

from __future__ import annotations

import pytest

from nnspaces.verdicts import Verdict, headline


def test_accuracy_matches_in_points_with_the_edge():
    v = headline.accuracy_matches(0.886, 0.92)
    assert isinstance(v, Verdict) and not v
    assert v.reason == "88.6 % against 92.0 %: −3.4 points (tolerance 1 point)"
    assert headline.accuracy_matches(0.93, 0.92)  # exactly 1 point: a match
    assert not headline.accuracy_matches(0.9301, 0.92)
    assert headline.accuracy_matches(0.95, 0.97, tol_points=2)


def test_accuracies_match_all_or_none():
    paper = {"fcnn1": 0.92, "fcnn5": 0.97}
    assert headline.accuracies_match({"fcnn1": 0.925, "fcnn5": 0.96}, paper)
    v = headline.accuracies_match({"fcnn1": 0.925, "fcnn5": 0.955}, paper)
    assert not v and "fcnn5 −1.5" in v.reason
    with pytest.raises(ValueError, match="no accuracy"):
        headline.accuracies_match({}, paper)
    with pytest.raises(ValueError, match="resnet18"):
        headline.accuracies_match({"resnet18": 0.99}, paper)


def test_reaches_paper_allows_higher_and_one_point_below():
    paper = {"a": 0.92, "b": 0.97}
    assert headline.reaches_paper({"a": 0.99, "b": 0.96}, paper)  # −1 point: the edge
    assert not headline.reaches_paper({"a": 0.99, "b": 0.9599}, paper)
    with pytest.raises(ValueError):
        headline.reaches_paper({}, paper)


def test_condition_matches_is_a_ratio():
    assert headline.condition_matches(7.22 * 1.05, 7.22)  # the edge
    assert not headline.condition_matches(7.22 * 1.0501, 7.22)
    v = headline.condition_matches(3.61, 7.22)
    assert not v and v.reason == "3.61 against 7.22: 50 % lower (tolerance 5 %)"
    assert "higher" in headline.condition_matches(1.2, 1.07).reason
    with pytest.raises(ValueError, match="positive"):
        headline.condition_matches(0.0, 7.22)


def test_epoch_choice_and_reach():
    assert headline.epoch_choice_immaterial({"a": 0.01, "b": -0.005})  # one point: the edge
    v = headline.epoch_choice_immaterial({"a": -0.0101})
    assert not v and "1.01 points" in v.reason
    assert headline.no_image_reaches({"a": 0.3, "b": 2e-6})
    assert not headline.no_image_reaches({"a": 0.3, "b": 1e-6})
    for f in (headline.epoch_choice_immaterial, headline.no_image_reaches):
        with pytest.raises(ValueError):
            f({})


def test_grows_with_training_strictly():
    assert headline.grows_with_training(1.4, 3.6)
    assert not headline.grows_with_training(3.6, 3.6)  # the edge: no growth
    assert not headline.grows_with_training(4.0, 3.6)
