"""Tests of nnspaces.plots.spaces: the figures have the panels they should and refuse NaN."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nnspaces.plots.spaces import (
    kernel_signal_figure,
    null_energy_plot,
    signal_space_figure,
    singular_value_plot,
)
from nnspaces.spaces import ClassResiduals, class_average_residuals, layer_spaces


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _image_axes(fig) -> int:
    return sum(1 for ax in fig.axes if ax.images)


@pytest.fixture
def fcnn1_parts():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(10, 784, generator=g)
    X = torch.rand(50, 1, 28, 28, generator=g)
    y = torch.arange(50) % 10
    sp = layer_spaces(W)
    return sp, class_average_residuals(sp, X, y)


def test_figure1_has_a_row_per_quantity(fcnn1_parts):
    sp, res = fcnn1_parts
    assert _image_axes(signal_space_figure(sp)) == 20  # weights, signal
    assert _image_axes(signal_space_figure(sp, res)) == 40  # + both residual kinds
    fig = signal_space_figure(sp, res, show_averages=True)
    assert _image_axes(fig) == 50
    # each row shares one scale, centred on zero for the signed rows
    first = [ax.images[0].get_clim() for ax in fig.axes[:10]]
    assert len(set(first)) == 1 and math.isclose(first[0][0], -first[0][1])
    averages = fig.axes[20].images[0].get_clim()
    assert averages[0] >= 0  # the class averages keep their own (unsigned) range


def test_figure1_rank_deficient_signal_row_is_shorter():
    W = torch.randn(10, 16, generator=torch.Generator().manual_seed(1))
    W[5:] = W[:5]  # rank 5
    fig = signal_space_figure(layer_spaces(W), image_shape=(4, 4))
    assert _image_axes(fig) == 15


def test_figure1_refuses_nan_and_bad_shapes(fcnn1_parts):
    sp, res = fcnn1_parts
    bad = ClassResiduals(res.classes, res.averages, res.null.clone(), res.row)
    bad.null[3, 0, 5, 5] = math.nan
    with pytest.raises(ValueError, match="null residuals holds NaN"):
        signal_space_figure(sp, bad)
    with pytest.raises(ValueError, match="image_shape"):
        signal_space_figure(sp, image_shape=(27, 28))


def test_figure2_nine_kernels_and_condition_in_title():
    conv = torch.nn.Conv2d(64, 64, 3, bias=False)
    sp = layer_spaces(conv, view="kernels")
    fig = kernel_signal_figure(sp, paper_condition=1.07)
    assert _image_axes(fig) == 9
    title = fig._suptitle.get_text()
    assert f"{sp.condition_number:.3g}" in title and "1.07" in title
    with pytest.raises(ValueError, match="kernel_shape"):
        kernel_signal_figure(sp, kernel_shape=(2, 2))


def test_singular_value_plot_lines_and_nan():
    g = torch.Generator().manual_seed(2)
    sp = layer_spaces(torch.randn(5, 8, generator=g))
    fig = singular_value_plot({"a": sp, "b": np.array([3.0, 1.0, 0.0])}, show_tol=True)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    a, b = lines["a"], lines["b (1 zero values not shown)"]
    np.testing.assert_allclose(a.get_xdata(), np.arange(1, 6))
    np.testing.assert_allclose(a.get_ydata(), sp.S.numpy())
    np.testing.assert_allclose(b.get_xdata(), [1, 2])  # the zero is left off the log axis
    np.testing.assert_allclose(b.get_ydata(), [3.0, 1.0])
    # the rank tolerance of "a" (the array "b" has none), dashed, in a's colour
    (tol,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    np.testing.assert_allclose(tol.get_ydata(), [sp.tol, sp.tol])
    assert tol.get_color() == a.get_color()
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "$\\sigma_i$"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a", "b (1 zero values not shown)"]
    with pytest.raises(ValueError, match="NaN"):
        singular_value_plot(np.array([1.0, math.nan]))


def test_null_energy_plot_lines_per_class_and_notes():
    df = pd.DataFrame({0: [0.1, 0.5, math.nan], 1: [0.2, 0.4, math.nan]}, index=["a", "b", "c"])
    df["note"] = ["", "", "groups=2 > 1"]
    fig = null_energy_plot(df)
    ax = fig.axes[0]
    drawn = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}
    assert set(drawn) == {"0", "1"}  # one line per class; the noted row c is left out
    np.testing.assert_allclose(drawn["0"], [0.1, 0.5])
    np.testing.assert_allclose(drawn["1"], [0.2, 0.4])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert ax.get_ylabel() == "input energy in null space"
    assert any("not shown: c" in t.get_text() for t in fig.texts)
    df.loc["b", 0] = math.nan
    with pytest.raises(ValueError, match=r"\['b'\]"):
        null_energy_plot(df)


def test_null_energy_plot_accepts_a_layer_table():
    table = pd.DataFrame(
        {"name": ["fc1", "fc2"], "null_energy": [0.3, 0.6], "note": ["", ""], "rank": [3, 2]}
    )
    ax = null_energy_plot(table, title="FCNN").axes[0]
    (line,) = ax.get_lines()  # the one null_energy column
    assert line.get_label() == "all" and ax.get_title() == "FCNN"
    np.testing.assert_allclose(line.get_ydata(), [0.3, 0.6])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc1", "fc2"]


def test_figures_1_and_2_are_legible_in_the_book_column():
    """Text of Figures 1 and 2 is at least 9 CSS px in the 688-px column (book.glue_figure's check)."""
    from nnspaces import book

    torch.manual_seed(0)
    sp = layer_spaces(nn.Linear(784, 10))
    X, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    res = class_average_residuals(sp, X, y)
    for fig in (
        signal_space_figure(sp, res),
        signal_space_figure(sp),
        kernel_signal_figure(
            layer_spaces(nn.Conv2d(8, 8, 3), view="kernels"), paper_condition=1.07
        ),
    ):
        record = book.figure_png(fig)[1]
        plt.close(fig)
        assert record["min_text_css_px"] >= book.MIN_TEXT_PX, record


def test_null_energy_plot_of_many_layers_stays_legible():
    from nnspaces import book

    names = [f"layer{i}.{j}.conv{k}" for i in range(1, 5) for j in range(2) for k in (1, 2)]
    df = pd.DataFrame(np.random.default_rng(0).random((len(names), 10)), index=names)
    df["note"] = ""
    fig = null_energy_plot(df, title="ResNet18")
    record = book.figure_png(fig)[1]
    plt.close(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX, record
