"""Preimages nearer the reference: walking along ``{x : f(x) = t}`` towards ``r``.

Gauss–Newton with minimum-norm steps (:func:`nnspaces.inverse.invert`, ``"gauss-newton"``)
reaches *a* preimage of ``t`` from the reference ``r``; for a deep network it is not the
preimage nearest ``r``. This module starts from such a point and reduces the distance to
``r`` while staying on the preimage, and reports the first-order certificate
(:func:`nnspaces.certificate.kappa`) along the way.

Public API
----------
- :func:`refine` — from given preimages ``starts``, a batch of problems.
- :func:`nearest_preimage` — Gauss–Newton from ``r``, then :func:`refine`.
- :class:`NearestResult` — an :class:`nnspaces.inverse.InverseResult` with the distance before
  and after, ``κ`` per iteration, the number of pre-activations at a kink, how many of them
  fail the sign test, and the second-order test.
- :func:`kink_multipliers` — the multipliers of the kinks of a Linear/SELU stack (hidden
  SELU pre-activations at 0) on either side (the sign test).
- :data:`STEPS`, :data:`KINK_TOL`, :data:`AT_KINK_TOL`, :data:`SIGN_TOL`,
  :data:`CURVATURE_TOL` — the candidate steps and the thresholds.

What is proven: every refined point is a preimage nearer ``r`` than its start; ``κ ≈ 0`` is
first-order stationarity only (the farthest point of a closed preimage has it too); a point
without kinks whose Lagrangian has positive curvature on the tangent space is a strict local
minimum of the distance (``proof = "second-order"``); no point is proven *the* nearest.
- :func:`table`, :func:`summarize`, :func:`summary_keys` — per-digit table, per-network
  summary and its glue keys, for the chapters.

No box: the pixels are unconstrained (the problem :func:`refine` solves is
``min ‖x − r‖ s.t. f(x) = t`` over all of ``ℝⁿ``).

Modules
-------
- ``refine`` — :func:`refine` and :func:`nearest_preimage`: validation, the iteration and its
  ``TERMINATION_MESSAGES``.
- ``steps`` — the candidate steps (:data:`STEPS`), the Newton (KKT) step, restoring a point
  onto the preimage and the step-length search.
- ``kinks`` — pre-activations and kinks of a Linear/SELU stack and the Lagrangian's curvature.
- ``result`` — :class:`NearestResult`.
- ``tables`` — :func:`table`, :func:`summarize`, :func:`summary_keys`.
"""

from .kinks import AT_KINK_TOL, KINK_TOL, SIGN_TOL, kink_multipliers
from .refine import nearest_preimage, refine
from .result import CURVATURE_TOL, NearestResult
from .steps import MAX_STEP, STEPS
from .tables import summarize, summary_keys, table

__all__ = [
    "AT_KINK_TOL",
    "CURVATURE_TOL",
    "KINK_TOL",
    "MAX_STEP",
    "SIGN_TOL",
    "STEPS",
    "NearestResult",
    "kink_multipliers",
    "nearest_preimage",
    "refine",
    "summarize",
    "summary_keys",
    "table",
]
