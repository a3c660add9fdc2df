"""Tests of nnspaces.spaces.residuals against np.linalg.pinv and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference import exact_rank, rand

from nnspaces.spaces import (
    class_average_residuals,
    layer_spaces,
    null_residual,
    row_null_split,
    row_projection_residual,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_null_residual_against_pinv_orthogonal_and_idempotent(dtype):
    A = torch.from_numpy(exact_rank(10, 49, 6, seed=6))
    s = layer_spaces(A)
    x = rand((5, 1, 7, 7), seed=7, dtype=dtype)
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
    s = layer_spaces(rand((3, 8), seed=8))
    assert null_residual(s, rand((8,), seed=9)).shape == (8,)
    assert null_residual(s, rand((4, 8), seed=9)).shape == (4, 8)
    assert null_residual(s, rand((4, 2, 2, 2), seed=9)).shape == (4, 2, 2, 2)
    # a matrix in place of spaces works too
    x = rand((8,), seed=10)
    assert torch.allclose(null_residual(s.matrix, x), null_residual(s, x), atol=1e-14)
    for bad in [rand((7,)), rand((4, 7)), rand((4, 1, 3, 3))]:
        with pytest.raises(ValueError, match="n = 8"):
            null_residual(s, bad)
    with pytest.raises(ValueError, match="NaN"):
        null_residual(s, torch.full((8,), math.nan))


def test_row_projection_residual_is_the_released_formula():
    W = rand((4, 9), seed=11)
    x = rand((3, 9), seed=12, dtype=torch.float32)
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
    W = rand((4, 9), seed=13)
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
        class_average_residuals(rand((6, 9)), X, y, n_classes=6)
    with pytest.raises(ValueError, match="labels"):
        class_average_residuals(W, X, y[:-1])
