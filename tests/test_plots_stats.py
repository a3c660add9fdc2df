"""Tests of nnspaces.plots.stats: the figures draw what they are given and refuse NaN."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from nnspaces import plots, summary
from nnspaces.plots.stats import distribution_plot, interval_plot


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
    assert plots.interval_plot is interval_plot and plots.trainlength.steps_figure is not None


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
