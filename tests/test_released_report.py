"""Tests of nnspaces.released.report: the Reenactment's tables, quoted numbers and figures."""

from __future__ import annotations

import pytest
from released_problems import (
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
    _private_cache,  # noqa: F401  (autouse: memoised results in a fresh cache)
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
    assert list(wide.columns) == [
        "start",
        "digit",
        "released loss change (%)",
        "released distance",
        "corrected loss change (%)",
        "corrected distance",
    ]
    assert list(wide["start"]) == ["min"] * 3 + ["avg"] * 3 and len(wide) == 6
    row = df[(df.procedure == "corrected") & (df.start == "avg") & (df.digit == 2)].iloc[0]
    assert wide.iloc[5]["corrected distance"] == row["distance"]
    X0, X1 = rep.starts[("corrected", "avg")][2], rep.images[("corrected", "avg")][2]
    assert row["max_pixel_change"] == pytest.approx(float((X1 - X0).abs().max()))


def test_numbers_count_every_run_and_quote_the_table(reenacted):
    rep = reenacted[-1]
    n, df = rep.numbers(), rep.table()
    assert n["runs"] == 6
    for proc in released.PROCEDURES:
        assert n[f"{proc}_rose"] + n[f"{proc}_fell"] + n[f"{proc}_same"] == 6
        d = df[df["procedure"] == proc]
        assert n[f"{proc}_distance_max"] == d["distance"].max()
        assert n[f"{proc}_change_min"] == d["change_pct"].min()
    assert n["corrected_fell"] == 6
    assert n["spread_ratio"] == rep.spread["copies/eval"] and n["spread_eval"] > 0
    assert 0 <= n["same_min_starts"] <= 3 and 0 <= n["binary_min"] <= 1
    assert {"acc_eval", "acc_train_mode", "target_gap", "drift_var"} <= set(n)
    assert all(isinstance(v, int | float) for v in n.values())


def test_figures_draw_every_digit_and_share_the_difference_scale(reenacted):
    rep = reenacted[-1]
    fig = released_plots.reenactment_figure(rep, "min")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 6 * 3  # 2 procedures × (start, result, difference) × 3 digits
    diff_rows = images[2 * 3 : 3 * 3] + images[5 * 3 : 6 * 3]  # rows 2 and 5, 3 digits each
    diff_limits = {ax.images[0].get_clim() for ax in diff_rows}
    assert len(diff_limits) == 1 and next(iter(diff_limits))[0] < 0
    fig = released_plots.loss_curves(rep, "avg")
    assert len(fig.axes[0].lines) == 3 + 1  # one per digit, and the line at 1
