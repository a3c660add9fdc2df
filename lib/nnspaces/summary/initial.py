"""The Figure 2 layer's condition number over random initialisations (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import cache, models, paper, spaces
from ..spaces import conv_layer, layer_spaces


def _init_condition_numbers(n: int, seed0: int, layer: str) -> list[float]:
    """The condition numbers :func:`init_condition_numbers` returns, as a list."""
    kappa = []
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        for s in range(seed0, seed0 + n):
            torch.manual_seed(s)
            conv = conv_layer(models.build("resnet18"), layer)
            kappa.append(layer_spaces(conv, view="kernels").condition_number)
    return kappa


def init_condition_numbers(
    n: int = 100, seed0: int = 0, layer: str = paper.RESNET_LAYER
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

    Returns
    -------
    kappa : (n,) float64 array
        ``kappa[i] = σ_1/σ_9`` of the layer's (C_out·C_in, 9) kernels view (the paper's
        4096×9 matrix for ``layer1.0.conv1``) in ``models.build("resnet18")`` after
        ``torch.manual_seed(seed0 + i)``.

    Notes
    -----
    The whole network is built for each seed: the layer's initial weights depend on every
    random draw made before them. Memoised (:func:`nnspaces.cache.memo`, ``results/
    init-condition/``; building 100 ResNet18s takes ~10-20 s on one thread), keyed by ``n``,
    ``seed0``, ``layer`` and the source of the model definitions and of this computation.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    kappa = cache.memo(
        "init-condition",
        {"n": n, "seed0": int(seed0), "layer": layer},
        lambda: _init_condition_numbers(n, int(seed0), layer),
        sources=(models, spaces, Path(__file__)),
    )
    return np.asarray(kappa, dtype=np.float64)


def init_numbers(kappa, trained: float, paper_value: float = paper.CONDITION_RESNET_LAYER) -> dict:
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
    dict
        ``n``, ``min``, ``max``, ``q_low``, ``q_high`` (2.5th and 97.5th percentiles),
        ``below_trained``, ``below_paper`` (fractions of ``kappa`` strictly below each). The
        conclusions drawn from them are :func:`nnspaces.verdicts.figure2.trained_in_init_range`
        and :func:`nnspaces.verdicts.figure2.paper_typical_of_init`.

    Examples
    --------
    >>> num = init_numbers([1.0, 1.1, 1.2, 1.3], trained=1.25, paper_value=1.07)
    >>> num["n"], num["below_trained"], num["below_paper"]
    (4, 0.75, 0.25)
    """
    k = np.asarray(kappa, dtype=float).reshape(-1)
    if k.size == 0 or not np.isfinite(k).all():
        raise ValueError("kappa must be a non-empty array of finite condition numbers")
    q_low, q_high = np.percentile(k, [2.5, 97.5])
    return {
        "n": k.size,
        "min": float(k.min()),
        "max": float(k.max()),
        "q_low": float(q_low),
        "q_high": float(q_high),
        "below_trained": float((k < trained).mean()),
        "below_paper": float((k < paper_value).mean()),
    }
