"""Tests of nnspaces.ideal (the Figure 3 grid, the choice rule, reachability) and of the
inverse-map figures, on small synthetic data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nnspaces.ideal import (
    choice_summary,
    choose_best,
    loss_decrease,
    per_network,
    pixel_range,
    reach_keys,
    reach_summary,
    reachability,
    run_grid,
    summarize_grid,
    target_comparison,
)
from nnspaces.inverse import START_KINDS, class_targets, invert
from nnspaces.plots.inverse import (
    comparison_grid,
    figure3,
    loss_history,
    loss_history_panels,
    reachability_figure,
)


def _data(n=100, side=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, side, side, generator=g)
    y = torch.arange(n) % 10
    return X, y


def _nets(side=6):
    torch.manual_seed(0)
    one = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 10), nn.SELU())
    two = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 16), nn.SELU(), nn.Linear(16, 10))
    return {"one": one, "two": two}


@pytest.fixture(scope="module")
def grid():
    X, y = _data()
    opts = {"gradient": {"max_iter": 20}, "gauss-newton": {"max_iter": 20}}
    df, results = run_grid(_nets(), X, y, box=(0, 1), method_options=opts)
    return df, results


def test_run_grid_table(grid):
    df, results = grid
    # closed form only for the one-layer net: 10 digits × 4 starts × (5 + 4) methods
    assert len(df) == 10 * len(START_KINDS) * (5 + 4)
    assert set(df[df.network == "two"].method) == {"none", "paper-sgd", "gradient", "gauss-newton"}
    assert len(results) == len(df)
    clipped = ~df["method"].isin(["paper-sgd"])
    assert df[clipped]["valid"].all()  # box=(0, 1) everywhere but the released procedure
    noise_sgd = df[(df["method"] == "paper-sgd") & (df["start"] == "noise")]
    assert not noise_sgd["valid"].any()  # unclipped from a start in [0, 2), as released
    assert (df["valid"] == (df["outside_box"] == 0)).all()
    assert (df["correct"] == (df["predicted"] == df["digit"])).all()
    row = df.iloc[7]
    res = results[(row.network, row.digit, row.start, row.method)]
    assert res.rel_error == row.rel_error and res.image.shape == (1, 6, 6)
    boxed = df[clipped & ~df["method"].isin(["none", "closed-form"])]
    assert (boxed["feasible"] == (boxed["rel_error"] <= 1e-6)).all()
    # the certificate of each row is the result's; the closed form is certified nearest
    keys = zip(df["network"], df["digit"], df["start"], df["method"])
    assert np.allclose(df["kappa"], [results[k].kappa for k in keys], equal_nan=True)
    assert df["kappa"].between(0, 1).all()
    cf = df[df["method"] == "closed-form"]
    assert (cf["certified"] == (cf["rel_error"] <= 1e-6)).all()


def test_run_grid_rejects_unknown_names():
    X, y = _data()
    with pytest.raises(ValueError, match="unknown method"):
        run_grid(_nets(), X, y, methods=("adam",))
    with pytest.raises(ValueError, match="unknown start kind"):
        run_grid(_nets(), X, y, starts=("mean",))


def _row(start, method, rel, valid=True, correct=True, dist=1.0, digit=3):
    return {
        "network": "n",
        "digit": digit,
        "start": start,
        "method": method,
        "rel_error": rel,
        "valid": valid,
        "correct": correct,
        "dist_class_mean": dist,
        "distance": 0.0,
    }


def test_choose_best_applies_the_stated_rule():
    df = pd.DataFrame(
        [
            _row("avg", "closed-form", 1e-15, valid=False),  # lowest error but invalid
            _row("min", "gauss-newton", 1e-14, correct=False),  # valid but wrong class
            _row("avg", "gauss-newton", 3e-13, dist=2.0),  # tie (within 1e-9) ...
            _row("noise", "gauss-newton", 5e-13, dist=1.5),  # ... broken by distance
            _row("avg", "gradient", 1e-3, dist=0.1),
        ]
    )
    best = choose_best(df)
    assert len(best) == 1
    assert best.iloc[0]["label"] == "noise+gauss-newton" and best.iloc[0]["fallback"] == ""


def test_choose_best_falls_back_and_flags():
    df = pd.DataFrame(
        [
            _row("avg", "a", 0.1, correct=False, digit=1),
            _row("min", "b", 0.2, correct=False, digit=1),
            _row("avg", "c", 0.01, valid=False, digit=1),
            _row("avg", "a", 0.3, valid=False, digit=2),
            _row("min", "b", 0.2, valid=False, digit=2),
        ]
    )
    best = choose_best(df).set_index("digit")
    assert best.loc[1, "label"] == "avg+a" and "classified" in best.loc[1, "fallback"]
    assert best.loc[2, "label"] == "min+b" and "[0, 1]" in best.loc[2, "fallback"]
    with pytest.raises(ValueError, match="missing"):
        choose_best(df.drop(columns="valid"))


def test_choose_best_on_a_real_grid(grid):
    df, _ = grid
    best = choose_best(df)
    assert len(best) == 20 and set(best["network"]) == {"one", "two"}
    for _, b in best.iterrows():
        g = df[(df.network == b.network) & (df.digit == b.digit)]
        pool = g[g.valid & g.correct] if b.fallback == "" else g
        assert b.rel_error <= pool.rel_error.min() + 1e-9


def test_reachability_linear_class_means_are_reached():
    """For a linear net the class-mean output is the output of the class-mean image, which
    lies in [0, 1]: reachable inside the box by construction."""
    X, y = _data()
    torch.manual_seed(1)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10))
    df, results = reachability(f, X, y, return_results=True)
    cm = df[df.target_kind == "class-mean"]
    assert len(cm) == 10 and cm["reached"].all() and (cm["outside_box"] == 0).all()
    assert (df["free_rel_error"] <= 1e-10).all()  # without the box every target is exact
    assert (df["reached"] == (df["rel_error"] <= 1e-6)).all()
    assert set(results) == {(k, b) for k in ("minmax", "class-mean") for b in ("box", "free")}
    assert all(r.outside_box == 0 for r in results[("minmax", "box")])


def test_reachability_unreachable_targets_are_not_reached():
    """A net whose outputs over [0,1] images are bounded above: a target above the bound is
    out of reach, and reachability says so."""
    X, y = _data()
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10))
    with torch.no_grad():
        f[1].weight.copy_(torch.eye(10, 36) * 0.01)  # outputs within [0, 0.01] + bias
        f[1].bias.zero_()
    # minmax targets built from the data are reachable; lift them out of reach through Z
    with torch.no_grad():
        Z = f(X) * 10.0
    df = reachability(f, X, y, target_kinds=("minmax",), Z=Z)
    assert not df["reached"].any() and (df["rel_error"] > 0.1).all()


def test_figures():
    X, y = _data()
    nets = _nets()
    opts = {"gradient": {"max_iter": 10}, "gauss-newton": {"max_iter": 10}}
    df, results = run_grid(nets, X, y, starts=("avg", "min"), method_options=opts)
    best = choose_best(df)
    fig = figure3(best, results, names={"one": "1-layer"})
    assert len(fig.axes) == 2 * 10
    assert fig.axes[0].get_ylabel() == "1-layer" and ": " in fig.axes[0].get_title()
    fig2 = comparison_grid(df, results, "two", title="2-layer")
    assert len(fig2.axes) == 2 * 4 * 10
    assert fig2._suptitle.get_text() == "2-layer"
    r = [results[("one", 3, "avg", m)] for m in ("paper-sgd", "gradient", "gauss-newton")]
    fig3 = loss_history({"paper-sgd": r[0], "gradient": r[1], "gauss-newton": r[2].history})
    assert len(fig3.axes[0].lines) == 3 and fig3.axes[0].get_yscale() == "log"
    free = [
        invert(nets["one"], results[("one", c, "avg", "none")].target, X[0], "closed-form")
        for c in range(10)
    ]
    fig4 = reachability_figure({"no box": free, "box [0, 1]": free}, title="t")
    assert len(fig4.axes) == 2 * 10 + 2  # panels and one colour bar per row
    bar = fig4.axes[-1].get_position()
    assert bar.x0 > fig4.axes[9].get_position().x1  # the colour bars sit right of the panels
    for f in (fig, fig2, fig3, fig4):
        assert np.isfinite(f.get_size_inches()).all()
        plt.close(f)
    with pytest.raises(ValueError, match="no rows"):
        comparison_grid(df, results, "three")


def test_network_options_override_method_options_for_one_network():
    X, y = _data()
    nets = _nets()
    opts = {"gauss-newton": {"max_iter": 3}}
    per_net = {"two": {"gauss-newton": {"max_iter": 1}}, "absent": {"gradient": {}}}
    df, _ = run_grid(
        nets, X, y, starts=("avg",), methods=("gauss-newton",), method_options=opts,
        network_options=per_net,
    )  # fmt: skip
    assert (df[df.network == "two"]["iterations"] <= 1).all()
    assert (df[df.network == "one"]["iterations"] > 1).any()
    with pytest.raises(ValueError, match="network_options"):
        run_grid(nets, X, y, network_options={"one": {"adam": {}}})


def test_summarize_grid_agrees_with_a_direct_groupby(grid):
    df, _ = grid
    s = summarize_grid(df)
    assert len(s) == df.groupby(["network", "start", "method"]).ngroups
    assert (s["runs"] == 10).all()
    sub = df[(df.network == "two") & (df.start == "min") & (df.method == "gradient")]
    row = s.loc[("two", "min", "gradient")]
    assert row["rel_error_median"] == pytest.approx(np.median(sub.rel_error))
    assert row["correct"] == sub.correct.sum() and row["outside_box_max"] == 0
    assert row["seconds_mean"] == pytest.approx(sub.seconds.mean())
    by_method = summarize_grid(df, by=("network", "method"))
    assert (by_method["runs"] == 10 * len(START_KINDS)).all()
    with pytest.raises(ValueError, match="missing"):
        summarize_grid(df.drop(columns="seconds"))


def test_choice_summary_lists_every_digit_once(grid):
    df, _ = grid
    best = choose_best(df)
    text = choice_summary(best)
    assert set(text) == {"one", "two"}
    for net, line in text.items():
        digits = [
            int(d) for part in line.split("; ") for d in part[part.index("(") + 1 : -1].split(", ")
        ]
        assert sorted(digits) == list(range(10))
        for label in best[best.network == net]["label"]:
            assert label in line


def test_loss_decrease_reads_the_histories(grid):
    _, results = grid
    t = loss_decrease(results, "paper-sgd")
    assert len(t) == 2 * 10 * len(START_KINDS) and (t["steps"] == 100).all()
    r = results[("one", 4, "avg", "paper-sgd")]
    row = t[(t.network == "one") & (t.digit == 4) & (t.start == "avg")].iloc[0]
    expected = (r.history[0] - r.history[-1]) / r.history[0]
    assert row["decrease"] == pytest.approx(expected)
    # the released procedure's step is tiny: the loss barely moves, and never rises here
    assert (t["decrease"] >= 0).all() and (t["decrease"] < 0.5).all()
    with pytest.raises(ValueError, match="no runs"):
        loss_decrease(results, "closed-form-typo")


def test_reach_summary_and_pixel_range():
    X, y = _data()
    torch.manual_seed(1)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10))
    df, results = reachability(f, X, y, return_results=True)
    s = reach_summary({"lin": df, "again": df})
    assert list(s.index.names) == ["network", "target_kind"] and len(s) == 4
    cm = s.loc[("lin", "class-mean")]
    assert cm["digits"] == 10 and cm["reached"] == 10  # reachable by construction (linear)
    assert cm["reached"] == df[df.target_kind == "class-mean"]["reached"].sum()
    assert s.loc[("lin", "minmax"), "free_rel_error_max"] <= 1e-10
    with_px = reach_summary({"lin": df}, {"lin": results})
    free = torch.stack([r.image for r in results[("class-mean", "free")]])
    assert with_px.loc[("lin", "class-mean"), "free_min_pixel"] == float(free.min())
    assert with_px.loc[("lin", "class-mean"), "free_max_pixel"] == float(free.max())
    lo, hi = pixel_range(results[("minmax", "box")])
    assert 0.0 <= lo <= hi <= 1.0
    imgs = torch.stack([r.image for r in results[("minmax", "free")]])
    assert pixel_range(results[("minmax", "free")]) == (float(imgs.min()), float(imgs.max()))
    with pytest.raises(ValueError):
        reach_summary({})
    with pytest.raises(ValueError):
        pixel_range([])


def test_loss_history_panels(grid):
    _, results = grid
    fig = loss_history_panels(results, digit=3, start="avg", names={"one": "1-layer"})
    assert len(fig.axes) == 2
    assert "1-layer" in fig.axes[0].get_title()
    assert len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 3  # no closed form for "two"
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="no runs"):
        loss_history_panels(results, digit=3, start="avg", networks=["three"])


def test_target_comparison_against_class_targets():
    X, y = _data()
    nets = _nets()
    t = target_comparison(nets, X, y)
    assert list(t.index) == ["one", "two"]
    with torch.no_grad():
        Z = nets["two"](X)
    released = class_targets(None, None, y, "minmax", Z=Z)
    ours = class_targets(None, None, y, "minmax-per-output", Z=Z)
    expected = float(torch.linalg.norm(ours - released) / torch.linalg.norm(released))
    assert t.loc["two", "minmax-per-output vs minmax"] == pytest.approx(expected, rel=1e-5)
    assert t.loc["two", "lowest minimum"] == pytest.approx(float(Z.min()), rel=1e-5)
    assert t.loc["two", "highest minimum"] == pytest.approx(float(Z.min(0).values.max()), rel=1e-5)
    with pytest.raises(ValueError, match="two target kinds"):
        target_comparison(nets, X, y, kinds=("minmax",))


def test_per_network_completes_every_key(grid):
    import math

    from nnspaces.ideal import GRID_METHODS
    from nnspaces.models import MODEL_NAMES

    df, _ = grid
    by_method = summarize_grid(df, by=("network", "method"))
    d = per_network(by_method["rel_error_median"])
    assert d["one_gauss_newton"] == by_method.loc[("one", "gauss-newton"), "rel_error_median"]
    assert all(f"{n}_{m.replace('-', '_')}" in d for n in MODEL_NAMES for m in GRID_METHODS)
    assert math.isnan(d["resnet18_gradient"])
    text = per_network({"fcnn1": "avg+none (0)"}, fill="not run")
    assert text == {"fcnn1": "avg+none (0)", "fcnn5": "not run", "resnet18": "not run"}


def test_reach_keys_flatten_the_summary():
    import math

    X, y = _data()
    torch.manual_seed(1)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10))
    s = reach_summary({"fcnn1": reachability(f, X, y)})
    keys = reach_keys(s)
    assert keys["reached_class_mean_fcnn1"] == s.loc[("fcnn1", "class-mean"), "reached"] == 10
    assert (
        keys["free_rel_error_max_minmax_fcnn1"] == s.loc[("fcnn1", "minmax"), "free_rel_error_max"]
    )
    assert math.isnan(keys["reached_minmax_resnet18"])  # not run: filled
    assert len(keys) == len(s.columns) * 2 * 3
