"""Raw network outputs over a data set: the statistics the paper's targets are built from.

- :func:`collect_outputs` — pass every image through the network (eval mode).
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
from .common import eval_mode
from .models import device_of


@torch.no_grad()
def collect_outputs(model: nn.Module, X: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Pass every image through ``model`` in eval mode and return the raw outputs.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, 1, 28, 28)`` to ``(B, K)``. Its train/eval mode is restored afterwards.
    X : (N, 1, 28, 28) Tensor
        Images, on any device (moved batch by batch to the model's device).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    Z : (N, K) Tensor
        Pre-softmax outputs, on the CPU, in the model's dtype.
    """
    if X.ndim != 4:
        raise ValueError(f"X must be (N, C, H, W), got shape {tuple(X.shape)}")
    device = device_of(model)
    with eval_mode(model):
        parts = [
            model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)
        ]
    return torch.cat(parts) if parts else torch.empty(0, 0)


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
