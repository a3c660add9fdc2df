"""Figures of the signal-space chapters: Figure 1, Figure 2, spectra and null energy by layer.

Each function draws only what it is given (computed with :mod:`nnspaces.spaces`), returns a
``matplotlib.figure.Figure``, and refuses NaN or inf values rather than drawing blank panels.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..spaces import ClassResiduals, LayerSpaces
from .grid import image_grid


def _numpy(a, what: str) -> np.ndarray:
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    arr = arr.astype(float)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} holds NaN or inf values: refusing to draw them")
    return arr


def signal_space_figure(
    spaces: LayerSpaces,
    residuals: ClassResiduals | None = None,
    image_shape: tuple[int, int] = (28, 28),
    show_averages: bool = False,
    cell: float = 0.65,
):
    """Figure 1: weight rows, signal space and residuals of the class averages, as images.

    Parameters
    ----------
    spaces : LayerSpaces
        Of the layer's matrix ``W`` (m, n) with ``n = h*w``.
    residuals : ClassResiduals, optional
        From :func:`nnspaces.spaces.class_average_residuals`; adds one row of null-space
        residuals ``x̄_c - V_r V_r^T x̄_c`` (what the layer cannot see) and one of the released
        code's residuals ``x̄_c - proj_{w_c} x̄_c``.
    image_shape : (h, w)
    show_averages : bool
        Also draw the class-average images (first residual row).
    cell : float
        Panel size in inches (0.65: ten columns and the row labels fit a 7.5-inch figure,
        whose 9-pt labels are 12 px or more in the book's 688-px column).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Rows: ``m`` weight rows ``w_i``; ``r`` signal-space images ``sigma_i v_i``; then, per
        class, [averages,] null residuals and row-projection residuals. Every row shares one
        grey scale; the signed rows are centred on zero (mid grey).
    """
    A = _numpy(spaces.matrix, "W")
    h, w = image_shape
    if A.shape[1] != h * w:
        raise ValueError(
            f"W has {A.shape[1]} columns, image_shape {image_shape} has {h * w} pixels"
        )
    signal = _numpy(spaces.signal, "signal space")  # (r, n)
    rows = [list(A.reshape(-1, h, w)), list(signal.reshape(-1, h, w))]
    labels = ["weights\n$w_i$", "signal space\n$\\sigma_i v_i$"]
    symmetric = [True, True]
    if residuals is not None:
        if show_averages:
            rows.append(list(_numpy(residuals.averages, "class averages").reshape(-1, h, w)))
            labels.append("class average\n$\\bar x_c$")
            symmetric.append(False)
        rows.append(list(_numpy(residuals.null, "null residuals").reshape(-1, h, w)))
        rows.append(list(_numpy(residuals.row, "row-projection residuals").reshape(-1, h, w)))
        labels += ["null-space\nresidual", "released\nresidual"]
        symmetric += [True, True]
    if max(len(r) for r in rows) == 0:
        raise ValueError("nothing to draw: W has rank 0 and no residuals were given")
    ncol = max(len(r) for r in rows)
    return image_grid(
        rows,
        row_labels=labels,
        col_labels=[str(j) for j in range(ncol)],
        shared_scale=True,
        symmetric=symmetric,
        cell=cell,
    )


def _spectrum(s, what: str) -> tuple[np.ndarray, float | None]:
    if isinstance(s, LayerSpaces):
        return _numpy(s.S, what), s.tol
    arr = _numpy(s, what).reshape(-1)
    return arr, None


def singular_value_plot(
    spectra,
    logy: bool = True,
    normalise: bool = False,
    show_tol: bool = False,
    title: str | None = None,
    ax=None,
):
    """The singular values of one or several matrices, in descending order.

    Parameters
    ----------
    spectra : LayerSpaces, (k,) array, or mapping label -> either
        Several spectra are drawn as labelled lines (e.g. one per view of a layer).
    logy : bool
        Logarithmic y axis (zero singular values are then left out, and the count said).
    normalise : bool
        Divide each spectrum by its largest value (compares shapes across views).
    show_tol : bool
        Draw each LayerSpaces' rank tolerance as a dashed line.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    items = spectra.items() if isinstance(spectra, Mapping) else [(None, spectra)]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    for label, s in items:
        S, tol = _spectrum(s, f"singular values {label or ''}".strip())
        if S.size == 0:
            raise ValueError(f"spectrum {label!r} is empty")
        scale = S.max() if normalise and S.max() > 0 else 1.0
        idx = np.arange(1, S.size + 1)
        keep = S > 0 if logy else np.ones(S.size, bool)
        name = label if label is not None else None
        if logy and not keep.all():
            name = f"{label or 'spectrum'} ({int((~keep).sum())} zero values not shown)"
        marker = "o" if S.size <= 64 else None
        (line,) = ax.plot(idx[keep], S[keep] / scale, marker=marker, ms=3, lw=1, label=name)
        if show_tol and tol is not None and tol > 0:
            ax.axhline(tol / scale, ls="--", lw=0.8, color=line.get_color())
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("index $i$")
    ax.set_ylabel("$\\sigma_i / \\sigma_1$" if normalise else "$\\sigma_i$")
    if any(label is not None for label, _ in items) or ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def kernel_signal_figure(
    spaces: LayerSpaces,
    kernel_shape: tuple[int, int] = (3, 3),
    title: str | None = None,
    paper_condition: float | None = None,
    cell: float = 0.8,
):
    """Figure 2: the signal-space kernels ``sigma_i v_i`` of a conv layer's "kernels" view.

    Parameters
    ----------
    spaces : LayerSpaces
        Of the (C_out*C_in, kh*kw) kernel matrix (``layer_spaces(conv, view="kernels")``).
    kernel_shape : (kh, kw)
    title : str, optional
        Default: ``"signal-space kernels, condition number X"``.
    paper_condition : float, optional
        The paper's value, added to the default title for comparison.
    cell : float

    Returns
    -------
    fig : matplotlib.figure.Figure
        One row of ``rank`` kernels (9 for a full-rank 3x3 layer), one shared grey scale
        centred on zero.
    """
    kh, kw = kernel_shape
    if spaces.shape[1] != kh * kw:
        raise ValueError(
            f"the matrix has {spaces.shape[1]} columns, kernel_shape {kernel_shape} has {kh * kw}"
        )
    signal = _numpy(spaces.signal, "signal-space kernels").reshape(-1, kh, kw)  # (r, kh, kw)
    if len(signal) == 0:
        raise ValueError("the matrix has rank 0: no signal-space kernels to draw")
    fig = image_grid(
        [list(signal)],
        col_labels=[f"$\\sigma_{{{i + 1}}} v_{{{i + 1}}}$" for i in range(len(signal))],
        symmetric=True,
        cell=cell,
    )
    if title is None:
        cond = spaces.condition_number
        title = f"signal-space kernels, condition number {cond:.3g}"
        if paper_condition is not None:
            title += f" (paper: {paper_condition:g})"
    fig.suptitle(title, fontsize=10, y=1 + 0.35 / fig.get_figheight())  # above column labels
    return fig


def null_energy_plot(table: pd.DataFrame, title: str | None = None, ax=None):
    """Null-space energy fraction of each layer's inputs, one line per class.

    Parameters
    ----------
    table : DataFrame
        From :func:`nnspaces.spaces.null_energy_by_layer` (index: layers; one numeric column
        per class; ``note``), or from :func:`nnspaces.spaces.layer_table` with inputs (one
        ``null_energy`` line). Rows with a ``note`` are left out and listed under the axes.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        NaN in a row without a note, or nothing left to draw.
    """
    if "null_energy" in table.columns:  # a layer_table
        data = table.set_index("name")[["null_energy"]].rename(columns={"null_energy": "all"})
        notes = table.set_index("name")["note"] if "note" in table.columns else None
    else:
        data = table.drop(columns=["note"], errors="ignore")
        notes = table["note"] if "note" in table.columns else None
    noted = notes.astype(str).str.len() > 0 if notes is not None else None
    skipped = list(data.index[noted]) if noted is not None else []
    if noted is not None:
        data = data[~noted]
    values = data.to_numpy(dtype=float)
    if values.size == 0:
        raise ValueError("no layer to draw (every row is empty or carries a note)")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = sorted({str(data.index[i]) for i in np.nonzero(bad)[0]})
        raise ValueError(f"NaN or inf null-energy fractions for layers {rows} without a note")
    if ax is None:
        # at most 7 in wide, so that 8-pt labels stay above 9 px in the book's column
        fig, ax = plt.subplots(figsize=(min(7.0, max(5.0, 0.3 * len(data) + 2)), 3.6))
    else:
        fig = ax.figure
    x = np.arange(len(data))
    colours = plt.get_cmap("tab10")
    for j, col in enumerate(data.columns):
        ax.plot(x, values[:, j], marker="o", ms=3, lw=1, color=colours(j % 10), label=str(col))
    ax.set_xticks(x, [str(i) for i in data.index], rotation=90, fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("input energy in null space")
    if len(data.columns) > 1:
        ax.legend(
            title=data.columns.name or "class",
            fontsize=8,
            title_fontsize=8,
            ncol=2,
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
        )
    if skipped:
        text = "not shown: " + ", ".join(f"{s} ({notes[s]})" for s in skipped)
        fig.text(0.01, 0.0, text, fontsize=8, va="top", wrap=True)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = [
    "kernel_signal_figure",
    "null_energy_plot",
    "signal_space_figure",
    "singular_value_plot",
]
