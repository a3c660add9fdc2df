"""Tests of nnspaces.plots.stats: the figures draw what they are given and refuse NaN."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from nnspaces import plots, summary
from nnspaces.plots.stats import distribution_plot, interval_plot, training_length_plot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _spread(n_seeds=3):
    table = pd.DataFrame(
        {
            "seed": range(n_seeds),
            "cond_fcnn1": [7.0, 7.2, 7.4][:n_seeds],
            "acc_fcnn1": [0.80, 0.81, 0.82][:n_seeds],
        }
    )
    return summary.seed_spread(table)


def test_registered_in_the_package():
    assert plots.interval_plot is interval_plot and plots.training_length_plot is not None


def test_interval_plot_one_panel_per_quantity_with_the_paper_star():
    fig = interval_plot(_spread(), titles={"acc_fcnn1": "accuracy"}, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["cond_fcnn1", "accuracy"]
    assert fig.get_figwidth() <= 7
    ax = fig.axes[0]  # cond_fcnn1
    star = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert star and star[0].get_ydata()[0] == pytest.approx(7.22)
    s = _spread().loc["cond_fcnn1"]
    bars = sorted(ax.patches, key=lambda p: p.get_width())  # confidence, then prediction
    drawn = [(p.get_y(), p.get_y() + p.get_height()) for p in bars]
    assert drawn == [
        (pytest.approx(s["ci low"]), pytest.approx(s["ci high"])),
        (pytest.approx(s["pi low"]), pytest.approx(s["pi high"])),
    ]
    (mean,) = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert mean.get_ydata()[0] == pytest.approx(7.2)
    labels = [t.get_text().replace("\n", " ") for t in fig.legends[0].get_texts()]
    assert "95 % prediction interval, one run" in labels and "paper" in labels


def test_interval_plot_five_panels_scaled_and_legible():
    from nnspaces import book

    table = pd.DataFrame({"seed": range(3), **{f"q{i}": [0.80, 0.81, 0.83] for i in range(5)}})
    spread = summary.seed_spread(table)
    fig = interval_plot(
        spread, titles={"q0": "a long title that must wrap " * 2}, scale={"q0": 100}
    )
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 5 and len(fig.axes) == 6  # two rows of three, the legend in the sixth
    (mean,) = [ln for ln in panels[0].lines if ln.get_marker() == "o"]
    assert mean.get_ydata()[0] == pytest.approx(100 * spread.loc["q0", "mean"])
    assert fig.axes[5].get_legend() is not None
    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX


def test_interval_plot_single_seed_draws_no_interval():
    fig = interval_plot(_spread(1))
    assert all(len(ax.patches) == 0 for ax in fig.axes)
    with pytest.raises(ValueError, match="no quantity"):
        interval_plot(_spread(), quantities=[])


def test_distribution_plot_marks_and_fractions():
    v = np.arange(10.0)
    fig = distribution_plot(v, {"trained": 2.5, "paper": 7.0}, bins=5, what="inits")
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 10
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "10 inits" in labels
    assert "trained: 2.5 (30 % below)" in labels and "paper: 7 (70 % below)" in labels
    from nnspaces import book

    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX
    with pytest.raises(ValueError, match="NaN"):
        distribution_plot([1.0, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        distribution_plot([])


def test_training_length_plot_lines_and_log_axis():
    c = pd.DataFrame(
        {"step": [1, 10, 100], "condition": [1.2, 2.0, 5.0], "test_acc": [0.1, 0.5, 0.9]}
    )
    fig = training_length_plot(
        {"a": c, "b": c.assign(condition=[3.0, 3.0, 4.0])},
        steps={"profile": 50, "paper": 200},
        condition_refs={"paper": 7.22, "released": 7.33},
        accuracy_refs={"paper": 0.92},
    )
    ax_c, ax_a = fig.axes
    assert ax_c.get_xscale() == "log" and ax_a.get_xscale() == "log"
    data = [ln for ln in ax_c.lines if len(ln.get_xdata()) == 3]
    assert [list(ln.get_ydata()) for ln in data] == [[1.2, 2.0, 5.0], [3.0, 3.0, 4.0]]
    hlines = sorted(
        ln.get_ydata()[0]
        for ln in ax_c.lines
        if len(set(ln.get_ydata())) == 1 and len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == 0
    )
    assert hlines == [7.22, 7.33]
    vlines = sorted(ln.get_xdata()[0] for ln in ax_a.lines if list(ln.get_ydata()) == [0, 1])
    assert vlines == [50, 200]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "paper (31,260 steps)" not in labels and "paper (200 steps)" in labels
    with pytest.raises(ValueError, match="NaN"):
        training_length_plot({"a": c.assign(condition=[1.0, np.nan, 2.0])})
    with pytest.raises(ValueError, match="≥ 1"):
        training_length_plot({"a": c.assign(step=[0, 10, 100])})
