"""Ideal input images (the paper's Figure 3) and which outputs an image can reach.

- :func:`run_grid` — every network × digit × start image × method, as a table.
- :func:`choose_best` — the automatic per-digit choice that replaces the paper's choice by eye.
- :func:`reachability` — per digit: is the target reached by an image inside the box?
- :func:`summarize_grid`, :func:`choice_summary`, :func:`loss_decrease`, :func:`reach_summary`,
  :func:`pixel_range`, :func:`target_comparison` — the tables and numbers the chapters quote;
  :func:`per_network`, :func:`reach_keys` — those numbers keyed for glue, one key for every
  network of the book.
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
from .models import MODEL_NAMES
from .outputs import cached_outputs

#: Methods run by :func:`run_grid` by default ("closed-form" only where it applies).
GRID_METHODS = ("none", "paper-sgd", "gradient", "gauss-newton", "closed-form")

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
TABLE_COLUMNS = ["network", "start", "method", "digit", "rel_error", "predicted", "margin",
                 "distance", "kappa", "kkt", "outside_box", "iterations", "seconds"]  # fmt: skip


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
            batch = invert_classes(model, TT, R, method, mbox, target_classes=digits, **opts)
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
        ``kkt`` and ``certified`` (the box result's KKT residual and whether it is a certified
        stationary point of the distance to the start image), ``free_rel_error``,
        ``free_outside_box``, ``free_kappa`` and ``free_certified`` (best without the box:
        exact preimage, pixels outside [0, 1], its certificate).
    results : dict (target_kind, "box" | "free") → list of K InverseResult
        Only with ``return_results=True``.
    """
    if methods is None:
        methods = (
            ("closed-form", "gauss-newton") if supports_closed_form(model) else ("gauss-newton",)
        )
    _check_names(methods, METHODS, "method(s)")
    method_options = dict(method_options or {})
    Z = cached_outputs(model, X) if Z is None else Z
    rows, results = [], {}
    Ts = [class_targets(None, None, y, kind, Z=Z) for kind in target_kinds]  # each (K, K)
    K = Ts[0].shape[0]
    # every target kind in one batch per method: (kinds·K, ...)
    T = torch.cat(Ts)
    R = torch.cat([_references(start, X, y, Tk, Z, K, 0.25, 0) for Tk in Ts])
    digits = list(range(K)) * len(Ts)
    for tag, b in (("box", box), ("free", None)):
        per_method = [
            invert_classes(model, T, R, m, b, target_classes=digits, **method_options.get(m, {}))
            for m in methods
        ]
        for k, kind in enumerate(target_kinds):
            results[(kind, tag)] = [
                min((rs[k * K + c] for rs in per_method), key=lambda r: r.rel_error)
                for c in range(K)
            ]
    for kind in target_kinds:
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
                    "kkt": rb.kkt,
                    "certified": rb.certified,
                    "free_rel_error": rf.rel_error,
                    "free_outside_box": rf.outside_box,
                    "free_method": rf.method,
                    "free_kappa": rf.kappa,
                    "free_certified": rf.certified,
                }
            )
    df = pd.DataFrame(rows)
    return (df, results) if return_results else df


# --------------------------------------------------------------------------------------
# Tables for the chapters
# --------------------------------------------------------------------------------------


def summarize_grid(df: pd.DataFrame, by: Sequence[str] = ("network", "start", "method")):
    """Aggregate :func:`run_grid`'s table over the digits (and any column not in ``by``).

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`run_grid` output: one row per network × digit × start × method.
    by : sequence of column names
        The groups, e.g. ``("network", "method")`` to pool the start images too.

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by ``by``, in the order of first appearance, with columns ``runs`` (rows
        pooled), ``rel_error_median``, ``rel_error_max``, ``correct`` (runs whose image is
        classified as its digit), ``margin_median``, ``distance_median`` (to the start image),
        ``kappa_median`` and ``certified`` (when the table has them: the median nearness
        certificate and the runs certified), ``outside_box_max`` (most pixels outside [0, 1] in one image) and ``seconds_mean``
        (mean wall time of one run, i.e. per digit and start image).

    Examples
    --------
    >>> df = pd.DataFrame({"network": ["n"] * 2, "start": ["avg"] * 2, "method": ["none"] * 2,
    ...     "digit": [0, 1], "rel_error": [0.1, 0.3], "correct": [True, False],
    ...     "margin": [1.0, -1.0], "distance": [0.0, 0.0], "outside_box": [0, 0],
    ...     "seconds": [0.5, 1.5]})
    >>> row = summarize_grid(df).loc[("n", "avg", "none")]
    >>> int(row["runs"]), float(row["rel_error_median"]), int(row["correct"]), float(row["seconds_mean"])
    (2, 0.2, 1, 1.0)
    """
    need = {"rel_error", "correct", "margin", "distance", "outside_box", "seconds", *by}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"summarize_grid needs run_grid's columns; missing {sorted(missing)}")
    g = df.groupby(list(by), sort=False)
    return pd.DataFrame(
        {
            "runs": g.size(),
            "rel_error_median": g["rel_error"].median(),
            "rel_error_max": g["rel_error"].max(),
            "correct": g["correct"].sum().astype(int),
            "margin_median": g["margin"].median(),
            "distance_median": g["distance"].median(),
            **({"kappa_median": g["kappa"].median()} if "kappa" in df else {}),
            **({"certified": g["certified"].sum().astype(int)} if "certified" in df else {}),
            "outside_box_max": g["outside_box"].max().astype(int),
            "seconds_mean": g["seconds"].mean(),
        }
    )


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
        ``not_exact`` (those pairs that are not, as text: ``"network digit: label"``),
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
            not_exact.append(f"{row['network']} {row['digit']}: {row['label']}")
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


def choice_summary(best: pd.DataFrame) -> dict[str, str]:
    """The per-digit choices of :func:`choose_best`, written as the paper lists its own.

    Parameters
    ----------
    best : pandas.DataFrame
        :func:`choose_best` output (columns ``network``, ``digit``, ``label``).

    Returns
    -------
    text : dict network → str
        E.g. ``"avg+gauss-newton (0, 1, 4); min+gauss-newton (2, 3)"``: each ``start+method``
        with the digits it was chosen for, in order of the first such digit.

    Examples
    --------
    >>> best = pd.DataFrame({"network": ["n"] * 3, "digit": [0, 1, 2],
    ...                      "label": ["avg+none", "min+none", "avg+none"]})
    >>> choice_summary(best)
    {'n': 'avg+none (0, 2); min+none (1)'}
    """
    out = {}
    for net, b in best.groupby("network", sort=False):
        groups: dict[str, list[str]] = {}
        for label, digit in zip(b.sort_values("digit")["label"], b.sort_values("digit")["digit"]):
            groups.setdefault(label, []).append(str(digit))
        out[net] = "; ".join(f"{label} ({', '.join(d)})" for label, d in groups.items())
    return out


def loss_decrease(results: Mapping[tuple, InverseResult], method: str = "paper-sgd"):
    """How much an iterative method lowered the paper's loss ``mean((f(x) − t)²)``.

    Parameters
    ----------
    results : dict (network, digit, start, method) → InverseResult
        :func:`run_grid`'s second output.
    method : str
        The method whose runs are read.

    Returns
    -------
    table : pandas.DataFrame
        One row per run of ``method``: ``network, digit, start, loss_start, loss_end, steps,
        decrease`` with ``decrease = (loss_start − loss_end) / loss_start`` (0.01 = the loss
        fell by 1 %; negative when it rose).
    """
    rows = []
    for (net, digit, start, m), res in results.items():
        if m != method or not res.history:
            continue
        h0, h1 = float(res.history[0]), float(res.history[-1])
        rows.append(
            {
                "network": net,
                "digit": digit,
                "start": start,
                "loss_start": h0,
                "loss_end": h1,
                "steps": len(res.history) - 1,
                "decrease": (h0 - h1) / h0 if h0 > 0 else 0.0,
            }
        )
    if not rows:
        raise ValueError(f"no runs of method {method!r} in the results")
    return pd.DataFrame(rows)


def reach_summary(
    frames: Mapping[str, pd.DataFrame], results: Mapping[str, Mapping] | None = None
) -> pd.DataFrame:
    """Count, per network and target kind, the digits whose target an image in the box reaches.

    Parameters
    ----------
    frames : mapping label → pandas.DataFrame
        :func:`reachability` tables, e.g. one per network (the label becomes the ``network``
        index level).
    results : mapping label → results dict, optional
        :func:`reachability`'s second output (``return_results=True``) for the same labels:
        adds ``free_min_pixel`` and ``free_max_pixel``, the range of the pixels of the
        unconstrained images (:func:`pixel_range`).

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by ``(network, target_kind)`` with columns ``digits``, ``reached`` (digits whose
        box result has ``rel_error ≤ 1e-6``), ``rel_error_median`` and ``rel_error_min`` (inside
        the box), ``correct`` (box images classified as their digit), ``free_rel_error_median``
        and ``free_rel_error_max`` (without the box) and ``free_outside_median`` (pixels outside
        [0, 1] per unconstrained image, median over digits).
    """
    parts = []
    for label, df in frames.items():
        g = df.groupby("target_kind", sort=False)
        part = pd.DataFrame(
            {
                "digits": g.size(),
                "reached": g["reached"].sum().astype(int),
                "rel_error_median": g["rel_error"].median(),
                "rel_error_min": g["rel_error"].min(),
                "correct": g.apply(
                    lambda d: int((d["predicted"] == d["digit"]).sum()), include_groups=False
                ),
                "free_rel_error_median": g["free_rel_error"].median(),
                "free_rel_error_max": g["free_rel_error"].max(),
                "free_outside_median": g["free_outside_box"].median(),
            }
        )
        if results is not None:
            ranges = [pixel_range(results[label][(kind, "free")]) for kind in part.index]
            part["free_min_pixel"] = [lo for lo, _ in ranges]
            part["free_max_pixel"] = [hi for _, hi in ranges]
        part.index = pd.MultiIndex.from_product(
            [[label], part.index], names=["network", "target_kind"]
        )
        parts.append(part)
    if not parts:
        raise ValueError("reach_summary needs at least one reachability table")
    return pd.concat(parts)


def pixel_range(results: Sequence[InverseResult]) -> tuple[float, float]:
    """Smallest and largest pixel over the images of ``results`` (e.g. one row of digits).

    Returns
    -------
    (lo, hi) : tuple of float
    """
    if not results:
        raise ValueError("pixel_range needs at least one result")
    lo = min(float(r.image.min()) for r in results)
    hi = max(float(r.image.max()) for r in results)
    return lo, hi


def target_comparison(
    models: Mapping[str, nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    kinds: Sequence[str] = ("minmax", "minmax-per-output"),
) -> pd.DataFrame:
    """How far target definitions differ, per network.

    The paper's targets as its released code builds them (``"minmax"``) set every off-class
    entry ``T[c, j]`` to the minimum of output ``c``; this book's variant
    (``"minmax-per-output"``) sets it to the minimum of output ``j``. Both use the same K
    minima, arranged by row or by column, so the difference is large exactly when the
    outputs' minima differ from one output to another.

    Parameters
    ----------
    models : mapping name → torch.nn.Module
        Networks mapping ``(N, 1, 28, 28)`` to ``(N, K)``.
    X : (N, 1, 28, 28) Tensor
    y : (N,) Tensor
    kinds : sequence of :func:`nnspaces.inverse.class_targets` kinds
        The first is the reference the others are compared with.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by network, with ``"<kind> vs <first>"`` = ``‖T_kind − T_first‖_F /
        ‖T_first‖_F`` for each later kind, and ``"lowest minimum"`` / ``"highest minimum"``:
        the smallest and largest of the K per-output minima ``min_n f(x_n)[j]``.
    """
    if len(kinds) < 2:
        raise ValueError("target_comparison needs at least two target kinds")
    rows = {}
    for name, model in models.items():
        Z = cached_outputs(model, X)  # (N, K)
        Ts = {k: class_targets(None, None, y, k, Z=Z) for k in kinds}  # each (K, K)
        T0 = Ts[kinds[0]]
        row = {
            f"{k} vs {kinds[0]}": float(
                torch.linalg.matrix_norm(Ts[k] - T0) / torch.linalg.matrix_norm(T0)
            )
            for k in kinds[1:]
        }
        lows = Z.min(0).values  # (K,)
        row["lowest minimum"], row["highest minimum"] = float(lows.min()), float(lows.max())
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "network"
    return table


def closest_output_errors(Z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """How near the outputs of real images come to each target.

    Parameters
    ----------
    Z : (N, K) Tensor
        Outputs of the network over N images.
    T : (C, K) Tensor
        Targets, one per row (e.g. :func:`nnspaces.inverse.class_targets`).

    Returns
    -------
    errors : (C,) Tensor
        ``min_n ‖Z[n] − T[c]‖ / ‖T[c]‖``: the relative output error of the image whose output
        is nearest target ``c`` (0 when some image reaches it).

    Examples
    --------
    >>> closest_output_errors(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[0.0, 2.0]]))
    tensor([0.])
    """
    Z, T = torch.as_tensor(Z), torch.as_tensor(T).to(Z.dtype)
    if Z.ndim != 2 or T.ndim != 2 or Z.shape[1] != T.shape[1]:
        raise ValueError(f"need Z (N, K) and T (C, K), got {tuple(Z.shape)}, {tuple(T.shape)}")
    dist = torch.cdist(T, Z)  # (C, N)
    return dist.min(1).values / torch.linalg.vector_norm(T, dim=1)


def per_network(values: Mapping, fill=float("nan")) -> dict[str, object]:
    """Values keyed by network, or by (network, method), as glue keys for every network.

    The chapters quote numbers per network; a run on a subset of the networks (the ``models``
    parameter) still defines every key the prose names, with ``fill`` for those not run, so
    the book builds and shows ``nan`` instead of failing on a missing key.

    Parameters
    ----------
    values : mapping network → value, or (network, method) → value
        E.g. a pandas Series indexed by network or by (network, method).
    fill : object
        The value of the keys not in ``values`` (NaN; e.g. ``"not run"`` for text).

    Returns
    -------
    keyed : dict str → value
        Keys ``"fcnn1"`` or ``"fcnn1_gauss_newton"`` (hyphens become underscores) for every
        network of :data:`nnspaces.models.MODEL_NAMES` (× every method of :data:`GRID_METHODS`),
        plus any other key in ``values``.

    Examples
    --------
    >>> per_network({"fcnn1": 0.5})
    {'fcnn1': 0.5, 'fcnn5': nan, 'resnet18': nan}
    >>> d = per_network({("fcnn5", "gauss-newton"): 1.0})
    >>> d["fcnn5_gauss_newton"], d["fcnn1_paper_sgd"]
    (1.0, nan)
    """
    values = dict(values)

    def key(k) -> str:
        return "_".join(map(str, k)).replace("-", "_") if isinstance(k, tuple) else str(k)

    if any(isinstance(k, tuple) for k in values):
        wanted = [(n, m) for n in MODEL_NAMES for m in GRID_METHODS]
    else:
        wanted = list(MODEL_NAMES)
    out = {key(k): fill for k in wanted}
    out.update({key(k): v for k, v in values.items()})
    return out


def reach_keys(summary: pd.DataFrame, fill=float("nan")) -> dict[str, object]:
    """:func:`reach_summary`'s table flattened to glue keys, for every network of the book.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`reach_summary` output, indexed by (network, target_kind).
    fill : object
        The value of networks not in ``summary``.

    Returns
    -------
    keyed : dict str → value
        Key ``"<column>_<target_kind>_<network>"`` (hyphens become underscores), e.g.
        ``"reached_class_mean_fcnn1"``, for every column, every target kind in ``summary`` and
        every network of :data:`nnspaces.models.MODEL_NAMES` (and any other in ``summary``).
    """
    kinds = list(dict.fromkeys(summary.index.get_level_values("target_kind")))
    networks = list(MODEL_NAMES) + [
        n for n in dict.fromkeys(summary.index.get_level_values("network")) if n not in MODEL_NAMES
    ]
    out = {}
    for column in summary.columns:
        for kind in kinds:
            for net in networks:
                key = f"{column}_{kind}_{net}".replace("-", "_")
                value = summary[column].get((net, kind), fill)
                out[key] = value.item() if hasattr(value, "item") else value
    return out
