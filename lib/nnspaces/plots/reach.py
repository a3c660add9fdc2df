"""Figures of the reachability chapter: the preimages of each digit's target, with and
without the pixel box, sized for the book's text column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

from .grid import image_grid

#: The figure's width in inches: the text column's 688 px at 150 dpi is about 4.6 in, so 7 in
#: is scaled by ~0.72 and 8-pt text shows at ~12 px.
WIDTH = 7.0
#: Font sizes in points: panel titles, row labels, colour-bar ticks.
TITLE_PT, LABEL_PT, TICK_PT = 7.5, 8.0, 7.5


def _error(x: float) -> str:
    """A relative error in a few characters: ``3e-16``, ``0.12``, ``0``."""
    if x == 0:
        return "0"
    return f"{x:.0e}".replace("e-0", "e-") if x < 1e-2 else f"{x:.2f}"


def reach_images(
    rows: Mapping[str, Sequence[object]], title: str | None = None, width: float = WIDTH
):
    """The images of several rows of results, one column per digit, each row on one grey
    scale with its colour bar.

    Parameters
    ----------
    rows : mapping row label → sequence of K InverseResult
        E.g. ``{"1-layer FCNN\\nno box": free, "1-layer FCNN\\nbox [0, 1]": box}`` from
        :func:`nnspaces.ideal.reachability` (``return_results=True``); labels may hold a
        line break.
    title : str, optional
    width : float
        Figure width in inches; the panels shrink to fit it.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Each panel is titled with its relative output error and, when some pixels lie
        outside [0, 1], their count (``"412 out"``); the first row's titles start with the
        digit. A row shares one grey scale (its colour bar on the right), so pixels far
        outside [0, 1] stretch the scale.
    """
    labels = list(rows)
    if not labels:
        raise ValueError("reach_images needs at least one row")
    R, C = len(labels), max(len(rows[k]) for k in labels)
    # margins in inches: row labels on the left, colour bars on the right, titles on top
    left, right, top, bottom = 1.0, 0.6, 0.55 + (0.3 if title else 0.0), 0.05
    wspace, hspace = 0.08, 0.75
    cell = (width - left - right) / (C + (C - 1) * wspace)
    height = top + bottom + cell * (R + (R - 1) * hspace)
    images = [[r.image for r in rows[k]] for k in labels]
    fig = image_grid(images, shared_scale=True, cell=cell)
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace,
        hspace=hspace,
    )
    axes = np.array(fig.axes[: R * C], dtype=object).reshape(R, C)
    for i, k in enumerate(labels):
        for j, r in enumerate(rows[k]):
            text = (f"{j}\n" if i == 0 else "") + _error(r.rel_error)
            if r.outside_box:
                text += f"\n{r.outside_box} out"
            axes[i, j].set_title(text, fontsize=TITLE_PT, pad=2, linespacing=1.1)
        axes[i, 0].set_ylabel(k, fontsize=LABEL_PT, rotation=0, ha="right", va="center")
        pos = axes[i, len(rows[k]) - 1].get_position()
        cax = fig.add_axes((pos.x1 + 0.06 / width, pos.y0, 0.08 / width, pos.height))
        bar = fig.colorbar(axes[i, 0].images[0], cax=cax)
        bar.ax.tick_params(labelsize=TICK_PT, length=2)
        bar.locator = MaxNLocator(3)
        bar.update_ticks()
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig
