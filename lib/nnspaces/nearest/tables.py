"""Tables of :func:`nnspaces.nearest.refine`'s results for the chapters: :func:`table` (per
digit), :func:`summarize` (per network) and :func:`summary_keys` (its glue keys)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..inverse import InverseResult
from ..models import MODEL_NAMES
from .result import NearestResult


def table(
    gn: Sequence[InverseResult], refined: Sequence[NearestResult], network: str = ""
) -> pd.DataFrame:
    """One row per problem: the Gauss–Newton start beside the refined preimage.

    Parameters
    ----------
    gn : sequence of B InverseResult
        The starts (e.g. :func:`nearest_preimage`'s first output).
    refined : sequence of B NearestResult
    network : str
        Written into the ``network`` column.

    Returns
    -------
    df : pandas.DataFrame
        Columns ``network, digit`` (the target class), ``gn_distance, distance, gained``
        (``‖x − r‖`` before and after, and the difference), ``gn_kappa, kappa, kappa_kinks``
        (the first-order certificates), ``kinks_start, kinks`` (hidden pre-activations at a
        kink), ``wrong_kinks`` (of them, those failing the sign test), ``curvature`` (the
        second-order test; NaN at a kink), ``locally_nearest`` (proven a strict local
        minimum), ``rel_error`` (of the refined point), ``iterations, seconds, message``.
    """
    if len(gn) != len(refined):
        raise ValueError(f"{len(gn)} Gauss–Newton results but {len(refined)} refined ones")
    rows = [
        {
            "network": network,
            "digit": r.target_class,
            "gn_distance": g.distance,
            "distance": r.distance,
            "gained": g.distance - r.distance,
            "gn_kappa": g.kappa,
            "kappa": r.kappa,
            "kappa_kinks": r.kappa_kinks,
            "kinks_start": r.kinks_start,
            "kinks": r.kinks,
            "wrong_kinks": r.wrong_kinks,
            "curvature": r.curvature,
            "locally_nearest": r.locally_nearest,
            "rel_error": r.rel_error,
            "iterations": r.iterations,
            "seconds": r.seconds,
            "message": r.message,
        }
        for g, r in zip(gn, refined)
    ]
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per network: how much nearer the refined preimages are, and their certificates.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`table` output (one or several networks).

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by network: ``digits``; ``nearer`` (refined strictly nearer than Gauss–Newton);
        ``gained_min, gained_max`` and ``gained_rel_min, gained_rel_max`` (relative to the
        Gauss–Newton distance); ``gn_kappa_min, gn_kappa_max``; ``kappa_max``;
        ``kappa_kinks_max``; ``rel_error_max``; ``kinked`` (digits whose refined point has a
        pre-activation at a kink); ``wrong_kinked`` (digits with a kink failing the sign
        test: not local minima); ``locally_nearest`` (digits proven strict local minima by
        the second-order test); ``smooth_kappa_max`` (largest ``κ`` over the digits
        without: NaN if none); ``kinked_kappa_min`` (smallest ``κ`` over those with: NaN if
        none); ``iterations_median``; ``seconds_mean`` (per digit).
    """
    out = {}
    columns = [
        "digits",
        "nearer",
        "gained_min",
        "gained_max",
        "gained_rel_min",
        "gained_rel_max",
        "gn_kappa_min",
        "gn_kappa_max",
        "kappa_max",
        "kappa_kinks_max",
        "rel_error_max",
        "kinked",
        "wrong_kinked",
        "locally_nearest",
        "smooth_kappa_max",
        "kinked_kappa_min",
        "iterations_median",
        "seconds_mean",
    ]
    for net, d in df.groupby("network", sort=False):
        kinked = d["kinks"] > 0
        nan = float("nan")
        out[net] = {
            "digits": len(d),
            "nearer": int((d["distance"] < d["gn_distance"]).sum()),
            "gained_min": d["gained"].min(),
            "gained_max": d["gained"].max(),
            "gained_rel_min": (d["gained"] / d["gn_distance"]).min(),
            "gained_rel_max": (d["gained"] / d["gn_distance"]).max(),
            "gn_kappa_min": d["gn_kappa"].min(),
            "gn_kappa_max": d["gn_kappa"].max(),
            "kappa_max": d["kappa"].max(),
            "kappa_kinks_max": d["kappa_kinks"].max(),
            "rel_error_max": d["rel_error"].max(),
            "kinked": int(kinked.sum()),
            "wrong_kinked": int((d["wrong_kinks"] > 0).sum()),
            "locally_nearest": int(d["locally_nearest"].sum()),
            "smooth_kappa_max": d.loc[~kinked, "kappa"].max() if (~kinked).any() else nan,
            "kinked_kappa_min": d.loc[kinked, "kappa"].min() if kinked.any() else nan,
            "iterations_median": d["iterations"].median(),
            "seconds_mean": d["seconds"].mean(),
        }
    summary = pd.DataFrame.from_dict(out, orient="index", columns=columns)
    return summary.rename_axis("network")


def summary_keys(summary: pd.DataFrame, prefix: str = "near_", fill=float("nan")) -> dict:
    """:func:`summarize`'s table as glue keys ``"<prefix><column>_<network>"`` for every
    network of :data:`nnspaces.models.MODEL_NAMES` (``fill`` where a network is missing)."""
    networks = list(MODEL_NAMES) + [n for n in summary.index if n not in MODEL_NAMES]
    out = {}
    for column in summary.columns:
        for net in networks:
            value = summary[column].get(net, fill)
            out[f"{prefix}{column}_{net}"] = value.item() if hasattr(value, "item") else value
    return out
