"""How the paper's numbers vary with the training seed: t intervals, the paper's value
against the interval for one run, the spread of the spectra."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paper
from ..notebook import trained_models
from .headline import figure_spaces, headline_numbers


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
        return {
            **out,
            "std": nan,
            "ci_low": nan,
            "ci_high": nan,
            "pi_low": nan,
            "pi_high": nan,
        }
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
        return (
            False,
            generic,
            f"**{name}:** not computed: the network was not trained here.",
        )
    r = spread.loc[quantity]
    scale, unit, dec = (100.0, " %", 1) if quantity.startswith("acc_") else (1.0, "", 3)

    def f(v):
        return f"{scale * v:.{dec}f}{unit}"

    ref = f"{scale * r['paper']:g}{unit}"
    where = r["paper vs prediction"]
    if np.isnan(r["paper"]):
        return (
            False,
            generic,
            f"**{name}:** the paper reports no value on this data set.",
        )
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
