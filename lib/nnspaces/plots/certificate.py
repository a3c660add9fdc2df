"""Figures for the nearness certificate: ``κ`` and the distance to the reference per step of
:func:`nnspaces.nearest.refine`. Each function returns a ``matplotlib.figure.Figure``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

#: Font size of every text but the title, in points: 8 pt in a 7-inch figure shows at ~11 px
#: in the book's text column.
FONT_PT = 8.0


def nearness_history(
    results: Sequence[object],
    labels: Sequence[str] | None = None,
    title: str | None = None,
    floor: float = 1e-16,
    panel: tuple[float, float] = (3.0, 2.6),
):
    """``κ``, ``κ`` with the kink directions, and ``‖x − r‖`` per accepted step, one line per
    problem.

    Parameters
    ----------
    results : sequence of NearestResult
        :func:`nnspaces.nearest.refine` output (``kappa_history``, ``kappa_kinks_history``,
        ``distance_history``), e.g. one per digit.
    labels : sequence of str, optional
        Legend entries; default ``"0"``, ``"1"``, ….
    title : str, optional
    floor : float
        ``κ`` values below it are drawn at it (a log axis cannot show 0).
    panel : (width, height) of one panel in inches
        The default fits the book's text column (two panels and the legend in 7 inches,
        every text at least 8 pt).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Left: ``κ`` (solid) and ``κ`` with the kink gradients added to the row space (dashed),
        log scale. Right: the distance divided by the start's (the Gauss–Newton point), so
        every line starts at 1. One legend of digits on the right.
    """
    if not len(results):
        raise ValueError("nearness_history needs at least one result")
    labels = [str(i) for i in range(len(results))] if labels is None else list(labels)
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} results")
    fig, (ax_k, ax_d) = plt.subplots(1, 2, figsize=(2 * panel[0] + 0.8, panel[1]))
    colours = plt.get_cmap("tab10")
    for i, (res, label) in enumerate(zip(results, labels)):
        c = colours(i % 10)
        k = np.maximum(np.asarray(res.kappa_history, dtype=float), floor)
        kk = np.maximum(np.asarray(res.kappa_kinks_history, dtype=float), floor)
        d = np.asarray(res.distance_history, dtype=float)
        ax_k.semilogy(np.arange(k.size), k, color=c, marker=".", label=label)
        if np.isfinite(kk).any():
            ax_k.semilogy(np.arange(kk.size), kk, color=c, linestyle="--", linewidth=0.9)
        ax_d.plot(np.arange(d.size), d / d[0], color=c, marker=".", label=label)
    ax_k.set_ylabel("κ (solid); with kink directions (dashed)", fontsize=FONT_PT)
    ax_d.set_ylabel("‖x − r‖ / ‖x₀ − r‖", fontsize=FONT_PT)
    for ax in (ax_k, ax_d):
        ax.set_xlabel("accepted step", fontsize=FONT_PT)
        ax.tick_params(labelsize=FONT_PT)
        ax.grid(True, which="major", alpha=0.3)
    handles, names = ax_d.get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="center right",
        fontsize=FONT_PT,
        title="digit",
        title_fontsize=FONT_PT,
        frameon=False,
    )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 0.65 / fig.get_figwidth(), 1))
    return fig
