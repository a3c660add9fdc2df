"""Tests of nnspaces.inverse.gauss_newton: exact preimages checked by an independent forward
pass, closed-form Jacobians against autograd."""

from __future__ import annotations

import copy

import torch
from reference import mlp, np_forward, rel
from torch import nn

from nnspaces.inverse import invert


def test_gauss_newton_exact_on_3_layer_selu_net():
    f = mlp((64, 32, 16, 5), seed=5)
    g = torch.Generator().manual_seed(2)
    t = torch.tensor(np_forward(f, torch.randn(64, generator=g).numpy()))
    r = torch.rand(1, 8, 8, generator=g)
    res = invert(f, t, r, "gauss-newton")
    assert res.image.shape == r.shape
    assert rel(np_forward(f, res.image.numpy()), t.numpy()) <= 1e-8
    assert res.iterations >= 1 and len(res.history) == res.iterations + 1
    assert res.history[-1] < res.history[0]


def test_gauss_newton_uses_eval_mode_batchnorm():
    torch.manual_seed(0)
    f = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.SELU(), nn.Flatten(), nn.Linear(144, 5)
    )
    with torch.no_grad():
        f[1].running_mean.uniform_(-1, 1)
        f[1].running_var.uniform_(0.5, 2)
    f.train()
    ref = copy.deepcopy(f).double().eval()  # an independent float64 eval-mode copy
    t = ref(torch.rand(1, 1, 8, 8, dtype=torch.float64))[0].detach()
    res = invert(f, t, torch.rand(1, 8, 8), "gauss-newton")
    out = ref(res.image[None].double())[0].detach()
    assert float(torch.linalg.vector_norm(out - t) / torch.linalg.vector_norm(t)) <= 1e-8
    assert f.training  # restored


def test_closed_form_jacobian_matches_autograd():
    from nnspaces.inverse.linalg import chain_jacobian, jacobian, selu_chain

    f = mlp((64, 32, 16, 5), seed=3).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out, J = chain_jacobian(selu_chain(f), x)  # (5,), (5, 64)
    out_ref, J_ref = jacobian(f, x[None], 5)  # (1, 5), (1, 5, 64): autograd, a batch of one
    assert torch.allclose(out, out_ref[0], atol=1e-13)
    assert torch.allclose(J, J_ref[0], atol=1e-12)
    # only plain Flatten/Linear/SELU stacks take the closed form
    assert selu_chain(nn.Sequential(nn.Linear(4, 3), nn.ReLU())) is None
    assert selu_chain(nn.Sequential(nn.Linear(4, 3), nn.Flatten(), nn.Linear(3, 2))) is None
    assert len(selu_chain(nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3))))) == 1
