"""Figures for the nearness certificate: ``κ`` and the distance to the reference per step of
:func:`nnspaces.nearest.refine`. Each function returns a ``matplotlib.figure.Figure``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def nearness_history(
    results: Sequence[object],
    labels: Sequence[str] | None = None,
    title: str | None = None,
    floor: float = 1e-16,
    panel: tuple[float, float] = (4.2, 3.2),
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

    Returns
    -------
    fig : matplotlib.figure.Figure
        Left: ``κ`` (solid) and ``κ`` with the kink gradients added to the row space (dashed),
        log scale. Right: the distance divided by the start's (the Gauss–Newton point), so
        every line starts at 1.
    """
    if not len(results):
        raise ValueError("nearness_history needs at least one result")
    labels = [str(i) for i in range(len(results))] if labels is None else list(labels)
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} results")
    fig, (ax_k, ax_d) = plt.subplots(1, 2, figsize=(2 * panel[0], panel[1]))
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
    ax_k.set_xlabel("step")
    ax_k.set_ylabel("κ (solid), κ with kink directions (dashed)")
    ax_k.grid(True, which="major", alpha=0.3)
    ax_d.set_xlabel("step")
    ax_d.set_ylabel("‖x − r‖ / ‖x₀ − r‖")
    ax_d.grid(True, alpha=0.3)
    ax_d.legend(fontsize=7, ncol=2, title="digit", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
