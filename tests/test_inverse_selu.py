"""Tests of nnspaces.inverse.selu: torch's constants, σ⁻¹ against a NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import LAM_ALPHA, np_selu_inv
from torch import nn

from nnspaces.inverse import SELU_ALPHA, SELU_FLOOR, SELU_LAMBDA, selu_inverse
from nnspaces.inverse.selu import selu_slope


def test_constants_are_the_references():
    import reference

    assert (SELU_LAMBDA, SELU_ALPHA) == (reference.LAMBDA, reference.ALPHA)
    assert SELU_FLOOR == -LAM_ALPHA


def test_selu_slope_matches_autograd():
    u = torch.linspace(-6, 6, 1201, dtype=torch.float64).requires_grad_(True)
    (g,) = torch.autograd.grad(torch.selu(u).sum(), u)
    assert torch.allclose(selu_slope(u.detach()), g, rtol=1e-14, atol=0)


def test_selu_constants_are_torchs():
    one = torch.tensor([1.0], dtype=torch.float64)
    assert float(torch.selu(one)) == SELU_LAMBDA
    far = torch.tensor([-60.0], dtype=torch.float64)
    assert abs(float(torch.selu(far)) + LAM_ALPHA) < 1e-15
    assert float(nn.SELU()(one)) == SELU_LAMBDA


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_selu_inverse_round_trip(dtype, tol):
    u = torch.linspace(-5, 20, 2001, dtype=dtype)
    back = selu_inverse(torch.selu(u))
    assert back.dtype == dtype
    assert torch.allclose(back, u, atol=tol, rtol=tol)
    a = torch.linspace(-1.7, 30, 500, dtype=torch.float64)
    assert torch.allclose(torch.selu(selu_inverse(a)), a, atol=1e-12)
    assert np.allclose(selu_inverse(a).numpy(), np_selu_inv(a.numpy()), atol=1e-13)


def test_selu_inverse_errors():
    with pytest.raises(ValueError, match=r"2 value\(s\) at or below.*smallest -3"):
        selu_inverse(torch.tensor([0.0, -LAM_ALPHA, -3.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        selu_inverse(torch.tensor([0.0, float("nan")]))
