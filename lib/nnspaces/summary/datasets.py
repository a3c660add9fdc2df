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
