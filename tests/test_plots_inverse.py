"""nnspaces.plots.inverse: Figure 3, the comparison grid, loss histories and reachability draw
the images, errors and labels of the results they are given."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from nnspaces.plots.inverse import (
    comparison_grid,
    figure3,
    loss_history,
    loss_history_panels,
    reachability_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(seed, rel_error=1e-3, predicted=None, history=(1.0, 0.1), outside_box=0):
    image = torch.rand(1, 3, 3, generator=torch.Generator().manual_seed(seed))
    return SimpleNamespace(
        image=image,
        rel_error=rel_error,
        predicted=predicted,
        history=list(history),
        outside_box=outside_box,
    )


def _grid(networks=("one", "two"), digits=(0, 1), starts=("avg", "min"), methods=("gd", "gn")):
    results, rows, seed = {}, [], 0
    for net in networks:
        for c in digits:
            for s in starts:
                for m in methods:
                    seed += 1
                    wrong = (net, c, s, m) == ("two", 1, "min", "gn")
                    results[(net, c, s, m)] = _result(seed, 10.0**-seed, 9 if wrong else c)
                    rows.append({"network": net, "digit": c, "start": s, "method": m})
    return pd.DataFrame(rows), results


def _image(ax):
    (im,) = ax.get_images()
    return np.asarray(im.get_array())


def test_figure3_draws_the_chosen_image_of_each_digit():
    _, results = _grid()
    best = pd.DataFrame(
        {
            "network": ["two", "two", "one", "one"],
            "digit": [1, 0, 0, 1],
            "start": ["min", "avg", "avg", "min"],
            "method": ["gn", "gd", "gn", "gd"],
            "fallback": ["", "", "yes", ""],
        }
    )
    fig = figure3(best, results, networks=["one", "two"], names={"one": "1-layer"})
    chosen = [("one", 0, "avg", "gn"), ("one", 1, "min", "gd")]
    chosen += [("two", 0, "avg", "gd"), ("two", 1, "min", "gn")]
    for ax, key in zip(fig.axes, chosen):
        np.testing.assert_array_equal(_image(ax), results[key].image.squeeze(0).numpy())
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles == ["0: avg*\n+gn", "1: min\n+gd", "0: avg\n+gd", "1: min\n+gn"]
    assert [fig.axes[i].get_ylabel() for i in (0, 2)] == ["1-layer", "two"]
    with pytest.raises(ValueError, match="no chosen images for network 'three'"):
        figure3(best, results, networks=["three"])


def test_comparison_grid_rows_are_start_and_method_titles_the_errors():
    df, results = _grid()
    fig = comparison_grid(df, results, "two", title="2-layer")
    (ax,) = fig.axes  # one Axes: every panel an image in it, row by row
    combos = [("avg", "gd"), ("avg", "gn"), ("min", "gd"), ("min", "gn")]
    texts = {t.get_text(): t for t in ax.texts}
    assert len(ax.images) == 8
    for i, (s, m) in enumerate(combos):
        label = texts[f"{s}+{m}"]  # the row label, left of the row's panels
        for j, c in enumerate((0, 1)):
            im, res = ax.images[2 * i + j], results[("two", c, s, m)]
            a = res.image.squeeze(0).numpy()
            np.testing.assert_array_equal(im.get_array(), a)
            assert im.get_clim() == (float(a.min()), float(a.max()))  # scaled on its own
            x0, x1, y1, y0 = im.get_extent()
            assert x1 - x0 == pytest.approx(1.0) and y1 - y0 == pytest.approx(1.0)
            assert label.get_position()[0] < x0 and y0 < label.get_position()[1] < y1
            error = f"{res.rel_error:.0e}" if res.rel_error < 1e-2 else f"{res.rel_error:.2f}"
            title = [
                t
                for t in ax.texts
                if t.get_text() == (f"{c}\n" if i == 0 else "") + error
                and x0 < t.get_position()[0] < x1
                and t.get_position()[1] < y0
            ]
            assert title, (s, m, c)  # above its panel
            # a red title: the network does not classify the image as the digit
            wrong = res.predicted != c
            assert title[0].get_color() == ("red" if wrong else "black"), (s, m, c)
    tops = sorted({im.get_extent()[3] for im in ax.images})
    assert len(tops) == 4  # rows downwards, one per start+method
    assert fig._suptitle.get_text() == "2-layer"
    with pytest.raises(ValueError, match="no rows for network 'three'"):
        comparison_grid(df, results, "three")


def test_loss_histories_are_drawn_per_step_on_a_log_axis():
    r = _result(0, history=(4.0, 1.0, 0.0))
    ax = loss_history({"gd": r, "raw": [2.0, 0.5]}, title="digit 3").axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["gd"].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines["gd"].get_ydata(), [4.0, 1.0, 1e-32])  # 0 at the floor
    np.testing.assert_allclose(lines["raw"].get_ydata(), [2.0, 0.5])
    assert ax.get_yscale() == "log" and ax.get_xscale() == "symlog"
    assert ax.get_title() == "digit 3" and ax.get_ylabel() == "mean squared output error"


def test_loss_history_panels_one_network_each_with_the_methods_present():
    _, results = _grid()
    del results[("two", 1, "avg", "gn")]
    fig = loss_history_panels(results, 1, "avg", methods=("gd", "gn"), names={"one": "1-layer"})
    ax_one, ax_two = fig.axes
    assert ax_one.get_title() == "1-layer: digit 1, start avg"
    assert ax_two.get_title() == "two: digit 1, start avg"
    assert [ln.get_label() for ln in ax_one.get_lines()] == ["gd", "gn"]
    assert [ln.get_label() for ln in ax_two.get_lines()] == ["gd"]  # gn was not run
    np.testing.assert_allclose(ax_two.get_lines()[0].get_ydata(), [1.0, 0.1])
    with pytest.raises(ValueError, match="no runs for network 'three'"):
        loss_history_panels(results, 1, "avg", networks=["three"])


def test_reachability_rows_share_a_scale_and_titles_count_pixels_outside_the_box():
    free = [_result(c, rel_error=1e-9, outside_box=3 * c) for c in range(3)]
    box = [_result(10 + c, rel_error=0.25) for c in range(3)]
    fig = reachability_figure({"no box": free, "box [0, 1]": box}, title="fcnn1")
    panels, bars = fig.axes[:6], fig.axes[6:]
    for i, row in enumerate((free, box)):
        lo = min(float(r.image.min()) for r in row)
        hi = max(float(r.image.max()) for r in row)
        for j, r in enumerate(row):
            ax = panels[3 * i + j]
            np.testing.assert_array_equal(_image(ax), r.image.squeeze(0).numpy())
            assert ax.get_images()[0].get_clim() == pytest.approx((lo, hi))
        assert bars[i].get_ylim() == pytest.approx((lo, hi))  # the row's colour bar
    titles = [ax.get_title() for ax in panels]
    assert titles[:3] == ["0\n1e-09", "1\n1e-09 (3 out)", "2\n1e-09 (6 out)"]
    assert titles[3:] == ["0.25"] * 3
    assert [panels[i].get_ylabel() for i in (0, 3)] == ["no box", "box [0, 1]"]
    assert fig._suptitle.get_text() == "fcnn1"
