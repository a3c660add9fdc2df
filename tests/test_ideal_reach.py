"""Tests of nnspaces.ideal.reach: reachability of the targets inside the box, its summary and
glue keys, on small synthetic data."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from ideal_problems import _data
from torch import nn

from nnspaces import cache
from nnspaces.ideal import grid as grid_module
from nnspaces.ideal import (
    pixel_range,
    reach_keys,
    reach_summary,
    reachability,
)


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


def test_reachability_is_read_back_bit_identical(cache_dir, monkeypatch):
    X, y = _data(40)
    torch.manual_seed(2)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10), nn.SELU(), nn.Linear(10, 10))
    opts = {"gauss-newton": {"max_iter": 5}}
    df, results = reachability(f, X, y, method_options=opts, return_results=True)

    def computed(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(grid_module, "invert_classes", computed)
    df2, results2 = reachability(f, X, y, method_options=opts, return_results=True)
    pd.testing.assert_frame_equal(df, df2, check_exact=True)
    for k, rs in results.items():
        for a, b in zip(rs, results2[k], strict=True):
            assert torch.equal(a.image, b.image) and a.rel_error == b.rel_error
            assert cache.dataclass_state(a).keys() == cache.dataclass_state(b).keys()


def test_reach_table_has_readers_headers_and_formats():
    from nnspaces import book
    from nnspaces.ideal import reach_table

    X, y = _data()
    torch.manual_seed(1)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 10))
    df, results = reachability(f, X, y, return_results=True)
    s = reach_summary({"fcnn1": df}, {"fcnn1": results})
    box, formats = reach_table(s)
    assert list(box.columns) == [
        "network",
        "targets",
        "reached in [0, 1]",
        "relative error (median)",
        "relative error (smallest)",
        "classified as the digit",
    ]
    assert box["network"].tolist() == ["1-layer FCNN"] * 2
    assert box["targets"].tolist() == ["min/max", "class mean"]
    assert box.loc[1, "reached in [0, 1]"] == "10 of 10"  # counts as "k of n"
    assert formats["relative error (median)"] == "sci"
    html = book.table_html(box, formats)
    assert "fcnn1" not in html and "rel_error" not in html and "nan" not in html.lower()
    free, formats = reach_table(s, "free", names={"fcnn1": "one layer"})
    assert free["network"].tolist() == ["one layer"] * 2
    assert free["largest pixel"].tolist() == s["free_max_pixel"].tolist()
    assert formats["pixels outside [0, 1] (median)"] == ",d"
    # without the pixel range (no results given) its columns are left out
    free, _ = reach_table(reach_summary({"fcnn1": df}), "free")
    assert "smallest pixel" not in free.columns and len(free.columns) == 4
    grad, _ = reach_table(s, "gradient")
    assert len(grad.columns) == 5
    with pytest.raises(ValueError, match="side"):
        reach_table(s, "sideways")


def test_nearness_table_keeps_the_values():
    from nnspaces.ideal import nearness_table

    near = pd.DataFrame(
        {
            "network": ["fcnn5"] * 2,
            "digit": [0, 1],
            "gn_distance": [5.0, 6.0],
            "distance": [4.0, 5.5],
            "gn_kappa": [0.3, 0.2],
            "kappa": [1e-3, 1e-14],
            "kappa_kinks": [1e-12, 1e-14],
            "kinks": [2, 0],
            "message": ["", ""],
        },
        index=[7, 8],
    )
    table, formats = nearness_table(near)
    assert table["κ, refined"].tolist() == [1e-3, 1e-14] and list(table.index) == [0, 1]
    assert len(table.columns) == 7 and formats["κ, refined"] == "sci"
    with pytest.raises(ValueError, match="kinks"):
        nearness_table(near.drop(columns="kinks"))


def test_text_keys_write_errors_in_scientific_notation():
    from nnspaces import book
    from nnspaces.ideal import text_keys

    keys = {
        "free_rel_error_max_minmax_fcnn1": 1.1e-16,
        "near_kappa_max_fcnn5": 0.25,
        "free_min_pixel_minmax_fcnn1": -3.2149,
        "reached_minmax_fcnn1": 0,
        "rel_error_median_minmax_resnet18": float("nan"),
    }
    text = text_keys(keys, book.fmt)
    assert text == {
        "free_rel_error_max_minmax_fcnn1_text": "1.1 × 10⁻¹⁶",  # never 0.000
        "near_kappa_max_fcnn5_text": "2.5 × 10⁻¹",
        "free_min_pixel_minmax_fcnn1_text": "−3.21",  # a true minus sign
        "rel_error_median_minmax_resnet18_text": "—",  # not run
    }
