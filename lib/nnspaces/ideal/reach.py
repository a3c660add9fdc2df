"""Which outputs an image inside the pixel box can reach, per network, target kind and digit.

- :func:`reachability` — per digit: is the target reached by an image inside the box?
- :func:`reach_summary` — those tables counted per network and target kind;
  :func:`pixel_range` — the pixel range of a row of images;
- :func:`reach_keys` — the summary flattened to glue keys for every network of the book;
  :func:`text_keys` — numbers of such keys written as the book prints them;
- :func:`reach_table`, :func:`nearness_table` — those tables as a reader sees them (human
  headers, one format per column), for :func:`nnspaces.book.glue_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..inverse import (
    METHODS,
    REACHED_TOL,
    InverseResult,
    class_targets,
    supports_closed_form,
)
from ..models import DISPLAY_NAME, MODEL_NAMES
from ..outputs import cached_outputs
from .grid import _check_names, _invert_classes, _references


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
        ``kkt`` and ``certified`` (the box result's KKT residual — of the nearest point when
        the target is reached, of the best approximation when not — and whether it is a
        certified stationary point of the distance to the start image), ``free_rel_error``,
        ``free_outside_box``, ``free_kappa`` and ``free_certified`` (best without the box:
        exact preimage, pixels outside [0, 1], its certificate).
    results : dict (target_kind, "box" | "free") → list of K InverseResult
        Only with ``return_results=True``.

    Notes
    -----
    The inverse maps are memoised on disk as in :func:`nnspaces.ideal.run_grid`.
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
            _invert_classes(model, T, R, m, b, target_classes=digits, **method_options.get(m, {}))
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


#: Target kinds as a reader reads them.
TARGET_NAME = {"minmax": "min/max", "class-mean": "class mean"}

#: The columns of :func:`reach_table` per ``side``: summary column → (header, format).
_SIDES = {
    "box": {
        "reached": ("reached in [0, 1]", ""),
        "rel_error_median": ("relative error (median)", "sci"),
        "rel_error_min": ("relative error (smallest)", "sci"),
        "correct": ("classified as the digit", ""),
    },
    "free": {
        "free_rel_error_max": ("relative error (largest)", "sci"),
        "free_outside_median": ("pixels outside [0, 1] (median)", ",d"),
        "free_min_pixel": ("smallest pixel", ".3g"),
        "free_max_pixel": ("largest pixel", ".3g"),
    },
    "gradient": {
        "reached": ("reached in [0, 1]", ""),
        "rel_error_median": ("relative error in [0, 1] (median)", "sci"),
        "free_rel_error_median": ("relative error, no box (median)", "sci"),
    },
}


def reach_table(
    summary: pd.DataFrame, side: str = "box", names: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`reach_summary`'s table as a reader sees it: one side of it, human headers.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`reach_summary` output, indexed by (network, target_kind).
    side : {"box", "free", "gradient"}
        ``"box"``: digits reached inside [0, 1], the relative errors there and the images
        classified as their digit; ``"free"``: the unconstrained preimages' largest error and
        pixels (the pixel range only when the summary has it); ``"gradient"``: a gradient
        method's reach and errors with and without the box.
    names : mapping network → str, optional
        Default :data:`nnspaces.models.DISPLAY_NAME` ("1-layer FCNN", …).

    Returns
    -------
    table : pandas.DataFrame
        Columns ``network``, ``targets`` (``"min/max"``, ``"class mean"``), then the side's
        columns under their headers; counts as ``"k of n"``.
    formats : dict header → format
        For :func:`nnspaces.book.glue_table` (``"sci"`` for relative errors).

    Examples
    --------
    >>> s = pd.DataFrame({"digits": [10], "reached": [0], "rel_error_median": [0.12],
    ...     "rel_error_min": [0.05], "correct": [9]},
    ...     index=pd.MultiIndex.from_tuples([("fcnn1", "minmax")]))
    >>> table, formats = reach_table(s)
    >>> table.iloc[0, [0, 1, 2, 5]].tolist()
    ['1-layer FCNN', 'min/max', '0 of 10', '9 of 10']
    >>> formats["relative error (median)"]
    'sci'
    """
    if side not in _SIDES:
        raise ValueError(f"side {side!r}: use one of {sorted(_SIDES)}")
    names = DISPLAY_NAME if names is None else names
    columns = {c: hf for c, hf in _SIDES[side].items() if c in summary.columns}
    table = pd.DataFrame(
        {
            "network": [names.get(n, n) for n, _ in summary.index],
            "targets": [TARGET_NAME.get(k, k) for _, k in summary.index],
        }
    )
    for column, (header, _) in columns.items():
        values = summary[column].to_numpy()
        if column in ("reached", "correct"):
            values = [f"{int(v)} of {int(d)}" for v, d in zip(values, summary["digits"])]
        table[header] = values
    return table, {header: spec for header, spec in columns.values() if spec}


def nearness_table(near: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """One network's rows of :func:`nnspaces.nearest.table` as a reader sees them.

    Parameters
    ----------
    near : pandas.DataFrame
        Rows of one network, with columns ``digit, gn_distance, distance, gn_kappa, kappa,
        kappa_kinks, kinks``.

    Returns
    -------
    table : pandas.DataFrame
        ``digit``, the distances to the class average of the Gauss–Newton and the refined
        preimage, their ``κ``, ``κ`` with the kink directions and the hidden units at a kink.
    formats : dict header → format
    """
    columns = {
        "digit": ("digit", ",d"),
        "gn_distance": ("distance, Gauss–Newton", ".3g"),
        "distance": ("distance, refined", ".3g"),
        "gn_kappa": ("κ, Gauss–Newton", "sci"),
        "kappa": ("κ, refined", "sci"),
        "kappa_kinks": ("κ with kink directions", "sci"),
        "kinks": ("units at a kink", ",d"),
    }
    missing = set(columns) - set(near.columns)
    if missing:
        raise ValueError(f"nearness_table needs nearest.table's columns; missing {sorted(missing)}")
    table = near[list(columns)].rename(columns={c: h for c, (h, _) in columns.items()})
    return table.reset_index(drop=True), dict(columns.values())


def text_keys(
    keyed: Mapping[str, object], fmt: Callable[[object, str], str], suffix: str = "_text"
) -> dict[str, str]:
    """Numbers of glue keys written as the book prints them, for ``{glue:text}`` in prose.

    Relative errors and certificates (keys with ``error`` or ``kappa``) in scientific notation
    (``3.3 × 10⁻¹⁶``: a format spec in the markdown could only give ``3.3e-16`` or
    ``0.000``), every other float to 3 significant digits with a true minus sign, NaN as
    ``—``; integers and strings are left out.

    Parameters
    ----------
    keyed : mapping key → value
        E.g. :func:`reach_keys` or :func:`nnspaces.nearest.summary_keys` output.
    fmt : callable (value, spec) → str
        The book's number format, :func:`nnspaces.book.fmt` (this layer does not import the
        book's).
    suffix : str
        Appended to each key.

    Returns
    -------
    dict key + suffix → str

    Examples
    --------
    >>> from nnspaces.book import fmt
    >>> text_keys({"rel_error_max_minmax_fcnn1": 3.3e-16, "free_min_pixel": -3.214,
    ...            "reached": 10, "near_kappa_max": float("nan")}, fmt)
    {'rel_error_max_minmax_fcnn1_text': '3.3 × 10⁻¹⁶', 'free_min_pixel_text': '−3.21', \
'near_kappa_max_text': '—'}
    """
    out = {}
    for key, value in keyed.items():
        if hasattr(value, "item"):
            value = value.item()
        if not isinstance(value, float):
            continue
        spec = "sci" if "error" in key or "kappa" in key else ".3g"
        out[f"{key}{suffix}"] = fmt(value, spec)
    return out
