"""Tests of nnspaces.nearest.result: a NearestResult is an InverseResult."""

from __future__ import annotations

from nearest_problems import _net, _problems

from nnspaces import inverse, nearest


def test_result_is_an_inverse_result():
    f = _net(seed=8, hidden=(8,))
    T, R = _problems(f, B=1, seed=9)
    (r,) = nearest.refine(f, T, R, R, target_classes=[0], max_iter=5)
    assert isinstance(r, inverse.InverseResult) and r.method == "nearest"
