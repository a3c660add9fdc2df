"""The linear algebra of the inverse methods: network Jacobians and the minimum-norm step.

- :func:`min_norm_step` — ``J⁺ res`` by SVD, with the library's rank cutoff;
- :func:`selu_chain` — a Linear/SELU stack as ``[(W, b, selu_after), …]``, or None;
- :func:`chain_jacobian` — output and Jacobian of such a stack in closed form;
- :func:`jacobian` — outputs and Jacobians of any network from one autograd pass;
- :func:`outputs_and_jacobians` — the closed form where it applies, else autograd;
- :func:`jacobians` — the Jacobians of a batch, in chunks.

Gauss–Newton (:mod:`~nnspaces.inverse.gauss_newton`), the certificates of
:mod:`~nnspaces.inverse.api` and :mod:`nnspaces.nearest` share them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spaces import rank_cutoff
from .common import leaf_modules
from .selu import selu_slope


def min_norm_step(J: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
    """``J⁺ res``, the minimum-norm least-squares step, by SVD in ``J``'s dtype.

    ``J`` (K, n), ``res`` (K,) → (n,); singular values at or below
    :func:`nnspaces.spaces.rank_cutoff` count as zero.
    """
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    keep = S > rank_cutoff(S, tuple(J.shape))
    return Vh[keep].T @ ((U[:, keep].T @ res) / S[keep])


def selu_chain(f: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor, bool]] | None:
    """``[(W, b, selu_after), …]`` if ``f`` is a stack of Flatten / Linear / SELU, else None.

    Only ``nn.Sequential`` containers (nested or not) qualify: their leaves run in module order.
    """
    if not isinstance(f, nn.Sequential):
        return None
    if any(not isinstance(m, nn.Sequential) for m in f.modules() if next(m.children(), None)):
        return None
    chain: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
    for m in leaf_modules(f):
        if isinstance(m, (nn.Flatten, nn.Identity)):
            if isinstance(m, nn.Flatten) and chain:
                return None  # a Flatten after a Linear: not a plain stack
        elif isinstance(m, nn.Linear):
            b = m.bias if m.bias is not None else m.weight.new_zeros(m.out_features)
            chain.append((m.weight.detach(), b.detach(), False))
        elif isinstance(m, nn.SELU) and chain and not chain[-1][2]:
            W, b, _ = chain[-1]
            chain[-1] = (W, b, True)
        else:
            return None
    return chain or None


def chain_jacobian(chain, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(x) (K,), J (K, n))`` of a Linear/SELU stack, in closed form.

    Notes
    -----
    ``J = W_L D_{L−1} W_{L−1} ⋯ D_1 W_1`` with ``D_l = diag(σ'(u_l))``, ``u_l`` the
    pre-activations and ``σ'(u) = λ`` for ``u > 0``, ``λα eᵘ`` otherwise; the product is taken
    from the output side, so every factor has only K rows.
    """
    h = x.reshape(-1)  # (n,)
    slopes = []
    for W, b, selu in chain:
        u = W @ h + b
        slopes.append(selu_slope(u) if selu else None)
        h = torch.selu(u) if selu else u
    J = None
    for (W, _, _), slope in zip(reversed(chain), reversed(slopes)):
        if slope is not None:
            J = torch.diag(slope) if J is None else J * slope  # (K, m_l): columns scaled
        J = W if J is None else J @ W  # (K, n_l)
    return h, J


def jacobian(f: nn.Module, X: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(X) (B, K), J (B, K, n))`` for a batch ``X`` (B, *S), from one forward and one
    backward pass over ``B · K`` copies.

    Output ``k`` of copy ``k`` of ``x_b``: the gradient of ``Σ_{b,k} f(x_{b,k})[k]`` w.r.t.
    copy ``(b, k)`` is row ``k`` of ``J_b`` (images in a batch are independent in eval mode).
    """
    B = len(X)
    xb = X.detach().repeat_interleave(K, dim=0).requires_grad_(True)  # (B·K, *S)
    with torch.enable_grad():
        out = f(xb).reshape(B, K, -1)  # (B, K copies, K outputs)
        (g,) = torch.autograd.grad(out.diagonal(dim1=1, dim2=2).sum(), xb)
    return out[:, 0].detach(), g.reshape(B, K, -1)


def outputs_and_jacobians(f, chain, X: torch.Tensor, K: int):
    """``(f(X) (B, K), J (B, K, n))``: closed form when ``chain`` (:func:`selu_chain`) is
    given, else autograd."""
    if chain is not None:
        out, J = zip(*(chain_jacobian(chain, x) for x in X))
        return torch.stack(out), torch.stack(J)
    return jacobian(f, X, K)


def jacobians(f: nn.Module, X: torch.Tensor, K: int, chunk: int = 64) -> torch.Tensor:
    """``J`` (B, K, n) at each image of ``X`` (B, *S), in chunks of ``chunk`` images."""
    chain = selu_chain(f)
    parts = [
        outputs_and_jacobians(f, chain, X[i : i + chunk], K)[1] for i in range(0, len(X), chunk)
    ]
    return torch.cat(parts)
