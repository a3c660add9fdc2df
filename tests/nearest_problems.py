"""Small problems shared by the tests of nnspaces.nearest: Linear/SELU stacks on 30-pixel
images, targets they reach, references, and one refinement of three such problems."""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from nnspaces import nearest

SHAPE = (1, 5, 6)  # 30 pixels


def _net(seed=0, hidden=(20, 12), K=3, act=nn.SELU):
    torch.manual_seed(seed)
    layers, n = [nn.Flatten()], math.prod(SHAPE)
    for m in hidden:
        layers += [nn.Linear(n, m), act()]
        n = m
    return nn.Sequential(*layers, nn.Linear(n, K)).double()


def _problems(f, B=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        T = f(2 * torch.randn(B, *SHAPE, generator=gen, dtype=torch.float64))
    R = torch.randn(B, *SHAPE, generator=gen, dtype=torch.float64)
    return T, R


@functools.cache
def small_run_data():
    """Gauss–Newton then :func:`nearest.refine` on three problems, once per session (the tests
    only read it)."""
    torch.set_num_threads(1)
    f = _net()
    T, R = _problems(f)
    gn, ref = nearest.nearest_preimage(f, T, R, target_classes=T.argmax(1).tolist())
    return f, T, R, gn, ref
