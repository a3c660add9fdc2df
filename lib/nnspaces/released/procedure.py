"""The re-enactment: :func:`reenact` runs the released procedure (training mode, 32 copies)
beside the same procedure in eval mode (32 copies, then one image with a 32 times larger step)
on copies of a trained network."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .. import cache, models
from ..inverse import PAPER_SGD_LR, PAPER_SGD_STEPS, start_image
from ..models import device_of
from .passes import (
    BATCH_SIZE,
    batch_outputs,
    choice_range,
    copies_outputs,
    nearest_start,
    released_targets,
    running_stat_drift,
)
from .report import PROCEDURES, STARTS, Reenactment
from .sgd import _run, _run_independent


def _frozen_copy(model: nn.Module, training: bool) -> nn.Module:
    net = copy.deepcopy(model).train(training)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _max_pairwise(Z: torch.Tensor) -> float:
    Z = Z.double()
    return float(torch.cdist(Z, Z).max())


def _check_starts(starts: Sequence[str]) -> list[str]:
    starts = list(starts)
    bad = [s for s in starts if s not in STARTS]
    if bad or not starts:
        raise ValueError(f"starts {starts!r}: choose one or more of {', '.join(STARTS)}")
    return starts


def _starts(kind, X, y, T, Z3, K, seed) -> torch.Tensor:
    """(K, C, H, W) start images; ``Z3`` (N, B, K) outputs for the "min" choice; the noise of
    digit ``c`` is seeded with ``seed + c`` (as the Figure 3 grid's)."""
    if kind == "avg":
        return torch.stack([X[torch.as_tensor(y) == c].mean(0).cpu() for c in range(K)])
    if kind == "noise":
        return torch.stack([start_image("noise", X, y, c, seed=seed + c) for c in range(K)])
    return torch.stack([nearest_start(X, y, c, Z3, T[c]) for c in range(K)])


@torch.no_grad()
def _predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model(images.to(device_of(model))).argmax(1).cpu()


def _accuracy(Z: torch.Tensor, y: torch.Tensor) -> float:
    return float((Z.argmax(1) == torch.as_tensor(y).cpu()).double().mean())


def reenact(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    starts: Sequence[str] = STARTS,
    *,
    steps: int = PAPER_SGD_STEPS,
    lr: float = PAPER_SGD_LR,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    X_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
) -> Reenactment:
    """The released ResNet procedure in training mode, beside the same procedure in eval mode.

    Three procedures (:data:`PROCEDURES`) change one thing at a time: ``"released"`` (training
    mode, 32 copies, learning rate ``lr``: each copy moves by ``lr/32`` times its image's
    gradient); ``"eval_copies"`` (eval mode, otherwise the same); ``"eval_one"`` (eval mode,
    one image, learning rate ``lr``: a 32 times larger step; the library's ``"paper-sgd"``).

    Parameters
    ----------
    model : torch.nn.Module
        A trained network with BatchNorm layers, ``(B, 1, 28, 28)`` → ``(B, K)``. Left untouched:
        both procedures run on deep copies (mode, parameters and buffers of ``model`` unchanged).
    X : (N, 1, 28, 28) Tensor
        The training images (outputs, targets and start images come from them).
    y : (N,) Tensor
        Their labels, ``0 … K − 1``.
    starts : sequence of {"min", "avg", "noise"}
        ``"avg"``: the class-mean image; ``"min"``: the class image whose output is nearest (MSE)
        the class target; ``"noise"``: the class mean plus ``U(0, 1)`` noise, unclipped (the
        released ``random=True``, the start of its one logged ResNet run), seeded with
        ``seed + c`` for digit ``c``.
    steps, lr : int, float
        SGD steps and learning rate (the released 100 and 1e-4).
    batch_size : int
        The released 32: images per batch of the outputs pass, copies of the optimised image.
    seed : int
        Order of the images in the outputs pass (the released loader shuffled) and the noise.
    X_test, y_test : Tensor, optional
        Test images and labels for the accuracy in both modes.

    Returns
    -------
    Reenactment

    Notes
    -----
    *Released* (one copy of ``model`` in training mode, in the released order): accuracy check
    (batches of 32); outputs over ``X`` in shuffled batches of 32 → targets
    :func:`released_targets`; the "min" start chosen with each candidate passed as 32 copies
    (:func:`copies_outputs`), as the released code does; :func:`input_sgd` with 32 copies.
    *Eval mode* (a fresh copy in eval mode): outputs over ``X`` → the same target formula →
    start images → the same SGD on ``batch_size`` copies (``"eval_copies"``) and on one image
    (``"eval_one"``, ``"paper-sgd"``), the ``K`` classes in one batch (exact in eval mode, where
    images in a batch do not interact).

    The result is memoised on disk (:func:`nnspaces.cache.memo`) under the weights, the images,
    every argument and the code of this package: a second call reads it back, bit-identical
    (``NNSPACES_RECOMPUTE=1`` recomputes).
    """
    starts = _check_starts(starts)
    args = {"starts": starts, "steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed}
    data = {"X": X, "y": y, "X_test": X_test, "y_test": y_test}
    return cache.memo(
        "reenact",
        {"model": model} | data | args,
        lambda: _reenact(model, **data, **args),
        sources=(Path(__file__).parent, models),  # this package and the networks
        encode=cache.dataclass_state,
        decode=lambda state: Reenactment(**state),
    )


def _reenact(model, X, y, X_test, y_test, *, starts, steps, lr, batch_size, seed) -> Reenactment:
    """:func:`reenact` without the memo."""
    K = int(torch.as_tensor(y).max()) + 1
    rel = _frozen_copy(model, training=True)
    ev = _frozen_copy(model, training=False)
    accuracy = {}
    if X_test is not None:
        accuracy["train-mode"] = _accuracy(batch_outputs(rel, X_test, batch_size, seed), y_test)
        accuracy["eval"] = _accuracy(batch_outputs(ev, X_test, 500, None), y_test)
    outputs = {"batch-train": batch_outputs(rel, X, batch_size, seed)}  # the histograms' pass
    copies3 = copies_outputs(rel, X, batch_size)  # (N, B, K): the "min" start's pass
    outputs |= {"copies-train": copies3[:, 0], "eval": batch_outputs(ev, X, 500, None)}
    T_train, T_eval = released_targets(outputs["batch-train"]), released_targets(outputs["eval"])
    # procedure → (network, copies, targets, outputs of the "min" choice)
    setup = {
        "released": (rel, batch_size, T_train, copies3),
        "eval_copies": (ev, batch_size, T_eval, outputs["eval"][:, None]),
        "eval_one": (ev, 1, T_eval, outputs["eval"][:, None]),
    }
    res = {k: {} for k in ("starts", "images", "histories", "predicted", "spread")}
    for proc in PROCEDURES:
        net, copies, T, Z3 = setup[proc]
        for start in starts:
            R = _starts(start, X, y, T, Z3, K, seed)  # (K, 1, 28, 28)
            if proc == "released":
                images, hist, spread = _run(net, R, T, copies, steps, lr)
            else:
                images, hist, spread = _run_independent(net, R, T, steps, lr, copies)
            res["starts"][(proc, start)], res["images"][(proc, start)] = R, images
            res["histories"][(proc, start)], res["spread"][(proc, start)] = hist, spread
            res["predicted"][(proc, start)] = _predict(ev, images)
    ranges = {p: choice_range(y, setup[p][3], setup[p][2]) for p in PROCEDURES}
    spread = {k: _max_pairwise(Z) for k, Z in outputs.items()}
    spread["copies/eval"] = spread["copies-train"] / spread["eval"]
    spread["within-copies"] = float((copies3 - copies3[:, :1]).norm(dim=2).max())
    return Reenactment(
        {p: setup[p][2] for p in PROCEDURES},
        res["starts"],
        res["images"],
        res["histories"],
        res["spread"],
        outputs,
        spread,
        running_stat_drift(model, rel),
        accuracy,
        res["predicted"],
        ranges,
    )
