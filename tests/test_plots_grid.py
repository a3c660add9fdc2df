"""nnspaces.plots.grid: the images drawn, their colour scales and their labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nnspaces.plots import image_grid


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 4, 3, generator=g) for _ in range(3)]  # (C=1, h, w) like MNIST


def _panel(fig, i, j, C):
    return fig.axes[i * C + j]


def test_each_panel_shows_its_image_and_the_labels():
    top, bottom = _images(0), _images(1)[:2]  # the second row is one image short
    fig = image_grid([top, bottom], row_labels=["a", "b"], col_labels=["x", "y", "z"])
    for i, row in enumerate([top, bottom]):
        for j, img in enumerate(row):
            (im,) = _panel(fig, i, j, 3).get_images()
            np.testing.assert_array_equal(im.get_array(), img.squeeze(0).numpy())
    assert _panel(fig, 1, 2, 3).get_images() == []  # nothing drawn in the missing cell
    assert [_panel(fig, 0, j, 3).get_title() for j in range(3)] == ["x", "y", "z"]
    assert [_panel(fig, i, 0, 3).get_ylabel() for i in range(2)] == ["a", "b"]
    assert _panel(fig, 1, 0, 3).get_title() == ""  # column labels on the first row only


def test_a_shared_row_scale_is_the_rows_range_and_an_own_scale_each_images():
    row = _images(2)
    lo = min(float(a.min()) for a in row)
    hi = max(float(a.max()) for a in row)
    fig = image_grid([row, row], shared_scale=[True, False])
    for j, img in enumerate(row):
        shared = _panel(fig, 0, j, 3).get_images()[0].get_clim()
        own = _panel(fig, 1, j, 3).get_images()[0].get_clim()
        assert shared == pytest.approx((lo, hi))
        assert own == pytest.approx((float(img.min()), float(img.max())))


def test_a_symmetric_row_is_centred_on_zero():
    row = [np.array([[0.5, -2.0], [1.0, 0.0]]), np.array([[3.0, 1.0], [0.0, 0.0]])]
    fig = image_grid([row], symmetric=True, cmap="RdBu")
    for j in range(2):
        im = _panel(fig, 0, j, 2).get_images()[0]
        assert im.get_clim() == (-3.0, 3.0) and im.get_cmap().name == "RdBu"


def test_a_colour_bar_per_row_and_nan_is_refused():
    fig = image_grid([_images(3), _images(4)], colorbar=True)
    assert len(fig.axes) == 2 * 3 + 2  # the panels, then one colour bar per row
    bar = fig.axes[-1]
    # the second row's bar spans its own range
    lo = min(float(a.min()) for a in _images(4))
    assert bar.get_ylim()[0] == pytest.approx(lo)
    bad = np.ones((2, 2))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="row 0 holds NaN"):
        image_grid([[bad]])


def test_panel_grid_draws_each_image_with_its_titles_at_a_readable_size():
    from nnspaces import book
    from nnspaces.plots.grid import panel_grid

    rows = [_images(5) + _images(6), _images(7)]  # 6 and 3 panels
    titles = [[f"t{i}{j}" for j in range(len(r))] for i, r in enumerate(rows)]
    colours = [["red" if j == 1 else "black" for j in range(len(r))] for r in rows]
    fig = panel_grid(
        rows, titles=titles, colours=colours, row_titles=["first", "second"], col_labels="abcdef"
    )
    (ax,) = fig.axes
    flat = [img for r in rows for img in r]
    assert len(ax.images) == len(flat)
    for im, img in zip(ax.images, flat):
        a = img.squeeze(0).numpy()
        np.testing.assert_array_equal(im.get_array(), a)
        assert im.get_clim() == (float(a.min()), float(a.max()))
        x0, x1, y1, y0 = im.get_extent()
        assert x1 - x0 == pytest.approx(y1 - y0)  # square panels ...
    w, h = fig.get_size_inches()
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    assert w / (x1 - x0) == pytest.approx(h / (y1 - y0))  # ... on screen too
    texts = {t.get_text(): t for t in ax.texts}
    assert {"first", "second", "a", "f", "t00", "t12"} <= set(texts)
    assert texts["t01"].get_color() == "red" and texts["t00"].get_color() == "black"
    assert w == 7.0 and min(t.get_fontsize() for t in ax.texts) >= 8
    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX
    shared = panel_grid(rows, shared_scale=True)
    lo = min(float(a.min()) for a in flat)
    assert all(im.get_clim()[0] == pytest.approx(lo) for im in shared.axes[0].images)
    with pytest.raises(ValueError, match="one entry per panel"):
        panel_grid(rows, titles=[["x"], ["y"]])
    with pytest.raises(ValueError, match="row_titles"):
        panel_grid(rows, row_titles=["only one"])
    bad = np.ones((2, 2))
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="row 0 holds NaN or inf"):
        panel_grid([[bad]])
