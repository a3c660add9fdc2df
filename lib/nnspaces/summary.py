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
                "verdict": paper.verdict(o, p, TOLERANCE[kind], dataset),
            }
            for q, p, o, kind in rows
        ]  # fmt: skip
    )


def seed_study(params: dict, seeds, names=("fcnn1", "fcnn5", "resnet18")):
    """Headline numbers and spectra of the networks trained with each seed.

    Parameters
    ----------
    params : dict
        Training parameters (``nnspaces.params.TRAIN_PARAMS`` keys); ``seed`` is replaced.
    seeds : list of int
    names : the networks (trained, or loaded from the cache).

    Returns
    -------
    table : DataFrame
        One row per seed: ``seed`` and the keys of :func:`headline_numbers`.
    spectra : dict
        ``"fcnn1"`` / ``"resnet"`` → {``"seed s"``: LayerSpaces} of the 1-layer weight matrix
        and of ResNet18's Figure 2 layer in the kernels view (for the networks in ``names``).
    """
    from .train import trained_models

    rows, spectra = {}, {"fcnn1": {}, "resnet": {}}
    # the seed the other chapters use last: from an empty cache another chapter may be
    # training it at this moment (the pipeline runs two at a time), and the rest need not wait
    shared = params.get("seed", 0)
    for seed in sorted(seeds, key=lambda s: s == shared):
        _, nets, reports = trained_models({**params, "seed": seed}, list(names), progress=False)
        rows[seed] = {"seed": seed, **headline_numbers(nets, reports)}
        for key, sp in figure_spaces(nets).items():
            spectra[key][f"seed {seed}"] = sp
    spectra = {k: {f"seed {s}": v[f"seed {s}"] for s in seeds} for k, v in spectra.items() if v}
    return pd.DataFrame([rows[s] for s in seeds]), spectra


#: The paper's single value for each column of :func:`seed_study`'s table.
PAPER_VALUE = {
    "acc_fcnn1": paper.ACCURACY["fcnn1"], "acc_fcnn5": paper.ACCURACY["fcnn5"],
    "acc_resnet18": paper.ACCURACY["resnet18"], "cond_fcnn1": paper.CONDITION_FCNN1,
    "cond_resnet": paper.CONDITION_RESNET_LAYER,
}  # fmt: skip


def seed_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Mean ± standard deviation and range over seeds, beside the paper's single value.

    Parameters
    ----------
    table : DataFrame
        From :func:`seed_study`.

    Returns
    -------
    DataFrame
        Index: quantity. Columns ``mean, std, min, max, paper, paper in range`` (whether the
        paper's value lies in [min, max]); ``std`` is the sample standard deviation (ddof=1).
    """
    cols = [c for c in table.columns if c != "seed"]
    stats = table[cols].agg(["mean", "std", "min", "max"]).T
    stats["paper"] = [PAPER_VALUE.get(c, float("nan")) for c in cols]
    stats["paper in range"] = (stats["paper"] >= stats["min"]) & (stats["paper"] <= stats["max"])
    return stats


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
    from .ideal import reachability
    from .train import trained_models

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
