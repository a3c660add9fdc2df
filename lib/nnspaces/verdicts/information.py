"""The conditions behind the chapter *Information lost, layer by layer*.

They read the null-energy fractions of :func:`nnspaces.spaces.null_energy_by_layer` (via
:func:`~nnspaces.verdicts.layers.discarding_layers`) and return a
:class:`~nnspaces.verdicts.Verdict`; the sentences live in the chapter's markdown.
"""

from __future__ import annotations

import math

import pandas as pd

from . import Verdict
from .layers import REAL_SHARE

#: "Most" of an input's energy: more than this share in a layer's null space.
MOST = 0.5


def _fraction(x: float, what: str) -> float:
    x = float(x)
    if not math.isfinite(x) or not 0 <= x <= 1:
        raise ValueError(f"{what} must be a fraction in [0, 1], got {x!r}")
    return x


def first_layer_discards_most(share: float, threshold: float = MOST) -> Verdict:
    """The first layer's null space holds most of an image's energy (``share > threshold``).

    >>> first_layer_discards_most(0.8)
    Verdict(holds=True, reason='first layer: 80 % of the energy in its null space (threshold 50 %)')
    """
    share = _fraction(share, "share")
    return Verdict(
        share > threshold,
        f"first layer: {100 * share:.0f} % of the energy in its null space "
        f"(threshold {100 * threshold:g} %)",
    )


def views_disagree(
    patch_mean: float, operator_max: float, real_share: float = REAL_SHARE
) -> Verdict:
    """Per patch the stride-1 convolutions discard most of their input, as operators on the
    whole feature map at most ``real_share``.

    Parameters
    ----------
    patch_mean : float
        Mean over the stride-1 convolutions of the per-patch (unfold view) null share.
    operator_max : float
        Largest null share of a stride-1 convolution as an operator.
    real_share : float
        The share below which a layer discards nothing real.

    >>> views_disagree(0.88, 1e-15).holds, views_disagree(0.88, 0.05).holds
    (True, False)
    """
    patch_mean = _fraction(patch_mean, "patch_mean")
    operator_max = _fraction(operator_max, "operator_max")
    return Verdict(
        patch_mean > MOST and operator_max <= real_share,
        f"stride-1 convolutions: {100 * patch_mean:.0f} % per patch (more than "
        f"{100 * MOST:g} % wanted), at most {operator_max:.1e} as operators (at most "
        f"{real_share:g} wanted)",
    )


def only_strided_discard(layers: pd.DataFrame) -> Verdict:
    """No stride-1 convolution discards a real share of its input as an operator.

    Parameters
    ----------
    layers : DataFrame
        :func:`~nnspaces.verdicts.layers.discarding_layers` of the operator view (columns
        ``layer``, ``kind``, ``share``, ``discards``).

    >>> t = pd.DataFrame({"layer": ["a", "b"], "kind": ["stride-1 conv", "strided conv"],
    ...                   "share": [1e-16, 0.4], "discards": [False, True]})
    >>> only_strided_discard(t)
    Verdict(holds=True, reason='0 of 1 stride-1 convolutions and 1 of 1 strided ones discard')
    """
    missing = {"kind", "discards"} - set(layers.columns)
    if missing:
        raise ValueError(f"the table lacks columns {sorted(missing)} (use discarding_layers)")
    s1 = layers[layers["kind"] == "stride-1 conv"]
    st = layers[layers["kind"] == "strided conv"]
    return Verdict(
        not s1["discards"].any(),
        f"{int(s1['discards'].sum())} of {len(s1)} stride-1 convolutions and "
        f"{int(st['discards'].sum())} of {len(st)} strided ones discard",
    )
