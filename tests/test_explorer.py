"""nnspaces.explorer: one inverse problem, its preimage, output and certificate, checked
against numpy forward passes."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from ideal_problems import _data
from reference import np_forward, rel
from torch import nn

from nnspaces import book, explorer
from nnspaces.verdicts import explore as explore_verdicts


@pytest.fixture
def small(cache_dir):
    X, y = _data(side=6)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 10), nn.SELU())
    return net, X, y


def test_explore_reaches_the_class_mean_target_and_certifies_it(small):
    net, X, y = small
    fig, info = explorer.explore(net, X, y, digit=3, target_kind="class-mean")
    # independent references: numpy forward passes, the class-mean output and image
    Z = np.stack([np_forward(net, x) for x in X.numpy()])  # (N, 10)
    t = Z[y.numpy() == 3].mean(0)
    r = X[y == 3].mean(0).numpy()
    x = info["image"].numpy()
    assert np.allclose(info["target"], t, atol=1e-5)
    assert rel(np_forward(net, x), np.asarray(info["target"])) < 1e-10 and info["reached"]
    assert info["certified"] and info["certificate"] <= 1e-6
    assert info["box"] == (0.0, 1.0) and x.min() >= 0 and x.max() <= 1
    assert info["distance"] == pytest.approx(np.linalg.norm(x - r), rel=1e-6)
    assert set(explorer.EXPLORE_NUMBERS) <= set(info)
    assert len(fig.axes) == 4 + 3  # four panels, three colour bars
    assert explore_verdicts.certified(info).holds
    table = explorer.explore_table(info, book.fmt)
    assert table.columns.tolist() == ["quantity", "value"] and "× 10⁻" in table["value"].iloc[1]
    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX


def test_explore_options_and_the_claim_when_not_certified(small):
    net, X, y = small
    _, info = explorer.explore(net, X, y, 5, "minmax", "paper-sgd", "min", box=(0, 1))
    assert info["box"] is None and np.isnan(info["kkt"]) and info["iterations"] == 100
    verdict = explore_verdicts.certified(info)
    assert not verdict.holds and "target missed" in verdict.reason
    _, info = explorer.explore(net, X, y, 5, "class-mean", "gauss-newton", box=None, max_iter=1)
    assert info["iterations"] <= 1 and info["box"] is None
    with pytest.raises(ValueError, match="digit must be one of 0..9"):
        explorer.explore(net, X, y, 10)


def test_interactive_is_none_without_ipywidgets_and_wires_the_choices_with_it(small, monkeypatch):
    net, X, y = small
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert explorer.interactive({"fcnn1": net}, X, y) is None
    calls = {}
    fake = types.SimpleNamespace(
        interactive=lambda f, **kw: calls.update(f=f, **kw) or "widget",
        Dropdown=lambda options, value: ("dropdown", tuple(options), value),
        IntSlider=lambda value, min, max: ("slider", value, min, max),
    )
    monkeypatch.setitem(sys.modules, "ipywidgets", fake)
    assert explorer.interactive({"fcnn1": net}, X, y, digit=4, method="none") == "widget"
    assert calls["digit"] == ("slider", 4, 0, 9) and calls["method"][2] == "none"
    assert calls["network"] == ("dropdown", ("fcnn1",), "fcnn1")
