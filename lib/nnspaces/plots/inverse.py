"""Figures for the inverse-map chapters: Figure 3, the comparison grid, loss histories and
reachability. Each function returns a ``matplotlib.figure.Figure``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .grid import image_grid


def _axes_grid(fig, R: int, C: int) -> np.ndarray:
    """The (R, C) image axes of an ``image_grid`` figure (colour bars come after them)."""
    return np.array(fig.axes[: R * C], dtype=object).reshape(R, C)


def _short(x: float) -> str:
    return f"{x:.0e}" if x < 1e-2 else f"{x:.2f}"


def figure3(
    best: pd.DataFrame,
    results: Mapping[tuple, object],
    networks: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    cell: float = 1.2,
):
    """The paper's Figure 3: one row per network, the chosen image of each digit.

    Parameters
    ----------
    best : pandas.DataFrame
        :func:`nnspaces.ideal.choose_best` output (columns network, digit, start, method,
        label, fallback).
    results : dict (network, digit, start, method) → InverseResult
        :func:`nnspaces.ideal.run_grid`'s second output.
    networks : list of str, optional
        Row order; default the order in ``best``.
    names : mapping network → display name, optional
    cell : float
        Panel size in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Each panel is titled ``"digit: start / +method"`` (a ``*`` marks a fallback choice) and
        scaled on its own, like the paper's ``imshow`` panels.
    """
    networks = list(dict.fromkeys(best["network"])) if networks is None else list(networks)
    names = dict(names or {})
    rows, titles = [], []
    for net in networks:
        b = best[best["network"] == net].sort_values("digit")
        if b.empty:
            raise ValueError(f"no chosen images for network {net!r}")
        rows.append([results[(net, r.digit, r.start, r.method)].image for r in b.itertuples()])
        titles.append(
            [
                f"{r.digit}: {r.start}{'*' if getattr(r, 'fallback', '') else ''}\n+{r.method}"
                for r in b.itertuples()
            ]
        )
    fig = image_grid(
        rows, row_labels=[names.get(n, n) for n in networks], shared_scale=False, cell=cell
    )
    axes = _axes_grid(fig, len(rows), max(len(r) for r in rows))
    for i, row in enumerate(titles):
        for j, text in enumerate(row):
            axes[i, j].set_title(text, fontsize=6)
    fig.subplots_adjust(hspace=0.45, top=0.85, left=0.12)
    return fig


def comparison_grid(
    df: pd.DataFrame,
    results: Mapping[tuple, object],
    network: str,
    starts: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    cell: float = 0.9,
    title: str | None = None,
):
    """All start × method images of one network: rows ``start+method``, columns digits.

    Each panel is titled with its relative output error; a red title marks an image the network
    does not classify as the digit. Panels are scaled on their own.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`nnspaces.ideal.run_grid` table.
    results : dict (network, digit, start, method) → InverseResult
    network : str
    starts, methods : list of str, optional
        Subsets and their order; default those in ``df``.
    cell : float
        Panel size in inches.
    title : str, optional
        A title above the grid (e.g. the network's display name).

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes holding every panel as an image (row by row, in ``ax.images``), its title
        and the row labels as texts: a grid of a few hundred panels draws in a fraction of
        the time separate Axes take.
    """
    d = df[df["network"] == network]
    if d.empty:
        raise ValueError(f"no rows for network {network!r}")
    starts = list(dict.fromkeys(d["start"])) if starts is None else list(starts)
    methods = list(dict.fromkeys(d["method"])) if methods is None else list(methods)
    digits = sorted(set(d["digit"]))
    combos = [(s, m) for s in starts for m in methods if (network, digits[0], s, m) in results]
    R, C = len(combos), len(digits)
    gap_x, gap_y = 0.08, 0.45  # in panels: between columns; above each row, for its titles
    label_in, top_in = 1.9, (0.75 if title else 0.4)  # inches: row labels; above the grid
    width, height = cell * C * (1 + gap_x), cell * R * (1 + gap_y)
    fig = plt.figure(figsize=(width + label_in + 0.1, height + top_in))
    W, H = fig.get_size_inches()
    ax = fig.add_axes((label_in / W, 0.05 / H, width / W, (height - 0.05) / H))
    ax.set_axis_off()
    for i, (s, m) in enumerate(combos):
        y0 = i * (1 + gap_y) + gap_y  # the panel's top, rows downwards
        ax.text(-0.15, y0 + 0.5, f"{s}+{m}", ha="right", va="center", fontsize=9)
        for j, c in enumerate(digits):
            res = results[(network, c, s, m)]
            a = np.squeeze(res.image.detach().cpu().numpy()).astype(float)
            x0 = j * (1 + gap_x)
            ax.imshow(
                a,
                cmap="gray",
                vmin=float(a.min()),
                vmax=float(a.max()),
                interpolation="nearest",
                extent=(x0, x0 + 1, y0 + 1, y0),
            )
            label = (f"{c}\n" if i == 0 else "") + _short(res.rel_error)
            colour = "black" if res.predicted == c else "red"
            ax.text(x0 + 0.5, y0 - 0.04, label, ha="center", va="bottom", fontsize=6, color=colour)
    ax.set_xlim(0, C * (1 + gap_x) - gap_x)
    ax.set_ylim(R * (1 + gap_y), 0)
    ax.set_aspect("auto")
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / H, va="top")
    return fig


def _draw_histories(ax, histories: Mapping[str, object]) -> None:
    """Loss curves on ``ax``: log loss over a symlog step axis (linear up to step 10)."""
    for label, h in histories.items():
        values = np.asarray(getattr(h, "history", h), dtype=float)
        if values.size == 0:
            continue
        # an exact zero cannot be drawn on a log axis: floor at 1e-32
        values = np.maximum(values, 1e-32)
        ax.semilogy(
            np.arange(values.size), values, marker="." if values.size < 30 else None, label=label
        )
    ax.set_xlabel("step")
    ax.set_xscale("symlog", linthresh=10)
    ax.grid(True, which="major", alpha=0.3)


def loss_history(
    histories: Mapping[str, object],
    title: str | None = None,
    figsize: tuple[float, float] = (5.0, 3.2),
):
    """Loss per step, log scale: e.g. paper-sgd vs gradient vs Gauss–Newton.

    Parameters
    ----------
    histories : mapping label → InverseResult or sequence of float
        The ``history`` (mean squared output error at the start and after each step).
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=figsize)
    _draw_histories(ax, histories)
    ax.set_ylabel("mean squared output error")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def loss_history_panels(
    results: Mapping[tuple, object],
    digit: int,
    start: str,
    networks: Sequence[str] | None = None,
    methods: Sequence[str] = ("paper-sgd", "gradient", "gauss-newton", "closed-form"),
    names: Mapping[str, str] | None = None,
    panel: tuple[float, float] = (3.6, 3.0),
):
    """Loss per step of several methods, one panel per network, for one digit and start.

    Parameters
    ----------
    results : dict (network, digit, start, method) → InverseResult
        :func:`nnspaces.ideal.run_grid`'s second output.
    digit : int
    start : str
        The start image kind whose runs are drawn.
    networks : list of str, optional
        Panel order; default every network in ``results``.
    methods : list of str
        Drawn when present (the closed form is a start point and one step).
    names : mapping network → display name, optional
    panel : (width, height) of one panel in inches

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per network, log loss over a symlog step axis, a legend in the first.
    """
    if networks is None:
        networks = list(dict.fromkeys(k[0] for k in results))
    names = dict(names or {})
    fig, axes = plt.subplots(
        1, len(networks), figsize=(panel[0] * len(networks), panel[1]), squeeze=False
    )
    for ax, net in zip(axes[0], networks):
        curves = {
            m: results[(net, digit, start, m)] for m in methods if (net, digit, start, m) in results
        }
        if not curves:
            raise ValueError(f"no runs for network {net!r}, digit {digit}, start {start!r}")
        _draw_histories(ax, curves)
        ax.set_title(f"{names.get(net, net)}: digit {digit}, start {start}", fontsize=9)
    axes[0, 0].set_ylabel("mean squared output error")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def reachability_figure(
    results: Mapping[str, Sequence[object]],
    title: str | None = None,
    cell: float = 1.0,
):
    """Images per digit for several settings, e.g. without and with the box [0, 1].

    Parameters
    ----------
    results : mapping row label → list of K InverseResult
        E.g. ``{"no box": res_free, "box [0, 1]": res_box}`` from
        :func:`nnspaces.ideal.reachability` (``return_results=True``).
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
        Rows share one colour scale each (with a colour bar) so that pixels outside [0, 1]
        show; each panel is titled with its relative error and, when nonzero, the count of
        pixels outside [0, 1].
    """
    labels = list(results)
    rows = [[r.image for r in results[k]] for k in labels]
    R, C = len(rows), max(len(r) for r in rows)
    fig = image_grid(rows, row_labels=labels, shared_scale=True, colorbar=False, cell=cell)
    axes = _axes_grid(fig, R, C)
    for i, k in enumerate(labels):
        for j, r in enumerate(results[k]):
            text = (f"{j}\n" if i == 0 else "") + _short(r.rel_error)
            if r.outside_box:
                text += f" ({r.outside_box} out)"
            axes[i, j].set_title(text, fontsize=6)
    # margins in inches: row labels left, colour bars right, panel titles (and title) on top;
    # the figure is sized so that every panel slot is a cell × cell square
    left, right, bottom, top = 1.2, 0.8, 0.1, 0.45 + (0.3 if title else 0.0)
    wspace, hspace = 0.08, 0.45
    W = left + right + cell * (C + (C - 1) * wspace)
    H = top + bottom + cell * (R + (R - 1) * hspace)
    fig.set_size_inches(W, H)
    fig.subplots_adjust(
        left=left / W,
        right=1 - right / W,
        bottom=bottom / H,
        top=1 - top / H,
        wspace=wspace,
        hspace=hspace,
    )
    for i in range(R):
        pos = axes[i, len(rows[i]) - 1].get_position()
        cax = fig.add_axes((pos.x1 + 0.08 / W, pos.y0, 0.1 / W, pos.height))
        fig.colorbar(axes[i, 0].images[0], cax=cax)
        cax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.1 / H, va="top")
    return fig
