"""One training run's curve: the condition number of the first weight matrix and the test
accuracy after each of a log-spaced set of SGD steps, up to the paper's step count.

:func:`training_curve` trains with the paper's recipe (the same initial weights, mini-batch
order and optimiser as :func:`nnspaces.train.train_or_load`) and memoises the curve
(:func:`nnspaces.cache.memo`);
:func:`at_step`, :func:`rows_at`, :func:`steps_effect` and :func:`same_run_pairs` read it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .. import cache, models, paper, spaces
from ..common import Spec
from ..data import Splits
from ..outputs import collect_outputs
from ..spaces import layer_spaces
from ..train import SPECS, TrainConfig, resolve_device

#: Columns of :func:`training_curve`'s table.
COLUMNS = ("step", "epoch", "condition", "sigma_max", "sigma_min", "test_acc", "train_loss")


def steps_for(n_images: int, batch_size: int = 32, epochs: int = 20) -> int:
    """SGD steps of ``epochs`` passes over ``n_images`` in batches of ``batch_size``.

    The last batch of an epoch may be short (the released code's ``DataLoader`` keeps it), so
    an epoch is ``ceil(n_images / batch_size)`` steps.

    Examples
    --------
    >>> steps_for(3500), steps_for(50_000)
    (2200, 31260)
    """
    if not isinstance(n_images, int) or isinstance(n_images, bool) or n_images < 1:
        raise ValueError(f"n_images must be a positive int, got {n_images!r}")
    SPECS["batch_size"].check("batch_size", batch_size)
    SPECS["epochs"].check("epochs", epochs)
    return math.ceil(n_images / batch_size) * epochs


#: The paper's SGD steps: 50 000 training images, batch 32, 20 epochs.
PAPER_STEPS = steps_for(paper.TRAIN_IMAGES, 32, 20)

#: The rule of :func:`training_curve`'s ``max_steps`` (a notebook parameter too).
MAX_STEPS = Spec(int, minimum=1, optional=True, help="SGD steps of a curve; None: the paper's")


def record_steps(total: int, n_points: int = 30, include=()) -> np.ndarray:
    """Step counts at which to record: ~``n_points`` log-spaced in [1, total], plus ``include``.

    Parameters
    ----------
    total : int
        The last step (always recorded).
    n_points : int
        Log-spaced points before rounding; duplicates after rounding are merged.
    include : iterable of int
        Step counts to record as well (those outside [1, total] are dropped).

    Returns
    -------
    steps : (k,) int64 array
        Sorted, distinct, ``steps[-1] == total``.

    Examples
    --------
    >>> record_steps(100, 5, include=[10])
    array([  1,   3,  10,  32, 100])
    """
    if not isinstance(total, int | np.integer) or total < 1:
        raise ValueError(f"total must be a positive int, got {total!r}")
    grid = np.rint(np.geomspace(1, total, max(int(n_points), 2))).astype(np.int64)
    extra = np.array([s for s in include if 1 <= s <= total], dtype=np.int64)
    return np.unique(np.concatenate([grid, extra, [total]]))


def first_weight(model: nn.Module) -> tuple[str, nn.Module]:
    """The first ``Linear`` (or ``Conv2d``) layer of ``model`` and its name, e.g.
    ``("1", Linear(784, 10))`` for the 1-layer FCNN: the matrix whose condition number the
    curve records (the whole network for ``fcnn1``, the first of five layers for ``fcnn5``)."""
    layers = models.linear_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer")
    return layers[0]


def _record(model: nn.Module, layer: nn.Module, splits: Splits) -> dict:
    sp = layer_spaces(layer)  # SVD in float64 of the (m, n) weight matrix
    Z = collect_outputs(model, splits.X_test)  # (N_test, 10); eval mode, restored afterwards
    acc = float((Z.argmax(1) == splits.y_test).double().mean())
    return {
        "condition": sp.condition_number,
        "sigma_max": sp.sigma_max,
        "sigma_min": sp.sigma_min,
        "test_acc": acc,
    }


def _train_curve(model_name, splits, steps, lr, momentum, batch_size, seed, device) -> dict:
    """Train with ``train._fit``'s recipe and record at ``steps``; columns as lists."""
    torch.manual_seed(seed)  # the same initial weights as train.train_or_load
    model = models.build(model_name).to(device)
    _, layer = first_weight(model)
    g = torch.Generator().manual_seed(seed)  # the same mini-batch order as train.train_or_load
    loader = DataLoader(
        TensorDataset(splits.X_train, splits.y_train),
        batch_size=batch_size,
        shuffle=True,
        generator=g,
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    cols = {c: [] for c in COLUMNS}
    todo, step, loss_sum, loss_n = list(map(int, steps)), 0, 0.0, 0
    model.train()
    while todo:
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            if step == todo[0]:
                rec = _record(model, layer, splits)
                rec.update(step=step, epoch=step / len(loader), train_loss=loss_sum / loss_n)
                for c in COLUMNS:
                    cols[c].append(rec[c])
                todo.pop(0)
                loss_sum, loss_n = 0.0, 0
                if not todo:
                    break
    return cols


def training_curve(
    model_name: str,
    splits: Splits,
    max_steps: int | None = PAPER_STEPS,
    steps=None,
    lr: float = TrainConfig.lr,
    momentum: float = TrainConfig.momentum,
    batch_size: int = TrainConfig.batch_size,
    seed: int = TrainConfig.seed,
    device: str = TrainConfig.device,
) -> tuple[pd.DataFrame, dict]:
    """Condition number of the first weight matrix and test accuracy along one training run.

    Parameters
    ----------
    model_name : {"fcnn1", "fcnn5", "resnet18"}
    splits : Splits
        Trains on ``X_train`` (N, 1, 28, 28), ``y_train`` (N,); tests on ``X_test``, ``y_test``.
    max_steps : int, optional
        The bound on the steps (default, and when None, :data:`PAPER_STEPS`: the paper's
        31 260); epochs repeat over ``X_train`` as often as needed.
    steps : sequence of int, optional
        Where to record, each in [1, max_steps]; default ``record_steps(max_steps)`` (~30
        log-spaced counts ending at ``max_steps``). Training stops at the last of them.
    lr, momentum, batch_size, seed : the recipe of :func:`nnspaces.train.train_or_load` (its
        defaults and rules: :class:`nnspaces.train.TrainConfig`).
    device : {"cpu", "cuda", "auto"}

    Returns
    -------
    curve : DataFrame
        One row per recorded step, columns :data:`COLUMNS`: ``step``; ``epoch`` (steps /
        batches per epoch); ``condition``, ``sigma_max``, ``sigma_min`` of the first layer's
        weight matrix W (m, n) after that step (``fcnn1``: the whole 10×784 network;
        ``fcnn5``: its first layer, 256×784); ``test_acc`` (fraction); ``train_loss``, the mean
        mini-batch cross-entropy since the previous recorded step.
    info : dict
        ``seconds`` (of the training that made the curve), ``cached`` (True when read from
        the cache), ``layer`` (the recorded layer's name and shape).

    Notes
    -----
    The network is built after ``torch.manual_seed(seed)`` and the mini-batches drawn by a
    ``DataLoader`` whose generator is seeded with ``seed``, as in
    :func:`nnspaces.train.train_or_load`: after ``k`` epochs' worth of steps the weights are
    those of a ``k``-epoch training run's last epoch. Memoised (:func:`nnspaces.cache.memo`,
    ``results/training-curve/``) under the whole recipe, the images and the source of the
    models, the spaces and this module; a stored curve with other steps is recomputed.
    """
    recipe = {"lr": lr, "momentum": momentum, "batch_size": batch_size, "seed": seed}
    for name, value in {**recipe, "device": device}.items():
        SPECS[name].check(name, value)
    MAX_STEPS.check("max_steps", max_steps)
    device = resolve_device(device)
    max_steps = PAPER_STEPS if max_steps is None else max_steps
    steps = record_steps(max_steps) if steps is None else np.unique(np.asarray(steps, np.int64))
    if steps.size == 0 or steps[0] < 1 or steps[-1] > max_steps:
        raise ValueError(f"steps must lie in [1, max_steps={max_steps}], got {steps.tolist()}")
    with torch.random.fork_rng(devices=[]):  # building a model draws random numbers
        name, layer = first_weight(models.build(model_name))
    args = (model_name, splits, steps, lr, momentum, batch_size, seed, device)
    computed = []

    def compute() -> dict:
        computed.append(True)
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
            cols = _train_curve(*args)
        return {"columns": cols, "seconds": time.perf_counter() - t0}

    def check(value: dict) -> dict:
        if [int(s) for s in value["columns"]["step"]] != steps.tolist() or any(
            len(value["columns"][c]) != len(steps) for c in COLUMNS
        ):
            raise ValueError("its columns are not the steps asked for")
        return value

    tensors = {t: getattr(splits, t) for t in ("X_train", "y_train", "X_test", "y_test")}
    key = {"model": model_name, "dataset": splits.name, "data": tensors, "device": device}
    key |= {k: float(v) for k, v in (("lr", lr), ("momentum", momentum))}
    key |= {"batch_size": int(batch_size), "seed": int(seed), "steps": steps.tolist()}
    sources = (Path(__file__), models, spaces)
    value = cache.memo("training-curve", key, compute, sources=sources, decode=check)
    m, n = layer.weight.shape  # (out, in)
    info = {"seconds": value["seconds"], "cached": not computed, "layer": f"{name} ({m}×{n})"}
    return pd.DataFrame(value["columns"], columns=list(COLUMNS)), info


def rows_at(curves: pd.DataFrame, step: int) -> pd.DataFrame:
    """The rows of ``curves`` (one curve or many) recorded at ``step``; a ``KeyError`` naming
    the recorded steps when there are none."""
    rows = curves[curves["step"] == step]
    if rows.empty:
        recorded = sorted(set(curves["step"].tolist()))
        raise KeyError(f"step {step} was not recorded; recorded: {recorded}")
    return rows


def at_step(curve: pd.DataFrame, step: int) -> pd.Series:
    """The row of ``curve`` recorded at ``step``; a ``KeyError`` naming the recorded steps."""
    return rows_at(curve, step).iloc[0]


def same_run_pairs(curves: dict, nets: dict, step: int) -> dict[str, tuple[float, float]]:
    """The curves' condition numbers at ``step`` beside those of the trained networks.

    Parameters
    ----------
    curves : dict
        Model name → :func:`training_curve`.
    nets : dict
        The same names → trained networks (e.g. from :func:`nnspaces.notebook.trained_models`).
    step : int
        The trained networks' step count (this profile's epochs × batches per epoch).

    Returns
    -------
    pairs : dict
        Name → ``(curve's condition number at step, network's)`` for every network whose curve
        recorded ``step`` (the others are left out). Equal numbers say that the curve continues
        the very training run that made the network (same initial weights, same mini-batches).
    """
    pairs = {}
    for name, net in nets.items():
        rows = curves[name][curves[name]["step"] == step]
        if not rows.empty:
            pairs[name] = (
                float(rows["condition"].iloc[0]),
                layer_spaces(first_weight(net)[1]).condition_number,
            )
    return pairs


def steps_effect(curve: pd.DataFrame, step_a: int, step_b: int, column: str = "condition"):
    """Change of ``column`` per doubling of the SGD steps between two recorded steps.

    Returns ``(value(step_b) − value(step_a)) / log2(step_b / step_a)``.

    Examples
    --------
    >>> c = pd.DataFrame({"step": [10, 40], "condition": [2.0, 3.0]})
    >>> steps_effect(c, 10, 40)
    0.5
    """
    if step_b == step_a:
        raise ValueError("the two steps must differ")
    a, b = at_step(curve, step_a)[column], at_step(curve, step_b)[column]
    return float((b - a) / np.log2(step_b / step_a))
