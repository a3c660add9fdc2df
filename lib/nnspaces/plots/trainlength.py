"""Figures of the training-length chapter (:mod:`nnspaces.trainlength`), sized for the book's
text column (7 inches wide, no text under 8 pt)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from .stats import finite_values

_FONT = 8  # pt: 11 CSS px in a 7-inch figure shown in the 688-px column
_STYLES = (":", "-.", (0, (5, 2)), (0, (1, 3)))


def _steps_axis(ax, title: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("SGD steps", fontsize=_FONT)
    ax.set_ylabel(ylabel, fontsize=_FONT)
    ax.set_title(title, fontsize=_FONT + 1)
    ax.tick_params(labelsize=_FONT)
    ax.grid(alpha=0.3, which="both")


def steps_figure(
    curves: Mapping[str, pd.DataFrame],
    steps: Mapping[str, int] | None = None,
    condition_refs: Mapping[str, float] | None = None,
    accuracy_refs: Mapping[str, float] | None = None,
):
    """Condition number and test accuracy against SGD steps (log x) for several runs.

    Parameters
    ----------
    curves : mapping label -> DataFrame
        From :func:`nnspaces.trainlength.training_curve` (columns ``step``, ``condition``,
        ``test_acc``).
    steps : mapping label -> int, optional
        Step counts drawn as vertical lines in both panels (this profile's, the paper's).
    condition_refs, accuracy_refs : mapping label -> float, optional
        Horizontal lines in the condition (left) and accuracy (right, a fraction) panels.

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide, two panels, one legend below both naming every line.
    """
    if not curves:
        raise ValueError("no curve to draw")
    fig, (ax_c, ax_a) = plt.subplots(1, 2, figsize=(7.0, 3.9), layout="constrained")
    for i, (label, c) in enumerate(curves.items()):
        x = finite_values(c["step"], f"{label}: steps")
        if (x < 1).any():
            raise ValueError(f"{label}: steps must be ≥ 1 on a log axis")
        cond = finite_values(c["condition"], f"{label}: condition")
        ax_c.plot(x, cond, "o-", ms=2.5, lw=1.2, color=f"C{i}", label=label)
        acc = 100 * finite_values(c["test_acc"], f"{label}: accuracy")
        ax_a.plot(x, acc, "o-", ms=2.5, lw=1.2, color=f"C{i}")
    for j, (label, y) in enumerate((condition_refs or {}).items()):
        ax_c.axhline(y, color="C3", lw=1, ls=_STYLES[j % 4], label=f"{label} ({y:g})")
    for j, (label, y) in enumerate((accuracy_refs or {}).items()):
        ax_a.axhline(
            100 * y, color=f"C{3 + j}", lw=1, ls=_STYLES[j % 4], label=f"{label} ({100 * y:g} %)"
        )
    for j, (label, s) in enumerate((steps or {}).items()):
        for ax in (ax_c, ax_a):
            ax.axvline(
                s,
                color="0.4",
                lw=1,
                ls=_STYLES[j % 4],
                label=f"{label} ({s:,} steps)" if ax is ax_c else None,
            )
    _steps_axis(ax_c, "condition number of the first weight matrix", "σ_max / σ_min")
    _steps_axis(ax_a, "test accuracy", "test accuracy (%)")
    handles, labels = [], []
    for ax in (ax_c, ax_a):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles, labels = handles + [h], labels + [lab]
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=_FONT, frameon=False)
    return fig


def size_figure(curves: pd.DataFrame, step: int, reference: float | None = None, fit=None):
    """The condition number against SGD steps for each training-set size, and at ``step``
    against the number of images.

    Parameters
    ----------
    curves : DataFrame
        From :func:`nnspaces.trainlength.size_curves` (columns ``n_train``, ``replicate``,
        ``step``, ``condition``).
    step : int
        The fixed step count of the right panel (the paper's 31 260); a vertical line on the
        left.
    reference : float, optional
        The paper's value, a horizontal line in both panels.
    fit : dict, optional
        :func:`nnspaces.trainlength.size_effect` at ``step``: its least-squares line is drawn.

    Returns
    -------
    fig : matplotlib.figure.Figure
        7 inches wide. Left: one line per size, the mean over its runs. Right: every run at
        ``step`` (dots), the mean per size (line), the fitted slope per doubling (dashed).
    """
    at = curves[curves["step"] == step]
    if at.empty:
        raise ValueError(f"step {step} was not recorded")
    sizes = sorted(set(curves["n_train"]))
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(sizes)))
    fig, (ax_s, ax_n) = plt.subplots(1, 2, figsize=(7.0, 3.4), layout="constrained")
    for n, col in zip(sizes, colors):
        mean = curves[curves["n_train"] == n].groupby("step")["condition"].mean()
        x = finite_values(mean.index, "steps")
        ax_s.plot(
            x, finite_values(mean.values, "condition"), "-", lw=1.3, color=col, label=f"{n:,}"
        )
    ax_s.axvline(step, color="0.4", lw=1, ls=":")
    _steps_axis(ax_s, "against SGD steps (mean of runs)", "condition number σ_max / σ_min")
    ax_s.legend(title="training images", fontsize=_FONT, title_fontsize=_FONT, frameon=False)
    for n, col in zip(sizes, colors):
        y = finite_values(at.loc[at["n_train"] == n, "condition"], "condition")
        ax_n.plot(np.full(y.shape, n), y, "o", ms=4, color=col, alpha=0.8)
    means = at.groupby("n_train")["condition"].mean()
    ax_n.plot(means.index, means.values, "-", color="0.3", lw=1.2, label="mean of runs")
    if fit is not None:
        x = np.array([sizes[0], sizes[-1]], dtype=float)
        x0 = np.log2(at["n_train"].to_numpy(float)).mean()
        y0 = at["condition"].mean()
        y = y0 + fit["slope"] * (np.log2(x) - x0)
        ax_n.plot(x, y, "--", color="C1", lw=1.2, label=f"fit: {fit['slope']:+.2f} per doubling")
    for ax in (ax_s, ax_n) if reference is not None else ():
        ax.axhline(reference, color="C3", lw=1, ls="-.", label=f"paper ({reference:g})")
    ax_n.set_xscale("log", base=2)
    ax_n.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax_n.set_xticks(sizes)
    ax_n.set_xlabel("training images", fontsize=_FONT)
    ax_n.set_ylabel("condition number σ_max / σ_min", fontsize=_FONT)
    ax_n.set_title(f"after {step:,} steps", fontsize=_FONT + 1)
    ax_n.tick_params(labelsize=_FONT)
    ax_n.grid(alpha=0.3)
    ax_n.legend(fontsize=_FONT, frameon=False)
    return fig
