"""The explorer's conclusion: is the image it found the nearest preimage of its start image?"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..inverse import CERTIFIED_TOL
from . import Verdict


def certified(info: Mapping, tol: float = CERTIFIED_TOL) -> Verdict:
    """Holds when the target is reached and the certificate is at most ``tol``.

    Parameters
    ----------
    info : mapping
        :func:`nnspaces.compare.explore`'s record: ``reached``, ``rel_error``,
        ``certificate`` (the KKT residual with a box, else κ; NaN or None when not computed).
    tol : float
        The largest certificate that certifies a nearest preimage
        (:data:`nnspaces.inverse.CERTIFIED_TOL`).

    Examples
    --------
    >>> certified({"reached": True, "rel_error": 1e-15, "certificate": 3e-16}).reason
    'target reached (relative error 1e-15); certificate 3e-16, at most 1e-06'
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
        f"{word} {tol:.0e}",
    )
