"""Small synthetic problems shared by the tests of nnspaces.ideal: random 6×6 images, a
one-layer and a two-layer network, and one run of the grid on them."""

from __future__ import annotations

import functools

import torch
from torch import nn

from nnspaces.ideal import run_grid


def _data(n=100, side=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, side, side, generator=g)
    y = torch.arange(n) % 10
    return X, y


def _nets(side=6):
    torch.manual_seed(0)
    one = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 10), nn.SELU())
    two = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 16), nn.SELU(), nn.Linear(16, 10))
    return {"one": one, "two": two}


@functools.cache
def grid_run():
    """:func:`run_grid` of both networks, once per session (the tests only read it)."""
    X, y = _data()
    opts = {"gradient": {"max_iter": 20}, "gauss-newton": {"max_iter": 20}}
    df, results = run_grid(_nets(), X, y, box=(0, 1), method_options=opts)
    return df, results
