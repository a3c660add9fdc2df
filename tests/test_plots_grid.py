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
