"""Tests of nnspaces.inverse.targets against NumPy (percentiles, sorting, class means)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import layer

from nnspaces.inverse import class_targets, start_image


def _toy(n=60, K=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, K, generator=g, dtype=torch.float64)
    y = torch.arange(n) % K
    return Z, y


def test_class_targets_against_numpy():
    Z, y = _toy()
    z, yn = Z.numpy(), y.numpy()
    T = class_targets(None, None, y, "minmax", Z=Z).numpy()
    P = class_targets(None, None, y, "percentile", Z=Z).numpy()
    M = class_targets(None, None, y, "class-mean", Z=Z).numpy()
    To = class_targets(None, None, y, "minmax-per-output", Z=Z).numpy()
    Po = class_targets(None, None, y, "percentile-per-output", Z=Z).numpy()
    for c in range(4):
        for j in range(4):
            if j == c:
                assert T[c, c] == z[:, c].max() and To[c, c] == z[:, c].max()
                assert np.isclose(P[c, c], np.percentile(z[:, c], 75))
                assert np.isclose(Po[c, c], np.percentile(z[:, c], 75))
            else:  # released: the minimum of output c everywhere; ours: of output j
                assert T[c, j] == z[:, c].min() and To[c, j] == z[:, j].min()
                assert np.isclose(P[c, j], np.percentile(z[:, c], 25))
                assert np.isclose(Po[c, j], np.percentile(z[:, j], 25))
        assert np.allclose(M[c], z[yn == c].mean(0))


def test_class_targets_from_model_and_errors():
    f = layer(n=16, m=4)
    X = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 4
    with torch.no_grad():
        Z = f(X)
    assert torch.allclose(class_targets(f, X, y, "minmax"), class_targets(None, None, y, Z=Z))
    with pytest.raises(ValueError, match="unknown target kind"):
        class_targets(f, X, y, "max")
    with pytest.raises(ValueError, match=r"no images of class\(es\) \[3\]"):
        class_targets(None, None, y % 3, "class-mean", Z=Z)


def test_start_images_against_numpy():
    f = layer(n=16, m=4)
    X = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 4
    t = torch.tensor([1.0, -0.5, -0.5, -0.5])
    Xn, c = X.numpy(), 0
    Xc = Xn[y.numpy() == c]
    with torch.no_grad():
        mse = ((f(X[y == c]) - t) ** 2).mean(1).numpy()
    order = np.argsort(mse, kind="stable")
    assert np.allclose(start_image("avg", X, y, c).numpy(), Xc.mean(0))
    assert np.array_equal(start_image("min", X, y, c, model=f, target=t).numpy(), Xc[order[0]])
    am = start_image("avg-min", X, y, c, model=f, target=t, frac=0.3).numpy()
    assert np.allclose(am, Xc[order[:3]].mean(0))
    n1 = start_image("noise", X, y, c, seed=5) - start_image("avg", X, y, c)
    n2 = start_image("noise", X, y, c, seed=5) - start_image("avg", X, y, c)
    assert torch.equal(n1, n2) and n1.min() >= 0 and n1.max() < 1
    assert not torch.equal(n1, start_image("noise", X, y, c, seed=6) - start_image("avg", X, y, c))
    with pytest.raises(ValueError, match="unknown start kind"):
        start_image("mean", X, y, c)
