"""Certificates for "the input nearest ``r`` with ``f(x) = t``": first and second order.

An inverse method that returns *a* preimage ``x`` of a target ``t`` (``f(x) = t``) does not
say whether ``x`` is the preimage *nearest* the reference ``r``. Where ``f`` is smooth, a
nearest preimage ``x`` satisfies the Lagrange condition of

    min ½‖x − r‖²  subject to  f(x) = t   (and, optionally, lo ≤ x ≤ hi):

``x − r`` lies in the row space of the (K, n) Jacobian ``J = ∂f/∂x`` at ``x`` (plus the
normal cone of the box at ``x``). This package measures how far a point is from satisfying
it, from arrays alone (no network): it is the pure mathematics under
:mod:`nnspaces.nearest` and the inverse-map chapters.

The first-order condition is necessary, not sufficient: it holds just as well at the
*farthest* point of a closed preimage and at saddle points. A first-order point is proven
nearest only (a) when the problem is convex — an affine preimage, with or without the box:
the closed form — where it is the unique global minimiser, or (b) *locally*, by the
second-order test :func:`reduced_curvature` (the Lagrangian's Hessian positive definite on
the tangent space): a strict local minimum, still not the global one.

Public API
----------
- :func:`rank_cutoff` — the singular-value cutoff used for every pseudo-inverse here: the
  library's one rule, :func:`nnspaces.spaces.rank_cutoff`, re-exported.
- :func:`row_basis` — an orthonormal basis of the row space of ``J`` (optionally with extra
  rows), by SVD with that cutoff.
- :func:`null_component` — ``(I − J⁺J) v``: the part of ``v`` the linearised constraint
  does not see.
- :func:`multipliers` — least-squares Lagrange multipliers ``(Jᵀ)⁺(x − r)``.
- :func:`kappa` — ``κ = ‖(I − J⁺J)(x − r)‖ / ‖x − r‖``, 0 exactly at a smooth first-order
  stationary point of the distance on the preimage; :func:`kappas` for a batch.
- :func:`kkt_residual` — the same question with the pixel box: Lagrange multipliers of the
  equality and of the bounds, and the relative size of what they cannot explain.
- :func:`kappa_roundoff` — the ``κ`` round-off alone gives a point computed exactly from a
  matrix's SVD (the closed form's tolerance).
- :func:`reduced_curvature` — the second-order test: the smallest eigenvalue of the
  Lagrangian's Hessian on the tangent space of the preimage (> 0: a strict local minimum).
- :func:`error_kkt_residual` — for a target out of reach inside the box: how far ``x`` is
  from a first-order stationary point of the output error ``½‖f(x) − t‖²`` over the box
  (the best approximation, the problem an exact method solves then).

The functions take torch Tensors or NumPy arrays and compute in the input's floating dtype
(float64 is what the inverse methods use). ``x`` and ``r`` may have any shape with ``n``
elements (e.g. an image ``(1, 28, 28)``); they are flattened.

Modules: ``first_order`` (``κ`` and its pieces), ``second_order`` (the curvature test),
``box`` (the KKT residuals with the pixel box), ``common`` (input checks).
"""

from ..spaces import rank_cutoff
from .box import KKT, error_kkt_residual, kkt_residual
from .first_order import kappa, kappa_roundoff, kappas, multipliers, null_component, row_basis
from .second_order import reduced_curvature

__all__ = [
    "KKT",
    "error_kkt_residual",
    "kappa",
    "kappa_roundoff",
    "kappas",
    "kkt_residual",
    "multipliers",
    "null_component",
    "rank_cutoff",
    "reduced_curvature",
    "row_basis",
]
