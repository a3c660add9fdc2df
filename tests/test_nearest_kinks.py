"""Tests of nnspaces.nearest.kinks: pre-activations, kink gradients and the Lagrangian's
curvature against autograd."""

from __future__ import annotations

import math

import torch
from nearest_problems import SHAPE, _net
from torch import nn

from nnspaces import nearest
from nnspaces.certificate import kappa
from nnspaces.inverse.gauss_newton import _chain_jacobian, _selu_chain
from nnspaces.nearest.kinks import _curvature, _local


def test_kink_gradients_and_preactivations_match_autograd():
    f = _net(seed=10)
    chain = _selu_chain(f)
    x = torch.randn(*SHAPE, dtype=torch.float64)
    lin = [m for m in f if isinstance(m, nn.Linear)]

    def hidden(z):  # the hidden pre-activations, by the network's own modules
        h, us = z.reshape(1, -1), []
        for m in f[1:]:
            h = m(h)
            if isinstance(m, nn.Linear) and m is not lin[-1]:
                us.append(h[0])
        return torch.cat(us)

    us = nearest.preactivations(chain, x)
    assert [len(u) for u in us] == [20, 12]
    assert torch.allclose(torch.cat(us), hidden(x), atol=1e-12)
    G = nearest.kink_gradients(chain, x, tol=math.inf)  # every hidden unit
    Jh = torch.autograd.functional.jacobian(hidden, x).reshape(32, -1)
    assert torch.allclose(G, Jh, atol=1e-12)
    sel = torch.cat(us).abs() <= 0.3
    assert torch.allclose(nearest.kink_gradients(chain, x, tol=0.3), Jh[sel], atol=1e-12)


def test_kappa_kinks_is_kappa_with_the_kink_rows():
    f = _net(seed=11)
    chain = _selu_chain(f)
    x, r = torch.randn(2, *SHAPE, dtype=torch.float64)
    J = _chain_jacobian(chain, x)[1]
    G = nearest.kink_gradients(chain, x, tol=0.5)
    assert len(G) > 0
    assert kappa(J, x, r, extra=G) <= kappa(J, x, r)


def test_curvature_is_the_hessian_of_the_lagrangian_by_autograd():
    f = _net(seed=13)
    chain = _selu_chain(f)
    x = torch.randn(*SHAPE, dtype=torch.float64)
    lam = torch.randn(3, dtype=torch.float64)
    loc = _local(chain, x, tol=0.4)  # a few "kinks", to exercise ν
    nu = torch.randn(len(loc.kink_values), dtype=torch.float64)
    assert len(nu) > 0
    us0 = nearest.preactivations(chain, x)
    mask = torch.cat(us0).abs() <= 0.4

    def phi(z):  # λᵀf(z) + νᵀu_A(z), by the network's own modules
        hidden = torch.cat(nearest.preactivations(chain, z))
        return lam @ f(z[None])[0] + nu @ hidden[mask]

    H_ref = torch.autograd.functional.hessian(phi, x).reshape(30, 30)
    G, w = _curvature(chain, loc, lam, nu)
    assert torch.allclose(G.T @ (w[:, None] * G), H_ref, atol=1e-10)
