"""Tests of nnspaces.ideal.tables: the grid's summary tables, target comparisons and glue keys,
on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ideal_problems import _data, _nets, grid_run

from nnspaces.ideal import (
    choice_summary,
    choose_best,
    loss_decrease,
    per_network,
    summarize_grid,
    target_comparison,
)
from nnspaces.inverse import START_KINDS, class_targets


@pytest.fixture(scope="module")
def grid():
    return grid_run()


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
