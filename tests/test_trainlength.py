"""Training length: step counts, the curve against independent training and SVD, its cache."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnspaces import data, models, paper, train, trainlength

N_TRAIN = 300  # 10 batches of 32 per epoch (the last one short)


@pytest.fixture(scope="module")
def small(mnist5k):
    return data.subsample(mnist5k, N_TRAIN)


def _trained(small, name: str, n_steps: int) -> nn.Module:
    """The recipe written out again: seeded build, seeded DataLoader, SGD, ``n_steps`` steps."""
    torch.manual_seed(0)
    net = models.build(name)
    loader = DataLoader(
        TensorDataset(small.X_train, small.y_train),
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    step = 0
    while step < n_steps:
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(xb), yb).backward()
            opt.step()
            step += 1
            if step == n_steps:
                break
    return net.eval()


def test_step_counts():
    assert trainlength.PAPER_STEPS == 31_260 == -(-paper.TRAIN_IMAGES // 32) * 20
    assert trainlength.steps_for(3500) == 2200 and trainlength.steps_for(300, 32, 1) == 10
    with pytest.raises(ValueError, match="batch_size"):
        trainlength.steps_for(100, 0)
    s = trainlength.record_steps(trainlength.PAPER_STEPS, include=[2200, 10**6])
    assert s[0] == 1 and s[-1] == 31_260 and 2200 in s and 10**6 not in s
    assert np.all(np.diff(s) > 0) and 25 <= len(s) <= 31
    ratios = s[1:] / s[:-1]  # log-spaced: the ratio of neighbours stays bounded
    assert ratios[-10:].max() < 1.6


def test_curve_against_independent_training_and_svd(small, cache_dir):
    curve, info = trainlength.training_curve("fcnn1", small, max_steps=14, steps=[1, 5, 10, 14])
    assert list(curve.columns) == list(trainlength.COLUMNS)
    assert curve["step"].tolist() == [1, 5, 10, 14] and not info["cached"]
    assert curve["epoch"].tolist() == pytest.approx([0.1, 0.5, 1.0, 1.4])
    assert info["layer"] == "1 (10×784)"
    net = _trained(small, "fcnn1", 5)
    W = net[1].weight.detach().double().numpy()  # (10, 784)
    S = np.linalg.svd(W, compute_uv=False)
    row = trainlength.at_step(curve, 5)
    assert row["condition"] == pytest.approx(S[0] / S[-1], rel=1e-6)
    assert row["sigma_max"] == pytest.approx(S[0], rel=1e-6)
    with torch.no_grad():
        acc = (net(small.X_test).argmax(1) == small.y_test).double().mean().item()
    assert row["test_acc"] == pytest.approx(acc)
    # one epoch is 10 steps: the curve there holds train_or_load's 1-epoch network
    m, _ = train.train_or_load("fcnn1", splits=small, epochs=1, n_train=N_TRAIN, progress=False)
    S = torch.linalg.svdvals(m[1].weight.detach().double())
    assert trainlength.at_step(curve, 10)["condition"] == pytest.approx(float(S[0] / S[-1]))
    pairs = trainlength.same_run_pairs({"fcnn1": curve}, {"fcnn1": m}, 10)
    (a, b) = pairs["fcnn1"]
    assert a == pytest.approx(b, rel=1e-6)
    (a, b) = trainlength.same_run_pairs({"fcnn1": curve}, {"fcnn1": m}, 5)["fcnn1"]
    assert abs(a - b) > 1e-3 * b  # 5 steps are not the 1-epoch network
    assert trainlength.same_run_pairs({"fcnn1": curve}, {"fcnn1": m}, 7) == {}  # not recorded


def test_first_layer_of_the_five_layer_network(small, cache_dir):
    curve, info = trainlength.training_curve("fcnn5", small, max_steps=3)
    assert curve["step"].tolist() == [1, 2, 3] and info["layer"] == "1 (256×784)"
    W = _trained(small, "fcnn5", 3)[1].weight.detach().double()  # (256, 784)
    S = torch.linalg.svdvals(W)
    assert curve["condition"].iloc[-1] == pytest.approx(float(S[0] / S[-1]), rel=1e-6)


def test_cache_round_trip_and_corrupted_files(small, cache_dir):
    kw = dict(max_steps=6, steps=[2, 6])
    curve, info = trainlength.training_curve("fcnn1", small, **kw)
    state = torch.get_rng_state()
    again, info2 = trainlength.training_curve("fcnn1", small, **kw)
    assert info2["cached"] and not info["cached"] and again.equals(curve)
    assert info2["seconds"] == info["seconds"] and torch.equal(torch.get_rng_state(), state)
    (path,) = (cache_dir / "results" / "training-curve").glob("*.pt")
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="cannot be read"):
        fresh, info3 = trainlength.training_curve("fcnn1", small, **kw)
    assert not info3["cached"] and fresh.equals(curve)
    obj = torch.load(path, weights_only=True)
    obj["value"]["columns"]["condition"] = obj["value"]["columns"]["condition"][:1]
    torch.save(obj, path)  # right key, malformed columns
    with pytest.warns(UserWarning, match="not the steps asked for"):
        trainlength.training_curve("fcnn1", small, **kw)
    other, _ = trainlength.training_curve("fcnn1", small, seed=1, **kw)  # another key and file
    assert not other.equals(curve)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trainlength.training_curve("fcnn1", small, **kw)[1]["cached"]


def test_bad_arguments(small, cache_dir):
    with pytest.raises(ValueError, match="max_steps"):
        trainlength.training_curve("fcnn1", small, max_steps=0)
    with pytest.raises(ValueError, match="steps must lie"):
        trainlength.training_curve("fcnn1", small, max_steps=5, steps=[3, 9])
    with pytest.raises(KeyError, match="recorded"):
        trainlength.at_step(pd.DataFrame({"step": [1, 2], "condition": [1.0, 2.0]}), 3)


def test_data_sizes_double_up_to_the_training_set():
    assert trainlength.data_sizes(3500) == (250, 500, 1000, 2000, 3500)
    assert trainlength.data_sizes(2000) == (250, 500, 1000, 2000)
    assert trainlength.data_sizes(300) == (150, 300)
    assert trainlength.data_sizes(100, smallest=30) == (30, 60, 100)
    with pytest.raises(ValueError, match="n_max"):
        trainlength.data_sizes(10)


def test_size_curves_train_each_size_on_its_own_subset(small, cache_dir):
    steps = [4, 8]
    table, info = trainlength.size_curves(
        "fcnn1", small, sizes=[60, N_TRAIN], replicates=2, max_steps=8, steps=steps
    )
    assert list(table.columns) == ["n_train", "replicate", *trainlength.COLUMNS]
    assert len(table) == 2 * 2 * 2 and info["runs"] == 4 and info["cached"] == 0
    # each run is training_curve on the stratified subset with seed r and training seed r
    sub = data.subsample(small, 60, seed=1)
    ref, _ = trainlength.training_curve("fcnn1", sub, 8, steps, seed=1)
    run = table[(table.n_train == 60) & (table.replicate == 1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(run[list(trainlength.COLUMNS)], ref)
    # replicate 0 on the whole set is the chapter's own curve, read back from the cache
    whole, info0 = trainlength.training_curve("fcnn1", small, 8, steps)
    assert info0["cached"]
    run = table[(table.n_train == N_TRAIN) & (table.replicate == 0)].reset_index(drop=True)
    pd.testing.assert_frame_equal(run[list(trainlength.COLUMNS)], whole)
    again, info = trainlength.size_curves(
        "fcnn1", small, sizes=[60, N_TRAIN], replicates=2, max_steps=8, steps=steps
    )
    assert info["cached"] == 4 and again.equals(table)
    with pytest.raises(ValueError, match="sizes must lie"):
        trainlength.size_curves("fcnn1", small, sizes=[N_TRAIN + 1], max_steps=8)
    with pytest.raises(ValueError, match="replicates"):
        trainlength.size_curves("fcnn1", small, replicates=0, max_steps=8)


def test_size_effect_is_the_least_squares_slope_on_log2_n_with_a_t_interval():
    from scipy import stats

    rng = np.random.default_rng(0)
    n = np.repeat([250, 500, 1000, 2000, 3500], 3)
    cond = 6.0 + 0.2 * np.log2(n / 250) + rng.normal(0, 0.05, n.size)
    table = pd.DataFrame({"n_train": n, "step": 99, "condition": cond})
    extra = table.assign(step=5, condition=0.0)  # another step: ignored
    e = trainlength.size_effect(pd.concat([table, extra]), 99)
    slope, _ = np.polyfit(np.log2(n), cond, 1)
    assert e["slope"] == pytest.approx(slope, rel=1e-10)
    resid = cond - np.polyval(np.polyfit(np.log2(n), cond, 1), np.log2(n))
    x = np.log2(n)
    se = np.sqrt(resid @ resid / (n.size - 2) / ((x - x.mean()) ** 2).sum())
    half = stats.t.ppf(0.975, n.size - 2) * se
    assert e["low"] == pytest.approx(slope - half) and e["high"] == pytest.approx(slope + half)
    assert e["low"] > 0 and e["runs"] == 15 and e["doublings"] == pytest.approx(np.log2(14))
    assert set(e["means"]) == {250, 500, 1000, 2000, 3500}
    flat = table.assign(condition=6.0 + rng.normal(0, 0.05, n.size))
    f = trainlength.size_effect(flat, 99)
    assert f["low"] < 0 < f["high"]
    with pytest.raises(KeyError, match="not recorded"):
        trainlength.size_effect(table, 7)
    with pytest.raises(ValueError, match="two sizes"):
        trainlength.size_effect(table[table.n_train == 250], 99)


def test_steps_effect_per_doubling():
    c = pd.DataFrame({"step": [2200, 35200], "condition": [3.0, 7.0]})
    assert trainlength.steps_effect(c, 2200, 35200) == pytest.approx(1.0)  # 4 doublings
    with pytest.raises(ValueError, match="differ"):
        trainlength.steps_effect(c, 2200, 2200)
