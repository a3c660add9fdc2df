"""Raw network outputs over a data set, kept on disk: the statistics the paper's targets are
built from.

- :func:`collect_outputs` — pass every image through the network (eval mode); computed by
  :func:`nnspaces.models.collect_outputs`, the numerical core's (which writes nothing).
- :func:`cached_outputs` — the same, kept on disk under a digest of the weights and the
  images, so the chapters that need the outputs of one trained network on its training
  images compute them once per build, not once per chapter.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from . import cache
from .models import collect_outputs, device_of

__all__ = ["cached_outputs", "collect_outputs"]


def _digest(model: nn.Module, X: torch.Tensor) -> str:
    """SHA-256 over the model's class and device, its weights and buffers, and the images."""
    h = hashlib.sha256(type(model).__qualname__.encode())
    h.update(cache.state_digest(model.state_dict()).encode())  # the checkpoints' own digest
    h.update(cache.state_digest({"X": X}).encode())
    h.update(str(device_of(model).type).encode())  # CPU and GPU outputs differ in the last bits
    return h.hexdigest()[:24]


def cached_outputs(
    model: nn.Module, X: torch.Tensor, cache_dir: str | Path | None = None
) -> torch.Tensor:
    """:func:`collect_outputs`, stored on disk and read back when the same network (weights,
    buffers, device) meets the same images again.

    Parameters
    ----------
    model : torch.nn.Module
    X : (N, 1, 28, 28) Tensor
    cache_dir : path, optional
        Default ``$NNSPACES_CACHE/outputs`` (``~/.cache/nnspaces/outputs``).

    Returns
    -------
    Z : (N, K) Tensor
        As :func:`collect_outputs`: bit-identical, since it is what that function returned.

    Notes
    -----
    The file name is a SHA-256 of the weights and the images, so a retrained network or other
    images never read a stale file. Files are written atomically; one that cannot be read or
    does not hold an ``(N, K)`` finite tensor is reported with a warning and recomputed.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache.root() / "outputs"
    path = folder / f"{_digest(model, X)}.pt"

    def problem(Z) -> str | None:
        if isinstance(Z, torch.Tensor) and Z.ndim == 2 and len(Z) == len(X):
            return None
        return f"it holds {type(Z).__name__} {tuple(getattr(Z, 'shape', ()))}"

    Z = cache.load(path, problem, "cached outputs", "recomputing", stacklevel=2)
    if Z is None:
        Z = collect_outputs(model, X)
        cache.save(Z, path)
    cache.record_result(path)
    return Z
