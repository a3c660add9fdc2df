"""Figures of the models chapter: training curves and raw-output histograms.

Sized for the book's text column (at most 7 inches wide, no text under 8 pt: at least
9 CSS px on the page, see :func:`nnspaces.book.glue_figure`).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D

from ..models import DISPLAY_NAME

#: The smallest font of these figures, in points.
SMALL = 8


def training_curves(reports: dict[str, dict]):
    """Loss and accuracy per epoch (train and validation) of each trained network.

    Parameters
    ----------
    reports : dict
        Model name → the report of ``train.train_or_load`` (uses ``history``, ``epoch`` — the
        epoch whose weights were kept — and ``best_epoch``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide. Two panels: cross-entropy (log scale) and accuracy, train dashed and
        validation solid, one colour per network; the epoch whose weights were kept (filled
        dot; the final one by default, as released) and the epoch of lowest validation loss
        (open circle) of each network are marked. One legend below both panels.
    """
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(7, 3.1))
    for i, (name, rep) in enumerate(reports.items()):
        h = rep["history"]
        ep = [e["epoch"] for e in h]
        col = f"C{i}"
        label = DISPLAY_NAME.get(name, name)
        ax_l.plot(ep, [e["train_loss"] for e in h], "--", color=col, label=f"{label} train")
        ax_l.plot(ep, [e["val_loss"] for e in h], "-", color=col, label=f"{label} validation")
        ax_a.plot(ep, [e["train_acc"] for e in h], "--", color=col)
        ax_a.plot(ep, [e["val_acc"] for e in h], "-", color=col)
        b, k = rep["best_epoch"], rep.get("epoch", rep["best_epoch"])
        for ax, key in ((ax_l, "val_loss"), (ax_a, "val_acc")):
            ax.plot([b], [h[b - 1][key]], "o", mfc="none", ms=8, color=col)
            ax.plot([k], [h[k - 1][key]], "o", ms=5, color=col)
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_a.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=SMALL)
        ax.xaxis.label.set_size(9)
        ax.yaxis.label.set_size(9)
        ax.title.set_size(10)
    handles = [
        Line2D([], [], color=f"C{i}", label=DISPLAY_NAME.get(n, n)) for i, n in enumerate(reports)
    ] + [
        Line2D([], [], color="0.3", ls="--", label="train"),
        Line2D([], [], color="0.3", ls="-", label="validation"),
        Line2D([], [], color="0.3", ls="", marker="o", ms=5, label="weights kept"),
        Line2D([], [], color="0.3", ls="", marker="o", mfc="none", ms=8, label="best validation"),
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=4, fontsize=SMALL, frameon=False, columnspacing=1
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def output_histograms(
    Z: torch.Tensor, y: torch.Tensor, classes: Sequence[str], bins: int = 40, title: str = ""
):
    """Histogram of each raw output unit, its own class against all others.

    Parameters
    ----------
    Z : (N, K) Tensor
        Raw (pre-softmax) outputs.
    y : (N,) int Tensor
        Labels.
    classes : list of K str
    title : str
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide, K panels in rows of 5; panel k (titled ``"output k"``, or
        ``"k: class"`` when the class has a name) shows output k
        over images of class k (filled) and over the other classes (outline), with the
        maximum (red) and the minimum (green) of output k over all images marked: the two
        values the paper's min/max target takes from this output. One legend below.
    """
    Z, y = Z.detach().cpu().double().numpy(), y.cpu().numpy()
    K = Z.shape[1]
    if not np.isfinite(Z).all():
        raise ValueError("outputs hold NaN or inf: the network diverged")
    cols = 5
    rows = -(-K // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7, 1.55 * rows + 0.7), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= K:
            ax.axis("off")
            continue
        edges = np.linspace(Z[:, k].min(), Z[:, k].max(), bins + 1)
        ax.hist(Z[y != k, k], edges, histtype="step", color="0.4", density=True, label="others")
        ax.hist(Z[y == k, k], edges, color="C0", alpha=0.7, density=True, label="own class")
        ax.axvline(Z[:, k].max(), color="C3", lw=1, label="maximum")
        ax.axvline(Z[:, k].min(), color="C2", lw=1, label="minimum")
        name = str(classes[k])
        ax.set_title(f"output {k}" if name == str(k) else f"{k}: {name}", fontsize=9)
        ax.tick_params(labelsize=SMALL)
        ax.set_yticks([])
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=SMALL, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.4 / (1.55 * rows + 0.7), 1, 1))
    return fig
