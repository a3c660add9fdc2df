"""Figures of the statistics chapters: intervals over seeds, a distribution over random
initialisations, and quantities along a training run."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def finite_values(a, what: str) -> np.ndarray:
    """``a`` as a flat float array; ValueError naming ``what`` when it is empty or holds NaN
    or inf (a figure never draws them)."""
    arr = np.asarray(a, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} holds NaN or inf values: refusing to draw them")
    return arr


def interval_plot(
    spread: pd.DataFrame,
    quantities=None,
    titles: Mapping[str, str] | None = None,
    level: float = 0.95,
    title: str | None = None,
    scale: Mapping[str, float] | None = None,
):
    """Each quantity's runs, mean, confidence and prediction intervals, and the paper's value.

    Parameters
    ----------
    spread : DataFrame
        From :func:`nnspaces.summary.seed_spread` (columns ``mean, ci low, ci high, pi low,
        pi high, min, max, paper``), indexed by quantity.
    quantities : list of str, optional
        Which rows, one panel each (default all).
    titles : mapping quantity -> str, optional
        Panel titles (default the quantity's name).
    level : float
        The intervals' coverage, for the legend.
    title : str, optional
    scale : mapping quantity -> float, optional
        A factor for a quantity's values (100 to draw a fraction in per cent).

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide, panels in rows of three (own y scale each): the prediction interval
        for one run as a wide light bar, the confidence interval of the mean as a narrow dark
        bar, the mean as a dot, the range of the runs as a thin line and the paper's value as
        a red star (absent when NaN). NaN intervals (a single run) are left out. The legend
        fills the spare panel of the last row, or sits below.
    """
    rows = list(quantities if quantities is not None else spread.index)
    if not rows:
        raise ValueError("no quantity to draw")
    pct, titles, scale = f"{100 * level:g} %", dict(titles or {}), dict(scale or {})
    ncol = min(3, len(rows))
    nrow = -(-len(rows) // ncol)
    spare = nrow * ncol - len(rows)
    fig, axes = plt.subplots(nrow, ncol, figsize=(7, 2.6 * nrow + (0 if spare else 0.6)))
    axes = np.atleast_1d(axes).reshape(-1)
    for ax, q in zip(axes, rows):
        r = spread.loc[q]
        f = scale.get(q, 1.0)
        v = {k: f * r[k] for k in ("mean", "min", "max", "pi low", "pi high", "ci low", "ci high")}
        finite_values([v["mean"], v["min"], v["max"]], f"{q}: mean and range")
        ax.plot([0, 0], [v["min"], v["max"]], color="0.3", lw=1, label="range of runs")
        if np.isfinite([v["pi low"], v["pi high"]]).all():
            ax.bar(
                0,
                v["pi high"] - v["pi low"],
                bottom=v["pi low"],
                width=0.5,
                color="C0",
                alpha=0.25,
                label=f"{pct} prediction interval, one run",
            )
            ax.bar(
                0,
                v["ci high"] - v["ci low"],
                bottom=v["ci low"],
                width=0.18,
                color="C0",
                alpha=0.8,
                label=f"{pct} confidence interval, mean",
            )
        ax.plot(0, v["mean"], "o", color="k", ms=4, label="mean")
        if np.isfinite(r["paper"]):
            ax.plot(0, f * r["paper"], "*", color="C3", ms=11, label="paper")
        ax.set_xticks([])
        ax.set_xlim(-0.6, 0.6)
        ax.set_title(textwrap.fill(titles.get(q, q), 22), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    legend = {}  # label -> handle, over all panels (a panel may lack the paper or intervals)
    for ax in axes[: len(rows)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    labels = [textwrap.fill(lab, 22) for lab in legend]
    if spare:
        for ax in axes[len(rows) :]:
            ax.axis("off")
        axes[-1].legend(list(legend.values()), labels, loc="center", fontsize=8, frameon=False)
        rect = (0, 0, 1, 1)
    else:
        fig.legend(
            list(legend.values()), labels, loc="lower center", ncol=3, fontsize=8, frameon=False
        )
        rect = (0, 0.9 / (2.6 * nrow + 0.6), 1, 1)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=rect)
    return fig


def spectra_plot(spectra: Mapping[str, Mapping], titles: Mapping[str, str] | None = None):
    """Several layers' singular values side by side, one line per run (e.g. per seed).

    Parameters
    ----------
    spectra : mapping key -> (mapping label -> LayerSpaces or (k,) array)
        One panel per key (at most three), one line per label.
    titles : mapping key -> str, optional
        Panel titles (default the key).

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide; each panel :func:`nnspaces.plots.spaces.singular_value_plot` on a
        linear scale; one legend (the labels of the first panel) below.
    """
    from .spaces import singular_value_plot

    keys = [k for k in spectra if spectra[k]]
    if not keys or len(keys) > 3:
        raise ValueError(f"one to three non-empty spectra wanted, got {list(spectra)}")
    titles = dict(titles or {})
    fig, axes = plt.subplots(1, len(keys), figsize=(7, 3.0), squeeze=False)
    for ax, k in zip(axes[0], keys):
        singular_value_plot(spectra[k], logy=False, ax=ax)
        ax.get_legend().remove()
        ax.set_title(textwrap.fill(titles.get(k, k), 34), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def distribution_plot(
    values,
    marks: Mapping[str, float] | None = None,
    bins: int = 30,
    xlabel: str = "value",
    title: str | None = None,
    what: str = "values",
):
    """Histogram of ``values`` with labelled vertical lines, each with the fraction below it.

    Parameters
    ----------
    values : (n,) array_like
        E.g. a layer's condition number over ``n`` random initialisations.
    marks : mapping label -> float, optional
        Values to mark (e.g. the trained network's, the paper's); the legend gives each the
        fraction of ``values`` strictly below it.
    bins : int
    xlabel, title : str
    what : str
        What the values are, for the legend (e.g. ``"initialisations"``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    v = finite_values(values, "values")
    marks = dict(marks or {})
    finite_values(list(marks.values()) or [0.0], "marks")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    lo, hi = min(v.min(), *marks.values(), v.min()), max(v.max(), *marks.values(), v.max())
    pad = 0.02 * (hi - lo or 1.0)
    ax.hist(
        v,
        bins=np.linspace(lo - pad, hi + pad, bins + 1),
        color="0.7",
        edgecolor="0.4",
        label=f"{v.size} {what}",
    )
    for i, (label, x) in enumerate(marks.items()):
        below = float((v < x).mean())
        ax.axvline(
            x,
            color=f"C{i}",
            lw=1.6,
            ls="-" if i == 0 else "--",
            label=f"{label}: {x:.4g} ({100 * below:.0f} % below)",
        )
    ax.set(xlabel=xlabel, ylabel="count")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
