"""Pieces every inverse method shares: model handling, the minimum-norm step, option checks."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

from ..common import eval_mode
from ..spaces import rank_cutoff


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


def _work_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The model itself if it already has ``dtype``, else a frozen copy in ``dtype``."""
    p = next(model.parameters(), None)
    if p is None or p.dtype == dtype:
        return model
    return copy.deepcopy(model).to(dtype)


def _leaf_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if next(m.children(), None) is None]


def _min_norm_step(J: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
    """``J⁺ res``, the minimum-norm least-squares step, by SVD in ``J``'s dtype.

    ``J`` (K, n), ``res`` (K,) → (n,); singular values at or below
    :func:`nnspaces.spaces.rank_cutoff` count as zero.
    """
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    keep = S > rank_cutoff(S, tuple(J.shape))
    return Vh[keep].T @ ((U[:, keep].T @ res) / S[keep])


def _progress(it, progress: bool, desc: str):
    if not progress:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)


def _reject_unused(method: str, unused: dict) -> None:
    if unused:
        raise ValueError(f"method {method!r} takes no option(s) {', '.join(sorted(unused))}")
