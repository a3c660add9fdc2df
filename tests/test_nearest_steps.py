"""Tests of nnspaces.nearest.steps: the Newton (KKT) step against the pseudo-inverse."""

from __future__ import annotations

import torch

from nnspaces.nearest.steps import kkt_step


def test_kkt_step_without_curvature_is_the_tangent_step():
    J, x, r = (torch.randn(s, dtype=torch.float64) for s in [(3, 30), (30,), (30,)])
    res = torch.randn(3, dtype=torch.float64)
    d = kkt_step(J, x, r, res, J.new_zeros(0, 30), J.new_zeros(0))
    d_ref = torch.linalg.pinv(J) @ res + (torch.eye(30) - torch.linalg.pinv(J) @ J) @ (r - x)
    assert torch.allclose(d, d_ref.to(d), atol=1e-12)
