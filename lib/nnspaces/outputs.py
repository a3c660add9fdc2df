"""Raw network outputs over a data set: the statistics the paper's targets are built from."""

from __future__ import annotations

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
