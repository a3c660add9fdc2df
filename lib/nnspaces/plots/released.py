"""Figures of the re-enacted released ResNet procedure (:mod:`nnspaces.released`).

Each function returns a ``matplotlib.figure.Figure`` sized for the book's text column
(at most 7 inches wide, no text under 8 pt).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

#: Short names of the procedures in figure labels.
LABELS = {
    "released": "(a) as released",
    "eval_copies": "(b) eval, 32 copies",
    "eval_one": "(c) eval, one image",
}

_FONT = 8  # pt: 11 CSS px in a 7-inch figure shown in the 688-px column


def _rows(rep, start: str, procedures: Sequence[str]):
    """(label, (K, H, W) array, is_difference) for each row of :func:`reenactment_figure`."""
    rows, shown = [], []
    for proc in procedures:
        x0 = rep.starts[(proc, start)][:, 0].numpy()  # (K, H, W)
        x1 = rep.images[(proc, start)][:, 0].numpy()
        mode = "training mode" if proc == "released" else "eval mode"
        if not any(np.array_equal(x0, s) for s in shown):
            rows.append((f"start $x_0$\n({mode})", x0, False))
            shown.append(x0)
        rows.append((f"{LABELS.get(proc, proc)}:\n$x_T - x_0$", x1 - x0, True))
    last = procedures[-1]
    x1 = rep.images[(last, start)][:, 0].numpy()
    rows.append((f"{LABELS.get(last, last)}:\nresult $x_T$", x1, False))
    return rows


def reenactment_figure(rep, start: str, procedures: Sequence[str] | None = None):
    """Start images, each procedure's change of them, and the last procedure's results.

    Parameters
    ----------
    rep : nnspaces.released.Reenactment
    start : {"min", "avg", "noise"}
        The start images shown.
    procedures : sequence of str, optional
        Default: every procedure of ``rep`` in :data:`nnspaces.released.PROCEDURES` order.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Columns are digits (7 inches wide). Rows: the start images ``x_0`` (one row per
        distinct set: training mode picks its own ``min`` starts), the change ``x_T − x_0`` of
        each procedure, and the last procedure's results ``x_T``. The image rows share one grey
        scale; each change row has its own symmetric colour scale, ``±`` its largest change,
        shown by the colour bar at its right (``±1`` when nothing moved).
    """
    from ..released import PROCEDURES

    if procedures is None:
        procedures = [p for p in PROCEDURES if (p, start) in rep.starts]
    rows = _rows(rep, start, list(procedures))
    K = rows[0][1].shape[0]
    imgs = [a for _, a, diff in rows if not diff]
    lo, hi = min(float(a.min()) for a in imgs), max(float(a.max()) for a in imgs)
    cell = 0.5
    fig, axes = plt.subplots(
        len(rows), K, figsize=(7.0, cell * len(rows) + 0.3), squeeze=False, layout="constrained"
    )
    for i, (label, arr, diff) in enumerate(rows):
        m = float(np.abs(arr).max()) or 1.0
        vmin, vmax, cmap = (-m, m, "RdBu_r") if diff else (lo, hi, "gray")
        for c in range(K):
            ax = axes[i, c]
            im = ax.imshow(arr[c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(str(c), fontsize=_FONT + 1)
        axes[i, 0].set_ylabel(label, fontsize=_FONT, rotation=0, ha="right", va="center")
        if diff:
            bar = fig.colorbar(im, ax=list(axes[i]), fraction=0.04, pad=0.01, aspect=6)
            bar.set_ticks([-m, 0, m])
            bar.set_ticklabels([f"{-m:.1g}".replace("-", "−"), "0", f"{m:.1g}"])
            bar.ax.tick_params(labelsize=_FONT)
    return fig


def loss_curves(rep, starts: Sequence[str] | None = None, procedures: Sequence[str] | None = None):
    """The change of the loss from its start, ``100 (L_s / L_0 − 1)`` %, per step and digit.

    Parameters
    ----------
    rep : nnspaces.released.Reenactment
    starts, procedures : sequence of str, optional
        Rows and columns of panels; default every start and procedure of ``rep``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide; one panel per start (row) and procedure (column), one line per digit
        (legend below), a dashed line at 0 (no change). Each panel has its own vertical scale.
    """
    from ..released import PROCEDURES, STARTS

    keys = set(rep.histories)
    starts = [s for s in (starts or STARTS) if any((p, s) in keys for p in PROCEDURES)]
    procedures = [p for p in (procedures or PROCEDURES) if any((p, s) in keys for s in starts)]
    fig, axes = plt.subplots(
        len(starts),
        len(procedures),
        figsize=(7.0, 1.75 * len(starts) + 0.9),
        squeeze=False,
        layout="constrained",
    )
    for i, start in enumerate(starts):
        for j, proc in enumerate(procedures):
            ax = axes[i, j]
            H = rep.histories[(proc, start)].numpy()  # (K, steps + 1)
            for c, h in enumerate(H):
                ax.plot(np.arange(len(h)), 100 * (h / h[0] - 1), lw=1, label=str(c))
            ax.axhline(0.0, color="k", lw=0.8, ls="--")
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=_FONT)
            if i == 0:
                ax.set_title(LABELS.get(proc, proc), fontsize=_FONT + 1)
            if i == len(starts) - 1:
                ax.set_xlabel("SGD step", fontsize=_FONT)
            if j == 0:
                ax.set_ylabel(f"start {start}:\nloss change (%)", fontsize=_FONT)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels) + 1,
        fontsize=_FONT,
        title="digit",
        title_fontsize=_FONT,
        frameon=False,
    )
    return fig
