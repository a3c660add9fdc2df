"""Pre-activations and kinks of a Linear/SELU stack, and the curvature of its Lagrangian.

- :func:`preactivations` — the hidden SELU pre-activations ``u_l`` at a point;
- :func:`kink_gradients` — the gradients of those at SELU's kink (``|u| ≤`` :data:`KINK_TOL`);
- ``_local`` / ``_Local`` — one forward pass with every pre-activation's gradient;
- ``_curvature`` — the Hessian of ``λᵀf + νᵀu_A`` in factored form, for the Newton steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..inverse import SELU_ALPHA, SELU_LAMBDA
from ..inverse.selu import selu_slope

#: A hidden SELU pre-activation with ``|u| ≤ KINK_TOL`` counts as sitting at SELU's kink.
KINK_TOL = 1e-3


def preactivations(chain, x: torch.Tensor) -> list[torch.Tensor]:
    """Pre-activations ``u_l`` (m_l,) of the *hidden* SELU layers of a Linear/SELU stack.

    Parameters
    ----------
    chain : list of (W (m, n), b (m,), selu_after)
        :func:`nnspaces.inverse.gauss_newton._selu_chain` of the network.
    x : Tensor with n elements

    Returns
    -------
    us : list of Tensor
        One per SELU layer that another Linear layer follows. A SELU that ends the network is
        left out: its pre-activations are ``σ⁻¹(t)``, fixed by the target, and do not bend the
        preimage.
    """
    h, us = x.reshape(-1), []
    for i, (W, b, selu) in enumerate(chain):
        u = W @ h + b
        if selu and i < len(chain) - 1:
            us.append(u)
        h = torch.selu(u) if selu else u
    return us


def kink_gradients(chain, x: torch.Tensor, tol: float = KINK_TOL) -> torch.Tensor:
    """Gradients ``∇ₓu_j`` of the hidden SELU pre-activations with ``|u_j| ≤ tol``.

    Parameters
    ----------
    chain : list of (W, b, selu_after)
    x : Tensor with n elements
    tol : float

    Returns
    -------
    G : (m, n) Tensor
        One row per pre-activation at the kink (``m`` may be 0).

    Notes
    -----
    SELU's derivative jumps from ``λα`` to ``λ`` at ``u = 0``, so the preimage bends along
    ``{u_j = 0}``. The one-sided Jacobians there differ by a rank-one term along ``∇u_j``,
    so ``row(J) + span{∇u_j}`` is the same from either side: the natural row space of a
    first-order condition at a kink. ``∇u_j`` is row ``j`` of
    ``W_l D_{l−1} W_{l−1} ⋯ D_1 W_1`` (the layers below ``u``).
    """
    return _local(chain, x, tol).kink_rows


@dataclass
class _Local:
    """What one forward pass of a Linear/SELU stack tells about the point ``x``.

    ``G[l]`` (m_l, n) is ``∂u_l/∂x`` and ``u[l]`` (m_l,) the pre-activation of layer ``l``;
    ``at[l]`` marks the hidden SELU pre-activations with ``|u| ≤ tol`` (None for the other
    layers).
    """

    G: list[torch.Tensor]
    u: list[torch.Tensor]
    at: list[torch.Tensor | None]

    @property
    def kink_rows(self) -> torch.Tensor:
        """(m, n): the gradients of the pre-activations at a kink, layer by layer."""
        rows = [G[a] for G, a in zip(self.G, self.at) if a is not None]
        return torch.cat(rows) if rows else self.G[0].new_zeros(0, self.G[0].shape[1])

    @property
    def kink_values(self) -> torch.Tensor:
        """(m,): their values."""
        vals = [u[a] for u, a in zip(self.u, self.at) if a is not None]
        return torch.cat(vals) if vals else self.u[0].new_zeros(0)


def _local(chain, x: torch.Tensor, tol: float) -> _Local:
    """Forward pass with the pre-activations' gradients (``G_l = W_l D_{l−1} G_{l−1}``)."""
    h, A = x.reshape(-1), None  # A = ∂h/∂x (None: the identity)
    Gs, us, ats = [], [], []
    for i, (W, b, selu) in enumerate(chain):
        u = W @ h + b
        G = W if A is None else W @ A  # (m, n)
        Gs.append(G)
        us.append(u)
        ats.append(u.abs() <= tol if selu and i < len(chain) - 1 else None)
        if selu:
            A, h = selu_slope(u)[:, None] * G, torch.selu(u)
        else:
            A, h = G, u
    return _Local(Gs, us, ats)


def _curvature(chain, loc: _Local, lam, nu=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(G (m', n), w (m',))`` with ``∇²φ = Gᵀ diag(w) G``: the Hessian of
    ``φ(x) = λᵀf(x) + νᵀu_A(x)`` for a Linear/SELU stack, in factored form.

    ``lam`` (K,); ``nu`` (m,), optional: multipliers of the kink pre-activations ``u_A``
    (in the order of :attr:`_Local.kink_values`).

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
