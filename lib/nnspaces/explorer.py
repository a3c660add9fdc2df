"""The inverse-map explorer: one inverse problem (network, digit, target kind, start image,
method), its preimage, output and certificate.

- :func:`explore` — solve it and draw it; :data:`EXPLORE_NUMBERS`, the numbers it returns;
- :func:`explore_table` — those numbers as a table for readers;
- :func:`interactive` — menus and a slider over :func:`explore` (with ``ipywidgets``).

The verdict on a preimage is :func:`nnspaces.verdicts.explore.certified`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from .ideal import UNCLIPPED
from .inverse import METHODS, START_KINDS, TARGET_KINDS, class_targets, invert, start_image
from .outputs import cached_outputs

#: The methods :func:`explore` passes ``max_iter`` to.
ITERATIVE = ("closed-form", "gauss-newton", "gradient")

#: The numbers in :func:`explore`'s ``info`` (what the explorer chapter glues).
EXPLORE_NUMBERS = (
    "rel_error", "predicted", "margin", "distance", "outside_box", "pixel_min", "pixel_max",
    "iterations", "seconds", "kappa", "kkt", "certificate",
)  # fmt: skip


#: What :func:`explore`'s ``info`` copies from the :class:`nnspaces.inverse.InverseResult`
#: (``certified`` is the old name of ``stationary``).
_RESULT_KEYS = (
    "rel_error", "reached", "predicted", "margin", "distance", "outside_box", "iterations",
    "seconds", "kappa", "certified", "stationary", "nearest", "proof", "message",
)  # fmt: skip


def explore(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    digit: int,
    target_kind: str = "class-mean",
    method: str = "closed-form",
    start: str = "avg",
    box: tuple[float, float] | None = (0.0, 1.0),
    max_iter: int | None = None,
    **options,
):
    """Solve one inverse problem and show it: the start image, the preimage found, what moved,
    and the output against the target.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, 28, 28)`` to ``(N, K)``.
    X : (N, 1, 28, 28) Tensor
        The images the target and the start image are built from (the training images).
    y : (N,) Tensor
    digit : int
        The class ``c`` whose target ``t_c`` is inverted.
    target_kind : str
        :func:`nnspaces.inverse.class_targets` kind.
    method : str
        :func:`nnspaces.inverse.invert` method.
    start : str
        :func:`nnspaces.inverse.start_image` kind: the reference ``r``.
    box : (lo, hi) or None
        Pixel bounds; ignored (None) for the released procedure ``paper-sgd``, which never
        clipped.
    max_iter : int, optional
        Iterations of the methods that iterate (:data:`ITERATIVE`); ignored by the others
        (``paper-sgd`` always takes its 100 steps). None: the method's default.
    **options
        Passed to :func:`nnspaces.inverse.invert` (e.g. ``dtype``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Four panels: ``r``; the preimage ``x``; ``x − r`` (signed, centred on 0); ``f(x)`` and
        ``t_c`` per output.
    info : dict
        ``digit, start, method, target_kind, box`` (as used) and, from the
        :class:`nnspaces.inverse.InverseResult`: ``rel_error, reached, predicted, margin,
        distance, outside_box, iterations, seconds, kappa, kkt, stationary`` (first-order only),
        ``nearest`` (proven: only the closed form's, by convexity), ``proof, message`` (and
        ``certified``, the old name of ``stationary``); plus
        ``certificate`` (``kkt`` with a box, else ``kappa``), ``pixel_min``, ``pixel_max``,
        ``image`` (the preimage, (1, 28, 28) Tensor in the compute dtype), ``output`` and
        ``target`` (lists). ``kkt`` is NaN without a box; the numbers are those of
        :data:`EXPLORE_NUMBERS`.
    """
    Z = cached_outputs(model, X)  # (N, K)
    K = Z.shape[1]
    if not 0 <= digit < K:
        raise ValueError(f"digit must be one of 0..{K - 1}, got {digit!r}")
    t = class_targets(None, None, y, target_kind, Z=Z)[digit]  # (K,)
    r = start_image(start, X, y, digit, target=t, Z=Z)  # (1, 28, 28)
    box = None if method in UNCLIPPED else box
    if max_iter is not None and method in ITERATIVE:
        options["max_iter"] = max_iter
    res = invert(model, t, r, method, box, target_class=digit, **options)
    x = res.image  # compute dtype (float64 for the exact methods)
    info = {"digit": digit, "start": start, "method": method, "target_kind": target_kind}
    info |= {"box": box} | {k: getattr(res, k) for k in _RESULT_KEYS}
    info |= {
        "kkt": math.nan if res.kkt is None else res.kkt,
        "certificate": res.kappa if res.kkt is None else res.kkt,
        "pixel_min": float(x.min()),
        "pixel_max": float(x.max()),
        "image": x,
        "output": res.output.tolist(),
        "target": res.target.tolist(),
    }
    return _explore_figure(r, x, res.output, res.target, info), info


def _explore_figure(r, x, output, target, info):
    """The four panels of :func:`explore`: three images above, the outputs below (7 in wide,
    text of 8 pt at least, legible in the book's column)."""
    fig = plt.figure(figsize=(7, 5.2))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 0.9])
    axes = [fig.add_subplot(grid[0, i]) for i in range(3)] + [fig.add_subplot(grid[1, :])]
    r = r.to(x.dtype)
    d = (x - r)[0].numpy()  # (28, 28)
    lim = float(np.abs(d).max()) or 1.0
    panels = [
        (r[0].numpy(), f"start image r ({info['start']})", "gray", None),
        (x[0].numpy(), f"preimage x ({info['method']})", "gray", None),
        (d, "x − r", "RdBu_r", (-lim, lim)),
    ]
    for ax, (img, title, cmap, lims) in zip(axes, panels):
        vmin, vmax = lims if lims else (None, None)
        im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=8)
    k = np.arange(len(target))
    ax = axes[3]
    ax.bar(k - 0.2, target.numpy(), width=0.4, label=f"target t ({info['target_kind']})")
    ax.bar(k + 0.2, output.numpy(), width=0.4, label="output f(x)")
    ax.set_xticks(k)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("output entry (class)", fontsize=9)
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title(f"digit {info['digit']}: relative error {info['rel_error']:.2g}", fontsize=9)
    fig.tight_layout()
    return fig


#: The rows of :func:`explore_table`: label, key of ``info``, format of ``nnspaces.book.fmt``.
_EXPLORE_ROWS = (
    ("relative output error ‖f(x) − t‖ / ‖t‖", "rel_error", "sci"),
    ("distance from the start image ‖x − r‖", "distance", ".4g"),
    ("pixels outside [0, 1]", "outside_box", ",d"),
    ("certificate κ (without the box)", "kappa", "sci"),
    ("KKT residual in the box (— without the box)", "kkt", "sci"),
    ("iterations", "iterations", ",d"),
    ("seconds", "seconds", ".2g"),
)


def explore_table(info: Mapping, fmt) -> pd.DataFrame:
    """:func:`explore`'s numbers as a two-column table for readers: ``quantity``, ``value``.

    Parameters
    ----------
    info : mapping
        :func:`explore`'s record.
    fmt : callable
        ``fmt(value, spec) -> str``, the book's number format (:func:`nnspaces.book.fmt`).

    Examples
    --------
    >>> info = {"rel_error": 2e-16, "distance": 3.25, "outside_box": 0, "kappa": 1e-17,
    ...         "kkt": float("nan"), "iterations": 1, "seconds": 0.004, "predicted": 3,
    ...         "margin": 1.5, "pixel_min": 0.0, "pixel_max": 1.0, "message": "ok"}
    >>> explore_table(info, lambda v, s: format(v, "") if v == v else "—").iloc[0].tolist()
    ['predicted class (margin over the next)', '3 (1.5)']
    """
    rows = [
        (
            "predicted class (margin over the next)",
            f"{info['predicted']} ({fmt(info['margin'], '.3g')})",
        ),
        *((label, fmt(info[key], spec)) for label, key, spec in _EXPLORE_ROWS),
        ("pixel range of x", f"{fmt(info['pixel_min'], '.3g')} to {fmt(info['pixel_max'], '.3g')}"),
        ("the method's message", str(info["message"])),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"])


def interactive(
    nets: Mapping[str, nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    box: tuple[float, float] | None = (0.0, 1.0),
    max_iter: int | None = None,
    **defaults,
):
    """Menus and a slider over :func:`explore` when ``ipywidgets`` is importable, else None.

    Parameters
    ----------
    nets : mapping name → model
        The networks to choose among.
    X, y : the training images and labels.
    box, max_iter
        Passed to :func:`explore` for every choice.
    **defaults
        Initial ``network, digit, target_kind, method, start`` (each optional).

    Returns
    -------
    widget or None
        An ``ipywidgets.interactive`` box (the controls, then the figure of the current
        choice, redrawn on each change): ``display`` it. None without ipywidgets: the
        notebook's parameters cell chooses then.
    """
    try:
        import ipywidgets
    except ImportError:
        return None
    from IPython.display import display

    def show(network, digit, target_kind, method, start):
        fig, _ = explore(nets[network], X, y, digit, target_kind, method, start, box, max_iter)
        plt.close(fig)  # shown once, here, not again by the inline backend
        display(fig)

    return ipywidgets.interactive(
        show,
        network=ipywidgets.Dropdown(
            options=list(nets), value=defaults.get("network", next(iter(nets)))
        ),
        digit=ipywidgets.IntSlider(value=defaults.get("digit", 0), min=0, max=9),
        target_kind=ipywidgets.Dropdown(
            options=TARGET_KINDS, value=defaults.get("target_kind", "class-mean")
        ),
        method=ipywidgets.Dropdown(options=METHODS, value=defaults.get("method", "closed-form")),
        start=ipywidgets.Dropdown(options=START_KINDS, value=defaults.get("start", "avg")),
    )
