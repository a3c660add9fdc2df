"""Pieces every inverse method shares (as scipy's ``optimize/_lsq/common.py``): the frozen
work copy of the model, option and class checks, progress bars, and the backtracking line
search on the output error."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

from ..common import eval_mode


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """:func:`nnspaces.common.eval_mode` with frozen parameters; both restored on exit (even
    on error).

    Every submodule's own ``training`` flag and every parameter's ``requires_grad`` flag are
    restored exactly as they were.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    with eval_mode(model):
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield model
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)


def work_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The model itself if it already has ``dtype``, else a frozen copy in ``dtype``."""
    p = next(model.parameters(), None)
    if p is None or p.dtype == dtype:
        return model
    return copy.deepcopy(model).to(dtype)


def leaf_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` without children, in module order."""
    return [m for m in model.modules() if next(m.children(), None) is None]


def progress_bar(it, show: bool, desc: str):
    """``it``, wrapped in a tqdm bar when ``show``."""
    if not show:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)


def reject_unused(method: str, unused: dict) -> None:
    """Refuse options a method does not take, naming them."""
    if unused:
        raise ValueError(f"method {method!r} takes no option(s) {', '.join(sorted(unused))}")


def check_classes(target_classes, B: int, K: int, argmax: bool = False) -> list[int | None]:
    """The class of each of ``B`` targets of ``K`` outputs (None: ``argmax`` of the target).

    Given ones must lie in ``0 … K − 1``; by default row ``i`` is class ``i`` when there are
    at most ``K`` rows (as :func:`~nnspaces.inverse.class_targets` builds them), else each
    target's ``argmax``.
    """
    if target_classes is None:
        return [None] * B if argmax or B > K else list(range(B))
    classes = [int(c) for c in target_classes]
    if len(classes) != B:
        raise ValueError(f"{len(classes)} target_classes for {B} targets")
    bad = [c for c in classes if not 0 <= c < K]
    if bad:
        raise ValueError(
            f"target_classes must lie in 0..{K - 1} (the network has {K} outputs), got {bad}"
        )
    return classes


def line_search(f, T, X, D, errs, box):
    """Backtrack ``x_i + α_i d_i`` (clipped to the box) from α_i = 1, for a batch of problems
    at once, until each error falls sufficiently (Armijo on ``‖t − f(x)‖``).

    Parameters
    ----------
    T : (B, K) Tensor
    X, D : (B, *S) Tensors
        Points and directions.
    errs : list of B float
        ``‖t_i − f(x_i)‖``.
    box : (lo, hi) or None

    Returns
    -------
    new : list of B ``(x_new, err_new)``, or ``(None, err)`` where no step length helps
    """
    new = [(None, e) for e in errs]
    pending, step = list(range(len(X))), 1.0
    while pending and step > 2.0**-30:
        cand = X[pending] + step * D[pending]
        if box is not None:
            cand = cand.clamp(*box)
        with torch.no_grad():
            out = f(cand).reshape(len(pending), -1)  # (P, K)
        e = torch.linalg.vector_norm(T[pending] - out, dim=1).tolist()
        still = []
        for j, i in enumerate(pending):
            if e[j] <= (1 - 1e-4 * step) * errs[i]:
                new[i] = (cand[j], e[j])
            else:
                still.append(i)
        pending, step = still, step / 2
    return new
