"""How the paper's numbers vary with the training seed: t intervals, the paper's value
against the interval for one run (a p-value, Holm-adjusted over the comparisons), the spread
of the spectra."""

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
        One row per seed: ``seed`` and the keys of :func:`headline_numbers` with
        ``validation=True`` (test and validation accuracies, condition numbers).
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
        rows[seed] = {"seed": seed, **headline_numbers(nets, reports, validation=True)}
        for key, sp in figure_spaces(nets).items():
            spectra[key][f"seed {seed}"] = sp
    spectra = {k: {f"seed {s}": v[f"seed {s}"] for s in seeds} for k, v in spectra.items() if v}
    return pd.DataFrame([rows[s] for s in seeds]), spectra


#: The paper's single value for each column of :func:`seed_study`'s table. Its accuracies are
#: presumably validation accuracies (:data:`nnspaces.paper.ACCURACY`), so they are held
#: against the runs' validation accuracies; the test accuracies have no paper value.
PAPER_VALUE = {
    "val_acc_fcnn1": paper.ACCURACY["fcnn1"],
    "val_acc_fcnn5": paper.ACCURACY["fcnn5"],
    "val_acc_resnet18": paper.ACCURACY["resnet18"],
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
    With q = t_{(1+level)/2, n-1}, the (1 + level)/2 quantile of Student's t with n - 1
    degrees of freedom (0.975 for a 95 % interval), and runs assumed normal and independent:

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
    "val_acc_fcnn1": "1-layer FCNN validation accuracy",
    "val_acc_fcnn5": "5-layer FCNN validation accuracy",
    "val_acc_resnet18": "ResNet18 validation accuracy",
    "acc_fcnn1": "1-layer FCNN test accuracy",
    "acc_fcnn5": "5-layer FCNN test accuracy",
    "acc_resnet18": "ResNet18 test accuracy",
    "cond_fcnn1": "1-layer FCNN condition number",
    "cond_resnet": f"ResNet18 {paper.RESNET_LAYER} condition number",
}


def prediction_p_value(value: float, values) -> float:
    """Two-sided p-value of ``value`` as one more run of the runs ``values``.

    The statistic of the prediction interval of :func:`t_intervals`:
    ``t = (value − x̄) / (s·√(1 + 1/n))`` follows Student's t with ``n − 1`` degrees of
    freedom when ``value`` is one more run of the same normal, independent kind; the p-value
    is ``P(|T| ≥ |t|)``. ``value`` lies inside the ``level`` prediction interval exactly when
    ``p ≥ 1 − level``.

    Parameters
    ----------
    value : float
        The single value to test (the paper's).
    values : (n,) array_like
        The runs (finite).

    Returns
    -------
    float
        In [0, 1]; NaN when ``value`` is NaN or ``n < 2`` (no spread). With ``s = 0`` it is 1
        for ``value == x̄`` and 0 otherwise.

    Examples
    --------
    >>> round(prediction_p_value(6.968, [1.0, 2.0, 3.0]), 3)  # the 95 % interval's edge
    0.05
    """
    from scipy import stats

    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size < 2 or np.isnan(value):
        return float("nan")
    mean, s = float(x.mean()), float(x.std(ddof=1))
    if s == 0:
        return 1.0 if value == mean else 0.0
    t = (value - mean) / (s * np.sqrt(1 + 1 / x.size))
    return float(2 * stats.t.sf(abs(t), x.size - 1))


def holm(p) -> np.ndarray:
    """Holm's step-down adjustment of several p-values (family-wise error control).

    Parameters
    ----------
    p : (m,) array_like
        p-values; NaN entries are left out of the family and stay NaN.

    Returns
    -------
    (m,) float64 array
        Adjusted p-values: rejecting every hypothesis whose adjusted p is below α keeps the
        probability of any false rejection at most α, whatever the dependence between the
        tests.

    Notes
    -----
    With the k finite p-values sorted, p_(1) ≤ … ≤ p_(k), the adjusted value of the i-th is
    ``max_{j ≤ i} min(1, (k − j + 1)·p_(j))`` (Holm 1979).

    References
    ----------
    S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian
    Journal of Statistics 6 (1979) 65–70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p, dtype=float).reshape(-1)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if idx.size == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    k = order.size
    scaled = np.minimum(1.0, (k - np.arange(k)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def seed_spread(table: pd.DataFrame, level: float = 0.95, dataset: str = "mnist") -> pd.DataFrame:
    """Mean, Student-t intervals and range over seeds, beside the paper's single value.

    Parameters
    ----------
    table : DataFrame
        From :func:`seed_study`: a ``seed`` column and one column per quantity.
    level : float
        Coverage of the intervals (see :func:`t_intervals`).
    dataset : str
        The data the seeds were trained on; off :data:`nnspaces.paper.DATASETS` the paper
        has no value (NaN).

    Returns
    -------
    DataFrame
        Index: quantity (``table``'s columns but ``seed``). Columns ``n, mean, std, ci low,
        ci high`` (confidence interval of the mean), ``pi low, pi high`` (prediction interval
        for one new run), ``min, max, paper``, ``paper vs prediction`` (:func:`position` of
        the paper's value against the prediction interval), ``p`` (:func:`prediction_p_value`
        of the paper's value) and ``p (Holm)`` (adjusted by :func:`holm` over every
        quantity that has a paper value: the family of comparisons the chapter makes). With
        one seed the intervals and p-values are NaN and the position ``"undefined"``.
    """
    rows = {}
    for c in (c for c in table.columns if c != "seed"):
        values = table[c].to_numpy()
        r = t_intervals(values, level)
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
            "p": prediction_p_value(ref, values),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["p (Holm)"] = holm(out["p"].to_numpy()) if len(out) else []
    return out


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


def spread_display(spread: pd.DataFrame, quantities=None) -> pd.DataFrame:
    """:func:`seed_spread` written for readers, one row per quantity, for
    :func:`nnspaces.book.glue_table`: accuracies in per cent, condition numbers to three
    significant digits, the p-values to two.

    Parameters
    ----------
    spread : DataFrame
        From :func:`seed_spread`.
    quantities : list of str, optional
        Rows to keep, in order (default all).

    Returns
    -------
    DataFrame
        Columns ``quantity`` (:data:`QUANTITY`'s name), ``mean``, ``s``, ``prediction
        interval`` (``"[a, b]"``, for one more run), ``paper`` and ``p (Holm)`` (strings;
        ``—`` where there is none).

    Examples
    --------
    >>> t = pd.DataFrame({"seed": [0, 1, 2], "cond_fcnn1": [7.0, 7.2, 7.4]})
    >>> spread_display(seed_spread(t)).iloc[0].tolist()
    ['1-layer FCNN condition number', '7.2', '0.2', '[6.21, 8.19]', '7.22', '0.94']
    """
    from ..book import fmt

    rows = []
    for q in quantities if quantities is not None else spread.index:
        r = spread.loc[q]
        acc = "acc" in q

        def f(v, acc=acc):
            return (fmt(100 * v, ".1f") + " %") if acc and v == v else fmt(v, ".3g")

        interval = "—" if r["pi low"] != r["pi low"] else f"[{f(r['pi low'])}, {f(r['pi high'])}]"
        rows.append(
            {
                "quantity": QUANTITY.get(q, q),
                "mean": f(r["mean"]),
                "s": (fmt(100 * r["std"], ".2g") + " points")
                if acc and r["std"] == r["std"]
                else fmt(r["std"], ".2g"),
                "prediction interval": interval,
                "paper": (fmt(100 * r["paper"], ".0f") + " %")
                if acc and r["paper"] == r["paper"]
                else fmt(r["paper"], "g"),
                "p (Holm)": fmt(r["p (Holm)"], ".2g"),
            }
        )
    return pd.DataFrame(rows)
