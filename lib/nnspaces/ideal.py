"""Ideal input images (the paper's Figure 3) and which outputs an image can reach.

- :func:`run_grid` — every network × digit × start image × method, as a table.
- :func:`choose_best` — the automatic per-digit choice that replaces the paper's choice by eye.
- :func:`reachability` — per digit: is the target reached by an image inside the box?
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from .inverse import (
    METHODS,
    REACHED_TOL,
    START_KINDS,
    InverseResult,
    class_targets,
    invert_classes,
    start_image,
    supports_closed_form,
)
from .outputs import collect_outputs

#: Methods run by :func:`run_grid` by default ("closed-form" only where it applies).
GRID_METHODS = ("none", "paper-sgd", "gradient", "gauss-newton", "closed-form")

#: Relative errors closer than this count as ties in :func:`choose_best`.
TIE_TOL = 1e-9

COLUMNS = [
    "network",
    "digit",
    "start",
    "method",
    "rel_error",
    "predicted",
    "margin",
    "distance",
    "dist_class_mean",
    "outside_box",
    "valid",
    "correct",
    "iterations",
    "seconds",
    "feasible",
    "message",
]


def _check_names(given: Sequence[str], allowed: Sequence[str], what: str) -> None:
    bad = [g for g in given if g not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}: choose from {', '.join(allowed)}")


def _references(kind, X, y, T, Z, K, frac, seed) -> torch.Tensor:
    """One start image per class, stacked: (K, 1, 28, 28). Noise uses seed ``seed + c``."""
    return torch.stack(
        [start_image(kind, X, y, c, target=T[c], Z=Z, frac=frac, seed=seed + c) for c in range(K)]
    )


def run_grid(
    models: Mapping[str, nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    starts: Sequence[str] = START_KINDS,
    methods: Sequence[str] = GRID_METHODS,
    target_kind: str = "minmax",
    box: tuple[float, float] | None = None,
    method_options: Mapping[str, dict] | None = None,
    frac: float = 0.25,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[tuple, InverseResult]]:
    """Invert every class target of every network from every start image with every method.

    Parameters
    ----------
    models : mapping name → torch.nn.Module
        Networks mapping ``(N, 1, 28, 28)`` to ``(N, K)``.
    X : (N, 1, 28, 28) Tensor
        The images the targets and start images are built from (the training images).
    y : (N,) Tensor
        Their labels.
    starts : sequence of {"avg", "min", "avg-min", "noise"}
        Start images (:func:`nnspaces.inverse.start_image`; noise for digit ``c`` is seeded
        with ``seed + c``).
    methods : sequence of method names
        :func:`nnspaces.inverse.invert` methods; ``"closed-form"`` is skipped for networks it
        does not apply to; ``"none"`` scores the start image itself.
    target_kind : str
        :func:`nnspaces.inverse.class_targets` kind.
    box : (lo, hi), optional
        Passed to every method.
    method_options : mapping method → dict, optional
        Extra options per method, e.g. ``{"gradient": {"max_iter": 200}}``.
    frac, seed : start-image parameters.

    Returns
    -------
    df : pandas.DataFrame
        One row per network × digit × start × method with columns ``network, digit, start,
        method, rel_error, predicted, margin, distance`` (to the start image),
        ``dist_class_mean`` (to the class-mean image), ``outside_box`` (pixels outside
        [0, 1]), ``valid`` (no such pixel), ``correct`` (predicted == digit), ``iterations,
        seconds, feasible, message``.
    results : dict (network, digit, start, method) → InverseResult
        The images (``.image``), outputs and loss histories.
    """
    _check_names(starts, START_KINDS, "start kind(s)")
    _check_names(methods, METHODS, "method(s)")
    method_options = dict(method_options or {})
    _check_names(list(method_options), METHODS, "method(s) in method_options")
    rows, results = [], {}
    for name, model in models.items():
        Z = collect_outputs(model, X)  # (N, K), once per network
        T = class_targets(None, None, y, target_kind, Z=Z)  # (K, K)
        K = T.shape[0]
        means = _references("avg", X, y, T, Z, K, frac, seed)  # (K, 1, 28, 28)
        for start in starts:
            R = _references(start, X, y, T, Z, K, frac, seed)
            for method in methods:
                if method == "closed-form" and not supports_closed_form(model):
                    continue
                opts = method_options.get(method, {})
                for c, res in enumerate(invert_classes(model, T, R, method, box, **opts)):
                    results[(name, c, start, method)] = res
                    dist_mean = torch.linalg.vector_norm(res.image - means[c].to(res.image))
                    rows.append(
                        {
                            "network": name,
                            "digit": c,
                            "start": start,
                            "method": method,
                            "rel_error": res.rel_error,
                            "predicted": res.predicted,
                            "margin": res.margin,
                            "distance": res.distance,
                            "dist_class_mean": float(dist_mean),
                            "outside_box": res.outside_box,
                            "valid": res.outside_box == 0,
                            "correct": res.predicted == c,
                            "iterations": res.iterations,
                            "seconds": res.seconds,
                            "feasible": res.feasible,
                            "message": res.message,
                        }
                    )
    return pd.DataFrame(rows, columns=COLUMNS), results


def choose_best(df: pd.DataFrame, tie_tol: float = TIE_TOL) -> pd.DataFrame:
    """Pick one image per network and digit by a fixed rule.

    Criterion (quotable): among the valid images (every pixel in [0, 1]) that the network
    classifies as the target digit, take the one with the lowest relative output error
    ``‖f(x) − t‖/‖t‖``; errors within ``tie_tol`` (1e-9) of the lowest count as ties, broken
    by the smallest distance to the digit's class-mean image. If no valid image is classified
    as the digit, the same rule is applied to all valid images, and if no image is valid, to
    all images; such picks are flagged in the column ``fallback``.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`run_grid` output.
    tie_tol : float

    Returns
    -------
    best : pandas.DataFrame
        One row per (network, digit), the chosen row of ``df`` with ``label``
        (``"start+method"``) and ``fallback`` (empty when the criterion applied as stated).
    """
    need = {"network", "digit", "start", "method", "rel_error", "valid", "correct"}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"choose_best needs run_grid's columns; missing {sorted(missing)}")
    chosen = []
    for _, g in df.groupby(["network", "digit"], sort=False):
        pools = [
            (g[g["valid"] & g["correct"]], ""),
            (g[g["valid"]], "no valid image is classified as the digit"),
            (g, "no image has all pixels in [0, 1]"),
        ]
        pool, flag = next((p, f) for p, f in pools if len(p))
        ties = pool[pool["rel_error"] <= pool["rel_error"].min() + tie_tol]
        key = "dist_class_mean" if "dist_class_mean" in ties else "distance"
        row = ties.sort_values(key, kind="stable").iloc[0].copy()
        row["label"] = f"{row['start']}+{row['method']}"
        row["fallback"] = flag
        chosen.append(row)
    return pd.DataFrame(chosen).reset_index(drop=True)


def reachability(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    target_kinds: Sequence[str] = ("minmax", "class-mean"),
    box: tuple[float, float] = (0.0, 1.0),
    methods: Sequence[str] | None = None,
    start: str = "avg",
    Z: torch.Tensor | None = None,
    method_options: Mapping[str, dict] | None = None,
    return_results: bool = False,
):
    """Which class targets an image inside the box reaches, per digit.

    For each target kind and digit, the exact methods are run from the ``start`` image with
    and without the box; the best (lowest relative error) result of each is kept.

    Parameters
    ----------
    model : torch.nn.Module
    X : (N, 1, 28, 28) Tensor
    y : (N,) Tensor
    target_kinds : sequence of :func:`nnspaces.inverse.class_targets` kinds
    box : (lo, hi)
    methods : sequence of method names, optional
        Default ``("closed-form", "gauss-newton")`` where the closed form applies, else
        ``("gauss-newton",)``.
    start : str
        Start (reference) image kind.
    Z : (N, K) Tensor, optional
        Precomputed outputs ``model(X)``.
    method_options : mapping method → dict, optional
    return_results : bool
        Also return the best results.

    Returns
    -------
    df : pandas.DataFrame
        One row per (target_kind, digit): ``reached`` (box result's ``rel_error ≤ 1e-6``),
        ``rel_error`` and ``method`` (best inside the box), ``predicted``, ``margin``,
        ``free_rel_error`` and ``free_outside_box`` (best without the box: exact preimage,
        pixels outside [0, 1]).
    results : dict (target_kind, "box" | "free") → list of K InverseResult
        Only with ``return_results=True``.
    """
    if methods is None:
        methods = (
            ("closed-form", "gauss-newton") if supports_closed_form(model) else ("gauss-newton",)
        )
    _check_names(methods, METHODS, "method(s)")
    method_options = dict(method_options or {})
    Z = collect_outputs(model, X) if Z is None else Z
    rows, results = [], {}
    for kind in target_kinds:
        T = class_targets(None, None, y, kind, Z=Z)
        K = T.shape[0]
        R = _references(start, X, y, T, Z, K, 0.25, 0)
        for tag, b in (("box", box), ("free", None)):
            per_method = [
                invert_classes(model, T, R, m, b, **method_options.get(m, {})) for m in methods
            ]
            results[(kind, tag)] = [
                min((rs[c] for rs in per_method), key=lambda r: r.rel_error) for c in range(K)
            ]
        for c in range(K):
            rb, rf = results[(kind, "box")][c], results[(kind, "free")][c]
            rows.append(
                {
                    "target_kind": kind,
                    "digit": c,
                    "reached": rb.rel_error <= REACHED_TOL,
                    "rel_error": rb.rel_error,
                    "method": rb.method,
                    "predicted": rb.predicted,
                    "margin": rb.margin,
                    "outside_box": rb.outside_box,
                    "free_rel_error": rf.rel_error,
                    "free_outside_box": rf.outside_box,
                    "free_method": rf.method,
                }
            )
    df = pd.DataFrame(rows)
    return (df, results) if return_results else df
