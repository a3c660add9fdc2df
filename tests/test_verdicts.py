"""The conditions behind the book's claims, on small networks measured by the real routine."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from nnspaces import spaces, verdicts


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # 784 → 4·784 numbers: nothing to lose
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1),  # 4·784 → 8·196: half the input at most
        nn.Flatten(),
        nn.Linear(8 * 14 * 14, 10),
    ).eval()


def test_discarding_layers_names_kinds_and_shares_from_the_energy_table():
    net = _net()
    X, y = torch.rand(12, 1, 28, 28), torch.arange(12) % 3
    energy = spaces.null_energy_by_layer(net, X, y, view="operator")
    d = verdicts.discarding_layers(net, energy)
    assert list(d["layer"]) == ["0", "2", "4"]
    assert list(d["kind"]) == ["stride-1 conv", "strided conv", "linear"]
    assert list(d["discards"]) == [False, True, True]
    # the share is the mean over classes of the routine's own numbers
    expected = energy.drop(columns="note").mean(axis=1).to_numpy()
    assert d["share"].to_numpy() == pytest.approx(expected)
    assert d["share"].iloc[0] < 1e-10 < verdicts.REAL_SHARE < d["share"].iloc[1]


def test_the_threshold_decides_what_discards_and_nan_rows_do_not():
    energy = pd.DataFrame(
        {0: [0.02, math.nan], 1: [0.04, math.nan], "note": ["", "all zero"]}, index=["0", "2"]
    )
    assert verdicts.mean_share(energy).iloc[0] == pytest.approx(0.03)
    assert list(verdicts.discarding_layers(_net(), energy)["discards"]) == [True, False]
    assert list(verdicts.discarding_layers(_net(), energy, threshold=0.05)["discards"]) == [
        False,
        False,
    ]


def test_a_layer_the_model_does_not_have_is_refused_by_name():
    energy = pd.DataFrame({0: [0.1], "note": [""]}, index=["layer9.conv"])
    with pytest.raises(ValueError, match="layer9.conv"):
        verdicts.discarding_layers(_net(), energy)
