"""Pre-activations and kinks of a Linear/SELU stack, and the curvature of its Lagrangian.

- :func:`kink_multipliers` — the multipliers of the kinks on either side, and
  :func:`wrong_sign_kinks`, the sign test a local minimum at a kink needs;
- :func:`local` / :class:`Local` — one forward pass with every pre-activation's gradient (and, on
  request, SELU's slope of chosen units replaced by one side's): the hidden SELU
  pre-activations at SELU's kink (``|u| ≤ tol``; :data:`KINK_TOL` for the steps,
  :data:`AT_KINK_TOL` for the certificates) and their gradients;
- :func:`constraint_hessian` — the Hessian of ``λᵀf + νᵀu_A`` in factored form, for the
  Newton steps and the second-order test.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import certificate
from ..inverse.selu import SELU_ALPHA, SELU_LAMBDA, selu_slope

#: The corner steps of :func:`~nnspaces.nearest.refine` try to hold every hidden SELU
#: pre-activation with ``|u| ≤ KINK_TOL`` at ``u = 0``: a *proposal* (a step is accepted only
#: if it brings the restored point nearer), wide so that units approaching the kink are
#: caught; with 1e-6 instead the refinement zigzags across kinks it does not hold (on an
#: untrained 5-layer network, 200 steps and a farther end point than with 1e-3).
KINK_TOL = 1e-3

#: A hidden SELU pre-activation with ``|u| ≤ AT_KINK_TOL`` *is* at SELU's kink for the
#: certificates (``kinks``, ``kappa_kinks``, the sign test, the second-order test). The
#: corner steps hold a unit at ``u = 0`` to first order and the restoration moves it by the
#: square of the step: on an untrained 5-layer network (three problems) the held units ended
#: at ``|u|`` from 1e-16 to 2e-8 and every other unit at ``|u| ≥ 1e-4``. A unit at
#: ``|u| = 5e-4`` is near a kink, smooth there, and must not widen the row space (with 1e-3
#: it did).
AT_KINK_TOL = 1e-6

#: A kink multiplier (scaled by ``‖∇u_j‖ / ‖x − r‖``) counts as of the wrong sign when it is
#: beyond this, plus the first-order residual ``kappa_kinks`` of the point.
SIGN_TOL = 1e-6


@dataclass
class Local:
    """What one forward pass of a Linear/SELU stack tells about the point ``x``.

    ``G[l]`` (m_l, n) is ``∂u_l/∂x`` and ``u[l]`` (m_l,) the pre-activation of layer ``l``;
    ``at[l]`` marks the hidden SELU pre-activations with ``|u| ≤ tol`` (None for the other
    layers).
    """

    G: list[torch.Tensor]
    u: list[torch.Tensor]
    at: list[torch.Tensor | None]
    J: torch.Tensor  # (K, n): the output's Jacobian
    tol: float
    release: tuple | None = None  # (ν (m, 2), wrong (m, 2), Local at AT_KINK_TOL)

    @property
    def kink_index(self) -> list[tuple[int, int]]:
        """``(layer, unit)`` of each pre-activation at a kink, in the order of the rows."""
        return [(i, int(j)) for i, a in enumerate(self.at) if a is not None for j in a.nonzero()]

    @property
    def kink_rows(self) -> torch.Tensor:
        """(m, n): the gradients ``∇ₓu_j`` of the pre-activations at a kink, layer by layer.

        SELU's derivative jumps from ``λα`` to ``λ`` at ``u = 0``, so the preimage bends along
        ``{u_j = 0}``; the one-sided Jacobians there differ by a rank-one term along ``∇u_j``,
        so ``row(J) + span{∇u_j}`` is the row space of a first-order condition at a kink
        (which also needs the signs of :func:`kink_multipliers`).
        """
        rows = [G[a] for G, a in zip(self.G, self.at) if a is not None]
        return torch.cat(rows) if rows else self.G[0].new_zeros(0, self.G[0].shape[1])

    @property
    def kink_values(self) -> torch.Tensor:
        """(m,): their values."""
        vals = [u[a] for u, a in zip(self.u, self.at) if a is not None]
        return torch.cat(vals) if vals else self.u[0].new_zeros(0)


def local(chain, x: torch.Tensor, tol: float, slopes: dict | None = None) -> Local:
    """Forward pass with the pre-activations' gradients (``G_l = W_l D_{l−1} G_{l−1}``).

    ``slopes``: ``{(layer, unit): σ'}`` replaces SELU's slope of those units (one side of a
    kink: ``λ`` for ``u > 0``, ``λα`` for ``u < 0``) in every gradient above them.
    """
    h, A = x.reshape(-1), None  # A = ∂h/∂x (None: the identity)
    Gs, us, ats = [], [], []
    for i, (W, b, selu) in enumerate(chain):
        u = W @ h + b
        G = W if A is None else W @ A  # (m, n)
        Gs.append(G)
        us.append(u)
        ats.append(u.abs() <= tol if selu and i < len(chain) - 1 else None)
        if selu:
            slope = selu_slope(u)
            for j in [j for (layer, j) in (slopes or {}) if layer == i]:
                slope = slope.clone()
                slope[j] = slopes[(i, j)]
            A, h = slope[:, None] * G, torch.selu(u)
        else:
            A, h = G, u
    return Local(Gs, us, ats, A, tol)


def kink_multipliers(chain, x: torch.Tensor, r: torch.Tensor, tol: float = AT_KINK_TOL):
    """The multipliers of the kinks at ``x`` on either side of each, scaled.

    Parameters
    ----------
    chain : list of (W, b, selu_after)
    x, r : Tensor with n elements each
        The point and the reference.
    tol : float
        ``|u| ≤ tol`` counts a hidden pre-activation as at the kink.

    Returns
    -------
    nu : (m, 2) Tensor
        Per kink (in the order of :attr:`Local.kink_rows`): ``ν⁺`` (the unit on its ``u ≥ 0``
        side, slope ``λ``) and ``ν⁻`` (on its ``u ≤ 0`` side, slope ``λα``), each scaled by
        ``‖∇u_j‖ / ‖x − r‖``; the other kinks keep their current side.

    Notes
    -----
    Near a kink ``u_j = 0`` the preimage is the union of two smooth pieces,
    ``{f₊ = t, u_j ≥ 0}`` and ``{f₋ = t, u_j ≤ 0}`` (``f±``: the unit's slope fixed to that
    side's). ``x`` is a local minimum of the distance only if it is one on each piece, and
    the first-order (KKT) condition of each piece,
    ``x − r = J±ᵀλ + Σ_k ν±_k ∇u_k``, needs ``ν⁺_j ≥ 0`` (the bound ``u_j ≥ 0``) and
    ``ν⁻_j ≤ 0`` (``u_j ≤ 0``). ``κ`` with the kink rows (``kappa_kinks``) tests only the
    equation; a wrong sign means the distance falls when the unit leaves the kink to that
    side. The multipliers are the least-squares ones of ``[J±; ∇u_A]``
    (:func:`nnspaces.certificate.multipliers`). Only the pieces that differ from the current
    one in one unit are tested: with several kinks the test is necessary, not sufficient.
    """
    loc = local(chain, x, tol)
    idx, K = loc.kink_index, loc.J.shape[0]
    dn = float(torch.linalg.vector_norm((x - r).reshape(-1))) or 1.0
    nu = loc.J.new_zeros(len(idx), 2)
    for p, key in enumerate(idx):
        for side, slope in enumerate((SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA)):
            one = local(chain, x, tol, {key: slope})
            A = torch.cat([one.J, one.kink_rows])  # (K + m, n)
            mult = certificate.multipliers(A, x, r)
            nu[p, side] = mult[K + p] * torch.linalg.vector_norm(one.kink_rows[p]) / dn
    return nu


def wrong_sign_kinks(nu: torch.Tensor, slack: float = 0.0) -> torch.Tensor:
    """Which kinks fail the sign test: ``ν⁺ < −s`` or ``ν⁻ > s``, ``s = SIGN_TOL + slack``.

    ``nu`` (m, 2) from :func:`kink_multipliers` → (m, 2) bool: the side each kink may be
    released into (``[:, 0]``: ``u > 0``; ``[:, 1]``: ``u < 0``).
    """
    s = SIGN_TOL + slack
    return torch.stack([nu[:, 0] < -s, nu[:, 1] > s], dim=1)


def constraint_hessian(chain, loc: Local, lam, nu=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(G (m', n), w (m',))`` with ``∇²φ = Gᵀ diag(w) G``: the Hessian of
    ``φ(x) = λᵀf(x) + νᵀu_A(x)`` for a Linear/SELU stack, in factored form.

    ``lam`` (K,); ``nu`` (m,), optional: multipliers of the kink pre-activations ``u_A``
    (in the order of :attr:`Local.kink_values`).

    Notes
    -----
    Only SELU is curved: ``∇²φ = Σ_l G_lᵀ diag(β_l ⊙ σ''(u_l)) G_l`` over the SELU layers,
    with ``G_l = ∂u_l/∂x``, ``β_l = ∂φ/∂h_l`` (back-propagated from the output) and
    ``σ''(u) = λα eᵘ`` for ``u < 0``, 0 for ``u > 0``.
    """
    extra, at = {}, 0
    if nu is not None:
        for i, a in enumerate(loc.at):
            if a is not None:
                v = nu.new_zeros(len(a))
                v[a] = nu[at : at + int(a.sum())]
                extra[i], at = v, at + int(a.sum())
    rows, weights = [], []
    grad_h = lam  # ∂φ/∂(output of the top layer)
    for i in range(len(chain) - 1, -1, -1):
        W, _, selu = chain[i]
        u = loc.u[i]
        grad_u = grad_h
        if selu:
            w = grad_h * SELU_LAMBDA * SELU_ALPHA * u.exp() * (u < 0)  # β_l ⊙ σ''(u_l)
            rows.append(loc.G[i][w != 0])
            weights.append(w[w != 0])
            grad_u = grad_h * selu_slope(u)
        if i in extra:
            grad_u = grad_u + extra[i]
        grad_h = W.T @ grad_u  # ∂φ/∂h_{i−1}
    return torch.cat(rows), torch.cat(weights)  # (m', n), (m',)
