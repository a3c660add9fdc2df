"""The conditions behind the book's conclusions: small functions of numbers a chapter has
already computed, used by :func:`discarding_layers`.

A condition that fits on one line stays in its notebook; the ones here need a few.
"""

from __future__ import annotations

import pandas as pd
from torch import nn

#: A layer "discards a real share" of its input when the mean fraction of input energy in
#: its null space exceeds this (stride-1 convolutions, as operators, sit at rounding level).
REAL_SHARE = 0.01


def mean_share(energy: pd.DataFrame) -> pd.Series:
    """Mean over classes of a layers × classes table of null-energy fractions.

    Parameters
    ----------
    energy : DataFrame
        From :func:`nnspaces.spaces.null_energy_by_layer` (one column per class and a
        ``note`` column).

    Returns
    -------
    Series
        Index: layer; value: the mean fraction over classes (NaN where every class is NaN).
    """
    return energy.drop(columns="note", errors="ignore").mean(axis=1)


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "stride-1 conv" if tuple(module.stride) == (1, 1) else "strided conv"
    return "linear" if isinstance(module, nn.Linear) else type(module).__name__


def discarding_layers(
    model: nn.Module, energy: pd.DataFrame, threshold: float = REAL_SHARE
) -> pd.DataFrame:
    """Each layer of a null-energy table with its kind and whether it discards a real share.

    Parameters
    ----------
    model : nn.Module
        The network the table was measured on (its layers give the kinds).
    energy : DataFrame
        Layers × classes, from :func:`nnspaces.spaces.null_energy_by_layer`.
    threshold : float
        The share above which a layer "discards" (default :data:`REAL_SHARE`).

    Returns
    -------
    DataFrame
        Columns ``layer``, ``kind`` (``"stride-1 conv"``, ``"strided conv"``, ``"linear"``),
        ``share`` (mean over classes) and ``discards`` (``share > threshold``), in the
        table's order.

    Raises
    ------
    ValueError
        A layer of the table that is not a module of ``model``.

    Examples
    --------
    >>> import torch
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, stride=2), nn.Flatten(),
    ...                     nn.Linear(8, 3))
    >>> energy = pd.DataFrame({0: [0.0, 0.4, 0.9], "note": ""}, index=["0", "1", "3"])
    >>> discarding_layers(net, energy)[["kind", "discards"]].values.tolist()
    [['stride-1 conv', False], ['strided conv', True], ['linear', True]]
    """
    modules = dict(model.named_modules())
    missing = [name for name in energy.index if name not in modules]
    if missing:
        raise ValueError(f"layers {missing} of the table are not modules of the model")
    share = mean_share(energy)
    return pd.DataFrame(
        {
            "layer": list(energy.index),
            "kind": [_kind(modules[name]) for name in energy.index],
            "share": share.to_numpy(),
            "discards": (share > threshold).to_numpy(),
        }
    )
