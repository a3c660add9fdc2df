"""Tests of nnspaces.spaces.svd against NumPy and SciPy: the SVD, the four subspaces, the rank rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import exact_rank, orthonormal, rand
from torch import nn

from nnspaces import certificate
from nnspaces.spaces import default_rtol, layer_spaces, null_residual, rank_cutoff

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(10, 784), (49, 7), (12, 12)])
def test_svd_reconstructs_and_matches_numpy(dtype, shape):
    A = rand(shape, seed=1, dtype=dtype)
    s = layer_spaces(A)
    A64 = A.double()
    assert s.U.dtype == s.S.dtype == s.Vh.dtype == torch.float64
    k = min(shape)
    assert s.U.shape == (shape[0], k) and s.S.shape == (k,) and s.Vh.shape == (k, shape[1])
    assert torch.allclose(s.U @ torch.diag(s.S) @ s.Vh, A64, atol=1e-12 * float(s.S[0]))
    # float32 input: the SVD is of the exact float64 copy, so numpy's float64 SVD agrees to 1e-12
    ref = np.linalg.svd(A64.numpy(), compute_uv=False)
    np.testing.assert_allclose(s.S.numpy(), ref, rtol=1e-12, atol=1e-12 * ref[0])
    assert orthonormal(s.U) and orthonormal(s.Vh.T)
    assert s.rank == k == np.linalg.matrix_rank(A64.numpy())


def test_bases_of_the_four_subspaces_against_scipy():
    A = exact_rank(7, 11, 4, seed=2)
    s = layer_spaces(torch.from_numpy(A))
    assert s.rank == 4 and s.null_dim == 7
    Vr, N, Ur, L = s.row_basis, s.null_basis, s.column_basis, s.left_null_basis
    assert (Vr.shape, N.shape, Ur.shape, L.shape) == ((11, 4), (11, 7), (7, 4), (7, 3))
    for Q in (Vr, N, Ur, L):
        assert orthonormal(Q)
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
    W = rand((10, 784), seed=4)  # the paper's 1-layer shape: sigma_1 / sigma_10
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
    A = rand((6, 15), seed=5)
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


_fast = settings(max_examples=40, deadline=None)


@_fast
@given(m=st.integers(1, 10), n=st.integers(1, 10), data=st.data())
def test_property_rank_bases_and_residual(m, n, data):
    r = data.draw(st.integers(0, min(m, n)), label="rank")
    seed = data.draw(st.integers(0, 2**31), label="seed")
    A = exact_rank(m, n, r, seed)
    s = layer_spaces(torch.from_numpy(A))
    assert s.rank == r
    assert s.row_basis.shape == (n, r) and s.null_basis.shape == (n, n - r)
    assert s.column_basis.shape == (m, r) and s.left_null_basis.shape == (m, m - r)
    scale = max(1.0, float(s.S[0]))
    np.testing.assert_allclose((s.U * s.S) @ s.Vh, A, atol=1e-12 * scale)
    np.testing.assert_allclose(s.S.numpy(), np.linalg.svd(A, compute_uv=False), atol=1e-12 * scale)
    for Q in (s.row_basis, s.null_basis, s.column_basis, s.left_null_basis):
        assert orthonormal(Q, 1e-10)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((3, n)))
    res = null_residual(s, x)
    assert np.abs(A @ res.numpy().T).max() <= 1e-10 * scale * max(1.0, float(x.abs().max()))
    np.testing.assert_allclose(null_residual(s, res).numpy(), res.numpy(), atol=1e-11)


def test_one_rank_rule():
    S = torch.tensor([3.0, 1e-12, 0.0], dtype=torch.float64)
    assert rank_cutoff(S, (3, 50)) == 50 * np.finfo(np.float64).eps * 3.0  # NumPy's rule
    assert rank_cutoff(S.float(), (3, 50)) == 50 * np.finfo(np.float32).eps * 3.0
    assert rank_cutoff(S, (3, 50), rtol=0.1) == pytest.approx(0.3)
    assert rank_cutoff(S[:0], (0, 5)) == 0.0
    assert default_rtol((4, 9)) == 9 * np.finfo(np.float64).eps
    assert certificate.rank_cutoff is rank_cutoff  # the certificates use the same rule
    A = exact_rank(8, 20, 5, seed=1)
    sp = layer_spaces(torch.from_numpy(A))
    assert sp.tol == rank_cutoff(sp.S, (8, 20)) and sp.rank == np.linalg.matrix_rank(A) == 5


def test_svd_errors_are_clear():
    with pytest.raises(ValueError, match="2-D"):
        layer_spaces(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="2-D"):
        layer_spaces(torch.zeros(5))
    with pytest.raises(ValueError, match="stack"):
        layer_spaces(nn.Conv2d(2, 2, 3), view="taps")
    with pytest.raises(ValueError, match="non-empty"):
        layer_spaces(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="non-finite"):
        layer_spaces(torch.tensor([[1.0, math.inf]]))
