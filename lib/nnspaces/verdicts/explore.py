"""The explorer's conclusion: is the image it found first-order stationary for its distance to
the start image? (Proven the nearest only for the closed form, whose problem is convex:
``info["nearest"]``.)"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..inverse import CERTIFIED_TOL
from . import Verdict


def certified(info: Mapping, tol: float = CERTIFIED_TOL) -> Verdict:
    """Holds when the target is reached and the certificate is at most ``tol``: the image is
    first-order stationary for its distance to the start image — a nearest, farthest or
    saddle point of the preimage; the reason says when it is also proven the nearest.

    Parameters
    ----------
    info : mapping
        :func:`nnspaces.explorer.explore`'s record: ``reached``, ``rel_error``,
        ``certificate`` (the KKT residual with a box, else κ; NaN or None when not computed)
        and, optionally, ``nearest`` (proven the nearest, by convexity).
    tol : float
        The largest certificate of a first-order stationary point
        (:data:`nnspaces.inverse.CERTIFIED_TOL`).

    Examples
    --------
    >>> certified({"reached": True, "rel_error": 1e-15, "certificate": 3e-16}).reason
    'target reached (relative error 1e-15); certificate 3e-16, at most 1e-06'
    >>> certified({"reached": True, "rel_error": 0.0, "certificate": 0.0, "nearest": True}).reason
    'target reached (relative error 0); certificate 0, at most 1e-06; proven nearest (convex)'
    >>> bool(certified({"reached": False, "rel_error": 0.2, "certificate": 0.0}))
    False
    """
    cert = info["certificate"]
    computed = cert is not None and not math.isnan(cert)
    shown = f"{cert:.2g}" if computed else "not computed"
    if not info["reached"]:
        return Verdict(False, f"target missed (relative error {info['rel_error']:.2g})")
    holds = computed and cert <= tol
    word = "at most" if holds else "above" if computed else "threshold"
    return Verdict(
        holds,
        f"target reached (relative error {info['rel_error']:.2g}); certificate {shown}, "
        f"{word} {tol:.0e}"
        + ("; proven nearest (convex)" if holds and info.get("nearest") else ""),
    )
