"""The training-length chapter's figures: what they draw, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nnspaces import book  # noqa: E402
from nnspaces.plots import trainlength as tl_plots  # noqa: E402


def _curve(scale: float = 1.0) -> pd.DataFrame:
    steps = np.array([1, 10, 100, 2200, 31260])
    return pd.DataFrame(
        {"step": steps, "condition": scale * np.log1p(steps), "test_acc": 1 - 1 / (2 + steps)}
    )


def test_steps_figure_lines_log_axis_and_legible_text():
    fig = tl_plots.steps_figure(
        {"1-layer FCNN": _curve(), "5-layer FCNN": _curve(2.0)},
        steps={"this profile": 2200, "the paper": 31260},
        condition_refs={"paper": 7.22},
        accuracy_refs={"paper, 1-layer": 0.92},
    )
    ax_c, ax_a = fig.axes[:2]
    assert ax_c.get_xscale() == "log" and len(ax_c.lines) == 2 + 1 + 2
    assert ax_a.lines[2].get_ydata()[0] == pytest.approx(92.0)  # accuracy in per cent
    data = [ln for ln in ax_c.lines if len(ln.get_xdata()) == 5]
    assert list(data[1].get_ydata()) == pytest.approx(list(2 * np.log1p(_curve()["step"])))
    vlines = sorted(ln.get_xdata()[0] for ln in ax_a.lines if list(ln.get_ydata()) == [0, 1])
    assert vlines == [2200, 31260]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "the paper (31,260 steps)" in labels and "paper (7.22)" in labels
    _, record = book.figure_png(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
    with pytest.raises(ValueError, match="NaN"):
        tl_plots.steps_figure({"a": _curve().assign(condition=np.nan)})
    with pytest.raises(ValueError, match="no curve"):
        tl_plots.steps_figure({})


def test_size_figure_draws_every_run_at_the_step_and_the_fit():
    rows = [
        _curve(1 + 0.01 * n / 250 + 0.001 * r).assign(n_train=n, replicate=r)
        for n in (250, 500, 1000)
        for r in range(3)
    ]
    table = pd.concat(rows, ignore_index=True)
    fit = {"slope": 0.1}
    fig = tl_plots.size_figure(table, 31260, reference=7.22, fit=fit)
    ax_s, ax_n = fig.axes[:2]
    assert len([ln for ln in ax_s.lines if ln.get_label() in {"250", "500", "1,000"}]) == 3
    dots = [ln for ln in ax_n.lines if ln.get_linestyle() == "None"]
    assert sum(len(ln.get_xdata()) for ln in dots) == 9  # every run
    assert any("per doubling" in ln.get_label() for ln in ax_n.lines)
    _, record = book.figure_png(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
    with pytest.raises(ValueError, match="not recorded"):
        tl_plots.size_figure(table, 7)
