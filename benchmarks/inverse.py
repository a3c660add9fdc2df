"""Inverse maps on the cached networks: accuracy and time per method, one run, side by side."""

from __future__ import annotations

import statistics

import torch

from nnspaces import inverse, notebook
from nnspaces.outputs import collect_outputs

#: Methods measured, in table order; the last is the reference for the ratios.
METHODS = ("closed-form", "gauss-newton", "gradient", "paper-sgd")
#: The gradient method at a fixed step budget (Adam), so its time is comparable.
OPTIONS = {"gradient": {"optimizer": "adam", "max_iter": 300, "patience": None}}


def _time_to(results, losses) -> float | None:
    """Median over digits of the seconds each run took to bring its loss to ``losses[i]``;
    None when the median run never gets there.

    A run's time to step ``k`` of its history is its seconds × k / (steps taken): the steps of
    one method cost about the same. A closed form (one step) takes all its time."""
    times = []
    for res, goal in zip(results, losses):
        h = res.history  # loss at the start and after each step
        k = next((k for k, v in enumerate(h) if v <= goal), None)
        times.append(float("inf") if k is None else res.seconds * k / max(1, len(h) - 1))
    med = statistics.median(times)
    return None if med == float("inf") else med


def _row(results, digits) -> dict:
    errs = [r.rel_error for r in results]
    return {
        "digits": len(results),
        "median_rel_error": statistics.median(errs),
        "worst_rel_error": max(errs),
        "median_seconds": statistics.median(r.seconds for r in results),
        "predicted_target": sum(r.predicted == c for c, r in zip(digits, results)) / len(results),
        "in_box": sum(r.outside_box == 0 for r in results) / len(results),
    }


def run(
    params: dict,
    networks=("fcnn1", "fcnn5"),
    digits=range(10),
    target_kinds=("minmax", "class-mean"),
    boxes=(None, (0.0, 1.0)),
) -> list[dict]:
    """Every method × network × target kind × box on ``digits``; one dict per combination.

    Parameters
    ----------
    params : dict
        Training parameters of the cached networks (``nnspaces.params.TRAIN_PARAMS`` keys).
    networks, digits, target_kinds, boxes
        What to measure; the reference of each digit is its class-average training image.

    Returns
    -------
    rows : list of dict
        ``network, target, box, method`` plus :func:`_row`'s statistics and
        ``error_ratio`` / ``time_ratio`` against paper-sgd in the same setting and the race
        against its 100 steps (:func:`_race`).
    """
    splits, nets, _ = notebook.trained_models(params, list(networks), progress=False)
    X, y = splits.X_train, splits.y_train
    rows = []
    for name, net in nets.items():
        Z = collect_outputs(net, X)  # (N, 10), once per network
        digits = list(digits)
        R = torch.stack([inverse.start_image("avg", X, y, c) for c in digits])  # (B, 1, 28, 28)
        for kind in target_kinds:
            T = inverse.class_targets(net, X, y, kind, Z=Z)[digits]  # (B, 10)
            for box in boxes:
                block, found = {}, {}
                for method in METHODS:
                    if method == "closed-form" and not inverse.supports_closed_form(net):
                        continue
                    # all digits in one call, as the chapters run them: the first-order
                    # methods share one forward/backward per step; seconds are per digit
                    # the released procedure never clips: it runs without the box
                    mbox = None if method == "paper-sgd" else box
                    res = inverse.invert_classes(
                        net, T, R, method, mbox, target_classes=digits, **OPTIONS.get(method, {})
                    )
                    block[method], found[method] = _row(res, digits), res
                ref = block["paper-sgd"]
                for method, stats in block.items():
                    stats.update(_race(found[method], found["paper-sgd"]))
                    rows.append(
                        {
                            "network": name,
                            "target": kind,
                            "box": "[0,1]" if box else "none",
                            "method": method,
                            **stats,
                            "error_ratio": stats["median_rel_error"] / ref["median_rel_error"],
                            "time_ratio": stats["median_seconds"] / ref["median_seconds"],
                        }
                    )
    return rows


def run_resnet(params: dict, digits=range(10), max_iter: int = 15) -> list[dict]:
    """Gauss–Newton, gradient (Adam, same step budget) and paper-sgd on ResNet18 (class-mean
    targets, box [0, 1]), all digits in one call per method."""
    splits, nets, _ = notebook.trained_models(params, ["resnet18"], progress=False)
    net, X, y = nets["resnet18"], splits.X_train, splits.y_train
    digits = list(digits)
    T = inverse.class_targets(net, X, y, "class-mean")[digits]  # (B, 10)
    R = torch.stack([inverse.start_image("avg", X, y, c) for c in digits])  # (B, 1, 28, 28)
    block, found = {}, {}
    for method, opts in (
        ("gauss-newton", {"max_iter": max_iter}),
        ("gradient", {"max_iter": max_iter, "patience": None}),
        ("paper-sgd", {}),
    ):
        box = None if method == "paper-sgd" else (0.0, 1.0)  # the released procedure never clips
        res = inverse.invert_classes(net, T, R, method, box, target_classes=digits, **opts)
        block[method], found[method] = _row(res, digits), res
    ref = block["paper-sgd"]
    for method, st in block.items():
        st.update(_race(found[method], found["paper-sgd"]))
    return [
        {
            "network": "resnet18",
            "target": "class-mean",
            "box": "[0,1]",
            "method": m,
            **st,
            "error_ratio": st["median_rel_error"] / ref["median_rel_error"],
            "time_ratio": st["median_seconds"] / ref["median_seconds"],
        }
        for m, st in block.items()
    ]


def _race(results, sgd) -> dict:
    """How each method fares against the released procedure's 100 steps, per digit.

    Returns
    -------
    dict
        ``seconds_to_sgd_error``: median seconds this method takes to reach the loss that
        paper-sgd ends with (None: it never does); ``sgd_seconds_to_error``: median seconds
        paper-sgd takes to reach this method's final loss (None: never, in its 100 steps).
    """
    return {
        "seconds_to_sgd_error": _time_to(results, [r.history[-1] for r in sgd]),
        "sgd_seconds_to_error": _time_to(sgd, [r.history[-1] for r in results]),
    }


def set_threads(n: int = 1) -> None:
    """One thread: small matrix products are faster and timings steadier on 2 shared cores."""
    torch.set_num_threads(n)
