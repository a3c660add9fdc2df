"""A small BatchNorm network and data shared by the tests of nnspaces.released.

The network ``_net`` has one BatchNorm layer on 4×4 maps and one on 1×1 maps after global
pooling — like ResNet18's ``layer4`` on 28×28 digits — so that a batch of identical copies in
training mode makes the last one see a batch variance of exactly zero.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnspaces import released


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: a second thread only contends (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _net(dtype=torch.float32, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Conv2d(4, 6, 1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6, 3),
    )
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # trained-looking affine maps and running statistics
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-1.0, 1.0)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.to(dtype).eval()


def _data(n: int = 60, K: int = 3, dtype=torch.float32, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, 8, 8, generator=g, dtype=dtype)
    return X, torch.arange(n) % K


def _bn_batch(h: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """Training-mode batch norm written out: statistics over (N, H, W), biased variance."""
    mean = h.mean((0, 2, 3), keepdim=True)
    var = ((h - mean) ** 2).mean((0, 2, 3), keepdim=True)
    w, b = bn.weight[None, :, None, None], bn.bias[None, :, None, None]
    return (h - mean) / torch.sqrt(var + bn.eps) * w + b


def _manual_train_forward(net: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """An independent forward pass of ``_net`` in training mode on one batch ``X``."""
    conv1, bn1, _, _, conv2, bn2, _, _, lin = net
    h = F.conv2d(X, conv1.weight, conv1.bias, stride=2, padding=1)
    h = torch.relu(_bn_batch(h, bn1)).mean((2, 3), keepdim=True)  # global average pooling
    h = torch.relu(_bn_batch(F.conv2d(h, conv2.weight, conv2.bias), bn2))
    return h.flatten(1) @ lin.weight.T + lin.bias


def _snapshot(model: nn.Module) -> dict:
    return {
        "modes": [m.training for m in model.modules()],
        "grad_flags": [p.requires_grad for p in model.parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [p.grad for p in model.parameters()],
    }


def _assert_unchanged(model: nn.Module, snap: dict) -> None:
    after = _snapshot(model)
    assert after["modes"] == snap["modes"]
    assert after["grad_flags"] == snap["grad_flags"]
    assert all(g is None for g in after["grads"])
    for k, v in snap["state"].items():
        assert torch.equal(after["state"][k], v), k  # parameters and BN buffers, bit for bit


@functools.cache
def reenacted_run():
    """:func:`released.reenact` on the float64 network, once per session (the tests only read
    it): the network, its data, a snapshot of its state before, and the report."""
    net, (X, y) = _net(torch.float64), _data(60, dtype=torch.float64)
    Xt, yt = _data(30, dtype=torch.float64, seed=7)
    snap = _snapshot(net)
    rep = released.reenact(net, X, y, X_test=Xt, y_test=yt)
    return net, X, y, snap, rep
