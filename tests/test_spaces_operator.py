"""Tests of nnspaces.spaces.operator against the dense circular convolution applied to basis images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import dense_circular, rand
from torch import nn

from nnspaces.spaces import (
    VIEWS,
    conv_operator_matrix,
    conv_operator_singular_values,
    weight_from_matrix,
    weight_matrix,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # LAPACK on a small shared machine


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
    A = dense_circular(conv.weight.detach(), stride, dil, pad, H, H)
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


_fast = settings(max_examples=40, deadline=None)


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
    w = rand((c_out, c_in, k, k), seed=seed)
    for view in VIEWS:
        assert torch.equal(weight_from_matrix(weight_matrix(w, view), view, w.shape), w)
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, dilation=dil, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(w)
    A = dense_circular(w, stride, dil, 0, H, H)
    ref = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(conv_operator_singular_values(conv, (H, H)).numpy(), ref, atol=1e-11)
