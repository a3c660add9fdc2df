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
