"""The tables and numbers the Figure 3 chapters quote, from the grid's table and results.

- :func:`summarize_grid` — the grid aggregated over digits; :func:`choice_summary` — the
  per-digit choices as the paper lists its own; :func:`loss_decrease` — how much an iterative
  method lowered the paper's loss;
- :func:`target_comparison` — how far target definitions differ; :func:`closest_output_errors`
  — how near real images' outputs come to each target;
- :func:`per_network` — numbers keyed for glue, one key for every network of the book;
- :func:`method_table` — a per-method summary as a row per network (:data:`METHOD_LABELS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..inverse import InverseResult, class_targets
from ..models import MODEL_NAMES
from ..outputs import cached_outputs
from .grid import GRID_METHODS

#: The grid's methods as a table's column headers name them.
METHOD_LABELS = {
    "none": "start image",
    "paper-sgd": "SGD (released settings)",
    "gradient": "Adam",
    "gauss-newton": "Gauss–Newton",
    "closed-form": "closed form",
}


def method_table(
    summary: pd.DataFrame,
    column: str,
    networks: Sequence[str],
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One column of a per-(network, method) summary as a table: a row per network, a column
    per method (:data:`METHOD_LABELS` headers, in :data:`GRID_METHODS` order).

    Parameters
    ----------
    summary : pandas.DataFrame
        Indexed by (network, method), e.g. ``summarize_grid(df, by=("network", "method"))``.
    column : str
        The column shown.
    networks : sequence of str
        Row order.
    names : mapping network → display name, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``network`` (display names) and one per method run; NaN where a method did
        not run for a network.

    Examples
    --------
    >>> idx = pd.MultiIndex.from_tuples([("a", "none"), ("a", "gauss-newton"), ("b", "none")])
    >>> s = pd.DataFrame({"err": [0.5, 0.1, 0.7]}, index=idx)
    >>> method_table(s, "err", ["b", "a"], {"a": "A"}).values.tolist()
    [['b', 0.7, nan], ['A', 0.5, 0.1]]
    """
    names = dict(names or {})
    wide = summary[column].unstack(-1)
    wide = wide[[m for m in GRID_METHODS if m in wide.columns]].reindex(list(networks))
    out = wide.rename(columns=METHOD_LABELS)
    out.insert(0, "network", [names.get(n, n) for n in networks])
    return out.reset_index(drop=True).rename_axis(None, axis=1)


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
