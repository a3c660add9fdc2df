"""A grid of grey-scale images, the picture format of all three paper figures."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def _as_numpy(img) -> np.ndarray:
    a = img.detach().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
    return np.squeeze(a).astype(float)


def image_grid(
    rows: Sequence[Sequence],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    shared_scale: bool | Sequence[bool] = True,
    symmetric: bool | Sequence[bool] = False,
    cell: float = 1.1,
    cmap: str = "gray",
    colorbar: bool = False,
):
    """Draw ``rows`` of images as a grid of grey-scale panels.

    Parameters
    ----------
    rows : list of R lists of C images
        Each image is anything ``np.squeeze`` turns into an ``(h, w)`` array (Tensor or array).
    row_labels, col_labels : list of str, optional
        Labels on the left of each row and on top of each column.
    shared_scale : bool or list of R bool
        Whether a row shares one colour scale (min/max over the row) or each panel is
        scaled on its own.
    symmetric : bool or list of R bool
        Centre a row's colour scale on zero (for signed images such as weights).
    cell : float
        Size of one panel in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    R = len(rows)
    C = max(len(r) for r in rows)
    shared = [shared_scale] * R if isinstance(shared_scale, bool) else list(shared_scale)
    sym = [symmetric] * R if isinstance(symmetric, bool) else list(symmetric)
    fig, axes = plt.subplots(R, C, figsize=(cell * C + 0.8, cell * R + 0.3), squeeze=False)
    for i, row in enumerate(rows):
        arrs = [_as_numpy(a) for a in row]
        finite = [a[np.isfinite(a)] for a in arrs]
        if any(f.size != a.size for f, a in zip(finite, arrs)):
            raise ValueError(f"row {i} holds NaN or inf pixels: refusing to draw them")
        lo = min(float(a.min()) for a in arrs)
        hi = max(float(a.max()) for a in arrs)
        for j in range(C):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j >= len(arrs):
                continue
            a = arrs[j]
            vmin, vmax = (lo, hi) if shared[i] else (float(a.min()), float(a.max()))
            if sym[i]:
                m = max(abs(vmin), abs(vmax)) or 1.0
                vmin, vmax = -m, m
            im = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if col_labels is not None and i == 0:
                ax.set_title(str(col_labels[j]), fontsize=9)
        if row_labels is not None:
            axes[i, 0].set_ylabel(
                str(row_labels[i]), fontsize=9, rotation=0, ha="right", va="center"
            )
        if colorbar:
            fig.colorbar(im, ax=list(axes[i]), fraction=0.02, pad=0.01)
    fig.subplots_adjust(wspace=0.05, hspace=0.15)
    return fig


#: Font size (points) of every text of a :func:`panel_grid`: 8 pt in a 7-inch figure is
#: 11 CSS px in the book's 688-px text column.
PANEL_FONT = 8.0


def panel_grid(
    rows: Sequence[Sequence],
    *,
    titles: Sequence[Sequence[str]] | None = None,
    colours: Sequence[Sequence[str]] | None = None,
    row_titles: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    shared_scale: bool = False,
    width: float = 7.0,
    gap: float = 0.08,
    fontsize: float = PANEL_FONT,
    cmap: str = "gray",
):
    """Rows of grey-scale panels sized for the book's text column, each with its own titles.

    Every panel and every text sits in one Axes (drawn in a fraction of the time separate
    Axes take); the figure is ``width`` inches wide and exactly as tall as its rows need, so
    that each panel is square.

    Parameters
    ----------
    rows : list of R lists of at most C images
        Each image is anything ``np.squeeze`` turns into an ``(h, w)`` array (Tensor or array).
    titles : list of R lists of str, optional
        A title above each panel (``"\\n"`` for several lines; ``""`` for none).
    colours : list of R lists of str, optional
        The colour of each panel's title (default black).
    row_titles : list of R str, optional
        A line above each row, at its left edge (e.g. the network's name).
    col_labels : list of C str, optional
        A header above the first row (e.g. the digits).
    shared_scale : bool
        One grey scale for the whole figure (min/max over every image); default each panel
        on its own scale.
    width : float
        Figure width in inches (the book's column takes 7 in at 8 pt).
    gap : float
        Space between panels, as a fraction of a panel.
    fontsize : float
        Points, for every text.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes (axis off) holding the images row by row (``ax.images``) and the texts.

    Raises
    ------
    ValueError
        A NaN or inf pixel, or ``titles``/``colours``/``row_titles`` that do not match ``rows``.
    """
    R = len(rows)
    C = max(len(r) for r in rows)
    arrs = [[_as_numpy(a) for a in row] for row in rows]
    for i, row in enumerate(arrs):
        if any(not np.isfinite(a).all() for a in row):
            raise ValueError(f"row {i} holds NaN or inf pixels: refusing to draw them")
    for what, given in (("titles", titles), ("colours", colours)):
        if given is not None and [len(t) for t in given] != [len(r) for r in rows]:
            raise ValueError(f"{what} must give one entry per panel, row by row")
    if row_titles is not None and len(row_titles) != R:
        raise ValueError(f"row_titles: {len(row_titles)} given for {R} rows")
    cell = width / (C + (C - 1) * gap)  # inches per panel
    line = 1.3 * fontsize / 72 / cell  # one line of text, in panels
    y, placed = 0.0, []
    if col_labels is not None:
        y += line
    for i in range(R):
        top = y + (line if row_titles is not None else 0.0) + gap
        lines = max((t.count("\n") + 1 for t in titles[i] if t), default=0) if titles else 0
        placed.append((top, top + lines * line))  # (row title baseline, panel top)
        y = top + lines * line + 1.0 + 2 * gap
    height = y - 2 * gap + 0.05
    fig = plt.figure(figsize=(width, height * cell))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, C + (C - 1) * gap)
    ax.set_ylim(height, 0)
    if shared_scale:
        lo = min(float(a.min()) for row in arrs for a in row)
        hi = max(float(a.max()) for row in arrs for a in row)
    text = {"fontsize": fontsize}
    if col_labels is not None:
        for j, label in enumerate(col_labels):
            ax.text(j * (1 + gap) + 0.5, line, str(label), ha="center", va="bottom", **text)
    for i, row in enumerate(arrs):
        rt, y0 = placed[i]
        if row_titles is not None:
            ax.text(0, rt, row_titles[i], ha="left", va="bottom", fontweight="bold", **text)
        for j, a in enumerate(row):
            x0 = j * (1 + gap)
            vmin, vmax = (lo, hi) if shared_scale else (float(a.min()), float(a.max()))
            ax.imshow(
                a,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                interpolation="nearest",
                extent=(x0, x0 + 1, y0 + 1, y0),
            )
            if titles and titles[i][j]:
                colour = colours[i][j] if colours else "black"
                ax.text(
                    x0 + 0.5,
                    y0 - 0.03,
                    titles[i][j],
                    ha="center",
                    va="bottom",
                    color=colour,
                    **text,
                )
    ax.set_aspect("auto")
    return fig
