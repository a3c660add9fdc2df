"""Figure of the Performance appendix: output error against time, per inverse method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..models import DISPLAY_NAME

_MARKERS = {"closed-form": "o", "gauss-newton": "s", "gradient": "^", "paper-sgd": "x"}


def error_vs_time(table: pd.DataFrame):
    """Median relative output error against median seconds per digit, log-log.

    Parameters
    ----------
    table : DataFrame
        ``nnspaces.performance.inverse_table``: one row per network, target, box, method.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One marker shape per method, one colour per network; filled markers for the box
        [0, 1], hollow for unconstrained. Errors below 1e-16 are drawn at 1e-16. Sized for
        the book's column: 7 in wide, no text under 8 pt.
    """
    fig, ax = plt.subplots(figsize=(7, 4.4))
    nets = list(dict.fromkeys(table["network"]))
    for _, r in table.iterrows():
        colour = f"C{nets.index(r['network'])}"
        filled = r["box"] != "none"
        marker = _MARKERS.get(r["method"], "*")
        # an "x" has no face: one colour draws it (an edge colour of its own would warn)
        colours = (
            {"color": colour}
            if marker == "x"
            else {"facecolors": colour if filled else "none", "edgecolors": colour}
        )
        ax.scatter(
            r["median_seconds"], max(r["median_rel_error"], 1e-16), marker=marker, s=40, **colours
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="median seconds per digit",
        ylabel="median relative output error",
    )
    for m, mk in _MARKERS.items():
        ax.scatter([], [], marker=mk, color="0.3", label=m)
    for i, n in enumerate(nets):
        ax.scatter([], [], marker="o", color=f"C{i}", label=DISPLAY_NAME.get(n, n))
    ax.legend(fontsize=8, ncol=2, title="filled: box [0, 1]", title_fontsize=8)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
