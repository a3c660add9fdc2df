"""Raw network outputs over a data set: the statistics the paper's targets are built from.

- :func:`collect_outputs` — pass every image through the network (eval mode).
- :func:`cached_outputs` — the same, kept on disk under a digest of the weights and the
  images, so the chapters that need the outputs of one trained network on its training
  images compute them once per build, not once per chapter.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch
from torch import nn

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
    was_training = model.training
    model.eval()
    try:
        parts = [
            model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0, 0)


def _digest(model: nn.Module, X: torch.Tensor) -> str:
    """SHA-256 over the model's class and device, its weights and buffers, and the images."""
    from .train import state_digest  # the checkpoint's own digest of the weights

    h = hashlib.sha256(type(model).__qualname__.encode())
    h.update(state_digest(model.state_dict()).encode())
    h.update(state_digest({"X": X}).encode())
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
    from .data import _cache_root

    folder = Path(cache_dir) if cache_dir is not None else _cache_root() / "outputs"
    path = folder / f"{_digest(model, X)}.pt"
    if path.exists():
        try:
            Z = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(Z, torch.Tensor) and Z.ndim == 2 and len(Z) == len(X):
                return Z
            problem = f"it holds {type(Z).__name__} {tuple(getattr(Z, 'shape', ()))}"
        except Exception as e:  # truncated or corrupted file
            problem = f"it cannot be read ({type(e).__name__})"
        warnings.warn(f"ignoring cached outputs {path}: {problem}; recomputing", stacklevel=2)
    from .train import _atomic_save

    Z = collect_outputs(model, X)
    _atomic_save(Z, path)
    return Z
