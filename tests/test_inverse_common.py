"""Tests of nnspaces.inverse.common: the minimum-norm step against np.linalg.pinv, the frozen
model and its work copy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import exact_rank, layer

from nnspaces.inverse import frozen
from nnspaces.inverse.common import work_copy
from nnspaces.inverse.linalg import min_norm_step


@pytest.mark.parametrize(("K", "n", "r"), [(4, 30, 4), (6, 30, 3), (5, 5, 5), (3, 8, 0)])
def test_min_norm_step_is_the_pseudo_inverse(K, n, r):
    J = exact_rank(K, n, r, seed=K + n)
    res = np.random.default_rng(r).normal(size=K)
    d = min_norm_step(torch.tensor(J), torch.tensor(res)).numpy()
    np.testing.assert_allclose(d, np.linalg.pinv(J) @ res, atol=1e-12)
    assert d.shape == (n,)


def test_frozen_restores_modes_and_flags_even_on_error():
    f = layer(n=6, m=3)
    f.train()
    f[1].bias.requires_grad_(False)
    with pytest.raises(RuntimeError, match="inside"):
        with frozen(f) as g:
            assert g is f and not f.training and not f[1].weight.requires_grad
            raise RuntimeError("inside")
    assert f.training and f[1].weight.requires_grad and not f[1].bias.requires_grad


def test_work_copy_only_when_the_dtype_differs():
    f = layer(n=6, m=3)
    assert work_copy(f, torch.float32) is f
    g = work_copy(f, torch.float64)
    assert g is not f and g[1].weight.dtype == torch.float64 and f[1].weight.dtype == torch.float32
    assert torch.equal(g[1].weight.float(), f[1].weight)
