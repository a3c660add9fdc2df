"""Figures for the inverse-map chapters: Figure 3 (the rule's and the caption's), the
comparison grids and the loss histories. Each function returns a ``matplotlib.figure.Figure``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..ideal import METHOD_ABBREV, short_label
from .grid import panel_grid

#: The grid's methods as a row title names them.
METHOD_NAMES = {
    "none": "the start image itself",
    "paper-sgd": "100 SGD steps at lr 10⁻⁴ (the released settings)",
    "gradient": "Adam, best iterate",
    "gauss-newton": "Gauss–Newton",
    "closed-form": "closed form",
}


def _short(x: float) -> str:
    return f"{x:.0e}" if x < 1e-2 else f"{x:.2f}"


def figure3(
    best: pd.DataFrame,
    results: Mapping[tuple, object],
    networks: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    width: float = 7.0,
):
    """The paper's Figure 3 as this book's rule chooses it: one row per network, one column
    per digit.

    Parameters
    ----------
    best : pandas.DataFrame
        :func:`nnspaces.ideal.choose_best` output (columns network, digit, start, method,
        fallback).
    results : dict (network, digit, start, method) → InverseResult
        :func:`nnspaces.ideal.run_grid`'s second output.
    networks : list of str, optional
        Row order; default the order in ``best``.
    names : mapping network → display name, optional
    width : float
        Figure width in inches (:func:`~nnspaces.plots.grid.panel_grid`).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Digits as column headers; each row titled with its network; each panel titled with
        its start image and, below, the method's short name
        (:data:`nnspaces.ideal.METHOD_ABBREV`; ``start`` for the start image itself), a ``*``
        marking a fallback choice; each panel on its own grey scale, like the paper's.
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
                f"{r.start}{'*' if getattr(r, 'fallback', '') else ''}\n"
                f"{METHOD_ABBREV.get(r.method, r.method) or 'start'}"
                for r in b.itertuples()
            ]
        )
    return _network_rows(rows, titles, best, networks, names, width)


def _network_rows(rows, titles, table: pd.DataFrame, networks, names, width: float):
    """One row of panels per network, titled with its display name; digits of ``table``
    (those of its rows for ``networks``) as column headers."""
    digits = sorted(set(table[table["network"].isin(networks)]["digit"]))
    return panel_grid(
        rows,
        titles=titles,
        row_titles=[names.get(n, n) for n in networks],
        col_labels=[str(d) for d in digits],
        width=width,
    )


def recipe_figure(
    recipe: pd.DataFrame,
    images: Mapping[tuple, object],
    networks: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    width: float = 7.0,
):
    """Figure 3 as the paper's caption describes it: one row per network, one column per
    digit, each panel the caption's start image and procedure.

    Parameters
    ----------
    recipe : pandas.DataFrame
        :func:`nnspaces.ideal.paper_recipe`'s table (columns network, digit, label).
    images : dict (network, digit) → (1, 28, 28) Tensor
        Its images.
    networks : list of str, optional
        Row order; default the order in ``recipe``.
    names : mapping network → display name, optional
    width : float
        Figure width in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Digits as column headers, each row titled with its network, each panel with its label
        (``avg+SGD``: the class mean after the released 100 SGD steps; ``min``: the training
        image the released search picked, unchanged) and on its own grey scale.
    """
    networks = list(dict.fromkeys(recipe["network"])) if networks is None else list(networks)
    names = dict(names or {})
    rows, titles = [], []
    for net in networks:
        r = recipe[recipe["network"] == net].sort_values("digit")
        if r.empty:
            raise ValueError(f"no images for network {net!r}")
        rows.append([images[(net, int(d))] for d in r["digit"]])
        titles.append(list(r["label"]))
    return _network_rows(rows, titles, recipe, networks, names, width)


def comparison_grid(
    df: pd.DataFrame,
    results: Mapping[tuple, object],
    network: str,
    start: str,
    methods: Sequence[str] | None = None,
    width: float = 7.0,
):
    """Every method's image from one start image, for one network: a row per method, a column
    per digit.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`nnspaces.ideal.run_grid` table.
    results : dict (network, digit, start, method) → InverseResult
    network, start : str
        The network and the start image whose runs are drawn.
    methods : list of str, optional
        Subset and order of the rows; default those in ``df`` (run for this network).
    width : float
        Figure width in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Digits as column headers; each row titled with its method's name and short name
        (:data:`nnspaces.ideal.METHOD_ABBREV`); each panel titled with its relative output
        error, in red with a ``✗`` when the network does not classify the image as the digit;
        each panel on its own grey scale.
    """
    d = df[(df["network"] == network) & (df["start"] == start)]
    if d.empty:
        raise ValueError(f"no rows for network {network!r} and start image {start!r}")
    methods = list(dict.fromkeys(d["method"])) if methods is None else list(methods)
    digits = sorted(set(d["digit"]))
    methods = [m for m in methods if (network, digits[0], start, m) in results]
    rows, titles, colours = [], [], []
    for m in methods:
        res = [results[(network, c, start, m)] for c in digits]
        rows.append([r.image for r in res])
        wrong = [r.predicted != c for r, c in zip(res, digits)]
        titles.append([("✗ " if w else "") + _short(r.rel_error) for r, w in zip(res, wrong)])
        colours.append(["red" if w else "black" for w in wrong])
    row_titles = [f"{short_label(start, m)}: {METHOD_NAMES.get(m, m)}" for m in methods]
    return panel_grid(
        rows,
        titles=titles,
        colours=colours,
        row_titles=row_titles,
        col_labels=[str(c) for c in digits],
        width=width,
    )


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


def loss_history_panels(
    results: Mapping[tuple, object],
    digit: int,
    start: str,
    networks: Sequence[str] | None = None,
    methods: Sequence[str] = ("paper-sgd", "gradient", "gauss-newton", "closed-form"),
    names: Mapping[str, str] | None = None,
    width: float = 7.0,
    height: float = 2.6,
    fontsize: float = 8.0,
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
    width, height : float
        Figure size in inches (the book's column: 7 in).
    fontsize : float
        Points, for every text.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per network titled with its name, log loss over a symlog step axis; one
        legend below the panels, naming each method once.
    """
    if networks is None:
        networks = list(dict.fromkeys(k[0] for k in results))
    names = dict(names or {})
    fig, axes = plt.subplots(1, len(networks), figsize=(width, height), squeeze=False)
    handles = {}
    for ax, net in zip(axes[0], networks):
        curves = {
            m: results[(net, digit, start, m)] for m in methods if (net, digit, start, m) in results
        }
        if not curves:
            raise ValueError(f"no runs for network {net!r}, digit {digit}, start {start!r}")
        _draw_histories(ax, curves)
        for line in ax.get_lines():
            handles.setdefault(line.get_label(), line)
        ax.set_title(names.get(net, net), fontsize=fontsize)
        ax.tick_params(labelsize=fontsize)
        ax.xaxis.label.set_size(fontsize)
    axes[0, 0].set_ylabel("mean squared output error", fontsize=fontsize)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncol=len(handles),
        fontsize=fontsize,
        frameon=False,
    )
    return fig
