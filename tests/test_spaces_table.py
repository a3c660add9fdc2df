"""Tests of nnspaces.spaces.table: the per-layer table and null energies against explicit loops."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from reference import dense_circular
from torch import nn

from nnspaces.models import build
from nnspaces.spaces import TABLE_VIEWS, layer_table, null_energy_by_layer

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)  # (B, 3, 6, 6); unfold (3, 9)
        self.conv2 = nn.Conv2d(3, 4, 2, stride=2)  # (B, 4, 3, 3); unfold (4, 12)
        self.grouped = nn.Conv2d(4, 4, 1, groups=2)  # not analysable in the unfold view
        self.fc = nn.Linear(36, 5)

    def forward(self, x):
        a1 = torch.relu(self.conv1(x))
        a2 = self.conv2(a1)
        return self.fc(self.grouped(a2).flatten(1))


def _patches_np(x: np.ndarray, k: int, stride: int, pad: int) -> np.ndarray:
    """(B, C*k*k, L) patches by explicit loops, channel slowest (an independent F.unfold)."""
    B, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    out = np.zeros((B, C * k * k, Ho * Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i * Wo + j] = xp[
                :, :, i * stride : i * stride + k, j * stride : j * stride + k
            ].reshape(B, -1)
    return out


def _null_fraction_np(M: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Per-sample energy fraction of the column vectors P (B, d, L) in the null space of M."""
    N = scipy.linalg.null_space(M)  # (d, d - r)
    null = np.einsum("dk,bdl->bkl", N, P) ** 2
    return null.sum((1, 2)) / (P**2).sum((1, 2))


def test_layer_table_equals_a_hand_loop():
    torch.manual_seed(3)
    model = _Tiny()
    X = torch.rand(6, 1, 6, 6)
    df = layer_table(model, X, view="unfold")
    assert list(df["name"]) == ["conv1", "conv2", "grouped", "fc"]
    with torch.no_grad():  # what reaches each layer, by an explicit forward pass
        a1 = torch.relu(model.conv1(X))
        a2 = model.conv2(a1)
        a3 = model.grouped(a2).flatten(1)
    cases = {
        "conv1": (
            model.conv1.weight.detach().numpy().reshape(3, 9),
            _patches_np(X.double().numpy(), 3, 1, 1),
        ),
        "conv2": (
            model.conv2.weight.detach().numpy().reshape(4, 12),
            _patches_np(a1.double().numpy(), 2, 2, 0),
        ),
        "fc": (model.fc.weight.detach().numpy(), a3.double().numpy()[:, :, None]),
    }
    for name, (M, P) in cases.items():
        row = df.set_index("name").loc[name]
        M = M.astype(np.float64)
        S = np.linalg.svd(M, compute_uv=False)
        r = np.linalg.matrix_rank(M)
        assert row["matrix_shape"] == M.shape and row["rank"] == r
        assert row["null_dim"] == M.shape[1] - r
        assert row["sigma_max"] == pytest.approx(S[0], rel=1e-12)
        assert row["sigma_min"] == pytest.approx(S[-1], rel=1e-12)
        assert row["condition_number"] == pytest.approx(S[0] / S[-1], rel=1e-12)
        assert row["null_energy"] == pytest.approx(_null_fraction_np(M, P).mean(), rel=1e-9)
        assert row["note"] == ""
    g = df.set_index("name").loc["grouped"]
    assert "groups=2" in g["note"] and math.isnan(g["sigma_max"]) and math.isnan(g["null_energy"])
    # the kernels view: per-channel kh*kw vectors against the (C_out*C_in, kh*kw) matrix
    dk = layer_table(model, X, view="kernels").set_index("name")
    M = model.conv1.weight.detach().double().numpy().reshape(3, 9)  # C_in = 1: one 3x3 per row
    frac = _null_fraction_np(M, _patches_np(X.double().numpy(), 3, 1, 1))
    assert dk.loc["conv1", "null_energy"] == pytest.approx(frac.mean(), rel=1e-9)
    assert dk.loc["grouped", "note"] == "" and dk.loc["grouped", "matrix_shape"] == (8, 1)


def test_kernels_view_null_energy_with_several_input_channels():
    torch.manual_seed(8)
    conv = nn.Conv2d(2, 1, 3, padding=1)  # kernels view (2, 9): rank 2, null dim 7
    X = torch.rand(4, 2, 5, 5)
    row = layer_table(nn.Sequential(conv), X, view="kernels").iloc[0]
    P = _patches_np(X.double().numpy(), 3, 1, 1)  # (4, 18, 25), channel slowest
    P = P.reshape(4, 2, 9, 25).transpose(0, 2, 1, 3).reshape(4, 9, 50)  # per-channel 3x3 vectors
    M = conv.weight.detach().double().numpy().reshape(2, 9)
    assert row["rank"] == 2 and row["null_dim"] == 7
    assert row["null_energy"] == pytest.approx(_null_fraction_np(M, P).mean(), rel=1e-9)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0)),
        nn.Conv2d(2, 3, (3, 2), padding="same"),
        nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect", dilation=(1, 2)),
    ],
    ids=["asymmetric", "same", "reflect"],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_patches_follow_the_layer_padding(conv):
    torch.manual_seed(9)
    X = torch.rand(3, 2, 6, 7)
    row = layer_table(nn.Sequential(conv), X).iloc[0]
    kh, kw = conv.kernel_size
    if conv.padding == "same":  # torch pads total // 2 first: (0, 1) along w, (1, 1) along h
        xp = F.pad(X, (0, 1, 1, 1))
    else:
        ph, pw = conv.padding
        mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
        xp = F.pad(X, (pw, pw, ph, ph), mode=mode)
    P = F.unfold(xp, (kh, kw), dilation=conv.dilation, stride=conv.stride)  # (3, 2*kh*kw, L)
    with torch.no_grad():  # these are the patches the layer really multiplies
        y = conv.weight.reshape(3, -1) @ P + conv.bias[:, None]
        assert torch.allclose(y.reshape(conv(X).shape), conv(X), atol=1e-5)
    M = conv.weight.detach().double().numpy().reshape(3, -1)
    frac = _null_fraction_np(M, P.double().numpy())
    assert row["null_energy"] == pytest.approx(frac.mean(), rel=1e-9)


def test_all_zero_layer_is_reported_not_hidden():
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].weight.zero_()
    row = layer_table(model, torch.rand(5, 1, 2, 3)).iloc[0]
    assert row["rank"] == 0 and row["null_dim"] == 6 and row["condition_number"] == math.inf
    assert row["sigma_max"] == 0.0 and row["null_energy"] == pytest.approx(1.0)


def test_layer_table_without_inputs_and_dtypes():
    torch.manual_seed(4)
    model = build("fcnn5")
    df32 = layer_table(model)
    df64 = layer_table(copy.deepcopy(model).double())
    assert "null_energy" not in df32.columns and list(df32["note"]) == [""] * 5
    cols = ["rank", "sigma_max", "sigma_min", "condition_number", "null_dim"]
    assert df32[cols].equals(df64[cols])  # float64 SVD of the same numbers, whatever the dtype
    assert list(df32["matrix_shape"]) == [(256, 784), (256, 256), (128, 256), (32, 128), (10, 32)]


def test_layer_table_lists_every_resnet_layer():
    torch.manual_seed(5)
    df = layer_table(build("resnet18"))
    assert len(df) == 21 and (df["note"] == "").all()
    assert df.loc[0, "name"] == "conv1" and df.loc[0, "matrix_shape"] == (64, 49)
    assert df.iloc[-1]["name"] == "fc"
    ks = layer_table(build("resnet18"), view="kernels").set_index("name")
    assert ks.loc["layer1.0.conv1", "matrix_shape"] == (4096, 9)


@pytest.mark.parametrize(
    ("H", "stride", "c_in", "c_out"), [(6, 2, 2, 3), (6, 1, 3, 2), (5, 2, 2, 3)]
)
def test_operator_null_energy_against_dense_null_space(H, stride, c_in, c_out):
    torch.manual_seed(6)
    conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, padding_mode="circular", bias=False)
    model = nn.Sequential(conv)
    X = torch.randn(4, c_in, H, H)
    df = layer_table(model, X, view="operator")
    A = dense_circular(conv.weight.detach(), stride, 1, 1, H, H)
    N = scipy.linalg.null_space(A)
    Xf = X.double().reshape(4, -1).numpy()
    frac = ((Xf @ N) ** 2).sum(1) / (Xf**2).sum(1)
    row = df.iloc[0]
    assert row["rank"] == np.linalg.matrix_rank(A) and row["matrix_shape"] == A.shape
    assert row["null_energy"] == pytest.approx(frac.mean(), rel=1e-9, abs=1e-12)
    assert row["sigma_max"] == pytest.approx(np.linalg.norm(A, 2), rel=1e-12)


def test_null_energy_by_layer_per_class():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 5), nn.ReLU(), nn.Linear(5, 3))
    X = torch.rand(30, 1, 4, 4)
    y = torch.arange(30) % 3
    df = null_energy_by_layer(model, X, y)
    assert list(df.index) == ["1", "3"] and list(df.columns) == [0, 1, 2, "note"]
    W1 = model[1].weight.detach().double().numpy()
    f1 = _null_fraction_np(W1, X.double().reshape(30, 16).numpy()[:, :, None])
    with torch.no_grad():
        h = torch.relu(model[1](X.flatten(1))).double().numpy()
    f2 = _null_fraction_np(model[3].weight.detach().double().numpy(), h[:, :, None])
    for c in range(3):
        assert df.loc["1", c] == pytest.approx(f1[y.numpy() == c].mean(), rel=1e-9)
        assert df.loc["3", c] == pytest.approx(f2[y.numpy() == c].mean(), rel=1e-9)
    # per class is consistent with the overall table (equal class sizes)
    t = layer_table(model, X).set_index("name")
    assert t.loc["1", "null_energy"] == pytest.approx(df.loc["1", [0, 1, 2]].mean(), rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        null_energy_by_layer(model, X, y[:-1])


class _WithSpare(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 2)
        self.spare = nn.Linear(4, 2)  # defined but never called

    def forward(self, x):
        return self.used(x.flatten(1))


def test_table_restores_mode_and_handles_zero_and_unreached_layers():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.Dropout(0.5))
    model.train()
    df = layer_table(model, torch.zeros(3, 1, 2, 2))
    assert model.training
    assert math.isnan(df.loc[0, "null_energy"]) and "zero" in df.loc[0, "note"]
    df = layer_table(_WithSpare(), torch.rand(3, 1, 2, 2)).set_index("name")
    assert df.loc["used", "note"] == "" and df.loc["used", "null_energy"] > 0
    assert "not reached" in df.loc["spare", "note"] and math.isnan(df.loc["spare", "null_energy"])
    assert df.loc["spare", "rank"] == 2  # its spectrum is still reported


def test_table_errors_are_clear():
    with pytest.raises(ValueError, match=", ".join(TABLE_VIEWS)):
        layer_table(build("fcnn1"), view="taps")


def test_non_finite_weight_or_input_names_it():
    model = build("fcnn5")
    with torch.no_grad():
        model[5].weight[3, 7] = math.nan
    with pytest.raises(ValueError, match="'5'.*non-finite"):
        layer_table(model)
    with pytest.raises(ValueError, match="inputs holds NaN"):
        layer_table(build("fcnn1"), torch.full((2, 1, 28, 28), math.nan))
