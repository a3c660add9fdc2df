"""The data-size axis: the same number of SGD steps on training sets of several sizes
(:func:`data_sizes`), several runs per size (:func:`size_curves`), and the change per doubling
of the images (:func:`size_effect`, :func:`size_table`) beside the change per doubling of the
steps (:func:`steps_effect_runs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Splits, subsample
from ..train import TrainConfig
from .curve import COLUMNS, PAPER_STEPS, rows_at, steps_effect, training_curve

#: Training runs per data size on the data-size axis (:func:`size_curves`).
REPLICATES = 3

#: The smallest training set of the data-size axis (the sizes double from it).
SMALLEST_SIZE = 250


def data_sizes(n_max: int, smallest: int = SMALLEST_SIZE) -> tuple[int, ...]:
    """Training-set sizes for the data-size axis: doubling from ``smallest``, then ``n_max``.

    ``smallest`` is lowered to ``n_max // 2`` when it would leave a single size.

    Examples
    --------
    >>> data_sizes(3500)
    (250, 500, 1000, 2000, 3500)
    >>> data_sizes(300)
    (150, 300)
    """
    if not isinstance(n_max, int) or n_max < 20:
        raise ValueError(f"n_max must be an int of at least 20 (two per class), got {n_max!r}")
    n = min(int(smallest), n_max // 2)
    sizes = []
    while n < n_max:
        sizes.append(n)
        n *= 2
    return (*sizes, n_max)


def size_curves(
    model_name: str,
    splits: Splits,
    sizes=None,
    replicates: int = REPLICATES,
    max_steps: int | None = PAPER_STEPS,
    steps=None,
    **recipe,
) -> tuple[pd.DataFrame, dict]:
    """:func:`training_curve` on training sets of several sizes, each size several times.

    Parameters
    ----------
    model_name : str
    splits : Splits
        Its training images are subsampled (:func:`nnspaces.data.subsample`, stratified); the
        test images stay the same.
    sizes : sequence of int, optional
        Training-set sizes; default :func:`data_sizes` of the training set.
    replicates : int
        Runs per size: run ``r`` trains on the stratified subset drawn with seed ``r`` and with
        training seed ``recipe["seed"] + r`` (initial weights and mini-batch order), so the
        runs of a size differ in their images (below the full set), weights and batches.
    max_steps, steps :
        As in :func:`training_curve` (every run records at the same steps).
    **recipe :
        ``lr``, ``momentum``, ``batch_size``, ``seed``, ``device`` of
        :func:`training_curve`.

    Returns
    -------
    curves : DataFrame
        Columns ``n_train``, ``replicate`` and :data:`COLUMNS`: one row per run and recorded
        step.
    info : dict
        ``seconds`` (training time of all runs when they were made), ``cached`` (runs read
        from the cache), ``runs``.

    Notes
    -----
    Each run is cached on its own by :func:`training_curve`; run 0 on the whole training set
    is the curve of :func:`training_curve` itself (same images, seed and steps), read back.
    """
    if not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"replicates must be a positive int, got {replicates!r}")
    n_max = len(splits.y_train)
    sizes = data_sizes(n_max) if sizes is None else tuple(int(n) for n in sizes)
    if not sizes or min(sizes) < 10 or max(sizes) > n_max:
        raise ValueError(f"sizes must lie in [10, {n_max}] (the training set), got {sizes}")
    seed = recipe.pop("seed", TrainConfig.seed)
    frames, seconds, cached = [], 0.0, 0
    for n in sizes:
        for r in range(replicates):
            sub = subsample(splits, n, seed=r)
            curve, info = training_curve(model_name, sub, max_steps, steps, seed=seed + r, **recipe)
            frames.append(curve.assign(n_train=n, replicate=r))
            seconds, cached = seconds + info["seconds"], cached + info["cached"]
    table = pd.concat(frames, ignore_index=True)
    table = table[["n_train", "replicate", *COLUMNS]]
    return table, {"seconds": seconds, "cached": cached, "runs": len(frames)}


def _slope(x: np.ndarray, y: np.ndarray, level: float) -> dict:
    """Least-squares slope of y on x with its two-sided ``level`` t-interval."""
    from scipy import stats

    fit = stats.linregress(x, y)
    dof = len(x) - 2
    half = stats.t.ppf((1 + level) / 2, dof) * fit.stderr if dof > 0 else float("nan")
    return {
        "slope": float(fit.slope),
        "stderr": float(fit.stderr),
        "low": float(fit.slope - half),
        "high": float(fit.slope + half),
        "p": float(fit.pvalue),
    }


def size_effect(
    curves: pd.DataFrame, step: int, column: str = "condition", level: float = 0.95
) -> dict:
    """How a quantity at a fixed step count depends on the number of training images.

    Parameters
    ----------
    curves : DataFrame
        From :func:`size_curves` (at least two sizes; ``step`` recorded in every run).
    step : int
    column : str
        ``"condition"`` or ``"test_acc"``.
    level : float
        Coverage of the slope's interval.

    Returns
    -------
    effect : dict
        ``slope`` — change of ``column`` per doubling of the training images (least squares
        of the runs' values on ``log2(n_train)``); ``low``, ``high`` its ``level`` t-interval
        (``runs − 2`` degrees of freedom); ``p`` its two-sided p-value; ``stderr``;
        ``means`` — the mean per size (a dict ``n → mean``); ``spread`` — the largest range of
        the replicates within one size; ``doublings`` — ``log2(max n / min n)``; ``runs``.

    Examples
    --------
    >>> c = pd.DataFrame({"n_train": [100, 100, 200, 200, 400, 400], "step": 5,
    ...                   "condition": [3.0, 3.2, 4.0, 4.2, 5.0, 5.2]})
    >>> e = size_effect(c, 5)
    >>> round(e["slope"], 6), e["runs"], e["doublings"]
    (1.0, 6, 2.0)
    """
    at = rows_at(curves, step)
    sizes = sorted(set(at["n_train"]))
    if len(sizes) < 2:
        raise ValueError(f"a data-size effect needs at least two sizes, got {sizes}")
    x = np.log2(at["n_train"].to_numpy(float))
    y = at[column].to_numpy(float)
    groups = at.groupby("n_train")[column]
    return {
        **_slope(x, y, level),
        "means": {int(n): float(v) for n, v in groups.mean().items()},
        "spread": float((groups.max() - groups.min()).max()),
        "doublings": float(np.log2(sizes[-1] / sizes[0])),
        "runs": len(at),
        "level": level,
    }


def size_table(curves: pd.DataFrame, step: int) -> pd.DataFrame:
    """One row per training-set size of :func:`size_curves` at ``step``.

    Returns
    -------
    DataFrame
        Columns ``n_train``, ``epochs`` (passes over the images in ``step`` steps),
        ``condition_mean``, ``condition_min``, ``condition_max`` (over the runs of that size),
        ``acc_mean`` (test accuracy, fraction), ``runs``; sorted by ``n_train``.
    """
    at = rows_at(curves, step)
    g = at.groupby("n_train")
    return g.agg(
        epochs=("epoch", "mean"),
        condition_mean=("condition", "mean"),
        condition_min=("condition", "min"),
        condition_max=("condition", "max"),
        acc_mean=("test_acc", "mean"),
        runs=("condition", "size"),
    ).reset_index()


def steps_effect_runs(
    curves: pd.DataFrame, step_a: int, step_b: int, column: str = "condition"
) -> pd.Series:
    """:func:`steps_effect` of every run of :func:`size_curves`.

    Returns
    -------
    Series
        Indexed by ``(n_train, replicate)``: each run's change of ``column`` per doubling of
        the steps between ``step_a`` and ``step_b``.

    Examples
    --------
    >>> c = pd.DataFrame({"n_train": 10, "replicate": [0, 0, 1, 1], "step": [10, 40, 10, 40],
    ...                   "condition": [2.0, 3.0, 2.0, 4.0]})
    >>> steps_effect_runs(c, 10, 40).tolist()
    [0.5, 1.0]
    """
    return curves.groupby(["n_train", "replicate"]).apply(
        lambda run: steps_effect(run, step_a, step_b, column), include_groups=False
    )
