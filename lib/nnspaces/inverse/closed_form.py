"""The ``"closed-form"`` method: one ``Linear`` (→ ``SELU``) layer inverted exactly.

:func:`closed_form_inverse` is the paper's formula, the one place it is written; the method
(:func:`solve`) applies it to a batch, or, with a pixel box, starts the box solver
(:mod:`nnspaces.inverse.box`) from it.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..spaces import LayerSpaces, layer_spaces
from .box import _box_min_batch, _box_qp
from .common import _leaf_modules, _reject_unused
from .gauss_newton import solve as gauss_newton
from .result import InverseResult, _build_results, _forward1, _mse
from .selu import SELU_ALPHA, SELU_LAMBDA, selu_inverse


def closed_form_inverse(
    W: torch.Tensor | LayerSpaces,
    b: torch.Tensor | None,
    T: torch.Tensor,
    R: torch.Tensor,
    selu: bool = True,
) -> torch.Tensor:
    """The input nearest each reference that gives each target through ``σ(W x + b)``.

    Parameters
    ----------
    W : (m, n) Tensor, or its :class:`~nnspaces.spaces.LayerSpaces`
        The layer's weight (pass the spaces when the caller needs the rank too: one SVD).
    b : (m,) Tensor or None
        The bias; None for none.
    T : (B, m) Tensor
        Target outputs, in SELU's range ``(−λα, ∞)`` when ``selu``.
    R : (B, n) Tensor
        References, one per target.
    selu : bool
        Whether the layer ends in SELU (``σ``); else ``σ`` is the identity.

    Returns
    -------
    X : (B, n) Tensor
        In ``R``'s dtype and on its device.

    Raises
    ------
    ValueError
        Shapes that do not fit ``W``; targets at or below SELU's floor (:func:`selu_inverse`).

    Notes
    -----
    With ``z = σ⁻¹(t) − b`` the inputs that give ``t`` are ``{x : W x = z} = x_p + N(W)``;
    the member nearest ``r`` is

        ``x* = r + W⁺(z − W r) = r + V_k Σ_k⁻¹ U_kᵀ (z − W r)``,

    with ``W = U Σ Vᵀ`` and ``k = rank(W)`` (:func:`nnspaces.spaces.layer_spaces`, in float64;
    rank cutoff :func:`nnspaces.spaces.rank_cutoff`): the row space is fixed by the target,
    the null space taken from the reference. When ``k < m`` it is the least-squares point
    nearest ``r`` and may miss the target.

    References
    ----------
    .. [1] R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image
       Analysis using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73–76,
       arXiv:2402.00261.

    Examples
    --------
    >>> W = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    >>> b = torch.tensor([0.5], dtype=torch.float64)
    >>> T = torch.tensor([[2.0]], dtype=torch.float64)  # one target
    >>> R = torch.tensor([[0.0, 0.0, 5.0]], dtype=torch.float64)  # its reference
    >>> X = closed_form_inverse(W, b, T, R)  # x1 + x2 = σ⁻¹(2) − 0.5; x3 kept from r
    >>> torch.allclose(torch.selu(X @ W.T + b), T), X[0, 2].item()
    (True, 5.0)
    """
    sp = W if isinstance(W, LayerSpaces) else layer_spaces(W)
    T, R = torch.as_tensor(T), torch.as_tensor(R)
    m, n = sp.shape
    if T.ndim != 2 or R.ndim != 2 or len(T) != len(R) or T.shape[1] != m or R.shape[1] != n:
        raise ValueError(
            f"closed_form_inverse: W is ({m}, {n}), so T must be (B, {m}) and R (B, {n}); "
            f"got T {tuple(T.shape)} and R {tuple(R.shape)}"
        )
    k = sp.rank
    U_k, S_k, V_k = (a.to(R) for a in (sp.U[:, :k], sp.S[:k], sp.Vh[:k].T))  # (m,k) (k,) (n,k)
    Z = _preactivation(T.to(R), None if b is None else b.to(R), selu)  # (B, m)
    return R + ((Z - R @ sp.matrix.to(R).T) @ U_k / S_k) @ V_k.T  # (B, n)


def _preactivation(T: torch.Tensor, b: torch.Tensor | None, selu: bool) -> torch.Tensor:
    """``z = σ⁻¹(t) − b`` (``t − b`` without SELU): what ``W x`` must equal."""
    Z = selu_inverse(T) if selu else T
    return Z if b is None else Z - b


def _affine_structure(model: nn.Module) -> tuple[nn.Linear, bool] | None:
    """``(linear, has_selu)`` if ``model`` is [Flatten] → Linear [→ SELU], else ``None``."""
    leaves = [m for m in _leaf_modules(model) if not isinstance(m, (nn.Flatten, nn.Identity))]
    if isinstance(model, nn.Linear):
        return model, False
    if not isinstance(model, nn.Sequential):
        return None
    if len(leaves) == 1 and isinstance(leaves[0], nn.Linear):
        return leaves[0], False
    if len(leaves) == 2 and isinstance(leaves[0], nn.Linear) and isinstance(leaves[1], nn.SELU):
        return leaves[0], True
    return None


def supports_closed_form(model: nn.Module) -> bool:
    """Whether ``model`` is one ``Linear`` layer, optionally followed by ``SELU``
    (optionally preceded by ``Flatten``) — the structure ``"closed-form"`` inverts."""
    return _affine_structure(model) is not None


def solve(f, T, R, box, *, classes, max_iter=100, tol=1e-12, **unused) -> list[InverseResult]:
    """The ``"closed-form"`` method for a batch: ``T`` (B, K) targets, ``R`` (B, *S) references.

    Without a box, one SVD and :func:`closed_form_inverse` for the whole batch. With a box,
    per problem: the nearest point of the preimage inside the box (:func:`_box_qp`, started
    from the closed form); when there is none, the box point of least pre-activation error,
    refined for a SELU layer by box Gauss–Newton on the output error. ``max_iter`` and ``tol``
    are the box solver's.
    """
    _reject_unused("closed-form", unused)
    start = time.perf_counter()
    lin, selu = _affine_structure(f)
    sp = layer_spaces(lin.weight)  # (m, n)
    b = None if lin.bias is None else lin.bias.detach()
    B, (m, _) = len(T), sp.shape
    if box is None:
        X = closed_form_inverse(sp, b, T, R.reshape(B, -1), selu).reshape(R.shape)
        msg = "exact preimage point nearest the reference"
        if sp.rank < m:
            msg = f"W has rank {sp.rank} < {m}: least-squares point (target may be missed)"
        iterations, messages, feasible = [0] * B, [msg] * B, None
    else:
        runs = [_boxed(sp, b, selu, t, r, box, max_iter, tol) for t, r in zip(T, R)]
        X, iterations, messages, feasible = (list(v) for v in zip(*runs))
        if selu:
            _refine(f, sp, b, T, X, iterations, messages, feasible, box, max_iter)
    histories = [[_mse(_forward1(f, r), t), _mse(_forward1(f, x), t)] for x, t, r in zip(X, T, R)]
    return _build_results(
        f,
        X,
        T,
        R,
        classes,
        method="closed-form",
        start=start,
        iterations=iterations,
        messages=messages,
        histories=histories,
        feasible=feasible,
    )


def _boxed(sp, b, selu, t, r, box, max_iter, tol):
    """One problem with a box: ``(x (*S), iterations, message, feasible)``."""
    z = _preactivation(t, b, selu)  # (m,)
    rf = r.reshape(-1)  # (n,)
    x0 = closed_form_inverse(sp, None, z[None], rf[None], selu=False)[0]  # the box ignored
    x, feasible, iters, msg = _box_qp(
        sp.matrix.numpy(),
        *(a.cpu().double().numpy() for a in (z, rf, x0)),
        *box,
        max_iter=max_iter,
        tol=tol,
        best=not selu,  # a SELU layer's best point is found on the output error (_refine)
    )
    if not feasible and not selu:
        msg += "; returned the box point whose output is nearest"
    return torch.as_tensor(x).to(r).reshape(r.shape), iters, msg, feasible


def _refine(f, sp, b, T, X, iterations, messages, feasible, box, max_iter):
    """Unreachable targets of a SELU layer, in place: nearest in pre-activation space is not
    nearest in output space, so each point (the box point :func:`_boxed` proved the target
    out of reach at) is refined on the output error ``½‖selu(W x + b) − t‖²`` over the box by
    :func:`~nnspaces.inverse.box._box_min_batch` (all of them at once), to an exact KKT point; those where it fails
    (never seen) by box Gauss–Newton, all of them in one batch."""
    out = [i for i, ok in enumerate(feasible) if not ok]
    if not out:
        return
    W = sp.matrix.numpy()  # (m, n) float64
    bias = np.zeros(W.shape[0]) if b is None else b.cpu().double().numpy()
    found = _box_min_batch(
        W,
        [_selu_objective(bias, T[i].cpu().double().numpy()) for i in out],
        np.stack([X[i].reshape(-1).cpu().double().numpy() for i in out]),
        *box,
    )
    failed = []
    for i, (x, ok, iters, kkt) in zip(out, found):
        if not ok:
            failed.append(i)
            continue
        X[i] = torch.as_tensor(x).to(X[i]).reshape(X[i].shape)
        iterations[i] += iters
        messages[i] += (
            "; returned the box point whose output is nearest (a KKT point of the output "
            f"error over the box, active-set Newton, KKT residual {kkt:.1e})"
        )
    if not failed:
        return
    gn = gauss_newton(
        f,
        T[failed],
        torch.stack([X[i] for i in failed]),
        box,
        classes=[None] * len(failed),
        max_iter=max_iter,
    )
    for i, res in zip(failed, gn):
        X[i], iterations[i] = res.image.to(X[i]), iterations[i] + res.iterations
        messages[i] += (
            "; returned the box point whose output is nearest (refined by Gauss–Newton: the "
            "active-set Newton ended without a KKT point)"
        )


def _selu_objective(b: np.ndarray, t: np.ndarray):
    """``φ(u) = ½‖selu(u + b) − t‖²`` for :func:`~nnspaces.inverse.box._box_min`, with ``b``,
    ``t`` (m,): ``u`` (m,) ↦ ``(φ, ∇φ, h, h_gn)``, the last three (m,).

    With ``s = selu(u + b)`` and ``r = s − t``: ``∇φ = s' r``, the Hessian diagonal
    ``h = s'² + r s''`` (``s'' = s'`` below 0, else 0) and Gauss–Newton's ``h_gn = s'² > 0``.
    """
    lam_alpha = SELU_LAMBDA * SELU_ALPHA

    def phi(u):
        v = u + b
        neg = v <= 0
        e = np.exp(np.minimum(v, 0.0))
        s = np.where(neg, lam_alpha * np.expm1(np.minimum(v, 0.0)), SELU_LAMBDA * v)
        ds = np.where(neg, lam_alpha * e, SELU_LAMBDA)
        r = s - t
        gn = ds * ds
        return 0.5 * float(r @ r), ds * r, gn + np.where(neg, r * ds, 0.0), gn

    return phi
