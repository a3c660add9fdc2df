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

from nnspaces import book
from nnspaces.plots.inverse import (
    comparison_grid,
    figure3,
    loss_history_panels,
    recipe_figure,
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


def _panels(fig):
    """The panel_grid figure's images, row by row, and its texts by content."""
    (ax,) = fig.axes
    return ax.images, {t.get_text(): t for t in ax.texts}


def _legible(fig):
    """At most 7 in wide, every text at least 8 pt: 11 CSS px in the book's column."""
    assert fig.get_size_inches()[0] <= 7.0 + 1e-9
    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX


def test_figure3_draws_the_chosen_image_of_each_digit():
    _, results = _grid()
    best = pd.DataFrame(
        {
            "network": ["two", "two", "one", "one"],
            "digit": [1, 0, 0, 1],
            "start": ["min", "avg", "avg", "min"],
            "method": ["gauss-newton", "paper-sgd", "gauss-newton", "none"],
            "fallback": ["", "", "yes", ""],
        }
    )
    results = {(n, c, s, m): results[(n, c, s, m2)] for (n, c, s, m2), m in zip(
        [("one", 0, "avg", "gn"), ("one", 1, "min", "gd"), ("two", 0, "avg", "gd"),
         ("two", 1, "min", "gn")],
        ["gauss-newton", "none", "paper-sgd", "gauss-newton"])}  # fmt: skip
    fig = figure3(best, results, networks=["one", "two"], names={"one": "1-layer"})
    images, texts = _panels(fig)
    chosen = [("one", 0, "avg", "gauss-newton"), ("one", 1, "min", "none")]
    chosen += [("two", 0, "avg", "paper-sgd"), ("two", 1, "min", "gauss-newton")]
    for im, key in zip(images, chosen):
        np.testing.assert_array_equal(im.get_array(), results[key].image.squeeze(0).numpy())
        a = results[key].image
        assert im.get_clim() == (float(a.min()), float(a.max()))  # each on its own scale
    titles = [t.get_text() for t in fig.axes[0].texts if "\n" in t.get_text()]
    assert titles == ["avg*\nGN", "min\nstart", "avg\nSGD", "min\nGN"]
    assert {"1-layer", "two", "0", "1"} <= set(texts)  # row titles and digit headers
    _legible(fig)
    with pytest.raises(ValueError, match="no chosen images for network 'three'"):
        figure3(best, results, networks=["three"])


def test_recipe_figure_shows_the_caption_images_with_their_labels():
    g = torch.Generator().manual_seed(0)
    recipe = pd.DataFrame(
        {
            "network": ["a"] * 10 + ["b"] * 10,
            "digit": list(range(10)) * 2,
            "label": ["avg+SGD"] * 10 + ["min"] * 9 + ["avg-min"],
        }
    )
    images = {
        (n, d): torch.rand(1, 28, 28, generator=g) for n, d in zip(recipe.network, recipe.digit)
    }
    fig = recipe_figure(recipe, images, names={"a": "1-layer FCNN", "b": "ResNet18"})
    ims, texts = _panels(fig)
    assert len(ims) == 20
    for im, key in zip(ims, zip(recipe.network, recipe.digit)):
        np.testing.assert_array_equal(im.get_array(), images[key].squeeze(0).numpy())
    assert {"1-layer FCNN", "ResNet18", "avg+SGD", "min", "avg-min", "9"} <= set(texts)
    _legible(fig)
    with pytest.raises(ValueError, match="no images for network 'c'"):
        recipe_figure(recipe, images, networks=["c"])


def test_comparison_grid_rows_are_methods_titles_the_errors():
    df, results = _grid()
    fig = comparison_grid(df, results, "two", "min")
    images, texts = _panels(fig)
    assert len(images) == 4  # 2 methods × 2 digits
    for i, m in enumerate(("gd", "gn")):
        assert any(t.startswith(f"min+{m}") for t in texts)  # the row's title
        for j, c in enumerate((0, 1)):
            im, res = images[2 * i + j], results[("two", c, "min", m)]
            a = res.image.squeeze(0).numpy()
            np.testing.assert_array_equal(im.get_array(), a)
            assert im.get_clim() == (float(a.min()), float(a.max()))  # scaled on its own
            error = f"{res.rel_error:.0e}" if res.rel_error < 1e-2 else f"{res.rel_error:.2f}"
            wrong = res.predicted != c
            title = texts[("✗ " if wrong else "") + error]
            x0, x1, _, y0 = im.get_extent()
            assert x0 < title.get_position()[0] < x1 and title.get_position()[1] < y0
            # a red title: the network does not classify the image as the digit
            assert title.get_color() == ("red" if wrong else "black"), (m, c)
    assert sum(t.get_color() == "red" for t in fig.axes[0].texts) == 1
    _legible(fig)
    with pytest.raises(ValueError, match="no rows for network 'three'"):
        comparison_grid(df, results, "three", "min")


def test_loss_histories_are_drawn_per_step_on_a_log_axis():
    r = _result(0, history=(4.0, 1.0, 0.0))
    results = {("one", 3, "avg", "gd"): r, ("one", 3, "avg", "raw"): [2.0, 0.5]}
    ax = loss_history_panels(results, 3, "avg", methods=("gd", "raw")).axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["gd"].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines["gd"].get_ydata(), [4.0, 1.0, 1e-32])  # 0 at the floor
    np.testing.assert_allclose(lines["raw"].get_ydata(), [2.0, 0.5])
    assert ax.get_yscale() == "log" and ax.get_xscale() == "symlog"
    assert ax.get_title() == "one" and ax.get_ylabel() == "mean squared output error"


def test_loss_history_panels_one_network_each_with_the_methods_present():
    _, results = _grid()
    del results[("two", 1, "avg", "gn")]
    fig = loss_history_panels(results, 1, "avg", methods=("gd", "gn"), names={"one": "1-layer"})
    ax_one, ax_two = fig.axes
    assert ax_one.get_title() == "1-layer" and ax_two.get_title() == "two"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["gd", "gn"]  # once each
    _legible(fig)
    assert [ln.get_label() for ln in ax_one.get_lines()] == ["gd", "gn"]
    assert [ln.get_label() for ln in ax_two.get_lines()] == ["gd"]  # gn was not run
    np.testing.assert_allclose(ax_two.get_lines()[0].get_ydata(), [1.0, 0.1])
    with pytest.raises(ValueError, match="no runs for network 'three'"):
        loss_history_panels(results, 1, "avg", networks=["three"])
