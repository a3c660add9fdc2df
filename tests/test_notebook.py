"""nnspaces.notebook: a notebook's parameters → its data and its trained networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnspaces import data, notebook, params, train


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
