"""Results at a glance: every number the paper reports beside this run's."""

from __future__ import annotations

import pandas as pd
from torch import nn

from .. import paper
from ..models import DISPLAY_NAME
from ..spaces import conv_layer, layer_spaces

TOLERANCE = {"accuracy": 0.01, "condition number": 0.05}


def figure_spaces(nets: dict[str, nn.Module]) -> dict:
    """The SVDs behind the paper's two condition numbers, for the networks given.

    Returns
    -------
    dict
        ``"fcnn1"`` → LayerSpaces of the 1-layer net's W (10×784) (Figure 1); ``"resnet"`` →
        of ResNet18's ``layer1.0.conv1`` in the kernels view (4096×9) (Figure 2).
    """
    out = {}
    if "fcnn1" in nets:
        out["fcnn1"] = layer_spaces(nets["fcnn1"][1])
    if "resnet18" in nets:
        conv = conv_layer(nets["resnet18"], paper.RESNET_LAYER)
        out["resnet"] = layer_spaces(conv, view="kernels")
    return out


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
    for key, sp in figure_spaces(nets).items():
        out[f"cond_{key}"] = sp.condition_number
    return out


def results_table(numbers: dict[str, float], dataset: str = "mnist") -> pd.DataFrame:
    """One row per number the paper reports: the paper's value, ours, a one-line verdict.

    Parameters
    ----------
    numbers : dict
        From :func:`headline_numbers`.
    dataset : str
        The data the numbers were measured on (off MNIST the verdict says there is no
        paper value).

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
        rows.append(
            (
                "1-layer FCNN condition number (Fig. 1)",
                paper.CONDITION_FCNN1,
                numbers["cond_fcnn1"],
                "condition number",
            )
        )
    if "cond_resnet" in numbers:
        rows.append(
            (
                f"ResNet18 {paper.RESNET_LAYER} condition number (Fig. 2)",
                paper.CONDITION_RESNET_LAYER,
                numbers["cond_resnet"],
                "condition number",
            )
        )
    return pd.DataFrame(
        [
            {
                "quantity": q,
                "paper": p,
                "this book": round(o, 3),
                "verdict": paper.verdict(o, p, TOLERANCE[kind], dataset),
            }
            for q, p, o, kind in rows
        ]
    )
