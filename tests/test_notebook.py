"""nnspaces.notebook: a notebook's parameters → its data and its trained networks; the core's
heavy results memoised on disk."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from nearest_problems import _net, _problems
from torch import nn

from nnspaces import data, nearest, notebook, params, spaces, train


def test_load_splits_takes_the_defaults_and_cuts_stratified_subsets(mnist5k):
    whole = notebook.load_splits({})
    assert whole.name == train.TrainConfig.dataset == "mnist-5k"
    assert whole.sizes == mnist5k.sizes
    sub = notebook.load_splits({"dataset": "mnist-5k", "n_train": 200, "n_val": 100})
    assert sub.sizes == {"train": 200, "val": 100, "test": mnist5k.sizes["test"]}
    assert np.bincount(sub.y_train.numpy()).tolist() == [20] * 10
    # the same subset as data.subsample with seed 0: what train_or_load trains on
    ref = data.subsample(mnist5k, 200, 100, seed=0)
    assert torch.equal(sub.X_train, ref.X_train) and torch.equal(sub.y_val, ref.y_val)


def test_trained_models_trains_with_the_parameters_and_then_loads(cache_dir):
    P = dict(params.TRAIN_DEFAULTS, n_train=100, n_val=50, epochs=1, seed=2, device="cpu")
    splits, nets, reports = notebook.trained_models(P, ["fcnn1"], progress=False)
    assert list(nets) == ["fcnn1"] and not nets["fcnn1"].training
    r = reports["fcnn1"]
    assert not r["cached"] and r["config"]["seed"] == 2 and r["config"]["epochs"] == 1
    assert r["dataset"]["sizes"]["train"] == 100 == splits.sizes["train"]
    # the same network as a direct call with the same recipe (an independent reference)
    ref, _ = train.train_or_load("fcnn1", n_train=100, n_val=50, epochs=1, seed=2, progress=False)
    assert torch.equal(ref[1].weight, nets["fcnn1"][1].weight)
    _, _, again = notebook.trained_models({**P, "models": ["fcnn1"]}, progress=False)
    assert again["fcnn1"]["cached"]


def test_trained_models_refuses_a_bad_recipe_by_name(cache_dir):
    with pytest.raises(params.ParameterError, match="'lr'"):
        notebook.trained_models({"lr": -1.0}, ["fcnn1"], progress=False)


def test_null_energy_by_layer_is_the_cores_and_is_read_back_bit_identical(cache_dir, monkeypatch):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 5), nn.ReLU(), nn.Linear(5, 3))
    X, y = torch.rand(12, 1, 4, 4), torch.arange(12) % 3
    first = notebook.null_energy_by_layer(model, X, y)
    pd.testing.assert_frame_equal(first, spaces.null_energy_by_layer(model, X, y), check_exact=True)
    assert list((cache_dir / "results" / "null-energy").glob("*.pt"))

    def fail(*args):
        raise AssertionError("recomputed although the same inputs were memoised")

    monkeypatch.setattr(spaces, "null_energy_fractions", fail)
    pd.testing.assert_frame_equal(
        notebook.null_energy_by_layer(model, X, y), first, check_exact=True
    )
    with pytest.raises(AssertionError, match="recomputed"):  # other images: computed again
        notebook.null_energy_by_layer(model, X[:6], y[:6])


def _fields(result) -> dict:
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b or (a != a and b != b)  # NaN


def test_nearest_preimage_is_the_cores_and_is_read_back_bit_identical(cache_dir, monkeypatch):
    f = _net(seed=3)
    T, R = _problems(f, B=2, seed=4)
    gn, ref = notebook.nearest_preimage(f, T, R, max_iter=5)
    gn0, ref0 = nearest.nearest_preimage(f, T, R, max_iter=5)
    monkeypatch.setattr(nearest, "nearest_preimage", lambda *a, **k: pytest.fail("computed"))
    gn2, ref2 = notebook.nearest_preimage(f, T, R, max_iter=5)
    for a, b, c in zip(gn + ref, gn2 + ref2, gn0 + ref0, strict=True):
        assert type(a) is type(b) is type(c)
        for name, u in _fields(a).items():
            if name != "seconds":
                assert _same(u, getattr(b, name)) and _same(u, getattr(c, name)), name
