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
    reports = {
        "fcnn1": {"test_acc": 0.5, "val_acc": 0.9},
        "resnet18": {"test_acc": 0.25, "val_acc": 0.995},
    }
    assert "val_acc_fcnn1" not in summary.headline_numbers(nets, reports)
    n = summary.headline_numbers(nets, reports, validation=True)
    S = torch.linalg.svdvals(nets["fcnn1"][1].weight.detach().double())
    assert n["cond_fcnn1"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    K = nets["resnet18"].layer1[0].conv1.weight.detach().double().reshape(-1, 9)  # (4096, 9)
    S = torch.linalg.svdvals(K)
    assert n["cond_resnet"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    assert n["val_acc_fcnn1"] == 0.9 and n["acc_fcnn1"] == 0.5


def test_results_table_compares_validation_in_points_and_conditions_as_ratios():
    n = {"val_acc_fcnn1": 0.886, "val_acc_resnet18": 0.995, "acc_fcnn1": 0.5}
    n |= {"cond_fcnn1": 3.61, "cond_resnet": 1.0749}
    t = summary.results_table(n)
    assert list(t["key"]) == ["val_acc_fcnn1", "val_acc_resnet18", "cond_fcnn1", "cond_resnet"]
    assert list(t["paper"]) == [0.92, 0.99, paper.CONDITION_FCNN1, paper.CONDITION_RESNET_LAYER]
    assert t["difference"].tolist() == pytest.approx(
        [-3.4, 0.5, 3.61 / 7.22 - 1, 1.0749 / 1.07 - 1]
    )
    assert t["matches"].tolist() == [False, True, False, True]
    d = summary.results_display(t)
    assert list(d.columns) == ["quantity", "paper", "this build", "difference", "verdict"]
    assert d.loc[0].tolist() == [
        "1-layer FCNN accuracy",
        "92 %",
        "88.6 %",
        "−3.4 points",
        "differs",
    ]
    assert d.loc[2, "difference"] == "−50 %" and d.loc[3, "paper"] == "1.07"
    assert d.loc[3, "this build"] == "1.07" and d.loc[3, "verdict"] == "matches"


def test_initial_condition_is_the_training_start_and_leaves_the_rng_alone():
    state = torch.get_rng_state()
    kappa = summary.initial_condition_fcnn1(3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(3)
    W = models.build("fcnn1")[1].weight.detach().double()  # (10, 784)
    S = torch.linalg.svdvals(W)
    assert kappa == pytest.approx(float(S[0] / S[-1]), rel=1e-10)


def _report(val, test, best=(3, 0.5, 0.6)):
    final = {"epoch": 20, "val_acc": val, "test_acc": test}
    return {
        "val_acc": val,
        "test_acc": test,
        "scores": {"final": final, "best": dict(zip(("epoch", "val_acc", "test_acc"), best))},
    }


def test_accuracies_beside_the_paper_on_mnist_only():
    reports = {"fcnn1": _report(0.9, 0.88), "resnet18": _report(0.995, 0.99)}
    t = summary.accuracies(reports, "mnist-5k")
    assert t["network"].tolist() == ["1-layer FCNN", "ResNet18"]
    assert t["difference"].tolist() == pytest.approx([-2.0, 0.5])
    assert t["best − final"].tolist() == pytest.approx([100 * (0.6 - 0.88), 100 * (0.6 - 0.99)])
    off = summary.accuracies(reports, "fashion-mnist")
    assert "paper" not in off and "difference" not in off
    assert off["validation"].tolist() == [0.9, 0.995]


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


def test_seed_spread_holds_the_paper_against_validation_accuracies():
    table = pd.DataFrame(
        {
            "seed": [0, 1, 2],
            "cond_fcnn1": [7.0, 7.2, 7.4],
            "val_acc_fcnn1": [0.80, 0.81, 0.82],
            "acc_fcnn1": [0.80, 0.81, 0.82],
        }
    )
    spread = summary.seed_spread(table)
    assert spread.loc["cond_fcnn1", "paper"] == paper.CONDITION_FCNN1
    assert spread.loc["cond_fcnn1", "paper vs prediction"] == "inside"
    assert spread.loc["val_acc_fcnn1", "paper vs prediction"] == "above"
    assert math.isnan(spread.loc["acc_fcnn1", "paper"])  # the paper's are validation accuracies
    # the p-values: the family is the two quantities with a paper value
    p = spread["p"]
    assert math.isnan(p["acc_fcnn1"]) and p["cond_fcnn1"] > 0.05 > p["val_acc_fcnn1"]
    assert spread["p (Holm)"].tolist()[:2] == pytest.approx(summary.holm(p.to_numpy()[:2]).tolist())
    one = summary.seed_spread(table.iloc[:1])
    assert one.loc["cond_fcnn1", "paper vs prediction"] == "undefined"
    assert one["p (Holm)"].isna().all()
    off = summary.seed_spread(table, dataset="fashion-mnist")
    assert off["paper"].isna().all() and off["p (Holm)"].isna().all()


def test_prediction_p_value_is_the_prediction_interval_as_a_test():
    from scipy import stats

    x = [7.1, 7.4, 6.9, 7.3, 7.0]
    r = summary.t_intervals(x, level=0.95)
    for edge in (r["pi_low"], r["pi_high"]):  # on the interval's edge p = 1 − level
        assert summary.prediction_p_value(edge, x) == pytest.approx(0.05, rel=1e-9)
    m, s, n = np.mean(x), np.std(x, ddof=1), 5
    t = (7.9 - m) / (s * np.sqrt(1 + 1 / n))
    assert summary.prediction_p_value(7.9, x) == pytest.approx(2 * stats.t.sf(t, n - 1))
    assert math.isnan(summary.prediction_p_value(7.0, [7.0]))
    assert math.isnan(summary.prediction_p_value(float("nan"), x))
    assert summary.prediction_p_value(2.0, [2.0, 2.0]) == 1.0
    assert summary.prediction_p_value(2.1, [2.0, 2.0]) == 0.0


def test_holm_against_a_direct_step_down():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 7))
        adj = summary.holm(p)
        # direct: reject H_(i) at level a iff p_(j) <= a / (m - j + 1) for all j <= i;
        # the adjusted p is the smallest such a
        order = np.argsort(p)
        m = p.size
        direct = np.empty(m)
        running = 0.0
        for j, i in enumerate(order):
            running = max(running, min(1.0, (m - j) * p[i]))
            direct[i] = running
        np.testing.assert_allclose(adj, direct)
        assert (adj >= p).all()
    assert summary.holm([]).size == 0
    assert np.isnan(summary.holm([float("nan"), 0.2])[0])
    assert summary.holm([float("nan"), 0.2])[1] == pytest.approx(0.2)  # a family of one


def test_position_and_spectrum_spread():
    assert summary.position(1.0, 0.0, 2.0) == "inside"
    assert summary.position(-1.0, 0.0, 2.0) == "below"
    assert summary.position(float("nan"), 0.0, 2.0) == "undefined"
    spectra = {"a": torch.tensor([2.0, 1.0, 0.5]), "b": torch.tensor([4.0, 3.0, 1.0])}
    assert summary.spectrum_spread(spectra) == pytest.approx(0.25)  # σ_2/σ_1: 3/4 - 1/2
    assert summary.spectrum_spread({"a": spectra["a"]}) == 0.0
    assert math.isnan(summary.spectrum_spread({}))


# --- ResNet kernels at initialisation ------------------------------------------------------


def test_init_numbers_fractions_and_percentiles():
    k = np.linspace(1.0, 1.2, 101)
    num = summary.init_numbers(k, trained=1.1, paper_value=1.07)
    assert num["n"] == 101 and num["min"] == 1.0 and num["max"] == pytest.approx(1.2)
    assert (num["q_low"], num["q_high"]) == pytest.approx(tuple(np.percentile(k, [2.5, 97.5])))
    assert num["below_trained"] == pytest.approx(50 / 101)
    assert num["below_paper"] == pytest.approx(35 / 101)
    with pytest.raises(ValueError, match="finite"):
        summary.init_numbers([1.0, float("nan")], 1.0)


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
    (path,) = (cache_dir / "results" / "init-condition").glob("*.pt")
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert np.array_equal(summary.init_condition_numbers(3, seed0=5), kappa)
