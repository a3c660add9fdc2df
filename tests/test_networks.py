"""nnspaces.networks: the networks a profile trains, as its chapters declare them, and the
training stage (real training of tiny networks in a private cache)."""

from __future__ import annotations

import dataclasses

import pytest

from nnspaces import models, networks, profiles
from nnspaces.train import TrainConfig, train_or_load


def _ids(cfgs):
    return {networks.network_id(c) for c in cfgs}


def test_default_profile_lists_three_networks_per_seed_and_data_set():
    ids = _ids(networks.configs("default"))
    seeds = profiles.profile("default")["recipe"]["seeds"]
    digits = {f"{m}-mnist-5k-s{s}" for m in models.MODEL_NAMES for s in seeds}
    clothes = {f"{m}-fashion-mnist-s0-n3500" for m in models.MODEL_NAMES}
    assert ids == digits | clothes


def test_each_chapter_loads_the_networks_it_declares():
    by_out = {c.output: c for c in profiles.chapters()}
    seeds = profiles.chapter_configs(by_out["08_seeds"], "smoke")
    assert {c.seed for c in seeds} == set(profiles.profile("smoke")["recipe"]["seeds"])
    ideal = profiles.chapter_configs(by_out["05_ideal_inputs"], "smoke")
    assert [c.model for c in ideal] == ["fcnn1"]  # the smoke profile's own `profile_networks`
    fashion = profiles.chapter_configs(by_out["07_fashion"], "default")
    assert {(c.dataset, c.n_train, c.n_val) for c in fashion} == {
        ("mnist-5k", None, None),
        ("fashion-mnist", 3500, 500),
    }
    assert profiles.chapter_configs(by_out["92_performance"], "default") == []
    for bad in ({"models": ["vgg"]}, {"models": []}, {"models": ["fcnn1"], "data": ["svhn"]}):
        c = profiles.Chapter("01_models", "x", networks=bad)
        with pytest.raises(profiles.ProfileError, match="'models' lists some of fcnn1"):
            profiles.chapter_configs(c, "default")


def test_longest_first_and_ids_select():
    cfgs = networks.configs("default")
    est = [networks.estimated_seconds(c) for c in cfgs]
    assert est == sorted(est, reverse=True) and cfgs[0].model == "resnet18"
    picked = networks.select(cfgs, ["fcnn1-mnist-5k-s3"])
    assert picked[0].model == "fcnn1" and picked[0].seed == 3
    with pytest.raises(ValueError, match=r"unknown network\(s\) \['nope'\]: choose from"):
        networks.select(cfgs, ["nope"])
    with pytest.raises(profiles.ProfileError, match="unknown profile 'tiny'"):
        networks.configs("tiny")


def test_train_all_trains_what_is_missing_then_reports_cache_hits(cache_dir):
    cfgs = [
        TrainConfig("fcnn1", epochs=1, n_train=60, n_val=20, seed=s, device="cpu") for s in (0, 1)
    ]
    lines = []
    first = networks.train_all(cfgs, jobs=2, log=lines.append, bars=False)
    assert set(first) == _ids(cfgs) and all(v is not None and v > 0 for v in first.values())
    assert all(networks.is_cached(c) for c in cfgs)
    # what the stage trained is exactly what a chapter's call then loads
    kw = {k: v for k, v in dataclasses.asdict(cfgs[1]).items() if k != "model"}
    _, report = train_or_load("fcnn1", **kw)
    assert report["cached"] and report["path"] == str(networks.checkpoint_path(cfgs[1]))
    lines.clear()
    again = networks.train_all(cfgs, jobs=2, log=lines.append, bars=False)
    assert again == {i: None for i in _ids(cfgs)}
    assert sum("cached" in line for line in lines) == 2
