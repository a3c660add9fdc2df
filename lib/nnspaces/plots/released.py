"""Figures of the re-enacted released ResNet procedure (:mod:`nnspaces.released`).

Each function returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

_LABELS = {"released": "released (training mode)", "corrected": "corrected (eval mode)"}


def _rows(rep, start: str, procedures: Sequence[str]):
    """(label, (K, H, W) array, is_difference) for each row of :func:`reenactment_figure`."""
    rows = []
    for proc in procedures:
        x0 = rep.starts[(proc, start)][:, 0].numpy()  # (K, H, W)
        x1 = rep.images[(proc, start)][:, 0].numpy()
        rows += [
            (f"{proc}\nstart $x_0$", x0, False),
            (f"{proc}\nresult $x_T$", x1, False),
            (f"{proc}\n$x_T - x_0$", x1 - x0, True),
        ]
    return rows


def reenactment_figure(
    rep, start: str, procedures: Sequence[str] = ("released", "corrected"), cell: float = 0.95
):
    """Start image, result and their difference per digit, for each procedure.

    Parameters
    ----------
    rep : nnspaces.released.Reenactment
    start : {"min", "avg"}
        The start images shown.
    procedures : sequence of str
        Row groups, each of three rows: start ``x_0``, result ``x_T`` (``T`` steps), ``x_T − x_0``.
    cell : float
        Panel size in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Columns are digits. The image rows share one grey scale (the range of all of them); the
        difference rows share one symmetric scale, ``±`` the largest change of any pixel in the
        figure, shown by the colour bar on the right (``±1`` when nothing moved at all).
    """
    rows = _rows(rep, start, procedures)
    K = rows[0][1].shape[0]
    imgs = [a for _, a, diff in rows if not diff]
    lo, hi = min(float(a.min()) for a in imgs), max(float(a.max()) for a in imgs)
    m = max(float(np.abs(a).max()) for _, a, diff in rows if diff) or 1.0
    fig, axes = plt.subplots(
        len(rows), K, figsize=(cell * K + 2.2, cell * len(rows) + 0.4), squeeze=False
    )
    for i, (label, arr, diff) in enumerate(rows):
        vmin, vmax, cmap = (-m, m, "RdBu_r") if diff else (lo, hi, "gray")
        for c in range(K):
            ax = axes[i, c]
            im = ax.imshow(arr[c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(str(c), fontsize=9)
        axes[i, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        if diff:
            bar = fig.colorbar(im, ax=list(axes[i]), fraction=0.02, pad=0.01)
            bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"start image: {start}", fontsize=10)
    return fig


def loss_curves(
    rep,
    start: str,
    procedures: Sequence[str] = ("released", "corrected"),
    panel: tuple[float, float] = (4.0, 3.0),
):
    """The change of the loss from its start, ``100 (L_s / L_0 − 1)`` %, per step and digit; one
    panel per procedure.

    Parameters
    ----------
    rep : nnspaces.released.Reenactment
    start : {"min", "avg"}
    procedures : sequence of str
    panel : (width, height) of one panel in inches

    Returns
    -------
    fig : matplotlib.figure.Figure
        One line per digit (labelled in the first panel); a dashed line marks 0 (no change).
        Each panel has its own vertical scale.
    """
    fig, axes = plt.subplots(
        1, len(procedures), figsize=(panel[0] * len(procedures), panel[1]), squeeze=False
    )
    for ax, proc in zip(axes[0], procedures):
        H = rep.histories[(proc, start)].numpy()  # (K, steps + 1)
        for c, h in enumerate(H):
            ax.plot(np.arange(len(h)), 100 * (h / h[0] - 1), lw=1, label=str(c))
        ax.axhline(0.0, color="k", lw=0.8, ls="--")
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_title(f"{_LABELS.get(proc, proc)}, start {start}", fontsize=9)
        ax.set_xlabel("SGD step")
    axes[0, 0].set_ylabel("loss change from the start (%)")
    axes[0, 0].legend(fontsize=6, ncol=2, title="digit", title_fontsize=7)
    fig.tight_layout()
    return fig
