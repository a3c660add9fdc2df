"""The headline numbers on two data sets side by side."""

from __future__ import annotations

import pandas as pd

from ..ideal import reachability
from ..notebook import trained_models
from .headline import headline_numbers


def compare_datasets(runs: dict[str, dict], names=("fcnn1", "fcnn5", "resnet18")) -> pd.DataFrame:
    """Headline numbers and reachability of the same networks trained on several data sets.

    Parameters
    ----------
    runs : dict
        Column label (e.g. ``"MNIST"``) → training parameters of that run.
    names : the networks.

    Returns
    -------
    DataFrame
        Index: quantity (accuracies, condition numbers, and for each FCNN the number of the
        10 classes whose min/max and class-mean targets an image in [0, 1] reaches to
        1e-6); one column per run.
    """
    columns = {}
    for label, params in runs.items():
        splits, nets, reports = trained_models(params, list(names), progress=False)
        col = headline_numbers(nets, reports)
        for name in ("fcnn1", "fcnn5"):
            if name in nets:
                r = reachability(nets[name], splits.X_train, splits.y_train)
                for kind, group in r.groupby("target_kind"):
                    col[f"reached_{kind}_{name}"] = int(group["reached"].sum())
        columns[label] = col
    return pd.DataFrame(columns)


#: Reader's names of the rows of :func:`compare_datasets`, with their :func:`nnspaces.book.fmt`
#: spec, in the order a table shows them.
_ROWS = {
    "acc_fcnn1": ("1-layer FCNN test accuracy", ".1%"),
    "acc_fcnn5": ("5-layer FCNN test accuracy", ".1%"),
    "acc_resnet18": ("ResNet18 test accuracy", ".1%"),
    "cond_fcnn1": ("1-layer FCNN condition number (Figure 1)", ".2f"),
    "cond_resnet": ("ResNet18 layer1.0.conv1 condition number (Figure 2)", ".3f"),
    "reached_minmax_fcnn1": ("1-layer FCNN: min/max targets reached in [0, 1]", "d"),
    "reached_minmax_fcnn5": ("5-layer FCNN: min/max targets reached in [0, 1]", "d"),
    "reached_class-mean_fcnn1": ("1-layer FCNN: class-mean targets reached in [0, 1]", "d"),
    "reached_class-mean_fcnn5": ("5-layer FCNN: class-mean targets reached in [0, 1]", "d"),
}


def datasets_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_datasets` for readers: one row per quantity with a reader's name, each
    cell formatted (accuracies as percentages, counts "k of 10").

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_datasets` (index: quantity keys; one column per run).

    Returns
    -------
    DataFrame
        Columns ``quantity`` and one per run, strings, for :func:`nnspaces.book.glue_table`;
        rows in a fixed order, keys not known here last under their own names.

    Examples
    --------
    >>> t = pd.DataFrame({"digits": {"acc_fcnn1": 0.886, "reached_minmax_fcnn1": 0},
    ...                   "clothing": {"acc_fcnn1": 0.79, "reached_minmax_fcnn1": 3}})
    >>> datasets_table(t).values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['1-layer FCNN test accuracy', '88.6%', '79.0%'],
     ['1-layer FCNN: min/max targets reached in [0, 1]', '0 of 10', '3 of 10']]
    """
    from ..book import fmt

    keys = [k for k in _ROWS if k in table.index] + [k for k in table.index if k not in _ROWS]
    rows = []
    for key in keys:
        name, spec = _ROWS.get(key, (key, ""))
        cells = [fmt(v, spec) for v in table.loc[key]]
        if key.startswith("reached_"):
            cells = [f"{c} of 10" for c in cells]
        rows.append([name, *cells])
    return pd.DataFrame(rows, columns=["quantity", *table.columns])
