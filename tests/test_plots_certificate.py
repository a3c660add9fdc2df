"""nnspaces.plots.certificate: κ and the distance per step, drawn from the results' histories."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnspaces.plots.certificate import nearness_history


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(kappa, kinks, distance):
    return SimpleNamespace(
        kappa_history=kappa, kappa_kinks_history=kinks, distance_history=distance
    )


def test_kappa_and_relative_distance_per_step():
    runs = [
        _result([0.5, 0.1, 0.0], [0.4, 1e-3, 1e-6], [2.0, 1.5, 1.0]),
        _result([0.2, 0.05], [float("nan"), float("nan")], [4.0, 3.0]),
    ]
    fig = nearness_history(runs, labels=["3", "7"], title="fcnn5")
    ax_k, ax_d = fig.axes
    solid = {ln.get_label(): ln for ln in ax_k.get_lines() if ln.get_linestyle() == "-"}
    np.testing.assert_allclose(solid["3"].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(solid["3"].get_ydata(), [0.5, 0.1, 1e-16])  # 0 at the floor
    np.testing.assert_allclose(solid["7"].get_ydata(), [0.2, 0.05])
    (dashed,) = [ln for ln in ax_k.get_lines() if ln.get_linestyle() == "--"]  # "7" has none
    np.testing.assert_allclose(dashed.get_ydata(), [0.4, 1e-3, 1e-6])
    assert dashed.get_color() == solid["3"].get_color()
    dist = {ln.get_label(): ln.get_ydata() for ln in ax_d.get_lines()}
    np.testing.assert_allclose(dist["3"], [1.0, 0.75, 0.5])  # divided by the start's
    np.testing.assert_allclose(dist["7"], [1.0, 0.75])
    assert ax_k.get_yscale() == "log" and ax_d.get_ylabel() == "‖x − r‖ / ‖x₀ − r‖"
    assert fig._suptitle.get_text() == "fcnn5"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["3", "7"]


def test_legible_in_the_text_column():
    """Every text of the default figure shows at 9 px or more in the book's column."""
    from nnspaces import book

    runs = [_result([0.5, 0.1], [0.4, 1e-6], [2.0, 1.5]) for _ in range(10)]
    fig = nearness_history(runs, title="5-layer FCNN")
    assert fig.get_figwidth() <= 7.0
    assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX


def test_default_labels_and_bad_arguments():
    runs = [_result([1.0], [1.0], [1.0])] * 2
    fig = nearness_history(runs)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["0", "1"]
    with pytest.raises(ValueError, match="1 labels for 2 results"):
        nearness_history(runs, labels=["a"])
    with pytest.raises(ValueError, match="at least one"):
        nearness_history([])
