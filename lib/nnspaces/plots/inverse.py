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
    """
    d = df[df["network"] == network]
    if d.empty:
        raise ValueError(f"no rows for network {network!r}")
    starts = list(dict.fromkeys(d["start"])) if starts is None else list(starts)
    methods = list(dict.fromkeys(d["method"])) if methods is None else list(methods)
    digits = sorted(set(d["digit"]))
    combos = [(s, m) for s in starts for m in methods if (network, digits[0], s, m) in results]
    rows = [[results[(network, c, s, m)].image for c in digits] for s, m in combos]
    fig = image_grid(
        rows,
        row_labels=[f"{s}+{m}" for s, m in combos],
        col_labels=None,
        shared_scale=False,
        cell=cell,
    )
    axes = _axes_grid(fig, len(rows), len(digits))
    for i, (s, m) in enumerate(combos):
        for j, c in enumerate(digits):
            res = results[(network, c, s, m)]
            title = (f"{c}\n" if i == 0 else "") + _short(res.rel_error)
            colour = "black" if res.predicted == c else "red"
            axes[i, j].set_title(title, fontsize=6, color=colour)
    fig.subplots_adjust(hspace=0.45, left=0.22)  # room for the long row labels
    return fig


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
    ax.set_ylabel("mean squared output error")
    ax.set_xscale("symlog", linthresh=10)
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
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
    fig = image_grid(rows, row_labels=labels, shared_scale=True, colorbar=True, cell=cell)
    axes = _axes_grid(fig, len(rows), max(len(r) for r in rows))
    for i, k in enumerate(labels):
        for j, r in enumerate(results[k]):
            text = (f"{j}\n" if i == 0 else "") + _short(r.rel_error)
            if r.outside_box:
                text += f" ({r.outside_box} out)"
            axes[i, j].set_title(text, fontsize=6)
    fig.subplots_adjust(hspace=0.4, top=0.78 if title else 0.85, left=0.1)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
