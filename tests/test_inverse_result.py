"""Tests of nnspaces.inverse.result: every method's results are scored the same way."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from reference import layer, np_forward

from nnspaces.inverse import REACHED_TOL, InverseResult
from nnspaces.inverse.result import build_results


def _batch(seed=0):
    f = layer(n=12, m=4, seed=seed).double()
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(3, 12, generator=g, dtype=torch.float64) * 1.4 - 0.2  # some pixels outside
    R = torch.rand(3, 12, generator=g, dtype=torch.float64)
    T = torch.tensor(np.stack([np_forward(f, x) for x in X.numpy()]))  # reached exactly
    T[2] += 0.5  # … except the last
    return f, X, T, R


def test_results_are_scored_by_an_independent_forward_pass():
    f, X, T, R = _batch()
    start = time.perf_counter()
    res = build_results(
        f,
        X,
        T,
        R,
        [None, 1, None],
        method="m",
        start=start,
        iterations=[0, 1, 2],
        messages=["a", "b", "c"],
    )
    assert [type(r) for r in res] == [InverseResult] * 3
    for i, r in enumerate(res):
        out = np_forward(f, X[i].numpy())
        t = T[i].numpy()
        assert np.allclose(r.output.numpy(), out, atol=1e-13)
        assert math.isclose(r.rel_error, np.linalg.norm(out - t) / np.linalg.norm(t), abs_tol=1e-13)
        c = int(np.argmax(t)) if i != 1 else 1
        assert r.target_class == c and r.predicted == int(np.argmax(out))
        assert math.isclose(r.margin, out[c] - np.delete(out, c).max(), abs_tol=1e-13)
        assert math.isclose(r.distance, np.linalg.norm(X[i].numpy() - R[i].numpy()), rel_tol=1e-13)
        assert r.outside_box == int(((X[i] < 0) | (X[i] > 1)).sum())
        assert (r.iterations, r.message, r.method) == (i, "abc"[i], "m")
        assert r.history == [float(((r.output - r.target) ** 2).mean())]  # no steps: its own loss
        assert r.feasible is None and math.isnan(r.kappa) and r.kkt is None
        assert r.image.device.type == "cpu" and r.image.dtype == torch.float64
    assert len({r.seconds for r in res}) == 1 and 0 < res[0].seconds < time.perf_counter() - start


def test_feasible_from_the_box_or_from_the_method():
    f, X, T, R = _batch(1)
    common = dict(method="m", start=0.0, iterations=[0] * 3, messages=[""] * 3)
    boxed = build_results(f, X, T, R, [None] * 3, box=(0, 1), **common)
    assert [r.feasible for r in boxed] == [r.rel_error <= REACHED_TOL for r in boxed]
    assert [r.feasible for r in boxed] == [True, True, False]
    given = build_results(
        f, X, T, R, [None] * 3, box=(0, 1), feasible=[False, None, True], **common
    )
    assert [r.feasible for r in given] == [False, None, True]
    hist = build_results(f, X, T, R, [None] * 3, histories=[[3.0, 2.0], [1.0], []], **common)
    assert [r.history for r in hist] == [[3.0, 2.0], [1.0], []]
