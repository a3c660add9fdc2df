"""Results at a glance: every number the paper reports beside this run's."""

from __future__ import annotations

import pandas as pd
from torch import nn

from . import paper
from .layerviews import conv_layer
from .models import DISPLAY_NAME
from .spaces import layer_spaces

#: Relative difference still called a match: accuracies are tighter than spectra.
TOLERANCE = {"accuracy": 0.01, "condition number": 0.05}


def headline_numbers(nets: dict[str, nn.Module], reports: dict[str, dict]) -> dict[str, float]:
    """The reproduced counterparts of the paper's headline numbers.

    Parameters
    ----------
    nets : dict
        ``"fcnn1"``, ``"fcnn5"``, ``"resnet18"`` → trained model (any subset).
    reports : dict
        The same names → training report (``test_acc``).

    Returns
    -------
    dict
        ``acc_<name>`` (test accuracy, fraction) for each network; ``cond_fcnn1`` (σ_max/σ_min
        of the 10×784 weight matrix) and ``cond_resnet`` (of ``layer1.0.conv1`` in the paper's
        4096×9 kernels view) when those networks are given.
    """
    out = {f"acc_{name}": r["test_acc"] for name, r in reports.items()}
    if "fcnn1" in nets:
        out["cond_fcnn1"] = layer_spaces(nets["fcnn1"][1]).condition_number
    if "resnet18" in nets:
        conv = conv_layer(nets["resnet18"], paper.RESNET_LAYER)
        out["cond_resnet"] = layer_spaces(conv, view="kernels").condition_number
    return out


def results_table(numbers: dict[str, float]) -> pd.DataFrame:
    """One row per number the paper reports: the paper's value, ours, a one-line verdict.

    Parameters
    ----------
    numbers : dict
        From :func:`headline_numbers`.

    Returns
    -------
    DataFrame
        Columns ``quantity, paper, this book, verdict``; accuracies in percent.
    """
    rows = []
    for name in ("fcnn1", "fcnn5", "resnet18"):
        if f"acc_{name}" in numbers:
            ours, ref = 100 * numbers[f"acc_{name}"], 100 * paper.ACCURACY[name]
            rows.append((f"{DISPLAY_NAME[name]} test accuracy (%)", ref, ours, "accuracy"))
    if "cond_fcnn1" in numbers:
        rows.append(("1-layer FCNN condition number (Fig. 1)", paper.CONDITION_FCNN1,
                     numbers["cond_fcnn1"], "condition number"))  # fmt: skip
    if "cond_resnet" in numbers:
        rows.append((f"ResNet18 {paper.RESNET_LAYER} condition number (Fig. 2)",
                     paper.CONDITION_RESNET_LAYER, numbers["cond_resnet"], "condition number"))  # fmt: skip
    return pd.DataFrame(
        [
            {
                "quantity": q,
                "paper": p,
                "this book": round(o, 3),
                "verdict": paper.verdict(o, p, TOLERANCE[kind]),
            }
            for q, p, o, kind in rows
        ]  # fmt: skip
    )
