"""Raw network outputs over a data set, kept on disk: the statistics the paper's targets are
built from.

- :func:`collect_outputs` — pass every image through the network (eval mode); computed by
  :func:`nnspaces.models.collect_outputs`, the numerical core's (which writes nothing).
- :func:`cached_outputs` — the same, memoised (:func:`nnspaces.cache.memo`), so the chapters
  that need the outputs of one trained network on its training images compute them once per
  build, not once per chapter.
"""

from __future__ import annotations

import torch
from torch import nn

from . import cache, models
from .models import collect_outputs

__all__ = ["cached_outputs", "collect_outputs"]


def _table(Z) -> torch.Tensor:
    """``Z`` when it is a 2-D floating tensor (a stored table of outputs), else ValueError."""
    if not (isinstance(Z, torch.Tensor) and Z.ndim == 2 and Z.is_floating_point()):
        raise ValueError(f"not a table of network outputs: {type(Z).__name__}")
    return Z


def cached_outputs(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """:func:`collect_outputs`, memoised: read back when the same network (class, weights,
    buffers, device) meets the same images again.

    Parameters
    ----------
    model : torch.nn.Module
    X : (N, 1, 28, 28) Tensor

    Returns
    -------
    Z : (N, K) Tensor
        As :func:`collect_outputs`: bit-identical, since it is what that function returned.

    Notes
    -----
    The key is :func:`nnspaces.cache.memo`'s: the network (:func:`nnspaces.cache.key_of`,
    device included: CPU and GPU outputs differ in the last bits), the images' bits and the
    source of :mod:`nnspaces.models`; the file lies under ``results/outputs/``.
    """
    return cache.memo(
        "outputs",
        {"model": model, "X": X},
        lambda: collect_outputs(model, X),
        sources=(models,),
        decode=_table,
    )
