"""The Fashion-MNIST chapter's conditions: both outcomes, the edges, bad input."""

from __future__ import annotations

import pytest

from nnspaces.verdicts import fashion

DIGITS = {"fcnn1": 0.89, "fcnn5": 0.93, "resnet18": 0.98}


def test_clothing_harder_needs_every_network_strictly_lower():
    lower = {k: v - 0.1 for k, v in DIGITS.items()}
    assert fashion.clothing_harder(DIGITS, lower).holds
    tie = {**lower, "fcnn5": DIGITS["fcnn5"]}  # equal is not lower
    v = fashion.clothing_harder(DIGITS, tie)
    assert not v.holds and v.reason == "lower on clothing for 2 of 3 networks (not: fcnn5)"
    assert fashion.harder_networks(DIGITS, tie) == ["fcnn5"]
    with pytest.raises(ValueError, match="same networks"):
        fashion.clothing_harder(DIGITS, {"fcnn1": 0.5})


def test_resnet_near_init_up_to_the_tolerance():
    assert fashion.resnet_near_init({"d": 1.05, "c": 0.95}, 1.0, 0.05).holds  # the edge
    v = fashion.resnet_near_init({"d": 1.0, "c": 1.2}, 1.0, 0.05)
    assert not v.holds and "c 20.0 %" in v.reason
    with pytest.raises(ValueError, match="positive"):
        fashion.resnet_near_init({"d": 1.0}, 0.0, 0.05)


def test_same_dimensions_and_reachability_changes():
    assert fashion.same_dimensions({"d": (10, 774), "c": (10, 774)}).holds
    assert not fashion.same_dimensions({"d": (10, 774), "c": (9, 775)}).holds
    same = {"fcnn1": 0, "fcnn5": 3}
    assert not fashion.reachability_changes(same, dict(same)).holds
    assert fashion.reachability_changes(same, {"fcnn1": 1, "fcnn5": 3}).holds
    assert fashion.changed_networks(same, {"fcnn1": 1, "fcnn5": 3}) == ["fcnn1"]
    with pytest.raises(ValueError, match="same networks"):
        fashion.reachability_changes(same, {"fcnn1": 0})
