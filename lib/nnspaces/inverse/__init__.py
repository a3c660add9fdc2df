"""Inverse maps: input images that give chosen network outputs.

A layer ``y = σ(W x + b)`` with SELU ``σ`` is invertible on its range, and the inputs that
give ``y`` form an affine subspace. This package computes members of that set exactly
(``"closed-form"`` for one layer, ``"gauss-newton"`` for any differentiable network),
approximately (``"gradient"``: Adam / SGD on the output error) and as the released code
of the paper did (``"paper-sgd"``), with or without the pixel box ``[0, 1]``.

Public API
----------
- :func:`invert` — one target, one reference → :class:`InverseResult`;
  :func:`invert_classes` — one target and one reference per class (a batch); method
  ``"none"`` scores the reference itself.
- :func:`closed_form_inverse` — the paper's formula ``x* = r + W⁺(σ⁻¹(t) − b − W r)``.
- :func:`class_targets` — the (K, K) target outputs of the paper and its variants;
  :func:`start_image` — the paper's starting images (avg, min, avg-min, noise).
- :func:`selu_inverse` — ``σ⁻¹`` on SELU's range ``(−λα, ∞)``.
- :func:`supports_closed_form`, :func:`frozen` — helpers.
- Constants: :data:`SELU_LAMBDA`, :data:`SELU_ALPHA`, :data:`SELU_FLOOR`; the allowed names
  :data:`METHODS`, :data:`TARGET_KINDS`, :data:`START_KINDS`; :data:`REACHED_TOL` (the
  relative error that counts as reaching a target), :data:`CERTIFIED_TOL` (first-order
  stationary) and :data:`PROOFS` (what ``InverseResult.proof`` may say: "nearest" is
  proven only by convexity — the closed form — or, locally, by a second-order test); the released
  procedure's :data:`PAPER_SGD_LR`, :data:`PAPER_SGD_STEPS`, :data:`PAPER_SGD_MOMENTUM`.

Modules
-------
As scipy's ``optimize/_lsq``: one entry point, one module per method, shared pieces apart.

- ``api`` — the entry points: validation, one solver per method (``_SOLVERS``), certificates.
- ``closed_form`` — ``"closed-form"``: :func:`closed_form_inverse` and its box problem.
- ``gauss_newton`` — ``"gauss-newton"``: minimum-norm Gauss–Newton with backtracking.
- ``first_order`` — ``"gradient"`` and ``"paper-sgd"``: a torch optimizer on the paper's loss.
- ``box_qp`` — the closed form's box problem: dual semismooth Newton, Farkas certificate.
- ``box_min`` — exact minimum of ``φ(W x)`` over the box: proximal Newton, then active set.
- ``box_lsq`` — Gauss–Newton's box steps: held pixels; interior-point bounded least squares.
- ``linalg`` — Jacobians (closed form or autograd) and the minimum-norm step.
- ``common`` — shared pieces: frozen model, work copy, option checks, line search.
- ``result`` — :class:`InverseResult` and the one helper that builds results.
- ``selu`` — SELU's constants, inverse and slope.
- ``targets`` — the problems' inputs: class targets and starting images.

Each solver takes ``(f, T (B, K), R (B, *S), box, *, classes, **options)`` and returns B
results, each with a ``status`` from its module's ``TERMINATION_MESSAGES`` and that table's
``message``; ``api`` alone validates, freezes the model and certifies.

References
----------
R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image Analysis
using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73–76, arXiv:2402.00261.
"""

from .api import METHODS, invert, invert_classes
from .closed_form import closed_form_inverse, supports_closed_form
from .common import frozen
from .first_order import PAPER_SGD_LR, PAPER_SGD_MOMENTUM, PAPER_SGD_STEPS
from .result import CERTIFIED_TOL, PROOFS, REACHED_TOL, InverseResult
from .selu import SELU_ALPHA, SELU_FLOOR, SELU_LAMBDA, selu_inverse
from .targets import START_KINDS, TARGET_KINDS, class_targets, start_image

__all__ = [
    "CERTIFIED_TOL",
    "METHODS",
    "PAPER_SGD_LR",
    "PAPER_SGD_MOMENTUM",
    "PAPER_SGD_STEPS",
    "PROOFS",
    "REACHED_TOL",
    "SELU_ALPHA",
    "SELU_FLOOR",
    "SELU_LAMBDA",
    "START_KINDS",
    "TARGET_KINDS",
    "InverseResult",
    "class_targets",
    "closed_form_inverse",
    "frozen",
    "invert",
    "invert_classes",
    "selu_inverse",
    "start_image",
    "supports_closed_form",
]
