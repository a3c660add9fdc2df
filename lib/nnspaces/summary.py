"""Results at a glance: every number the paper reports beside this run's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import cache, models, paper
from .ideal import reachability
from .models import DISPLAY_NAME
from .notebook import trained_models
from .spaces import conv_layer, layer_spaces

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
    "acc_fcnn1": paper.ACCURACY["fcnn1"],
    "acc_fcnn5": paper.ACCURACY["fcnn5"],
    "acc_resnet18": paper.ACCURACY["resnet18"],
    "cond_fcnn1": paper.CONDITION_FCNN1,
    "cond_resnet": paper.CONDITION_RESNET_LAYER,
}


def t_intervals(values, level: float = 0.95) -> dict[str, float]:
    """Student-t intervals from ``n`` independent runs: for their mean, and for one more run.

    Parameters
    ----------
    values : (n,) array_like
        One finite number per run (e.g. per training seed).
    level : float
        Coverage of both intervals, in (0, 1).

    Returns
    -------
    dict
        ``n``; ``mean`` x̄; ``std`` s (ddof=1); ``ci_low``, ``ci_high``, the confidence
        interval of the mean; ``pi_low``, ``pi_high``, the prediction interval for a single
        new run. With ``n = 1`` the spread is unknown: ``std`` and the four bounds are NaN.

    Raises
    ------
    ValueError
        No values, a NaN or infinite value, or ``level`` outside (0, 1).

    Notes
    -----
    With q = t_{(1+level)/2, n-1}, the (1 - level/2) quantile of Student's t with n - 1
    degrees of freedom, and runs assumed normal and independent:

    - confidence interval of the mean: x̄ ± q·s/√n;
    - prediction interval for one new run: x̄ ± q·s·√(1 + 1/n).

    The prediction interval is the one to hold a single reported run (the paper's) against:
    it contains a new run's value with probability ``level``.

    Examples
    --------
    >>> r = t_intervals([1.0, 2.0, 3.0])
    >>> print(f"{r['ci_low']:.3f} {r['pi_high']:.3f}")
    -0.484 6.968
    """
    from scipy import stats

    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0:
        raise ValueError("t_intervals needs at least one value")
    if not np.isfinite(x).all():
        raise ValueError(
            f"values must be finite, got {x.tolist()}: a run diverged or is rank-deficient"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    n, mean = x.size, float(x.mean())
    out = {"n": n, "mean": mean}
    if n < 2:
        nan = float("nan")
        return {**out, "std": nan, "ci_low": nan, "ci_high": nan, "pi_low": nan, "pi_high": nan}
    s = float(x.std(ddof=1))
    q = float(stats.t.ppf((1 + level) / 2, n - 1))
    ci, pi = q * s / np.sqrt(n), q * s * np.sqrt(1 + 1 / n)
    return {
        **out,
        "std": s,
        "ci_low": mean - ci,
        "ci_high": mean + ci,
        "pi_low": mean - pi,
        "pi_high": mean + pi,
    }


def position(value: float, low: float, high: float) -> str:
    """Where ``value`` lies against the interval [low, high].

    Returns
    -------
    str
        ``"inside"``, ``"above"``, ``"below"``, or ``"undefined"`` when any of the three is NaN.

    Examples
    --------
    >>> position(7.22, 7.0, 7.5), position(7.22, 5.0, 6.0), position(1.0, float("nan"), 2.0)
    ('inside', 'above', 'undefined')
    """
    if np.isnan([value, low, high]).any():
        return "undefined"
    return "below" if value < low else "above" if value > high else "inside"


#: Human-readable name of each column of :func:`seed_study`'s table.
QUANTITY = {
    "acc_fcnn1": "1-layer FCNN test accuracy",
    "acc_fcnn5": "5-layer FCNN test accuracy",
    "acc_resnet18": "ResNet18 test accuracy",
    "cond_fcnn1": "1-layer FCNN condition number",
    "cond_resnet": f"ResNet18 {paper.RESNET_LAYER} condition number",
}


def seed_spread(table: pd.DataFrame, level: float = 0.95, dataset: str = "mnist") -> pd.DataFrame:
    """Mean, Student-t intervals and range over seeds, beside the paper's single value.

    Parameters
    ----------
    table : DataFrame
        From :func:`seed_study`: a ``seed`` column and one column per quantity.
    level : float
        Coverage of the intervals (see :func:`t_intervals`).
    dataset : str
        The data the seeds were trained on; off MNIST the paper has no value (NaN).

    Returns
    -------
    DataFrame
        Index: quantity (``table``'s columns but ``seed``). Columns ``n, mean, std, ci low,
        ci high`` (confidence interval of the mean), ``pi low, pi high`` (prediction interval
        for one new run), ``min, max, paper`` and ``paper vs prediction`` (:func:`position`
        of the paper's value against the prediction interval). With one seed the intervals
        are NaN and the position ``"undefined"``.
    """
    rows = {}
    for c in (c for c in table.columns if c != "seed"):
        r = t_intervals(table[c].to_numpy(), level)
        ref = PAPER_VALUE.get(c, float("nan")) if dataset in paper.DATASETS else float("nan")
        rows[c] = {
            "n": r["n"],
            "mean": r["mean"],
            "std": r["std"],
            "ci low": r["ci_low"],
            "ci high": r["ci_high"],
            "pi low": r["pi_low"],
            "pi high": r["pi_high"],
            "min": float(table[c].min()),
            "max": float(table[c].max()),
            "paper": ref,
            "paper vs prediction": position(ref, r["pi_low"], r["pi_high"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def paper_comparison(spread: pd.DataFrame, quantity: str, level: float = 0.95):
    """The sentence comparing the paper's single run with the prediction interval over seeds.

    Parameters
    ----------
    spread : DataFrame
        From :func:`seed_spread`.
    quantity : str
        A key of :data:`QUANTITY` (accuracies are written in percent).
    level : float
        The intervals' coverage (for the wording).

    Returns
    -------
    holds : bool
        The paper's value lies inside the prediction interval.
    text, otherwise : str
        MyST sentences for :func:`nnspaces.book.claim`: what holds, and what the run shows
        instead (outside the interval, fewer than two seeds, no paper value, or the network
        not trained in this run).
    """
    name, pct = QUANTITY.get(quantity, quantity), f"{100 * level:g} %"
    generic = (
        f"**{name}:** the paper's value lies inside the {pct} prediction interval for one run."
    )
    if quantity not in spread.index:
        return False, generic, f"**{name}:** not computed: the network was not trained here."
    r = spread.loc[quantity]
    scale, unit, dec = (100.0, " %", 1) if quantity.startswith("acc_") else (1.0, "", 3)

    def f(v):
        return f"{scale * v:.{dec}f}{unit}"

    ref = f"{scale * r['paper']:g}{unit}"
    where = r["paper vs prediction"]
    if np.isnan(r["paper"]):
        return False, generic, f"**{name}:** the paper reports no value on this data set."
    if where == "undefined":
        one = f"**{name}:** with a single seed there is no interval: one run says nothing "
        return False, generic, one + "about the spread between runs."
    sd = f"{scale * r['std']:.2g}{unit}"  # two significant digits, however small
    pi = (
        f"the {pct} prediction interval for one run, [{f(r['pi low'])}, {f(r['pi high'])}] "
        f"(mean {f(r['mean'])}, s = {sd}, n = {int(r['n'])} seeds)"
    )
    text = (
        f"**{name}:** the paper's {ref} lies inside {pi}: a single run of this recipe on "
        "these data could well give it, so the seeds do not tell the two apart."
    )
    otherwise = (
        f"**{name}:** the paper's {ref} lies **{where}** {pi}: a single run of this "
        f"recipe on these data lands that far from the mean in fewer than "
        f"{100 - 100 * level:g} % of runs, so the difference is not seed noise; it comes "
        "from what differs between the paper's run and these (data, length of "
        "training, software)."
    )
    return where == "inside", text, otherwise


def spectrum_spread(spectra: dict) -> float:
    """Largest difference, over seeds, of any normalised singular value σ_i/σ_1.

    Parameters
    ----------
    spectra : dict
        Label → LayerSpaces (or (k,) singular values) of the same layer, one per seed.

    Returns
    -------
    float
        ``max_i (max_seed σ_i/σ_1 − min_seed σ_i/σ_1)``; 0 for a single spectrum, NaN for none.
    """
    if not spectra:
        return float("nan")
    S = np.stack([np.asarray(getattr(s, "S", s), dtype=float) for s in spectra.values()])
    R = S / S[:, :1]  # (n_seeds, k): each spectrum divided by its largest value
    return float((R.max(0) - R.min(0)).max())


def init_condition_numbers(
    n: int = 100, seed0: int = 0, layer: str = paper.RESNET_LAYER, cache_dir=None
) -> np.ndarray:
    """Condition number of a ResNet18 convolution at random initialisation, for ``n`` seeds.

    Parameters
    ----------
    n : int
        Number of initialisations: seeds ``seed0, seed0 + 1, …, seed0 + n - 1``.
    seed0 : int
        The first seed (``train.train_or_load`` with seed s starts from seed s's weights).
    layer : str
        Dotted name of the ``Conv2d`` (default the paper's Figure 2 layer).
    cache_dir : path, optional
        Default ``$NNSPACES_CACHE`` (``~/.cache/nnspaces``); the values live in its ``init/``
        folder (building 100 ResNet18s takes ~10-20 s on one thread).

    Returns
    -------
    kappa : (n,) float64 array
        ``kappa[i] = σ_1/σ_9`` of the layer's (C_out·C_in, 9) kernels view (the paper's
        4096×9 matrix for ``layer1.0.conv1``) in ``models.build("resnet18")`` after
        ``torch.manual_seed(seed0 + i)``.

    Notes
    -----
    The whole network is built for each seed: the layer's initial weights depend on every
    random draw made before them. The cache key holds ``n``, ``seed0``, ``layer``, the model
    definition's hash and the torch version (whose initialisers make the draws); an
    unreadable or foreign file is reported with a warning and recomputed.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    with torch.random.fork_rng(devices=[]):  # building models draws random numbers
        definition = models.definition_hash("resnet18")
    key = {
        "n": n,
        "seed0": int(seed0),
        "layer": layer,
        "torch": str(torch.__version__),
        "definition": definition,
        "format": 1,
    }
    path = (
        Path(cache_dir or cache.root()) / "init" / f"resnet18-condition-{cache.key_digest(key)}.pt"
    )
    value = cache.load_value(
        path,
        key,
        lambda v: isinstance(v, list) and len(v) == n,
        "cached initial condition numbers",
        stacklevel=2,
    )
    if value is None:
        value = []
        with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
            for s in range(seed0, seed0 + n):
                torch.manual_seed(s)
                conv = conv_layer(models.build("resnet18"), layer)
                value.append(layer_spaces(conv, view="kernels").condition_number)
        cache.save_value(path, key, value)
    return np.asarray(value, dtype=np.float64)


def init_claims(kappa, trained: float, paper_value: float = paper.CONDITION_RESNET_LAYER):
    """Where a trained layer's and the paper's condition numbers fall among initialisations.

    Parameters
    ----------
    kappa : (n,) array_like
        Condition numbers of the layer over ``n`` random initialisations
        (:func:`init_condition_numbers`).
    trained : float
        The trained layer's condition number.
    paper_value : float
        The paper's (default Figure 2's 1.07).

    Returns
    -------
    numbers : dict
        ``n``, ``min``, ``max``, ``q_low``, ``q_high`` (2.5th and 97.5th percentiles),
        ``below_trained``, ``below_paper`` (fractions of ``kappa`` strictly below each).
    claims : dict
        For :func:`nnspaces.book.claim`, key → (holds, text, otherwise):
        ``"trained_in_init_range"`` (``min ≤ trained ≤ max``) and ``"paper_typical_of_init"``
        (the paper's value lies between the 2.5th and 97.5th percentiles).
    """
    k = np.asarray(kappa, dtype=float).reshape(-1)
    if k.size == 0 or not np.isfinite(k).all():
        raise ValueError("kappa must be a non-empty array of finite condition numbers")
    q_low, q_high = np.percentile(k, [2.5, 97.5])
    num = {
        "n": k.size,
        "min": float(k.min()),
        "max": float(k.max()),
        "q_low": float(q_low),
        "q_high": float(q_high),
        "below_trained": float((k < trained).mean()),
        "below_paper": float((k < paper_value).mean()),
    }
    n, lo, hi = num["n"], f"{num['min']:.3f}", f"{num['max']:.3f}"
    rng = f"the {n} random initialisations (range [{lo}, {hi}]"
    t_below = f"{100 * num['below_trained']:.0f} % of them lower)"
    side = "above" if trained > num["max"] else "below"
    trained_claim = (
        num["min"] <= trained <= num["max"],
        f"The trained layer's condition number, {trained:.3f}, lies within the range of {rng}, "
        f"{t_below}: a freshly initialised layer can have this condition number.",
        f"The trained layer's condition number, {trained:.3f}, lies **{side}** all of {rng}, "
        f"{t_below}: training moved it out of the range of an untrained layer.",
    )
    central = f"the central 95 % of {n} random initialisations ([{q_low:.3f}, {q_high:.3f}]"
    p_below = f"{100 * num['below_paper']:.0f} % of them lower)"
    paper_claim = (
        q_low <= paper_value <= q_high,
        f"The paper's {paper_value:g} lies within {central}, {p_below}: it is typical of an "
        "untrained layer, so by itself it cannot show what training taught this layer.",
        f"The paper's {paper_value:g} lies outside {central}, {p_below}: it is not typical of "
        "an untrained layer.",
    )
    return num, {"trained_in_init_range": trained_claim, "paper_typical_of_init": paper_claim}


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
