"""Results at a glance, seed spread, initialisation and data sets (nnspaces.summary)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from nnspaces import models, paper, summary


def test_headline_numbers_against_independent_svd():
    torch.manual_seed(0)
    nets = {"fcnn1": models.build("fcnn1"), "resnet18": models.build("resnet18")}
    reports = {"fcnn1": {"test_acc": 0.5}, "resnet18": {"test_acc": 0.25}}
    n = summary.headline_numbers(nets, reports)
    S = torch.linalg.svdvals(nets["fcnn1"][1].weight.double())
    assert n["cond_fcnn1"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    K = nets["resnet18"].layer1[0].conv1.weight.double().reshape(-1, 9)  # (4096, 9)
    S = torch.linalg.svdvals(K)
    assert n["cond_resnet"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    t = summary.results_table(n)
    assert list(t["paper"]) == [92.0, 99.0, paper.CONDITION_FCNN1, paper.CONDITION_RESNET_LAYER]
    assert t.loc[0, "this book"] == 50.0 and t.loc[0, "verdict"].startswith("lower")


# --- seeds: Student-t intervals ------------------------------------------------------------


def test_t_intervals_against_scipy():
    from scipy import stats

    x = [7.1, 7.4, 6.9, 7.3, 7.0]
    r = summary.t_intervals(x)
    n, m, s = 5, sum(x) / 5, float(torch.tensor(x, dtype=torch.float64).std())
    ci = stats.t.interval(0.95, n - 1, loc=m, scale=s / n**0.5)
    pi = stats.t.interval(0.95, n - 1, loc=m, scale=s * (1 + 1 / n) ** 0.5)
    assert r["n"] == 5 and r["mean"] == pytest.approx(m) and r["std"] == pytest.approx(s)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(ci, rel=1e-12)
    assert (r["pi_low"], r["pi_high"]) == pytest.approx(pi, rel=1e-12)
    r90 = summary.t_intervals(x, level=0.9)
    assert (r90["pi_low"], r90["pi_high"]) == pytest.approx(
        stats.t.interval(0.9, n - 1, loc=m, scale=s * (1 + 1 / n) ** 0.5), rel=1e-12
    )


def test_t_intervals_two_runs_and_one_run():
    from scipy import stats

    r = summary.t_intervals([1.0, 2.0])  # n = 2: one degree of freedom, q = 12.706
    q = stats.t.ppf(0.975, 1)
    assert r["ci_high"] - r["mean"] == pytest.approx(q * 2**-0.5 / 2**0.5)
    assert r["pi_high"] - r["mean"] == pytest.approx(q * 2**-0.5 * 1.5**0.5)
    one = summary.t_intervals([3.0])
    assert one["n"] == 1 and one["mean"] == 3.0
    assert all(math.isnan(one[k]) for k in ("std", "ci_low", "ci_high", "pi_low", "pi_high"))
    for bad, match in (([], "at least one"), ([1.0, float("inf")], "finite")):
        with pytest.raises(ValueError, match=match):
            summary.t_intervals(bad)
    with pytest.raises(ValueError, match="level"):
        summary.t_intervals([1.0, 2.0], level=95)


def test_seed_spread_and_the_paper_comparison_sentence():
    table = pd.DataFrame(
        {"seed": [0, 1, 2], "cond_fcnn1": [7.0, 7.2, 7.4], "acc_fcnn1": [0.80, 0.81, 0.82]}
    )
    spread = summary.seed_spread(table)
    assert spread.loc["cond_fcnn1", "paper"] == paper.CONDITION_FCNN1
    assert spread.loc["cond_fcnn1", "paper vs prediction"] == "inside"
    assert spread.loc["acc_fcnn1", "paper vs prediction"] == "above"
    holds, text, _ = summary.paper_comparison(spread, "cond_fcnn1")
    assert holds and "7.22 lies inside the 95 % prediction interval for one run" in text
    holds, _, otherwise = summary.paper_comparison(spread, "acc_fcnn1")
    assert not holds and "92 % lies **above**" in otherwise and "[" in otherwise
    holds, _, otherwise = summary.paper_comparison(spread, "cond_resnet")
    assert not holds and "not computed" in otherwise
    one = summary.seed_spread(table.iloc[:1])
    assert one.loc["cond_fcnn1", "paper vs prediction"] == "undefined"
    holds, text, otherwise = summary.paper_comparison(one, "cond_fcnn1")
    assert not holds and text and "single seed" in otherwise
    off = summary.seed_spread(table, dataset="fashion-mnist")
    assert off["paper"].isna().all()
    assert "no value" in summary.paper_comparison(off, "cond_fcnn1")[2]


def test_position_and_spectrum_spread():
    assert summary.position(1.0, 0.0, 2.0) == "inside"
    assert summary.position(-1.0, 0.0, 2.0) == "below"
    assert summary.position(float("nan"), 0.0, 2.0) == "undefined"
    spectra = {"a": torch.tensor([2.0, 1.0, 0.5]), "b": torch.tensor([4.0, 3.0, 1.0])}
    assert summary.spectrum_spread(spectra) == pytest.approx(0.25)  # σ_2/σ_1: 3/4 - 1/2
    assert summary.spectrum_spread({"a": spectra["a"]}) == 0.0
    assert math.isnan(summary.spectrum_spread({}))


# --- ResNet kernels at initialisation ------------------------------------------------------


def test_init_condition_numbers_against_numpy_svd(cache_dir):
    kappa = summary.init_condition_numbers(3, seed0=5)
    assert kappa.shape == (3,) and kappa.dtype == np.float64
    torch.manual_seed(6)  # the second value: seed0 + 1
    w = models.build("resnet18").layer1[0].conv1.weight.detach().numpy().astype(np.float64)
    S = np.linalg.svd(w.reshape(64 * 64, 9), compute_uv=False)  # (4096, 9) kernels view
    assert kappa[1] == pytest.approx(S[0] / S[-1], rel=1e-10)
    state = torch.get_rng_state()
    again = summary.init_condition_numbers(3, seed0=5)  # from the cache, RNG untouched
    assert np.array_equal(again, kappa) and torch.equal(torch.get_rng_state(), state)
    (path,) = (cache_dir / "init").glob("*.pt")
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert np.array_equal(summary.init_condition_numbers(3, seed0=5), kappa)
