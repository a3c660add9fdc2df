"""Tests of nnspaces.inverse.first_order: paper-sgd against a hand-written copy of the released
loop; gradient keeps its best iterate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import layer
from torch import nn

from nnspaces.inverse import invert


def test_paper_sgd_is_the_released_loop():
    f = layer(seed=9)
    g = torch.Generator().manual_seed(3)
    r = torch.rand(1, 28, 28, generator=g)
    t = torch.tensor([3.0] + [-1.0] * 9)
    res = invert(f, t, r, "paper-sgd")
    # the released procedure, written out independently (target shaped like the output)
    z = r.clone().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=1e-4)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = nn.MSELoss()(f(z[None]), t[None])
        losses.append(loss.item())
        loss.backward()
        opt.step()
    assert torch.allclose(res.image, z.detach(), atol=1e-7)
    assert np.allclose(res.history[:100], losses, rtol=1e-6)
    h = np.array(res.history)
    assert len(h) == 101 and res.iterations == 100
    assert np.all(np.diff(h) <= 0)  # monotone
    assert 0 < (h[0] - h[-1]) / h[0] < 0.2  # and small, as in the released log


def test_paper_sgd_never_clips_and_refuses_a_box():
    f = layer(seed=9)
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(3)) + 1.0  # in [1, 2)
    t = torch.tensor([3.0] + [-1.0] * 9)
    res = invert(f, t, r, "paper-sgd")
    assert res.outside_box == int(((res.image < 0) | (res.image > 1)).sum()) > 700
    with pytest.raises(ValueError, match="never clips: call it with box=None"):
        invert(f, t, r, "paper-sgd", box=(0, 1))


def test_gradient_beats_paper_sgd_and_keeps_best():
    f = layer(seed=9)
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([3.0] + [-1.0] * 9)
    paper = invert(f, t, r, "paper-sgd")
    res = invert(f, t, r, "gradient", max_iter=200)
    assert res.rel_error < paper.rel_error / 10
    # the best iterate is kept: the result's loss is the least in the history
    assert float(((res.output - t) ** 2).mean()) == pytest.approx(min(res.history), rel=1e-5)
    sgd = invert(f, t, r, "gradient", optimizer="sgd", max_iter=50)
    assert sgd.rel_error < paper.rel_error
    boxed = invert(f, t, r, "gradient", max_iter=50, box=(0, 1))
    assert boxed.outside_box == 0 and boxed.feasible is (boxed.rel_error <= 1e-6)
