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

from nnspaces.ideal import choose_best, reachability, run_grid
from nnspaces.inverse import START_KINDS, invert
from nnspaces.plots.inverse import comparison_grid, figure3, loss_history, reachability_figure


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
    assert df["valid"].all()  # box=(0, 1) everywhere
    assert (df["valid"] == (df["outside_box"] == 0)).all()
    assert (df["correct"] == (df["predicted"] == df["digit"])).all()
    row = df.iloc[7]
    res = results[(row.network, row.digit, row.start, row.method)]
    assert res.rel_error == row.rel_error and res.image.shape == (1, 6, 6)
    assert df["feasible"].map(lambda v: v in (True, False)).all()


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
    fig2 = comparison_grid(df, results, "two")
    assert len(fig2.axes) == 2 * 4 * 10
    r = [results[("one", 3, "avg", m)] for m in ("paper-sgd", "gradient", "gauss-newton")]
    fig3 = loss_history({"paper-sgd": r[0], "gradient": r[1], "gauss-newton": r[2].history})
    assert len(fig3.axes[0].lines) == 3 and fig3.axes[0].get_yscale() == "log"
    free = [
        invert(nets["one"], results[("one", c, "avg", "none")].target, X[0], "closed-form")
        for c in range(10)
    ]
    fig4 = reachability_figure({"no box": free, "box [0, 1]": free})
    assert len(fig4.axes) >= 20
    for f in (fig, fig2, fig3, fig4):
        assert np.isfinite(f.get_size_inches()).all()
        plt.close(f)
    with pytest.raises(ValueError, match="no rows"):
        comparison_grid(df, results, "three")
