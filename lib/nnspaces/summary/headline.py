"""Results at a glance: every number the paper reports beside this run's."""

from __future__ import annotations

import pandas as pd
from torch import nn

from .. import paper
from ..models import DISPLAY_NAME
from ..spaces import conv_layer, layer_spaces

#: What still counts as a match: accuracies within 1 percentage point (an absolute
#: difference of fractions), condition numbers within 5 % of the paper's (a ratio).
TOLERANCE = {"accuracy": 0.01, "condition number": 0.05}

#: The networks, in the book's order.
NETWORKS = ("fcnn1", "fcnn5", "resnet18")


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


def headline_numbers(
    nets: dict[str, nn.Module], reports: dict[str, dict], validation: bool = False
) -> dict[str, float]:
    """The reproduced counterparts of the paper's headline numbers.

    Parameters
    ----------
    nets : dict
        ``"fcnn1"``, ``"fcnn5"``, ``"resnet18"`` → trained model (any subset).
    reports : dict
        The same names → training report (``test_acc``, and ``val_acc`` with
        ``validation``).
    validation : bool
        Also return each network's validation accuracy (what the paper's accuracies
        presumably are: see :data:`nnspaces.paper.ACCURACY`).

    Returns
    -------
    dict
        ``acc_<name>`` (test accuracy, fraction) for each network, ``val_acc_<name>``
        (validation accuracy of the same weights) with ``validation``; ``cond_fcnn1``
        (σ_max/σ_min of the 10×784 weight matrix) and ``cond_resnet`` (of ``layer1.0.conv1``
        in the paper's 4096×9 kernels view) when those networks are given.
    """
    out = {f"acc_{name}": r["test_acc"] for name, r in reports.items()}
    if validation:
        out.update({f"val_acc_{name}": r["val_acc"] for name, r in reports.items()})
    for key, sp in figure_spaces(nets).items():
        out[f"cond_{key}"] = sp.condition_number
    return out


def results_table(numbers: dict[str, float]) -> pd.DataFrame:
    """One row per number the paper reports: the paper's value, this run's, the difference.

    Accuracies are compared validation with validation (the paper's are presumably
    validation accuracies) and their difference is in percentage points; condition numbers
    are compared by their ratio.

    Parameters
    ----------
    numbers : dict
        From :func:`headline_numbers` with ``validation=True`` (``val_acc_<name>``,
        ``cond_fcnn1``, ``cond_resnet``; any subset).

    Returns
    -------
    DataFrame
        One row per number, in the paper's order (accuracies, Figure 1, Figure 2). Columns
        ``key`` (the key of ``numbers``), ``quantity`` (for readers), ``kind``
        (``"accuracy"`` or ``"condition number"``), ``paper``, ``this build`` (accuracies as
        fractions), ``difference`` (accuracies: ``this build − paper`` in percentage points;
        condition numbers: ``this build / paper − 1``) and ``matches`` (within
        :data:`TOLERANCE`).
    """
    rows = []
    for name in NETWORKS:
        key = f"val_acc_{name}"
        if key in numbers:
            ours, ref = numbers[key], paper.ACCURACY[name]
            diff = 100 * (ours - ref)
            rows.append((key, f"{DISPLAY_NAME[name]} accuracy", "accuracy", ref, ours, diff))
    for key, quantity, ref in (
        ("cond_fcnn1", "1-layer FCNN condition number (Figure 1)", paper.CONDITION_FCNN1),
        ("cond_resnet", "ResNet18 condition number (Figure 2)", paper.CONDITION_RESNET_LAYER),
    ):
        if key in numbers:
            ours = numbers[key]
            rows.append((key, quantity, "condition number", ref, ours, ours / ref - 1))
    table = pd.DataFrame(
        rows, columns=["key", "quantity", "kind", "paper", "this build", "difference"]
    )
    tol = table["kind"].map(lambda k: TOLERANCE[k] * (100 if k == "accuracy" else 1))
    table["matches"] = table["difference"].abs() <= tol
    return table


def results_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`results_table` with each cell written for readers (accuracies in percent,
    differences in points or per cent, a true minus sign), for :func:`nnspaces.book.glue_table`.

    Returns
    -------
    DataFrame
        Columns ``quantity, paper, this build, difference, verdict`` (strings).
    """
    from ..book import fmt

    def value(v, kind):
        return fmt(v, ".1%") if kind == "accuracy" else fmt(v, ".3g")

    out = pd.DataFrame(
        {
            "quantity": table["quantity"],
            "paper": [
                fmt(p, ".0%") if k == "accuracy" else fmt(p, "g")
                for p, k in zip(table["paper"], table["kind"])
            ],
            "this build": [value(v, k) for v, k in zip(table["this build"], table["kind"])],
            "difference": [
                f"{fmt(d, '+.1f')} points" if k == "accuracy" else fmt(d, "+.0%")
                for d, k in zip(table["difference"], table["kind"])
            ],
            "verdict": ["matches" if m else "differs" for m in table["matches"]],
        }
    )
    return out.replace({"%": " %"}, regex=True)


def accuracies(reports: dict[str, dict], dataset: str = "mnist") -> pd.DataFrame:
    """Each network's validation and test accuracy, beside the paper's where it has one.

    Parameters
    ----------
    reports : dict
        Model name → report of :func:`nnspaces.train.train_or_load` (``val_acc``,
        ``test_acc`` of the weights kept; ``scores`` of the final and the best-validation
        epochs).
    dataset : str
        The data the networks were trained on; off :data:`nnspaces.paper.DATASETS` the
        paper has no accuracy and the columns ``paper`` and ``difference`` are left out.

    Returns
    -------
    DataFrame
        One row per network: ``network`` (for readers), ``paper`` (fraction), ``validation``,
        ``test``, ``difference`` (validation − paper, in percentage points), and for the
        other choice of epoch ``best epoch``, ``best: validation``, ``best: test``, ``final:
        validation``, ``final: test``, ``best − final`` (test, points).
    """
    rows = []
    for name, r in reports.items():
        final, best = r["scores"]["final"], r["scores"]["best"]
        rows.append(
            {
                "network": DISPLAY_NAME.get(name, name),
                "paper": paper.ACCURACY.get(name, float("nan")),
                "validation": r["val_acc"],
                "test": r["test_acc"],
                "difference": 100 * (r["val_acc"] - paper.ACCURACY.get(name, float("nan"))),
                "best epoch": best["epoch"],
                "final: validation": final["val_acc"],
                "final: test": final["test_acc"],
                "best: validation": best["val_acc"],
                "best: test": best["test_acc"],
                "best − final": 100 * (best["test_acc"] - final["test_acc"]),
            }
        )
    table = pd.DataFrame(rows)
    if dataset not in paper.DATASETS:
        table = table.drop(columns=["paper", "difference"])
    return table


def initial_condition_fcnn1(seed: int = 0) -> float:
    """Condition number of the 1-layer FCNN's weight matrix before training.

    The network :func:`nnspaces.train.train_or_load` starts from with this ``seed``
    (``models.build("fcnn1")`` right after ``torch.manual_seed(seed)``); the caller's random
    state is left alone.

    Returns
    -------
    float
        σ_max/σ_min of the initial W (10×784).
    """
    import torch

    from .. import models

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = models.build("fcnn1")
    return layer_spaces(net[1]).condition_number
