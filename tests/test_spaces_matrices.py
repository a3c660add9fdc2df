"""Tests of nnspaces.spaces.matrices: each view of a weight means what it says, and undoes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from reference import rand
from torch import nn

from nnspaces.models import build
from nnspaces.spaces import VIEWS, weight_from_matrix, weight_matrix

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("shape", [(5, 3, 3, 2), (4, 1, 7, 7), (6, 9)])
def test_views_round_trip(view, shape):
    w = rand(shape, seed=14, dtype=torch.float32)
    M = weight_matrix(w, view)
    back = weight_from_matrix(M, view, w.shape)
    assert torch.equal(back, w) and back.dtype == w.dtype


def test_views_mean_what_they_say():
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1, bias=False)
    w = conv.weight.detach()
    K, U, T = (weight_matrix(conv, v) for v in VIEWS)
    assert (K.shape, U.shape, T.shape) == ((15, 6), (5, 18), (6, 5, 3))
    for o in range(5):
        for c in range(3):
            assert torch.equal(K[o * 3 + c], w[o, c].reshape(-1))  # one row per 2-D kernel
            for p in range(3):
                for q in range(2):
                    assert T[p * 2 + q, o, c] == w[o, c, p, q]
    # unfold view: the patch -> channels map, checked against the convolution itself
    x = torch.randn(2, 3, 6, 8)
    y = conv(x)
    P = F.unfold(x, (3, 2), padding=1, stride=(1, 2))  # (2, 18, L)
    assert torch.allclose((U @ P).reshape(y.shape), y, atol=1e-5)
    # taps view: the convolution is the sum over taps of channel mixing at shifted positions
    xp = F.pad(x, (1, 1, 1, 1))
    y_taps = sum(
        torch.einsum(
            "oc,bchw->bohw", T[p * 2 + q], xp[:, :, p : p + y.shape[2], q : q + 2 * y.shape[3] : 2]
        )
        for p in range(3)
        for q in range(2)
    )
    assert torch.allclose(y_taps, y, atol=1e-5)
    # a Linear is its own matrix
    lin = nn.Linear(4, 3)
    assert torch.equal(weight_matrix(lin, "unfold"), lin.weight.detach())
    assert weight_matrix(lin, "taps").shape == (1, 3, 4)


def test_grouped_conv_views():
    conv = nn.Conv2d(4, 6, 3, groups=2)
    assert weight_matrix(conv, "kernels").shape == (12, 9)
    for view in ("unfold", "taps"):
        with pytest.raises(ValueError, match="groups=2"):
            weight_matrix(conv, view)


def test_matrix_errors_are_clear():
    with pytest.raises(ValueError, match="kernels, unfold, taps"):
        weight_matrix(nn.Conv2d(2, 2, 3), view="rows")
    with pytest.raises(ValueError, match="conv_operator_singular_values"):
        weight_matrix(nn.Conv2d(2, 2, 3), view="operator")
    with pytest.raises(TypeError, match="Conv1d"):
        weight_matrix(nn.Conv1d(2, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        weight_from_matrix(torch.zeros(4, 9), "kernels", (2, 3, 3, 3))


def test_non_finite_weight_names_the_layer():
    model = build("fcnn5")
    with torch.no_grad():
        model[5].weight[3, 7] = math.nan
    with pytest.raises(ValueError, match="'mylayer'"):
        weight_matrix(model[5], name="mylayer")
