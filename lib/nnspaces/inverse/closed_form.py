"""The ``"closed-form"`` method: one ``Linear`` (→ ``SELU``) layer inverted exactly.

:func:`closed_form_inverse` is the paper's formula, the one place it is written; the method
(:func:`solve`) applies it to a batch, or, with a pixel box, starts the box solver
(:func:`~nnspaces.inverse.box_qp.box_qp`) from it and, for a SELU layer's target out of reach,
minimises the output error over the box (:func:`~nnspaces.inverse.box_min.box_min_batch`).
Each result's ``status`` is a key of :data:`TERMINATION_MESSAGES`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import certificate
from ..spaces import LayerSpaces, layer_spaces
from . import box_qp
from .box_min import box_kkt, box_min, box_min_batch, kink_multipliers
from .common import leaf_modules, reject_unused
from .result import CERTIFIED_TOL, InverseResult, build_results, forward_one, mse
from .selu import SELU_ALPHA, SELU_LAMBDA, selu_inverse

_NEAREST_OUTPUT = "{reason}; returned the box point whose output is nearest"
_OUTPUT_ERROR = " of the output error over the box, {how}, KKT residual {kkt:.1e})"

#: Why the closed form returned its image, by status: > 0 a preimage point (1, 2 without
#: the box, 3, 4 inside it), < 0 a target out of reach inside the box, ``reason`` the box
#: solver's message (:data:`~nnspaces.inverse.box_qp.TERMINATION_MESSAGES`).
TERMINATION_MESSAGES = {
    1: "exact preimage point nearest the reference",
    2: "W has rank {rank} < {m}: least-squares point (target may be missed)",
    3: box_qp.TERMINATION_MESSAGES[1],
    4: box_qp.TERMINATION_MESSAGES[2],
    -1: _NEAREST_OUTPUT,  # a Linear layer: the bounded least-squares point
    -2: _NEAREST_OUTPUT + " (a KKT point" + _OUTPUT_ERROR,  # a SELU layer: its output error
    -3: _NEAREST_OUTPUT + " (NOT a KKT point" + _OUTPUT_ERROR,
}


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
    leaves = [m for m in leaf_modules(model) if not isinstance(m, (nn.Flatten, nn.Identity))]
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
    per problem: the nearest point of the preimage inside the box
    (:func:`~nnspaces.inverse.box_qp.box_qp`, started from the closed form); when there is
    none, the box point of least pre-activation error, refined for a SELU layer on the output
    error (:func:`_refine`). ``max_iter`` and ``tol`` are the box solver's.
    """
    reject_unused("closed-form", unused)
    start = time.perf_counter()
    lin, selu = _affine_structure(f)
    sp = layer_spaces(lin.weight)  # (m, n)
    b = None if lin.bias is None else lin.bias.detach()
    B, (m, _) = len(T), sp.shape
    if box is None:
        X = closed_form_inverse(sp, b, T, R.reshape(B, -1), selu).reshape(R.shape)
        runs = [_Run(x, 1 if sp.rank == m else 2, 0, rank=sp.rank, m=m) for x in X]
    else:
        runs = [_boxed(sp, b, selu, t, r, box, max_iter, tol) for t, r in zip(T, R)]
        if selu:
            _refine(sp, b, T, runs, box, max_iter)
        X = [run.x for run in runs]
    histories = [[mse(forward_one(f, r), t), mse(forward_one(f, x), t)] for x, t, r in zip(X, T, R)]
    return build_results(
        f,
        X,
        T,
        R,
        classes,
        method="closed-form",
        start=start,
        iterations=[run.iterations for run in runs],
        messages=[run.message for run in runs],
        statuses=[run.status for run in runs],
        histories=histories,
        feasible=None if box is None else [run.status > 0 for run in runs],
    )


def certify(f, results: list[InverseResult], R: torch.Tensor, box) -> None:
    """The closed form's certificates, in place: ``kappa`` (and ``kkt`` of a reached box
    target) measured against ``W``, and ``proof = "convex"`` where they hold.

    ``R`` (B, *S): the references. The problem ``min ½‖x − r‖²`` over
    ``{x : W x = z} (∩ box)`` is convex, so a point that satisfies its first-order condition
    is the nearest preimage point, globally. The condition is checked on ``W``, which has
    the row space of ``J = diag(σ'(W x + b)) W`` without its slopes (``σ' ≈ 10⁻¹⁴`` for a
    target within 10⁻¹⁴ of SELU's floor drops a row of ``J`` below the rank cutoff), to
    :data:`~nnspaces.inverse.CERTIFIED_TOL` or the round-off bound
    :func:`nnspaces.certificate.kappa_roundoff` (``x`` within round-off of ``r``,
    ``cond(W) = 10¹⁰``), whichever is larger. For a SELU target out of reach in the box,
    ``kkt`` is that of the output error with SELU's kinks counted (a minimum can sit on
    one: :func:`~nnspaces.inverse.box_min.kink_multipliers`).
    """
    lin, selu = _affine_structure(f)
    W = lin.weight.detach().cpu()  # (m, n)
    bias = np.zeros(W.shape[0]) if lin.bias is None else lin.bias.detach().cpu().double().numpy()
    for res, r in zip(results, R.cpu()):
        res.kappa = certificate.kappa(W, res.image, r)
        if box is not None and res.reached:
            res.kkt = certificate.kkt_residual(W, res.image, r, box).residual
        elif box is not None and selu:  # the best approximation: its kinks counted
            x = res.image.reshape(-1).double().numpy()
            phi = selu_objective(bias, res.target.double().numpy())
            W64 = W.double().numpy()
            res.kkt = box_kkt(W64, kink_multipliers(W64, phi, x, *box), x, *box)[0]
        cert = res.kappa if box is None else res.kkt
        tol = max(CERTIFIED_TOL, certificate.kappa_roundoff(W, res.image, r))
        if res.reached and cert <= tol:
            res.proof = "convex"


@dataclass
class _Run:
    """One problem of :func:`solve`: its image so far (*S), status, steps and the fields of
    its message (:data:`TERMINATION_MESSAGES`)."""

    x: torch.Tensor
    status: int
    iterations: int
    reason: str = ""  # the box solver's message
    how: str = ""  # how the output error was minimised (a SELU target out of reach)
    kkt: float = math.nan
    rank: int = 0
    m: int = 0

    @property
    def message(self) -> str:
        fields = {k: getattr(self, k) for k in ("reason", "how", "kkt", "rank", "m")}
        return TERMINATION_MESSAGES[self.status].format(**fields)


def _boxed(sp, b, selu, t, r, box, max_iter, tol) -> _Run:
    """One problem with a box, by :func:`~nnspaces.inverse.box_qp.box_qp`."""
    z = _preactivation(t, b, selu)  # (m,)
    rf = r.reshape(-1)  # (n,)
    x0 = closed_form_inverse(sp, None, z[None], rf[None], selu=False)[0]  # the box ignored
    qp = box_qp.box_qp(
        sp.matrix.numpy(),
        *(a.cpu().double().numpy() for a in (z, rf, x0)),
        *box,
        max_iter=max_iter,
        tol=tol,
        best=not selu,  # a SELU layer's best point is found on the output error (_refine)
    )
    x = torch.as_tensor(qp.x).to(r).reshape(r.shape)
    return _Run(x, {1: 3, 2: 4}.get(qp.status, -1), qp.iterations, reason=qp.message)


def _refine(sp, b, T, runs: list[_Run], box, max_iter) -> None:
    """Unreachable targets of a SELU layer, in place: nearest in pre-activation space is not
    nearest in output space, so each point (the box point :func:`_boxed` proved the target
    out of reach at) is refined on the output error ``½‖selu(W x + b) − t‖²`` over the box by
    :func:`~nnspaces.inverse.box_min.box_min_batch` (all of them at once), to an exact KKT
    point. Where that ends without one (the active set stalls on a SELU kink
    ``W x + b = 0``), :func:`_lbfgsb_restart` takes over; some points it returns are still
    not KKT points (23 of 380 random unreachable problems in ``tests/test_inverse_box.py``'s
    family, where the minimum sits on a kink), and their message says so."""
    out = [i for i, run in enumerate(runs) if run.status < 0]
    if not out:
        return
    W = sp.matrix.numpy()  # (m, n) float64
    bias = np.zeros(W.shape[0]) if b is None else b.cpu().double().numpy()
    phis = [selu_objective(bias, T[i].cpu().double().numpy()) for i in out]
    starts = np.stack([runs[i].x.reshape(-1).cpu().double().numpy() for i in out])
    for i, phi, found in zip(out, phis, box_min_batch(W, phis, starts, *box)):
        x, ok, iters, kkt = found if found[1] else _lbfgsb_restart(W, phi, found, box, max_iter)
        run = runs[i]
        run.x = torch.as_tensor(x).to(run.x).reshape(run.x.shape)
        run.iterations += iters
        run.status, run.kkt = (-2 if ok else -3), kkt
        run.how = "active-set Newton" if found[1] else "L-BFGS-B, then active-set Newton"


def _lbfgsb_restart(W, phi, found, box, max_iter, rounds=8):
    """Where the active set ended without a KKT point: scipy's L-BFGS-B on the output error
    from there (it walks across kinks), then the active set again from its point, in rounds
    from the best point so far until a round lowers the error by no more than round-off
    (L-BFGS-B also stalls on a kink, from where the active set may go on). Returns the best
    point as ``(x, ok, iterations, kkt)``."""
    from scipy.optimize import minimize

    def fg(x):
        val, mu, _, _ = phi(W @ x)
        return val, W.T @ mu

    def error(run):
        return phi(W @ run[0])[0]

    best, iters = found, found[2]
    for _ in range(rounds):
        lb = minimize(
            fg,
            best[0],
            jac=True,
            method="L-BFGS-B",
            bounds=[box] * len(best[0]),
            options={"ftol": 1e-16, "gtol": 1e-14, "maxiter": 50 * max_iter, "maxcor": 30},
        )
        x_lb = np.clip(lb.x, *box)
        again = box_min(W, phi, x_lb, *box)
        iters += int(lb.nit) + again[2]
        before = error(best)
        kkt = box_kkt(W, kink_multipliers(W, phi, x_lb, *box), x_lb, *box)[0]
        best = min([best, again, (x_lb, False, 0, kkt)], key=error)
        if best[1] or error(best) >= before - 1e-14 * abs(before):
            break
    return best[0], best[1], iters, best[3]


def selu_objective(b: np.ndarray, t: np.ndarray):
    """``φ(u) = ½‖selu(u + b) − t‖²`` for :func:`~nnspaces.inverse.box_min.box_min`, with ``b``,
    ``t`` (m,): ``u`` (m,) ↦ ``(φ, ∇φ, h, h_gn)``, the last three (m,); ``φ.interval(u)``
    gives the one-sided derivatives at SELU's kink (the KKT check's subdifferential).

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

    def interval(u, tol=1e-8):
        """The one-sided derivatives ``(lower, upper)`` (m,): at a unit with
        ``|u + b| ≤ tol`` (SELU's kink) between ``λ r`` and ``λα r``, else ``∇φ`` twice."""
        mu = phi(u)[1]
        v = u + b
        r = np.where(np.abs(v) <= tol, -t, mu)  # selu(0) = 0: r = −t at the kink
        a, c = SELU_LAMBDA * r, lam_alpha * r
        kink = np.abs(v) <= tol
        return np.where(kink, np.minimum(a, c), mu), np.where(kink, np.maximum(a, c), mu)

    phi.interval = interval
    return phi
