"""The Figure 3 grid: every network × digit × start image × method, and the choice among them.

- :func:`run_grid` — the grid as a table (one row per run) and its results;
- :func:`choose_best` — the automatic per-digit choice that replaces the paper's choice by eye;
- :func:`grid_verdicts` — the facts the chapter states about the grid, computed;
- :func:`short_label` — ``start+method`` in short names (:data:`METHOD_ABBREV`);
- constants: :data:`GRID_METHODS`, :data:`TIE_TOL`, :data:`UNCLIPPED`, :data:`EXACT_METHODS`,
  the table's :data:`COLUMNS` and the :data:`TABLE_COLUMNS` a chapter shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from .. import cache, certificate, common, inverse, models, spaces
from ..inverse import (
    METHODS,
    REACHED_TOL,
    START_KINDS,
    InverseResult,
    class_targets,
    invert_classes,
    start_image,
    supports_closed_form,
)
from ..outputs import cached_outputs

#: Methods run by :func:`run_grid` by default ("closed-form" only where it applies).
GRID_METHODS = ("none", "paper-sgd", "gradient", "gauss-newton", "closed-form")

#: Short names of the grid's methods for panel titles and narrow tables (``none``, the start
#: image itself, has none: its label is the start image's name alone).
METHOD_ABBREV = {
    "none": "",
    "paper-sgd": "SGD",
    "gradient": "Adam",
    "gauss-newton": "GN",
    "closed-form": "CF",
}


def short_label(start: str, method: str) -> str:
    """``start+method`` in :data:`METHOD_ABBREV`'s short names; the start alone for ``none``.

    >>> short_label("avg", "paper-sgd"), short_label("min", "none"), short_label("avg", "x")
    ('avg+SGD', 'min', 'avg+x')
    """
    abbrev = METHOD_ABBREV.get(method, method)
    return f"{start}+{abbrev}" if abbrev else start


#: Relative errors closer than this count as ties in :func:`choose_best`.
TIE_TOL = 1e-9

#: Methods that :func:`run_grid` runs without the box whatever ``box`` says: the released
#: procedure never clipped, so ``paper-sgd`` is run as released (its images may leave [0, 1]).
UNCLIPPED = ("paper-sgd",)

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
    "kappa",
    "kkt",
    "certified",
    "message",
]

#: The columns of :func:`run_grid`'s table a chapter shows digit by digit.
TABLE_COLUMNS = [
    "network",
    "start",
    "method",
    "digit",
    "rel_error",
    "predicted",
    "margin",
    "distance",
    "kappa",
    "kkt",
    "outside_box",
    "iterations",
    "seconds",
]


#: The code an inverse map's results come from: editing any of it recomputes the memo.
_INVERSE_SOURCES = (inverse, certificate, spaces, models, common)


def _invert_classes(model, T, R, method, box, **options) -> list[InverseResult]:
    """:func:`nnspaces.inverse.invert_classes`, memoised on disk (:func:`nnspaces.cache.memo`).

    The key is the network (weights, buffers, mode, device), ``T`` (B, K), ``R`` (B, *S), the
    method, the box and every option; a result read back is bit-identical to the one computed
    (its ``seconds`` are those of the run that computed it).
    """
    key = {"model": model, "targets": T, "references": R, "method": method, "box": box}
    return cache.memo(
        "invert_classes",
        key | {"options": options},
        lambda: invert_classes(model, T, R, method, box, **options),
        sources=_INVERSE_SOURCES,
        encode=lambda results: [cache.dataclass_state(r) for r in results],
        decode=lambda state: [InverseResult(**d) for d in state],
    )


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
    network_options: Mapping[str, Mapping[str, dict]] | None = None,
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
        Passed to every method except those in :data:`UNCLIPPED` (``paper-sgd``, the released
        procedure, which never clipped).
    method_options : mapping method → dict, optional
        Extra options per method, e.g. ``{"gradient": {"max_iter": 200}}``.
    frac, seed : start-image parameters.
    network_options : mapping network → (mapping method → dict), optional
        Options for one network that update ``method_options`` for it, e.g.
        ``{"resnet18": {"gauss-newton": {"dtype": torch.float32}}}``; entries for networks
        not in ``models`` are ignored.

    Returns
    -------
    df : pandas.DataFrame
        One row per network × digit × start × method with columns ``network, digit, start,
        method, rel_error, predicted, margin, distance`` (to the start image),
        ``dist_class_mean`` (to the class-mean image), ``outside_box`` (pixels outside
        [0, 1]), ``valid`` (no such pixel), ``correct`` (predicted == digit), ``iterations,
        seconds, feasible``, ``kappa`` and ``kkt`` (the nearness certificates of
        :class:`nnspaces.inverse.InverseResult`), ``certified`` (reached and certificate
        ≤ :data:`nnspaces.inverse.CERTIFIED_TOL`), ``message``; ``seconds`` is per digit and start image (each method
        runs every start image of every digit in one batch).
    results : dict (network, digit, start, method) → InverseResult
        The images (``.image``), outputs and loss histories.

    Notes
    -----
    Each method's batch is memoised on disk (:func:`nnspaces.cache.memo`) under the network's
    weights, the targets, the start images, the options and the code of
    :mod:`nnspaces.inverse`: a second run reads it back bit-identical, ``seconds`` included
    (``NNSPACES_RECOMPUTE=1`` recomputes).
    """
    _check_names(starts, START_KINDS, "start kind(s)")
    _check_names(methods, METHODS, "method(s)")
    method_options = dict(method_options or {})
    _check_names(list(method_options), METHODS, "method(s) in method_options")
    network_options = dict(network_options or {})
    for per_method in network_options.values():
        _check_names(list(per_method), METHODS, "method(s) in network_options")
    rows, results = [], {}
    for name, model in models.items():
        Z = cached_outputs(model, X)  # (N, K), once per network (and build)
        T = class_targets(None, None, y, target_kind, Z=Z)  # (K, K)
        K = T.shape[0]
        means = _references("avg", X, y, T, Z, K, frac, seed)  # (K, 1, 28, 28)
        # every start image of every digit in one batch per method: (S·K, 1, 28, 28)
        R = torch.cat([_references(start, X, y, T, Z, K, frac, seed) for start in starts])
        TT = T.repeat(len(starts), 1)  # (S·K, K)
        digits = list(range(K)) * len(starts)
        ran = []
        for method in methods:
            if method == "closed-form" and not supports_closed_form(model):
                continue
            opts = {
                **method_options.get(method, {}),
                **network_options.get(name, {}).get(method, {}),
            }
            mbox = None if method in UNCLIPPED else box
            batch = _invert_classes(model, TT, R, method, mbox, target_classes=digits, **opts)
            for j, res in enumerate(batch):
                results[(name, digits[j], starts[j // K], method)] = res
            ran.append(method)
        for start in starts:  # rows in the order start → method → digit
            for method in ran:
                for c in range(K):
                    res = results[(name, c, start, method)]
                    rows.append(_grid_row(name, c, start, method, res, means[c]))
    return pd.DataFrame(rows, columns=COLUMNS), results


def _grid_row(name, c, start, method, res, mean) -> dict:
    """One row of :func:`run_grid`'s table."""
    return {
        "network": name,
        "digit": c,
        "start": start,
        "method": method,
        "rel_error": res.rel_error,
        "predicted": res.predicted,
        "margin": res.margin,
        "distance": res.distance,
        "dist_class_mean": float(torch.linalg.vector_norm(res.image - mean.to(res.image))),
        "outside_box": res.outside_box,
        "valid": res.outside_box == 0,
        "correct": res.predicted == c,
        "iterations": res.iterations,
        "seconds": res.seconds,
        "feasible": res.feasible,
        "kappa": res.kappa,
        "kkt": res.kkt,
        "certified": res.certified,
        "message": res.message,
    }


def choose_best(df: pd.DataFrame, tie_tol: float = TIE_TOL) -> pd.DataFrame:
    """Pick one image per network and digit by a fixed rule.

    Criterion (quotable): among the valid images (every pixel in [0, 1]) that the network
    classifies as the target digit, take the one with the lowest relative output error
    ``‖f(x) − t‖/‖t‖``; errors within ``tie_tol`` (1e-9) of the lowest count as ties, broken
    by the smallest distance to the digit's class-mean image. If no valid image is classified
    as the digit, the same rule is applied to all valid images, and if no image is valid, to
    all images; such picks are flagged in the column ``fallback``.

    Distances within ``tie_tol`` (relatively) of the smallest tie too: those runs ended at
    the same image to round-off (every start image of the box closed form does, where the
    target is out of reach), so which of them is "chosen" would be decided by round-off.
    The first in :data:`~nnspaces.inverse.START_KINDS` order (then :data:`GRID_METHODS`)
    is taken, and the column ``same_image`` lists every start image that gave that image.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`run_grid` output.
    tie_tol : float

    Returns
    -------
    best : pandas.DataFrame
        One row per (network, digit), the chosen row of ``df`` with ``label``
        (``"start+method"``), ``fallback`` (empty when the criterion applied as stated) and
        ``same_image`` (the start images whose runs tie with it in error and distance,
        its own included, comma-separated in :data:`~nnspaces.inverse.START_KINDS` order).
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
        dmin = ties[key].min()
        same = ties[ties[key] <= dmin + tie_tol * max(abs(dmin), 1.0)]
        order = same["start"].map(_rank(START_KINDS)) * len(GRID_METHODS) + same["method"].map(
            _rank(GRID_METHODS)
        )
        row = same.loc[order.sort_values(kind="stable").index[0]].copy()
        row["label"] = f"{row['start']}+{row['method']}"
        row["fallback"] = flag
        row["same_image"] = ",".join(_ordered(same["start"], START_KINDS))
        chosen.append(row)
    return pd.DataFrame(chosen).reset_index(drop=True)


def _rank(names: Sequence[str]):
    """``name ↦`` its index in ``names`` (unknown names after all of them, as equals)."""
    return lambda name: names.index(name) if name in names else len(names)


def _ordered(values, names: Sequence[str]) -> list[str]:
    """The distinct ``values``, in the order of ``names`` (unknown ones last, sorted)."""
    distinct = set(values)
    return sorted(distinct, key=lambda v: (_rank(names)(v), v))


#: The exact methods of the grid (a target they reach, they reach to round-off).
EXACT_METHODS = ("closed-form", "gauss-newton")


def grid_verdicts(
    df: pd.DataFrame,
    best: pd.DataFrame,
    results: Mapping[tuple, InverseResult],
    tie_tol: float = TIE_TOL,
    bound_tol: float = 1e-9,
) -> dict[str, object]:
    """The facts the Figure 3 chapter states about its grid, computed.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`run_grid`'s table.
    best : pandas.DataFrame
        :func:`choose_best` of it.
    results : dict (network, digit, start, method) → InverseResult
        :func:`run_grid`'s second output.
    tie_tol : float
        Errors within this of the chosen image's count as ties.
    bound_tol : float
        A pixel within this of 0 or 1 is at a bound.

    Returns
    -------
    verdicts : dict
        ``chosen`` (network–digit pairs), ``chosen_reached`` (chosen images whose target is
        reached, rel. error ≤ :data:`nnspaces.inverse.REACHED_TOL`), ``exact_closest`` (pairs
        where an exact method's valid image is chosen or ties with the chosen error),
        ``not_exact`` (those pairs that are not, as text: ``"5-layer FCNN, digit 0: label"``),
        ``fcnn_bound_share`` (median over the exact methods' images of the networks other than
        ResNet18 of the share of pixels within ``bound_tol`` of 0 or 1; NaN without such
        images).
    """
    chosen_reached = int((best["rel_error"] <= REACHED_TOL).sum())
    exact_closest, not_exact = 0, []
    for _, row in best.iterrows():
        g = df[(df["network"] == row["network"]) & (df["digit"] == row["digit"])]
        exact = g[g["method"].isin(EXACT_METHODS) & g["valid"]]
        if len(exact) and exact["rel_error"].min() <= row["rel_error"] + tie_tol:
            exact_closest += 1
        else:
            name = models.DISPLAY_NAME.get(row["network"], row["network"])
            not_exact.append(f"{name}, digit {row['digit']}: {row['label']}")
    shares = []
    for (net, _, _, method), res in results.items():
        if method in EXACT_METHODS and net != "resnet18":
            x = res.image
            shares.append(float(((x <= bound_tol) | (x >= 1 - bound_tol)).double().mean()))
    return {
        "chosen": len(best),
        "chosen_reached": chosen_reached,
        "exact_closest": exact_closest,
        "not_exact": "; ".join(not_exact) or "none",
        "fcnn_bound_share": float(pd.Series(shares).median()) if shares else float("nan"),
    }
