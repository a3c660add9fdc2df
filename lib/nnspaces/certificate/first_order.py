"""First-order certificates: how far ``x − r`` is from the row space of the Jacobian ``J``
(:func:`kappa`, :func:`kappas`), its round-off floor (:func:`kappa_roundoff`), and the pieces
they are built from (:func:`row_basis`, :func:`null_component`, :func:`multipliers`)."""

from __future__ import annotations

import math

import torch

from ..spaces import rank_cutoff
from .common import as_tensor, check_jacobian, flat


def row_basis(J, extra=None) -> torch.Tensor:
    """Orthonormal basis of ``row(J)`` (plus the rows of ``extra``).

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    extra : (m, n) Tensor or ndarray, optional
        Further directions to include, e.g. the gradients of pre-activations that sit at a
        kink of SELU (:attr:`nnspaces.nearest.kinks.Local.kink_rows`).

    Returns
    -------
    V : (k, n) Tensor
        ``k`` = numerical rank of ``[J; extra]`` (:func:`rank_cutoff`); ``Vᵀ V = J⁺J``.
    """
    J = check_jacobian(J)
    if extra is not None:
        E = as_tensor(extra, like=J).reshape(-1, J.shape[1])  # (m, n)
        J = torch.cat([J, E])
    _, S, Vh = torch.linalg.svd(J, full_matrices=False)
    return Vh[S > rank_cutoff(S, tuple(J.shape))]


def null_component(J, v, extra=None) -> torch.Tensor:
    """``(I − J⁺J) v``: the component of ``v`` orthogonal to the row space of ``J``.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    v : Tensor or ndarray with n elements (any shape)
    extra : (m, n), optional
        As in :func:`row_basis`.

    Returns
    -------
    w : Tensor, shape of ``v``, dtype of ``J``
    """
    J = check_jacobian(J)
    shape = torch.as_tensor(v).shape
    vf = flat(v, J, "v")
    V = row_basis(J, extra)  # (k, n)
    return (vf - V.T @ (V @ vf)).reshape(shape)


def multipliers(J, x, r) -> torch.Tensor:
    """Least-squares Lagrange multipliers ``λ = (Jᵀ)⁺(x − r)`` (K,) of the equality.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
    x, r : Tensor or ndarray with n elements each

    Returns
    -------
    lam : (K,) Tensor
        The ``λ`` for which ``‖x − r − Jᵀλ‖`` is least (minimum norm; cutoff
        :func:`rank_cutoff`); at a point with ``κ = 0``, ``x − r = Jᵀλ`` exactly.
    """
    J = check_jacobian(J)
    g = flat(x, J, "x") - flat(r, J, "r")
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    keep = S > rank_cutoff(S, tuple(J.shape))
    return U[:, keep] @ ((Vh[keep] @ g) / S[keep])


def kappa(J, x, r, extra=None) -> float:
    """How far ``x − r`` is from the row space of ``J``: the first-order certificate.

    Parameters
    ----------
    J : (K, n) Tensor or ndarray
        The Jacobian ``∂f/∂x`` at ``x``.
    x, r : Tensor or ndarray with n elements each (any shape, e.g. (1, 28, 28))
        A preimage point and the reference.
    extra : (m, n), optional
        Directions added to the row space (see :func:`row_basis`): ``κ`` of ``[J; extra]``.

    Returns
    -------
    kappa : float in [0, 1]
        ``‖(I − J⁺J)(x − r)‖ / ‖x − r‖``; ``0.0`` when ``x == r`` (the reference is itself a
        preimage, trivially the nearest: the condition holds with multipliers 0).

    Notes
    -----
    At a preimage ``x`` nearest ``r`` where ``f`` is differentiable, the Lagrange condition of
    ``min ½‖x − r‖² s.t. f(x) = t`` reads ``x − r = Jᵀλ``, i.e. ``(I − J⁺J)(x − r) = 0``, so
    ``κ = 0``; ``κ = 1`` when ``x − r ⟂ row(J)`` (a step along the preimage straight towards
    ``r`` is then possible). ``κ = 0`` is necessary, not sufficient: it also holds at the
    farthest and at saddle points. ``J⁺J = VᵀV`` with ``V`` the right singular vectors whose
    singular values exceed :func:`rank_cutoff`. For a one-layer network
    ``f(x) = σ(Wx + b)``, ``J = diag(σ'(Wx + b)) W`` has the row space of ``W``, and the
    closed form ``x* = r + W⁺(σ⁻¹(t) − b − W r)`` has ``κ = 0``.

    Examples
    --------
    >>> J = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    >>> kappa(J, torch.tensor([2.0, 0.0, 0.0]), torch.zeros(3))
    0.0
    >>> kappa(J, torch.tensor([0.0, 3.0, 4.0]), torch.zeros(3))
    1.0
    """
    J = check_jacobian(J)
    d = flat(x, J, "x") - flat(r, J, "r")  # (n,)
    dn = float(torch.linalg.vector_norm(d))
    if dn == 0.0:
        return 0.0
    V = row_basis(J, extra)
    w = d - V.T @ (V @ d)
    return min(1.0, float(torch.linalg.vector_norm(w)) / dn)


def kappas(J, X, R) -> list[float]:
    """:func:`kappa` of a batch: one SVD call for every Jacobian.

    Parameters
    ----------
    J : (B, K, n) Tensor or ndarray
        The Jacobians ``∂f/∂x`` at each point.
    X, R : Tensor or ndarray with B · n elements each (e.g. (B, 1, 28, 28))
        The points and their references.

    Returns
    -------
    list of float
        ``κ`` of each point: what :func:`kappa` gives for ``(J[b], X[b], R[b])``, with the
        same cutoff :func:`rank_cutoff` per matrix.
    """
    J = as_tensor(J)
    if J.ndim != 3:
        raise ValueError(f"J must be a (B, K, n) stack of Jacobians, got shape {tuple(J.shape)}")
    B, K, n = J.shape
    if not torch.isfinite(J).all():
        raise ValueError(f"J holds {int((~torch.isfinite(J)).sum())} NaN or inf value(s)")
    D = torch.stack([flat(x, J[0], "x") - flat(r, J[0], "r") for x, r in zip(X, R)])  # (B, n)
    if len(D) != B:
        raise ValueError(f"{len(D)} points for {B} Jacobians")
    _, S, Vh = torch.linalg.svd(J, full_matrices=False)  # (B, k), (B, k, n)
    keep = torch.stack([S[b] > rank_cutoff(S[b], (K, n)) for b in range(B)]).to(J.dtype)
    coef = torch.einsum("bkn,bn->bk", Vh, D) * keep  # coordinates in each kept row basis
    W = D - torch.einsum("bkn,bk->bn", Vh, coef)
    dn, wn = torch.linalg.vector_norm(D, dim=1), torch.linalg.vector_norm(W, dim=1)
    return [0.0 if float(d) == 0.0 else min(1.0, float(w) / float(d)) for d, w in zip(dn, wn)]


def kappa_roundoff(W, x, r) -> float:
    """The ``κ`` that round-off alone gives a point computed exactly from ``W``'s SVD.

    Parameters
    ----------
    W : (m, n) Tensor or ndarray
        The matrix whose row space ``κ`` is measured against (a layer's weight).
    x, r : Tensor or ndarray with n elements each

    Returns
    -------
    bound : float
        ``10 ε (cond(W) + √n (‖x‖ + ‖r‖) / ‖x − r‖)``, ``ε`` the dtype's machine epsilon,
        ``cond(W)`` the ratio of the largest to the smallest singular value above
        :func:`rank_cutoff`; ``inf`` when ``x == r``.

    Notes
    -----
    Two round-off errors make the computed null component of ``x − r`` nonzero at an exact
    point: the computed row space is tilted by up to ``ε cond(W)`` (Wedin's ``sin θ``
    theorem), which leaves that share of ``‖x − r‖`` in the null space; and ``x − r`` and its
    projection are formed from ``x`` and ``r`` with absolute errors of ``ε √n (‖x‖ + ‖r‖)``,
    which dominate when ``x`` is within round-off of ``r``. The factor 10 is a margin: a
    ``κ`` above the bound is not round-off.

    References
    ----------
    .. [1] P.-Å. Wedin, "Perturbation bounds in connection with singular value
       decomposition", BIT 12 (1972), pp. 99–111.
    """
    W = check_jacobian(W)
    xf, rf = flat(x, W, "x"), flat(r, W, "r")
    d = float(torch.linalg.vector_norm(xf - rf))
    if d == 0.0:
        return math.inf
    S = torch.linalg.svdvals(W)
    S = S[S > rank_cutoff(S, tuple(W.shape))]
    cond = float(S[0] / S[-1]) if len(S) else 1.0
    size = float(torch.linalg.vector_norm(xf)) + float(torch.linalg.vector_norm(rf))
    eps = torch.finfo(W.dtype).eps
    return 10 * eps * (cond + math.sqrt(W.shape[1]) * size / d)
