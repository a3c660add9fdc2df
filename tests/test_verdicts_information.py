"""The information-lost chapter's conditions: both outcomes, the threshold edge, bad input."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nnspaces.verdicts import REAL_SHARE, information


def test_first_layer_discards_most_strictly_above_half():
    assert information.first_layer_discards_most(0.51).holds
    assert not information.first_layer_discards_most(0.5).holds
    assert not information.first_layer_discards_most(0.1).holds
    with pytest.raises(ValueError, match="fraction"):
        information.first_layer_discards_most(math.nan)


def test_views_disagree_needs_both_views():
    assert information.views_disagree(0.9, 1e-16).holds
    assert information.views_disagree(0.9, REAL_SHARE).holds  # the edge counts
    assert not information.views_disagree(0.9, 2 * REAL_SHARE).holds
    assert not information.views_disagree(0.5, 1e-16).holds  # half is not most
    assert "at most 1.0e-16" in information.views_disagree(0.9, 1e-16).reason


def _layers(kinds, discards):
    return pd.DataFrame(
        {"layer": [str(i) for i in range(len(kinds))], "kind": kinds, "discards": discards}
    )


def test_only_strided_discard_fails_on_one_stride_1_layer():
    t = _layers(["stride-1 conv", "strided conv", "linear"], [False, True, True])
    v = information.only_strided_discard(t)
    assert v.holds and v.reason == "0 of 1 stride-1 convolutions and 1 of 1 strided ones discard"
    t = _layers(["stride-1 conv", "stride-1 conv", "strided conv"], [False, True, True])
    assert not information.only_strided_discard(t).holds
    assert information.only_strided_discard(_layers(["linear"], [True])).holds  # no conv at all
    with pytest.raises(ValueError, match="discarding_layers"):
        information.only_strided_discard(pd.DataFrame({"layer": ["a"]}))
