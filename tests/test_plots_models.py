"""nnspaces.plots.models: the training curves and output histograms draw the reports' data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nnspaces.plots import output_histograms, training_curves


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _report(losses, kept):
    history = [
        {"epoch": e, "train_loss": 2 * v, "val_loss": v, "train_acc": 1 - v, "val_acc": 1 - v / 2}
        for e, v in enumerate(losses, start=1)
    ]
    best = min(history, key=lambda h: h["val_loss"])["epoch"]
    return {"history": history, "epoch": kept, "best_epoch": best}


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line


def test_training_curves_draw_each_history_and_mark_the_kept_and_best_epochs():
    reports = {"fcnn1": _report([0.9, 0.4, 0.5], kept=3), "resnet18": _report([0.8, 0.2], 2)}
    fig = training_curves(reports)
    ax_l, ax_a = fig.axes
    train = _line(ax_l, "1-layer FCNN train")
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(train.get_ydata(), [1.8, 0.8, 1.0])
    np.testing.assert_allclose(_line(ax_l, "ResNet18 validation").get_ydata(), [0.8, 0.2])
    # accuracy panel: the same runs, validation accuracy
    acc = [ln.get_ydata() for ln in ax_a.get_lines() if len(ln.get_xdata()) == 3]
    assert any(np.allclose(y, [0.55, 0.8, 0.75]) for y in acc)
    # markers: filled dot at the kept epoch (3), open circle at the best (2)
    dots = [ln for ln in ax_l.get_lines() if ln.get_marker() == "o" and ln.get_color() == "C0"]
    marks = {(float(ln.get_xdata()[0]), ln.get_markerfacecolor() == "none") for ln in dots}
    assert marks == {(3.0, False), (2.0, True)}
    assert ax_l.get_yscale() == "log" and ax_l.get_ylabel() == "cross-entropy"
    assert ax_l.get_title() == "loss" and ax_a.get_ylabel() == "accuracy"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "1-layer FCNN",
        "ResNet18",
        "train",
        "validation",
        "weights kept",
        "best validation",
    ]


def test_the_models_figures_are_legible_in_the_column():
    from nnspaces import book

    reports = {n: _report([0.9, 0.4, 0.5], kept=3) for n in ("fcnn1", "fcnn5", "resnet18")}
    g = torch.Generator().manual_seed(0)
    Z, y = torch.randn(200, 10, generator=g), torch.arange(200) % 10
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"] + ["Ankle boot"] * 5
    for fig in (training_curves(reports), output_histograms(Z, y, names, title="t")):
        assert book.figure_png(fig)[1]["min_text_css_px"] >= book.MIN_TEXT_PX


def test_output_histograms_show_each_outputs_own_class_against_the_rest():
    g = torch.Generator().manual_seed(0)
    Z, y = torch.randn(60, 3, generator=g), torch.arange(60) % 3
    fig = output_histograms(Z, y, ("a", "b", "c"), bins=4, title="raw outputs")
    assert fig._suptitle.get_text() == "raw outputs" and fig.get_figwidth() <= 7
    panels, spare = fig.axes[:3], fig.axes[3:]
    assert not any(ax.axison for ax in spare)  # a row of 5 panels, 2 left empty
    for k, ax in enumerate(panels):
        z = Z[:, k].double().numpy()
        edges = np.linspace(z.min(), z.max(), 5)
        own, _ = np.histogram(z[y.numpy() == k], edges, density=True)
        filled = [p for p in ax.patches if p.get_fill()]
        np.testing.assert_allclose([p.get_height() for p in filled], own)
        marks = sorted(float(ln.get_xdata()[0]) for ln in ax.get_lines())
        assert marks == pytest.approx([z.min(), z.max()])  # the min/max target's two values
        assert ax.get_title() == f"{k}: {'abc'[k]}"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["others", "own class", "maximum", "minimum"]
    digits = output_histograms(Z, y, ("0", "1", "2"), bins=4)
    assert digits.axes[1].get_title() == "output 1"  # a digit is not named twice
    with pytest.raises(ValueError, match="diverged"):
        output_histograms(torch.tensor([[float("nan")]]), torch.tensor([0]), ("a",))
