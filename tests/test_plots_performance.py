"""nnspaces.plots.performance: one marker per (network, target, box, method) where its numbers
put it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from nnspaces import book
from nnspaces.plots.performance import error_vs_time


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


TABLE = pd.DataFrame(
    {
        "network": ["fcnn1", "fcnn1", "fcnn5", "fcnn5"],
        "target": ["class-mean"] * 4,
        "box": ["none", "[0,1]", "[0,1]", "none"],
        "method": ["closed-form", "gauss-newton", "gradient", "paper-sgd"],
        "median_seconds": [0.01, 0.2, 1.5, 30.0],
        "median_rel_error": [0.0, 1e-9, 1e-3, 0.2],
    }
)


def test_each_row_is_a_marker_at_its_time_and_error():
    ax = error_vs_time(TABLE).axes[0]
    drawn = [c for c in ax.collections if len(c.get_offsets())]  # the legend's are empty
    points = np.vstack([c.get_offsets() for c in drawn])
    # an exact zero is drawn at 1e-16: a log axis cannot show it
    np.testing.assert_allclose(points, [[0.01, 1e-16], [0.2, 1e-9], [1.5, 1e-3], [30.0, 0.2]])
    c0, c1 = to_rgba("C0"), to_rgba("C1")
    edges = [tuple(c.get_edgecolors()[0]) for c in drawn]
    assert edges == [c0, c0, c1, c1]  # one colour per network
    faces = [c.get_facecolors() for c in drawn]
    assert len(faces[0]) == 0  # unconstrained: hollow
    assert tuple(faces[1][0]) == c0 and tuple(faces[2][0]) == c1  # box [0, 1]: filled
    assert tuple(faces[3][0]) == c1  # paper-sgd's "x" is always drawn filled


def test_axes_and_legend_name_what_is_drawn():
    ax = error_vs_time(TABLE).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "median seconds per digit"
    assert ax.get_ylabel() == "median relative output error"
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "closed-form",
        "gauss-newton",
        "gradient",
        "paper-sgd",
        "1-layer FCNN",
        "5-layer FCNN",
    ]
    assert legend.get_title().get_text() == "filled: box [0, 1]"


def test_legible_in_the_book_column():
    record = book.figure_png(error_vs_time(TABLE))[1]
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
