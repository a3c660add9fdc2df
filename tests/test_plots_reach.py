"""nnspaces.plots.reach: the reachability images, drawn from the results and legible in the
book's text column."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nnspaces import book
from nnspaces.plots.reach import reach_images


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _results(scale, rel_error, outside, K=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        SimpleNamespace(
            image=torch.randn(1, 28, 28, generator=g, dtype=torch.float64) * scale,
            rel_error=rel_error,
            outside_box=outside,
        )
        for _ in range(K)
    ]


def test_draws_each_image_on_its_rows_scale_with_titles():
    free, box = _results(3.0, 3e-16, 412), _results(0.3, 0.123, 0, seed=1)
    fig = reach_images({"1-layer FCNN\nno box": free, "1-layer FCNN\nbox [0, 1]": box})
    axes = fig.axes[:20]
    np.testing.assert_array_equal(axes[3].images[0].get_array(), free[3].image[0].numpy())
    np.testing.assert_array_equal(axes[12].images[0].get_array(), box[2].image[0].numpy())
    lo = min(float(r.image.min()) for r in free)
    hi = max(float(r.image.max()) for r in free)
    assert axes[5].images[0].get_clim() == pytest.approx((lo, hi))  # one scale per row
    assert axes[0].get_title() == "0\n3e-16\n412 out"  # digit, error, pixels outside
    assert axes[11].get_title() == "0.12"  # nothing outside: no count
    assert axes[10].get_ylabel() == "1-layer FCNN\nbox [0, 1]"
    assert len(fig.axes) == 22  # two colour bars


@pytest.mark.parametrize("networks", [1, 3])
def test_legible_in_the_text_column(networks):
    rows = {}
    for n in range(networks):
        rows[f"net {n}\nno box"] = _results(3.0, 3e-16, 412)
        rows[f"net {n}\nbox [0, 1]"] = _results(0.3, 0.123, 0)
    fig = reach_images(rows, title="min/max targets")
    assert fig.get_figwidth() == pytest.approx(7.0)
    png, record = book.figure_png(fig)
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
    assert fig.get_figheight() < 7.0  # less than a screen at column width


def test_an_exact_zero_error_reads_0():
    free = _results(3.0, 0.0, 5, K=2)
    fig = reach_images({"a": free})
    assert fig.axes[0].get_title() == "0\n0\n5 out"


def test_no_rows():
    with pytest.raises(ValueError, match="at least one row"):
        reach_images({})
