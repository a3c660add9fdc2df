"""Tests of nnspaces.released.report: the Reenactment's tables, quoted numbers and figures."""

from __future__ import annotations

import pytest
from released_problems import (
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
    reenacted_run,
)

from nnspaces import released
from nnspaces.plots import released as released_plots


@pytest.fixture(scope="module")
def reenacted():
    return reenacted_run()


def test_the_comparison_table_puts_the_procedures_side_by_side(reenacted):
    rep = reenacted[-1]
    df, wide = rep.table(), rep.comparison_table()
    assert list(wide.columns) == ["start", "digit", *released.PROCEDURES]
    assert list(wide["start"]) == ["min"] * 3 + ["avg"] * 3 + ["noise"] * 3
    row = df[(df.procedure == "eval_one") & (df.start == "avg") & (df.digit == 2)].iloc[0]
    assert wide.iloc[5]["eval_one"] == row["change_pct"]
    X0, X1 = rep.starts[("eval_one", "avg")][2], rep.images[("eval_one", "avg")][2]
    assert row["max_pixel_change"] == pytest.approx(float((X1 - X0).abs().max()))
    H = rep.histories[("eval_one", "avg")][2]  # the log's view: iterates 0 … 99
    assert row["logged_change_pct"] == pytest.approx(100 * float(H[99] / H[0] - 1))
    steps = 100 * (H[1:100] / H[:99] - 1).abs()
    assert row["median_step_pct"] == pytest.approx(float(steps.median()))
    summary = rep.summary_table()
    assert len(summary) == 9 and list(summary["procedure"][:3]) == ["released"] * 3
    assert (summary["runs"] == 3).all() and (
        summary.set_index("procedure").loc["eval_one", "fell"] == 3
    ).all()


def test_numbers_count_every_run_and_quote_the_table(reenacted):
    rep = reenacted[-1]
    n, df = rep.numbers(), rep.table()
    assert n["runs"] == 9 and n["digits"] == 3
    for proc in released.PROCEDURES:
        assert n[f"{proc}_rose"] + n[f"{proc}_fell"] + n[f"{proc}_same"] == 9
        d = df[df["procedure"] == proc]
        assert n[f"{proc}_distance_max"] == d["distance"].max()
        assert n[f"{proc}_change_min"] == d["change_pct"].min()
        d = d[d["start"] == "noise"]
        assert n[f"{proc}_noise_logged_max"] == d["logged_change_pct"].max()
        assert n[f"{proc}_noise_step_median_min"] == d["median_step_pct"].min()
    assert n["eval_one_fell"] == n["eval_copies_fell"] == 9
    assert n["drop_ratio_min"] > 10  # the 32 times larger step lowers the loss far more
    assert n["spread_ratio"] == rep.spread["copies/eval"] and n["spread_eval"] > 0
    assert 0 <= n["same_min_starts"] <= 3 and 0 <= n["binary_min"] <= 1
    assert {"acc_eval", "acc_train_mode", "target_gap", "drift_var"} <= set(n)
    assert all(isinstance(v, int | float) for v in n.values())


def test_figures_draw_every_digit_legibly_with_a_scale_per_change_row(reenacted):
    from nnspaces import book

    rep = reenacted[-1]
    fig = released_plots.reenactment_figure(rep, "avg")
    images = [ax for ax in fig.axes if ax.images]
    # one start row (the avg starts are the same in both modes), three change rows, one result
    assert len(images) == 5 * 3
    diff_rows = [images[3 * r : 3 * r + 3] for r in (1, 2, 3)]
    for row in diff_rows:  # each change row: one symmetric scale of its own
        (lo, hi), *others = [ax.images[0].get_clim() for ax in row]
        assert all(o == (lo, hi) for o in others) and lo == -hi
    assert len({row[0].images[0].get_clim() for row in diff_rows}) == 3
    _, record = book.figure_png(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
    fig = released_plots.reenactment_figure(rep, "min")  # training mode picks its own starts
    assert len([ax for ax in fig.axes if ax.images]) in (5 * 3, 6 * 3)
    fig = released_plots.loss_curves(rep)
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == 3 * 3 and len(panels[0].lines) == 3 + 1  # digits, and the line at 0
    _, record = book.figure_png(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
