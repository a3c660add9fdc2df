"""Tests of nnspaces.spaces against independent references (numpy, scipy, explicit loops)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from nnspaces.models import build
from nnspaces.spaces import (
    TABLE_VIEWS,
    VIEWS,
    class_average_residuals,
    conv_operator_matrix,
    conv_operator_singular_values,
    layer_spaces,
    layer_table,
    null_energy_by_layer,
    null_residual,
    row_null_split,
    row_projection_residual,
    weight_from_matrix,
    weight_matrix,
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One BLAS thread: on a small shared machine, more threads stall LAPACK (seconds, not ms)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _rand(shape, seed=0, dtype=torch.float64):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)


def _exact_rank(m: int, n: int, r: int, seed: int) -> np.ndarray:
    """An integer (m, n) matrix of rank exactly r (exact in float64), all nonzero σ >= 1.

    A = B C with B (m, r) and C (r, n) each holding an identity block, so B^T B >= I and
    C C^T >= I: rank r exactly and sigma_r(A) >= 1.
    """
    rng = np.random.default_rng(seed)
    if r == 0:
        return np.zeros((m, n))
    B = rng.integers(-3, 4, (m, r)).astype(float)
    B[rng.choice(m, r, replace=False)] = np.eye(r)
    C = rng.integers(-3, 4, (r, n)).astype(float)
    C[:, rng.choice(n, r, replace=False)] = np.eye(r)
    return B @ C


def _orthonormal(Q: torch.Tensor, tol=1e-12) -> bool:
    return torch.allclose(Q.T @ Q, torch.eye(Q.shape[1], dtype=Q.dtype), atol=tol)


# --------------------------------------------------------------------------------------
# SVD and subspaces
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(10, 784), (49, 7), (12, 12)])
def test_svd_reconstructs_and_matches_numpy(dtype, shape):
    A = _rand(shape, seed=1, dtype=dtype)
    s = layer_spaces(A)
    A64 = A.double()
    assert s.U.dtype == s.S.dtype == s.Vh.dtype == torch.float64
    k = min(shape)
    assert s.U.shape == (shape[0], k) and s.S.shape == (k,) and s.Vh.shape == (k, shape[1])
    assert torch.allclose(s.U @ torch.diag(s.S) @ s.Vh, A64, atol=1e-12 * float(s.S[0]))
    # float32 input: the SVD is of the exact float64 copy, so numpy's float64 SVD agrees to 1e-12
    ref = np.linalg.svd(A64.numpy(), compute_uv=False)
    np.testing.assert_allclose(s.S.numpy(), ref, rtol=1e-12, atol=1e-12 * ref[0])
    assert _orthonormal(s.U) and _orthonormal(s.Vh.T)
    assert s.rank == k == np.linalg.matrix_rank(A64.numpy())


def test_bases_of_the_four_subspaces_against_scipy():
    A = _exact_rank(7, 11, 4, seed=2)
    s = layer_spaces(torch.from_numpy(A))
    assert s.rank == 4 and s.null_dim == 7
    Vr, N, Ur, L = s.row_basis, s.null_basis, s.column_basis, s.left_null_basis
    assert (Vr.shape, N.shape, Ur.shape, L.shape) == ((11, 4), (11, 7), (7, 4), (7, 3))
    for Q in (Vr, N, Ur, L):
        assert _orthonormal(Q)
    At = torch.from_numpy(A)
    assert torch.allclose(At @ N, torch.zeros(7, 7, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(L.T @ At, torch.zeros(3, 11, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(Vr.T @ N, torch.zeros(4, 7, dtype=torch.float64), atol=1e-12)
    # same subspaces as scipy's (compare the orthogonal projectors, bases differ by rotation)
    for mine, ref in ((N, scipy.linalg.null_space(A)), (L, scipy.linalg.null_space(A.T))):
        np.testing.assert_allclose(mine.numpy() @ mine.numpy().T, ref @ ref.T, atol=1e-12)
    np.testing.assert_allclose(
        Vr.numpy() @ Vr.numpy().T, scipy.linalg.orth(A.T) @ scipy.linalg.orth(A.T).T, atol=1e-12
    )


def test_rank_with_zero_and_duplicated_rows():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 9))
    A = np.vstack([base, np.zeros((2, 9)), base[[0, 0, 2]], 2 * base[1:2]])  # (9, 9), rank 3
    s = layer_spaces(torch.from_numpy(A))
    assert s.rank == 3 == np.linalg.matrix_rank(A)
    assert s.null_dim == 6 and s.left_null_basis.shape == (9, 6)
    assert s.condition_number == math.inf
    z = layer_spaces(torch.zeros(4, 6))
    assert z.rank == 0 and z.signal.shape == (0, 6) and z.null_basis.shape == (6, 6)
    assert z.condition_number == math.inf


def test_condition_number_is_full_spectrum_ratio():
    A = torch.zeros(3, 5, dtype=torch.float64)
    A[0, 2], A[1, 0], A[2, 4] = 4.0, -2.0, 0.5
    s = layer_spaces(A)
    assert s.condition_number == pytest.approx(8.0, rel=1e-14)
    assert (s.sigma_max, s.sigma_min) == pytest.approx((4.0, 0.5), rel=1e-14)
    W = _rand((10, 784), seed=4)  # the paper's 1-layer shape: sigma_1 / sigma_10
    ref = np.linalg.svd(W.numpy(), compute_uv=False)
    assert layer_spaces(W).condition_number == pytest.approx(ref[0] / ref[9], rel=1e-12)
    assert layer_spaces(W).condition_number == pytest.approx(np.linalg.cond(W.numpy()), rel=1e-12)


def test_rank_tolerance_is_stated_and_adjustable():
    A = torch.diag(torch.tensor([1.0, 1e-8, 0.0], dtype=torch.float64))
    s = layer_spaces(A)
    assert s.rank == 2 and s.rtol == 3 * np.finfo(np.float64).eps and s.tol == s.rtol * 1.0
    s6 = layer_spaces(A, rtol=1e-6)
    assert s6.rank == 1 and s6.tol == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="rtol"):
        layer_spaces(A, rtol=-1.0)


def test_signal_space_is_sigma_v():
    A = _rand((6, 15), seed=5)
    s = layer_spaces(A)
    # rows sigma_i v_i: norms are the singular values and sum_i (sigma_i v_i)(sigma_i v_i)^T = A^T A
    np.testing.assert_allclose(s.signal.norm(dim=1).numpy(), s.S.numpy(), rtol=1e-12)
    np.testing.assert_allclose((s.signal.T @ s.signal).numpy(), (A.T @ A).numpy(), atol=1e-11)
    # sign convention: largest-magnitude entry of each v_i positive
    idx = s.Vh.abs().argmax(1)
    assert (s.Vh[torch.arange(6), idx] > 0).all()


def test_layers_and_dtypes_give_the_same_float64_spaces():
    torch.manual_seed(0)
    lin = nn.Linear(20, 5)
    s32 = layer_spaces(lin)
    s64 = layer_spaces(lin.weight.detach().double())
    assert torch.equal(s32.S, s64.S) and torch.equal(s32.matrix, s64.matrix)
    conv = nn.Conv2d(4, 6, 3)
    assert layer_spaces(conv, view="kernels").shape == (24, 9)
    assert layer_spaces(conv, view="unfold").shape == (6, 36)


# --------------------------------------------------------------------------------------
# residuals
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_null_residual_against_pinv_orthogonal_and_idempotent(dtype):
    A = torch.from_numpy(_exact_rank(10, 49, 6, seed=6))
    s = layer_spaces(A)
    x = _rand((5, 1, 7, 7), seed=7, dtype=dtype)
    r = null_residual(s, x)
    assert r.shape == x.shape and r.dtype == dtype
    X = x.double().reshape(5, 49).numpy()
    ref = X - X @ (np.linalg.pinv(A.numpy()) @ A.numpy()).T  # (I - A^+ A) x, row by row
    np.testing.assert_allclose(r.double().reshape(5, 49).numpy(), ref, atol=50 * TOL[dtype])
    # orthogonal to every row of A, and idempotent
    tol = 1e-3 if dtype == torch.float32 else 1e-10
    assert (A @ r.double().reshape(5, 49).T).abs().max() < tol
    np.testing.assert_allclose(null_residual(s, r).numpy(), r.numpy(), atol=10 * TOL[dtype])
    # the split adds up, and the row part lies in the row space
    row, null = row_null_split(s, x)
    np.testing.assert_allclose((row + null).numpy(), x.numpy(), atol=10 * TOL[dtype])
    assert torch.equal(null, r)


def test_null_residual_shapes():
    s = layer_spaces(_rand((3, 8), seed=8))
    assert null_residual(s, _rand((8,), seed=9)).shape == (8,)
    assert null_residual(s, _rand((4, 8), seed=9)).shape == (4, 8)
    assert null_residual(s, _rand((4, 2, 2, 2), seed=9)).shape == (4, 2, 2, 2)
    # a matrix in place of spaces works too
    x = _rand((8,), seed=10)
    assert torch.allclose(null_residual(s.matrix, x), null_residual(s, x), atol=1e-14)
    for bad in [_rand((7,)), _rand((4, 7)), _rand((4, 1, 3, 3))]:
        with pytest.raises(ValueError, match="n = 8"):
            null_residual(s, bad)
    with pytest.raises(ValueError, match="NaN"):
        null_residual(s, torch.full((8,), math.nan))


def test_row_projection_residual_is_the_released_formula():
    W = _rand((4, 9), seed=11)
    x = _rand((3, 9), seed=12, dtype=torch.float32)
    for i in range(4):
        got = row_projection_residual(W, x, i)
        w, X = W[i].numpy(), x.double().numpy()
        ref = X - np.outer(X @ w / (w @ w), w)
        np.testing.assert_allclose(got.double().numpy(), ref, atol=1e-5)
        assert got.dtype == torch.float32
        assert (got.double() @ W[i]).abs().max() < 1e-4  # orthogonal to w_i only
    with pytest.raises(ValueError, match="row index"):
        row_projection_residual(W, x, 4)
    Wz = W.clone()
    Wz[2] = 0
    with pytest.raises(ValueError, match="all zero"):
        row_projection_residual(Wz, x, 2)


def test_class_average_residuals_against_hand_computation():
    torch.manual_seed(0)
    X = torch.rand(40, 1, 3, 3)
    y = torch.arange(40) % 4
    W = _rand((4, 9), seed=13)
    res = class_average_residuals(W, X, y)
    assert res.averages.shape == res.null.shape == res.row.shape == (4, 1, 3, 3)
    Xn, yn, Wn = X.double().reshape(40, 9).numpy(), y.numpy(), W.numpy()
    P = np.linalg.pinv(Wn) @ Wn
    for c in range(4):
        a = Xn[yn == c].mean(0)
        np.testing.assert_allclose(res.averages[c].double().numpy().ravel(), a, atol=1e-6)
        np.testing.assert_allclose(res.null[c].double().numpy().ravel(), a - P @ a, atol=1e-6)
        w = Wn[c]
        np.testing.assert_allclose(
            res.row[c].double().numpy().ravel(), a - (w @ a) / (w @ w) * w, atol=1e-6
        )
    with pytest.raises(ValueError, match="class 4 has no images"):
        class_average_residuals(_rand((6, 9)), X, y, n_classes=6)
    with pytest.raises(ValueError, match="labels"):
        class_average_residuals(W, X, y[:-1])


# --------------------------------------------------------------------------------------
# weights as matrices
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("shape", [(5, 3, 3, 2), (4, 1, 7, 7), (6, 9)])
def test_views_round_trip(view, shape):
    w = _rand(shape, seed=14, dtype=torch.float32)
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


# --------------------------------------------------------------------------------------
# the operator view
# --------------------------------------------------------------------------------------


def _dense_circular(w: torch.Tensor, stride, dilation, lead, H: int, W: int) -> np.ndarray:
    """Reference: apply the circular convolution (F.pad circular + F.conv2d) to basis images."""
    C_in, kh, kw = w.shape[1:]
    th, tw = dilation * (kh - 1), dilation * (kw - 1)
    n = C_in * H * W
    basis = torch.eye(n, dtype=torch.float64).reshape(n, C_in, H, W)
    xp = F.pad(basis, (lead, tw - lead, lead, th - lead), mode="circular")
    y = F.conv2d(xp, w.double(), stride=stride, dilation=dilation)  # (n, C_out, H', W')
    return y.reshape(n, -1).T.numpy()  # (C_out*H'*W', n)


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "stride", "dil", "H"),
    [
        (2, 3, 3, 1, 1, 6),
        (2, 3, 3, 2, 1, 6),
        (3, 2, 3, 1, 2, 8),
        (1, 4, 7, 2, 1, 8),
        (3, 2, 3, 2, 1, 7),
    ],
)
def test_operator_singular_values_match_dense_matrix(c_in, c_out, k, stride, dil, H):
    torch.manual_seed(2)
    pad = dil * (k - 1) // 2
    conv = nn.Conv2d(
        c_in,
        c_out,
        k,
        stride=stride,
        dilation=dil,
        padding=pad,
        padding_mode="circular",
        bias=False,
    )
    A = _dense_circular(conv.weight.detach(), stride, dil, pad, H, H)
    with torch.no_grad():  # the layer's own circular forward agrees with the reference
        n = c_in * H * H
        own = conv.double()(torch.eye(n, dtype=torch.float64).reshape(n, c_in, H, H))
    np.testing.assert_allclose(own.reshape(n, -1).T.numpy(), A, atol=1e-14)
    ref = np.linalg.svd(A, compute_uv=False)
    got = conv_operator_singular_values(conv, (H, H))
    assert got.shape == ref.shape and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(conv_operator_matrix(conv, (H, H)).numpy(), A, atol=0)


def test_operator_of_identity_kernel():
    w = torch.zeros(2, 2, 3, 3)
    w[0, 0, 1, 1] = w[1, 1, 1, 1] = 3.0  # 3 * identity (with the centre tap at offset 0, lead 1)
    conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(w)
    np.testing.assert_allclose(conv_operator_singular_values(conv, (5, 4)).numpy(), 3.0, rtol=1e-14)
    with pytest.raises(ValueError, match="groups"):
        conv_operator_singular_values(nn.Conv2d(2, 2, 3, groups=2), (5, 5))


# --------------------------------------------------------------------------------------
# the layer table and null energies
# --------------------------------------------------------------------------------------


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
    A = _dense_circular(conv.weight.detach(), stride, 1, 1, H, H)
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


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_errors_are_clear():
    with pytest.raises(ValueError, match="2-D"):
        layer_spaces(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="2-D"):
        layer_spaces(torch.zeros(5))
    with pytest.raises(ValueError, match="stack"):
        layer_spaces(nn.Conv2d(2, 2, 3), view="taps")
    with pytest.raises(ValueError, match="non-empty"):
        layer_spaces(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="kernels, unfold, taps"):
        weight_matrix(nn.Conv2d(2, 2, 3), view="rows")
    with pytest.raises(ValueError, match="conv_operator_singular_values"):
        weight_matrix(nn.Conv2d(2, 2, 3), view="operator")
    with pytest.raises(ValueError, match=", ".join(TABLE_VIEWS)):
        layer_table(build("fcnn1"), view="taps")
    with pytest.raises(TypeError, match="Conv1d"):
        weight_matrix(nn.Conv1d(2, 2, 3))
    with pytest.raises(ValueError, match="non-finite"):
        layer_spaces(torch.tensor([[1.0, math.inf]]))
    with pytest.raises(ValueError, match="shape"):
        weight_from_matrix(torch.zeros(4, 9), "kernels", (2, 3, 3, 3))


def test_non_finite_weight_names_the_layer():
    model = build("fcnn5")
    with torch.no_grad():
        model[5].weight[3, 7] = math.nan
    with pytest.raises(ValueError, match="'5'.*non-finite"):
        layer_table(model)
    with pytest.raises(ValueError, match="'mylayer'"):
        weight_matrix(model[5], name="mylayer")
    with pytest.raises(ValueError, match="inputs holds NaN"):
        layer_table(build("fcnn1"), torch.full((2, 1, 28, 28), math.nan))


# --------------------------------------------------------------------------------------
# properties over random shapes and ranks
# --------------------------------------------------------------------------------------

_fast = settings(max_examples=40, deadline=None)


@_fast
@given(m=st.integers(1, 10), n=st.integers(1, 10), data=st.data())
def test_property_rank_bases_and_residual(m, n, data):
    r = data.draw(st.integers(0, min(m, n)), label="rank")
    seed = data.draw(st.integers(0, 2**31), label="seed")
    A = _exact_rank(m, n, r, seed)
    s = layer_spaces(torch.from_numpy(A))
    assert s.rank == r
    assert s.row_basis.shape == (n, r) and s.null_basis.shape == (n, n - r)
    assert s.column_basis.shape == (m, r) and s.left_null_basis.shape == (m, m - r)
    scale = max(1.0, float(s.S[0]))
    np.testing.assert_allclose((s.U * s.S) @ s.Vh, A, atol=1e-12 * scale)
    np.testing.assert_allclose(s.S.numpy(), np.linalg.svd(A, compute_uv=False), atol=1e-12 * scale)
    for Q in (s.row_basis, s.null_basis, s.column_basis, s.left_null_basis):
        assert _orthonormal(Q, 1e-10)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((3, n)))
    res = null_residual(s, x)
    assert np.abs(A @ res.numpy().T).max() <= 1e-10 * scale * max(1.0, float(x.abs().max()))
    np.testing.assert_allclose(null_residual(s, res).numpy(), res.numpy(), atol=1e-11)


@_fast
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    dil=st.integers(1, 2),
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**31),
)
def test_property_operator_and_views(c_in, c_out, k, stride, dil, extra, seed):
    H = max(dil * (k - 1), 1) + extra  # F.pad circular needs padding <= size
    w = _rand((c_out, c_in, k, k), seed=seed)
    for view in VIEWS:
        assert torch.equal(weight_from_matrix(weight_matrix(w, view), view, w.shape), w)
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, dilation=dil, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(w)
    A = _dense_circular(w, stride, dil, 0, H, H)
    ref = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(conv_operator_singular_values(conv, (H, H)).numpy(), ref, atol=1e-11)
