"""Tests of nnspaces.ideal.grid: the Figure 3 grid and its choice rule, on small synthetic data
(its figures: tests/test_plots_inverse.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from ideal_problems import _data, _nets, grid_run

from nnspaces import cache
from nnspaces.ideal import (
    choose_best,
    run_grid,
)
from nnspaces.ideal import grid as grid_module
from nnspaces.inverse import START_KINDS


@pytest.fixture(scope="module")
def grid():
    return grid_run()


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


def test_network_options_override_method_options_for_one_network():
    X, y = _data()
    nets = _nets()
    opts = {"gauss-newton": {"max_iter": 3}}
    per_net = {"two": {"gauss-newton": {"max_iter": 1}}, "absent": {"gradient": {}}}
    df, _ = run_grid(
        nets,
        X,
        y,
        starts=("avg",),
        methods=("gauss-newton",),
        method_options=opts,
        network_options=per_net,
    )
    assert (df[df.network == "two"]["iterations"] <= 1).all()
    assert (df[df.network == "one"]["iterations"] > 1).any()
    with pytest.raises(ValueError, match="network_options"):
        run_grid(nets, X, y, network_options={"one": {"adam": {}}})


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


def test_choose_best_names_one_start_when_several_end_at_the_same_image():
    """Errors and distances equal to round-off (one image reached from several starts): the
    first start in START_KINDS order is named whatever the rows' order, and ``same_image``
    lists every start that reached it; a real difference in distance still decides."""
    rows = [
        _row("noise", "closed-form", 0.0419417185670288, dist=16.231049932709297),
        _row("min", "closed-form", 0.0419417185670287, dist=16.231049932709293),
        _row("avg-min", "closed-form", 0.0419417185670288, dist=16.231049932709290),
        _row("avg", "gradient", 0.05, dist=1.0),
    ]
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        best = choose_best(pd.DataFrame(order)).iloc[0]
        assert best["label"] == "min+closed-form" and best["same_image"] == "min,avg-min,noise"
    rows[2]["dist_class_mean"] = 16.0  # avg-min's image is really nearer the class mean
    best = choose_best(pd.DataFrame(rows)).iloc[0]
    assert best["label"] == "avg-min+closed-form" and best["same_image"] == "avg-min"


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


def _same_result(a, b):
    """Every field of two InverseResults equal, tensors bit for bit (NaN equal to NaN)."""
    assert type(a) is type(b)
    for name, u in cache.dataclass_state(a).items():
        v = getattr(b, name)
        if isinstance(u, torch.Tensor):
            assert u.dtype == v.dtype and torch.equal(u, v), name
        else:
            assert u == v or (u != u and v != v), name


def test_run_grid_reads_its_batches_back_bit_identical(cache_dir, monkeypatch):
    X, y = _data(40)
    nets = {"two": _nets()["two"]}
    kw = {"starts": ("avg", "noise"), "methods": ("gradient", "gauss-newton"), "box": (0, 1)}
    kw["method_options"] = {"gradient": {"max_iter": 5}, "gauss-newton": {"max_iter": 5}}
    df, results = run_grid(nets, X, y, **kw)

    def computed(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(grid_module, "invert_classes", computed)
    df2, results2 = run_grid(nets, X, y, **kw)  # read back: nothing computed
    pd.testing.assert_frame_equal(df, df2, check_exact=True)
    for k, r in results.items():
        _same_result(r, results2[k])
    monkeypatch.setenv("NNSPACES_RECOMPUTE", "1")
    with pytest.raises(AssertionError, match="computed again"):
        run_grid(nets, X, y, **kw)


def test_grid_verdicts_count_exact_choices_and_name_the_others_for_readers():
    rows = [  # (network, digit, method, valid, rel_error, label)
        ("fcnn1", 0, "closed-form", True, 0.10, "avg+CF"),
        ("fcnn1", 0, "adam", True, 0.10 + 1e-12, "avg+Adam"),  # a tie: exact counts
        ("fcnn5", 3, "gauss-newton", True, 0.30, "min+GN"),
        ("fcnn5", 3, "adam", True, 0.20, "min+Adam"),  # strictly better: not exact
    ]
    df = pd.DataFrame(rows, columns=["network", "digit", "method", "valid", "rel_error", "label"])
    best = df.loc[[1, 3]]  # the chosen images
    facts = grid_module.grid_verdicts(df, best, {})
    assert facts["chosen"] == 2 and facts["exact_closest"] == 1 and facts["chosen_reached"] == 0
    assert facts["not_exact"] == "5-layer FCNN, digit 3: min+Adam"  # no internal names
    assert np.isnan(facts["fcnn_bound_share"])
