"""Figures of the models chapter: training curves and raw-output histograms."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..models import DISPLAY_NAME


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
        Two panels: cross-entropy (log scale) and accuracy; the epoch whose weights were kept
        (filled dot; the final one by default, as released) and the epoch of lowest validation
        loss (open circle) of each network are marked.
    """
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.4))
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
            ax.plot([b], [h[b - 1][key]], "o", mfc="none", ms=9, color=col)
            ax.plot([k], [h[k - 1][key]], "o", color=col)
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_a.set(
        xlabel="epoch",
        ylabel="accuracy",
        title="accuracy (dot: weights kept; circle: best validation)",
    )
    ax_l.legend(fontsize=7, ncol=1)
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
    fig.tight_layout()
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
        K panels; panel k shows output k over images of class k (filled) and over the other
        classes (outline), with the maximum over class k and the minimum over all images
        marked: the two values the paper's min/max target takes from this output.
    """
    Z, y = Z.detach().cpu().double().numpy(), y.cpu().numpy()
    K = Z.shape[1]
    if not np.isfinite(Z).all():
        raise ValueError("outputs hold NaN or inf: the network diverged")
    cols = 5
    fig, axes = plt.subplots(-(-K // cols), cols, figsize=(2.3 * cols, 2.0 * -(-K // cols)))
    for k, ax in enumerate(axes.flat):
        if k >= K:
            ax.axis("off")
            continue
        edges = np.linspace(Z[:, k].min(), Z[:, k].max(), bins + 1)
        ax.hist(Z[y != k, k], edges, histtype="step", color="0.4", density=True, label="others")
        ax.hist(Z[y == k, k], edges, color="C0", alpha=0.7, density=True, label=classes[k])
        ax.axvline(Z[:, k].max(), color="C3", lw=1)
        ax.axvline(Z[:, k].min(), color="C2", lw=1)
        ax.set_title(f"output {k} ({classes[k]})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    axes.flat[0].legend(fontsize=6, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
