"""Tests of nnspaces.spaces.views: one convolution seen through every view."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnspaces import models
from nnspaces.spaces import (
    LayerSpaces,
    conv_layer,
    conv_operator_singular_values,
    input_sizes,
    layer_spaces,
    layer_views,
    views_table,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine


def test_conv_layer_lookup_and_views():
    net = models.build("resnet18")
    with pytest.raises(ValueError, match="layer1.0.conv1"):
        conv_layer(net, "layer1.0.bn1")
    assert input_sizes(net)["layer1.0.conv1"] == (7, 7)
    views = layer_views(net, "layer1.0.conv1")
    assert set(views) == {"kernels", "unfold", "taps", "operator 7x7"}
    taps = net.layer1[0].conv1.weight.double().permute(2, 3, 0, 1).reshape(9, 64, 64)
    ref = torch.linalg.svdvals(taps).flatten().sort(descending=True).values
    torch.testing.assert_close(views["taps"], ref)
    t = views_table(views)
    assert t.loc["kernels", "condition number"] == pytest.approx(
        layer_spaces(net.layer1[0].conv1, view="kernels").condition_number
    )


def test_input_sizes_follow_the_forward_pass():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.SELU(), nn.Conv2d(2, 3, 3, padding=1))
    net.train()
    assert input_sizes(net, (1, 11, 9)) == {"0": (11, 9), "2": (5, 4)}
    assert net.training  # restored


def test_views_table_against_the_views():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False))
    views = layer_views(net, "0", input_shape=(2, 6, 6))
    assert list(views) == ["kernels", "unfold", "taps", "operator 6x6"]
    assert isinstance(views["kernels"], LayerSpaces) and views["kernels"].shape == (6, 9)
    torch.testing.assert_close(views["operator 6x6"], conv_operator_singular_values(net[0], (6, 6)))
    t = views_table(views)
    for label, v in views.items():
        S = v.S if isinstance(v, LayerSpaces) else v
        assert t.loc[label, "singular values"] == len(S)
        assert t.loc[label, "sigma_max"] == float(S.max())
        smin = float(S.min())
        cond = float(S.max()) / smin if smin > 0 else math.inf
        assert t.loc[label, "condition number"] == pytest.approx(cond, rel=1e-12)
    assert t.loc["unfold", "matrix"] == "3×18" and t.loc["taps", "matrix"] == "—"
