"""Inverse maps: input images that give chosen network outputs.

A layer ``y = σ(W x + b)`` with SELU ``σ`` is invertible on its range, and the inputs that
give ``y`` form an affine subspace. This module computes members of that set exactly
(``"closed-form"`` for one layer, ``"gauss-newton"`` for any differentiable network),
approximately (``"gradient"``: Adam / SGD on the output error) and as the released code
of the paper did (``"paper-sgd"``), with or without the pixel box ``[0, 1]``.

Public API
----------
- :data:`SELU_LAMBDA`, :data:`SELU_ALPHA`, :data:`SELU_FLOOR` — torch's SELU constants and
  ``−λα``; :data:`METHODS`, :data:`TARGET_KINDS`, :data:`START_KINDS` — the allowed names;
  :data:`REACHED_TOL` — the relative error that counts as reaching a target (1e-6).
- :func:`selu_inverse` — ``σ⁻¹`` on SELU's range ``(−λα, ∞)``.
- :func:`class_targets` — the (K, K) target outputs of the paper and two variants.
- :func:`start_image` — the paper's starting images (avg, min, avg-min, noise).
- :func:`invert` — one target, one reference → :class:`InverseResult`.
- :func:`invert_classes` — one target and one reference per class (vectorised closed form).
- :func:`evaluate` — score a given image against a target (the ``"none"`` method).
- :func:`supports_closed_form`, :func:`frozen` — helpers.

References
----------
R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image Analysis
using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73–76, arXiv:2402.00261.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import certificate
from .models import device_of
from .outputs import cached_outputs, collect_outputs

#: SELU's scale λ, exactly the constant torch.nn.SELU uses.
SELU_LAMBDA = 1.0507009873554804934193349852946
#: SELU's α, exactly the constant torch.nn.SELU uses.
SELU_ALPHA = 1.6732632423543772848170429916717
#: SELU's floor −λα: SELU maps ℝ onto (−λα, ∞).
SELU_FLOOR = -SELU_LAMBDA * SELU_ALPHA

METHODS = ("closed-form", "gauss-newton", "gradient", "paper-sgd", "none")
TARGET_KINDS = ("minmax", "percentile", "class-mean", "minmax-per-output", "percentile-per-output")
START_KINDS = ("avg", "min", "avg-min", "noise")

#: Relative output error at or below which a target counts as reached (``feasible``).
REACHED_TOL = 1e-6

#: A reached result whose first-order certificate (``kappa``, or ``kkt`` with a box) is at or
#: below this is a certified stationary point of the distance to the reference on the preimage
#: (``InverseResult.certified``); only such results are called "nearest" in the book.
CERTIFIED_TOL = 1e-6

# Paper-sgd: the released "+training" procedure (NOTES §2; TrainerHelper.find_invertable_input).
PAPER_SGD_LR = 1e-4
PAPER_SGD_STEPS = 100
PAPER_SGD_MOMENTUM = 0.0  # torch.optim.SGD([z], lr=0.0001): momentum left at its default 0


# --------------------------------------------------------------------------------------
# SELU inverse
# --------------------------------------------------------------------------------------


def selu_inverse(a: torch.Tensor) -> torch.Tensor:
    """Invert SELU elementwise.

    Parameters
    ----------
    a : Tensor, any shape
        Values in SELU's range ``(−λα, ∞)``, ``λα ≈ 1.7581``.

    Returns
    -------
    u : Tensor, same shape and dtype as ``a``
        ``selu(u) == a``.

    Raises
    ------
    ValueError
        If ``a`` holds NaN or ±inf, or values at or below the floor ``−λα`` (no input reaches
        them); the message says how many and the smallest.

    Notes
    -----
    ``σ⁻¹(a) = a / λ`` for ``a > 0`` and ``log(1 + a / (λα))`` for ``a ≤ 0``.

    Examples
    --------
    >>> u = torch.tensor([-3.0, 0.0, 2.0], dtype=torch.float64)
    >>> torch.allclose(selu_inverse(torch.selu(u)), u)
    True
    """
    a = torch.as_tensor(a)
    if not torch.is_floating_point(a):
        a = a.to(torch.get_default_dtype())
    bad = ~torch.isfinite(a)
    if bad.any():
        raise ValueError(f"selu_inverse: {int(bad.sum())} value(s) are NaN or inf")
    below = a <= SELU_FLOOR
    if below.any():
        raise ValueError(
            f"selu_inverse: {int(below.sum())} value(s) at or below SELU's floor "
            f"-λα = {SELU_FLOOR:.6f} (smallest {float(a.min()):.6g}); no input reaches them"
        )
    neg = torch.log1p(torch.clamp(a, max=0.0) / (SELU_LAMBDA * SELU_ALPHA))
    return torch.where(a > 0, a / SELU_LAMBDA, neg)


# --------------------------------------------------------------------------------------
# Targets and starting images (NOTES §2)
# --------------------------------------------------------------------------------------


def class_targets(
    model: nn.Module | None,
    X: torch.Tensor | None,
    y: torch.Tensor | None,
    kind: str = "minmax",
    Z: torch.Tensor | None = None,
) -> torch.Tensor:
    """Target outputs, one per class, from the network's outputs over the data.

    Parameters
    ----------
    model : torch.nn.Module or None
        Maps ``(N, 1, 28, 28)`` to ``(N, K)``. Not used when ``Z`` is given.
    X : (N, 1, 28, 28) Tensor or None
        Images (all training images for the paper's targets). Not used when ``Z`` is given.
    y : (N,) Tensor or None
        Labels; needed for ``"class-mean"`` only.
    kind : str
        - ``"minmax"`` (the paper's, as its released code builds it): for class ``c`` every
          entry is the minimum over the data of output ``c``, except entry ``c``, its maximum:
          ``T[c, c] = max_n Z[n, c]``, ``T[c, j] = min_n Z[n, c]`` (``j ≠ c``).
        - ``"percentile"``: the same with the 75th / 25th percentiles of output ``c``
          (the released code's variant).
        - ``"class-mean"``: ``T[c] = mean of Z[n] over the images of class c`` — the
          average output of real images of class c.
        - ``"minmax-per-output"`` / ``"percentile-per-output"`` (this book's variants, not the
          authors'): every off-class entry at the minimum (25th percentile) of *its own*
          output, ``T[c, j] = min_n Z[n, j]``.
    Z : (N, K) Tensor, optional
        Precomputed outputs ``model(X)`` (e.g. from :func:`nnspaces.outputs.collect_outputs`).

    Returns
    -------
    T : (K, K) Tensor
        Row ``c`` is the target output for class ``c``; dtype of the outputs, on the CPU.

    Notes
    -----
    Percentiles use linear interpolation (``torch.quantile``, as ``np.percentile``).
    """
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target kind {kind!r}: choose one of {', '.join(TARGET_KINDS)}")
    if Z is None:
        if model is None or X is None:
            raise ValueError("class_targets needs either Z (precomputed outputs) or model and X")
        Z = cached_outputs(model, X)
    Z = Z.detach().cpu()
    if Z.ndim != 2 or len(Z) == 0:
        raise ValueError(f"outputs Z must be a non-empty (N, K) matrix, got {tuple(Z.shape)}")
    if not torch.isfinite(Z).all():
        raise ValueError("the network's outputs hold NaN or inf: no targets can be built")
    K = Z.shape[1]
    if kind == "class-mean":
        if y is None:
            raise ValueError("class_targets(kind='class-mean') needs the labels y")
        y = torch.as_tensor(y).cpu()
        counts = torch.bincount(y, minlength=K)[:K]
        if (counts == 0).any():
            empty = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"class-mean targets: no images of class(es) {empty}")
        return torch.stack([Z[y == c].mean(0) for c in range(K)])
    if kind.startswith("minmax"):
        hi, lo = Z.max(0).values, Z.min(0).values
    else:
        q = torch.tensor([0.75, 0.25], dtype=Z.dtype)
        hi, lo = torch.quantile(Z, q, dim=0)  # (K,), (K,)
    if kind.endswith("per-output"):
        T = lo[None, :].expand(K, K).clone()  # column j: min of output j
    else:
        T = lo[:, None].expand(K, K).clone()  # row c: min of output c everywhere (released)
    T[torch.arange(K), torch.arange(K)] = hi
    return T


def start_image(
    kind: str,
    X: torch.Tensor,
    y: torch.Tensor,
    c: int,
    model: nn.Module | None = None,
    target: torch.Tensor | None = None,
    frac: float = 0.25,
    seed: int = 0,
    Z: torch.Tensor | None = None,
) -> torch.Tensor:
    """A starting (reference) image for class ``c``, as the released code builds it.

    Parameters
    ----------
    kind : {"avg", "min", "avg-min", "noise"}
        - ``"avg"``: the class-mean image of class ``c``.
        - ``"min"``: the class-``c`` image whose output is nearest (mean squared error) to
          ``target``.
        - ``"avg-min"``: the mean of the nearest ``frac`` of the class-``c`` images (at least
          one).
        - ``"noise"``: the class-mean image plus independent ``U(0, 1)`` noise per pixel, drawn
          from a ``torch.Generator`` seeded with ``seed`` (pixels then lie in ``[0, 2)``, as in
          the released code, which does not clip).
    X : (N, 1, 28, 28) Tensor
    y : (N,) Tensor
    c : int
        The class.
    model, target : needed for ``"min"`` and ``"avg-min"``; ``target`` is ``(K,)``.
    frac : float in (0, 1]
    seed : int
    Z : (N, K) Tensor, optional
        Precomputed outputs ``model(X)``; saves the forward passes.

    Returns
    -------
    x0 : (1, 28, 28) Tensor
        Same dtype as ``X``, on the CPU.
    """
    if kind not in START_KINDS:
        raise ValueError(f"unknown start kind {kind!r}: choose one of {', '.join(START_KINDS)}")
    y = torch.as_tensor(y).cpu()
    idx = torch.nonzero(y == c).flatten()
    if len(idx) == 0:
        raise ValueError(f"start_image: no images of class {c}")
    Xc = X[idx].detach().cpu()  # (Nc, 1, 28, 28)
    if kind == "avg":
        return Xc.mean(0)
    if kind == "noise":
        gen = torch.Generator().manual_seed(seed)
        noise = torch.rand(Xc.shape[1:], generator=gen, dtype=Xc.dtype)
        return Xc.mean(0) + noise
    if target is None:
        raise ValueError(f"start kind {kind!r} needs the class target (and the model or Z)")
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    if Z is None:
        if model is None:
            raise ValueError(f"start kind {kind!r} needs the model (or precomputed outputs Z)")
        Zc = collect_outputs(model, Xc)
    else:
        Zc = Z[idx].detach().cpu()
    t = torch.as_tensor(target, dtype=Zc.dtype).reshape(-1)
    mse = ((Zc - t) ** 2).mean(1)  # (Nc,)
    order = torch.argsort(mse, stable=True)
    if kind == "min":
        return Xc[order[0]]
    n = max(1, int(len(order) * frac))
    return Xc[order[:n]].mean(0)


# --------------------------------------------------------------------------------------
# Results and model handling
# --------------------------------------------------------------------------------------


@dataclass
class InverseResult:
    """What :func:`invert` found.

    Attributes
    ----------
    image : Tensor, shape of the reference
        The input found (compute dtype, CPU).
    output : (K,) Tensor
        ``f(image)`` by a forward pass of the network in the compute dtype.
    target : (K,) Tensor
    rel_error : float
        ``‖f(x) − t‖ / ‖t‖`` (``‖f(x) − t‖`` when ``t = 0``).
    predicted : int
        ``argmax f(x)``.
    target_class : int
        ``argmax t`` unless given.
    margin : float
        Target-class margin ``f(x)[c] − max_{j≠c} f(x)[j]`` with ``c = target_class``:
        positive exactly when the image is classified as the target class.
    distance : float
        ``‖x − reference‖`` over all pixels.
    outside_box : int
        Number of pixels outside the valid range ``[0, 1]``.
    iterations : int
    seconds : float
        Wall time of the call (per class for vectorised batches).
    history : list of float
        Mean squared output error ``mean((f(x) − t)²)`` (the paper's loss) at the start and
        after every step.
    feasible : bool or None
        Box problems only: whether the target was reached inside the box
        (``rel_error ≤ 1e-6``; the closed form decides it from the problem itself).
    method : str
    message : str
    kappa : float
        The nearness certificate ``‖(I − J⁺J)(x − r)‖ / ‖x − r‖`` with ``J`` the (K, n)
        Jacobian at ``x`` (:func:`nnspaces.certificate.kappa`): 0 at a preimage point that is
        first-order stationary for the distance to ``r`` (a nearest preimage where ``f`` is
        smooth); NaN when not computed.
    kkt : float or None
        Box problems only: the relative KKT residual of
        ``min ‖x − r‖ s.t. f(x) = t, lo ≤ x ≤ hi`` at ``x``
        (:func:`nnspaces.certificate.kkt_residual`).
    """

    image: torch.Tensor
    output: torch.Tensor
    target: torch.Tensor
    rel_error: float
    predicted: int
    target_class: int
    margin: float
    distance: float
    outside_box: int
    iterations: int
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)
    feasible: bool | None = None
    method: str = ""
    message: str = ""
    kappa: float = math.nan
    kkt: float | None = None

    @property
    def reached(self) -> bool:
        """Whether ``f(x) = t`` to the relative error :data:`REACHED_TOL`."""
        return self.rel_error <= REACHED_TOL

    @property
    def certified(self) -> bool:
        """Reached, and first-order stationary for the distance to the reference: ``kappa``
        (``kkt`` with a box) at or below :data:`CERTIFIED_TOL`."""
        cert = self.kappa if self.kkt is None else self.kkt
        return self.reached and cert <= CERTIFIED_TOL


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with frozen parameters; restore both on exit (even on error).

    Every submodule's own ``training`` flag and every parameter's ``requires_grad`` flag are
    restored exactly as they were.
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


def _leaf_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if next(m.children(), None) is None]


def _ends_with_selu(model: nn.Module) -> bool:
    leaves = _leaf_modules(model)
    return bool(leaves) and isinstance(leaves[-1], nn.SELU)


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


def _work_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The model itself if it already has ``dtype``, else a frozen copy in ``dtype``."""
    p = next(model.parameters(), None)
    if p is None or p.dtype == dtype:
        return model
    return copy.deepcopy(model).to(dtype)


def _forward1(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``f`` on one input (no batch dimension) → ``(K,)``."""
    with torch.no_grad():
        out = f(x.unsqueeze(0))
    return out.reshape(-1)


def _mse(out: torch.Tensor, t: torch.Tensor) -> float:
    return float(((out - t) ** 2).mean())


def _check_box(box) -> tuple[float, float] | None:
    if box is None:
        return None
    try:
        lo, hi = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be None or a pair (lo, hi), got {box!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"box must be finite with lo < hi, got {box!r}")
    return lo, hi


def _check_target(target, K: int, selu_out: bool) -> torch.Tensor:
    t = torch.as_tensor(target)
    if tuple(t.shape) != (K,):
        raise ValueError(
            f"target must have shape ({K},) — one output vector of the network — "
            f"got {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"target holds {int((~torch.isfinite(t)).sum())} NaN or inf value(s)")
    if selu_out:
        below = t <= SELU_FLOOR
        if below.any():
            raise ValueError(
                f"target has {int(below.sum())} entr(ies) at or below SELU's floor "
                f"-λα = {SELU_FLOOR:.6f} (smallest {float(t.min()):.6g}): the network ends in "
                "SELU, so no input reaches it"
            )
    return t


def _check_reference(reference) -> torch.Tensor:
    r = torch.as_tensor(reference)
    if not torch.is_floating_point(r):
        raise ValueError(f"reference must be a floating-point image, got dtype {r.dtype}")
    if not torch.isfinite(r).all():
        raise ValueError(f"reference holds {int((~torch.isfinite(r)).sum())} NaN or inf pixel(s)")
    return r


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return method


def _result(
    f: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    r: torch.Tensor,
    target_class: int | None,
    **kw,
) -> InverseResult:
    """Score the image ``x`` by an independent forward pass of ``f``."""
    out = _forward1(f, x)
    t = t.to(out)
    tn = float(torch.linalg.vector_norm(t))
    err = float(torch.linalg.vector_norm(out - t))
    c = int(torch.argmax(t)) if target_class is None else int(target_class)
    others = torch.cat([out[:c], out[c + 1 :]])
    margin = float(out[c] - others.max()) if len(others) else float("nan")
    return InverseResult(
        image=x.detach().cpu(),
        output=out.detach().cpu(),
        target=t.detach().cpu(),
        rel_error=err / tn if tn > 0 else err,
        predicted=int(torch.argmax(out)),
        target_class=c,
        margin=margin,
        distance=float(torch.linalg.vector_norm(x - r.to(x))),
        outside_box=int(((x < 0) | (x > 1)).sum()),
        **kw,
    )


# --------------------------------------------------------------------------------------
# Closed form (one Linear → SELU layer)
# --------------------------------------------------------------------------------------


def _preactivation_target(t: torch.Tensor, b: torch.Tensor, has_selu: bool) -> torch.Tensor:
    """``z = σ⁻¹(t) − b`` (or ``t − b`` for a bare Linear): the target of ``W x``."""
    return (selu_inverse(t) if has_selu else t) - b


def _pinv(W: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``W⁺`` (n, m) and the rank of ``W`` (m, n), by SVD; singular values at or below
    ``max(m, n) · eps · σ_max`` count as zero (numpy's default)."""
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    cut = max(W.shape) * torch.finfo(W.dtype).eps * (S[0] if len(S) else 0.0)
    keep = S > cut
    Wp = (Vh[keep].T / S[keep]) @ U[:, keep].T  # (n, m)
    return Wp, int(keep.sum())


def _closed_form_free(
    W: torch.Tensor, Wp: torch.Tensor, z: torch.Tensor, R: torch.Tensor
) -> torch.Tensor:
    """``X* = R + (z − R Wᵀ) W⁺ᵀ`` for a batch of flattened references ``R`` (B, n)."""
    return R + (z - R @ W.T) @ Wp.T


def _box_qp(
    W: np.ndarray,
    z: np.ndarray,
    r: np.ndarray,
    lo: float,
    hi: float,
    max_iter: int = 100,
    tol: float = 1e-12,
    check_every: int = 15,
) -> tuple[np.ndarray, bool, int, str]:
    """Nearest point to ``r`` on ``{x : W x = z} ∩ [lo, hi]^n``, by a dual semismooth Newton.

    Returns ``(x, feasible, iterations, message)``. When the set is empty, ``x`` minimises
    ``‖W x − z‖`` over the box (``scipy.optimize.lsq_linear``, bounded-variable least squares).

    The dual of ``min ½‖x − r‖²  s.t.  W x = z, x ∈ box`` is the unconstrained, convex,
    piecewise-quadratic ``ψ(λ) = −½‖x(λ) − r‖² + λᵀ(W x(λ) − z)``, ``x(λ) = clip(r + Wᵀλ)``,
    with gradient ``W x(λ) − z`` and generalised Hessian ``W_F W_Fᵀ`` (F: unclipped pixels).
    Newton converges in a few steps when the set is non-empty; when it has not converged
    after ``check_every`` steps (and every ``check_every`` after), bounded least squares
    decides whether the set is empty (``min over the box of ‖W x − z‖ > 1e-9 max(1, ‖z‖)``).
    """
    from scipy.optimize import lsq_linear

    m = W.shape[0]
    scale = max(1.0, float(np.linalg.norm(z)))
    Wn2 = float(np.linalg.norm(W, 2)) ** 2 or 1.0
    done = "nearest point of the preimage inside the box"

    def psi(lam):
        x = np.clip(r + W.T @ lam, lo, hi)
        g = W @ x - z
        return -0.5 * float((x - r) @ (x - r)) + float(lam @ g), x, g

    def least_squares():
        ls = np.clip(lsq_linear(W, z, bounds=(lo, hi), method="bvls").x, lo, hi)
        return ls, float(np.linalg.norm(W @ ls - z))

    lam = np.linalg.lstsq(W @ W.T, z - W @ r, rcond=None)[0]  # the unconstrained solution
    val, x, g = psi(lam)
    it, ls = 0, None
    for it in range(1, max_iter + 1):
        if np.linalg.norm(g) <= tol * scale:
            return x, True, it - 1, done
        if it % check_every == 0:
            ls, resid = least_squares()
            if resid > 1e-9 * scale:
                break
        u = r + W.T @ lam
        free = (u > lo) & (u < hi)
        WF = W[:, free]  # (m, |F|)
        mu = 1e-12 * Wn2 + min(float(np.linalg.norm(g)), 1e-3 * Wn2)  # keeps H invertible
        d = -np.linalg.solve(WF @ WF.T + mu * np.eye(m), g)
        slope = float(g @ d)
        new = psi(lam + d)
        # near the solution ψ's decrease (~‖g‖²) drowns in round-off: accept a full step that
        # halves the residual; otherwise backtrack on ψ (Armijo)
        if np.linalg.norm(new[2]) > 0.5 * np.linalg.norm(g):
            s = 1.0
            while s > 1e-12:
                new = psi(lam + s * d)
                if new[0] <= val + 1e-4 * s * slope:
                    break
                s *= 0.5
            else:
                break  # no descent: stalled
            d = s * d
        lam = lam + d
        val, x, g = new
    if np.linalg.norm(g) <= tol * scale:
        return x, True, it, done
    if ls is None:
        ls, resid = least_squares()
    if resid <= 1e-9 * scale:
        note = (
            "the box meets the preimage, but the dual Newton did not converge: returned a "
            "point of the intersection (bounded least squares), not necessarily the nearest"
        )
        return ls, True, it, note
    note = (
        "target not reachable inside the box: {x : W x = z} misses it "
        f"(min over the box of ‖W x − z‖ = {resid:.3g})"
    )
    return ls, False, it, note


def _closed_form(f, t, r, box, *, target_class=None, max_iter=100, tol=1e-12, **unused):
    _reject_unused("closed-form", unused)
    start = time.perf_counter()
    lin, has_selu = _affine_structure(f)
    W = lin.weight.detach()  # (m, n)
    b = lin.bias.detach() if lin.bias is not None else W.new_zeros(W.shape[0])
    z = _preactivation_target(t, b, has_selu)  # (m,)
    rf = r.reshape(-1)  # (n,)
    hist0 = _mse(_forward1(f, r), t)
    if box is None:
        Wp, rank = _pinv(W)
        x = _closed_form_free(W, Wp, z, rf[None])[0]
        msg = "exact preimage point nearest the reference"
        if rank < W.shape[0]:
            msg = f"W has rank {rank} < {W.shape[0]}: least-squares point (target may be missed)"
        feasible, iters = None, 0
    else:
        xn, feasible, iters, msg = _box_qp(
            W.cpu().numpy(), z.cpu().numpy(), rf.cpu().numpy(), *box, max_iter=max_iter, tol=tol
        )
        x = torch.as_tensor(xn, dtype=W.dtype, device=W.device)
        if not feasible and has_selu:
            # nearest in pre-activation space is not nearest in output space: refine locally
            gn = _gauss_newton(f, t[None], x.reshape(r.shape)[None], box, classes=[None],
                               max_iter=max_iter)[0]  # fmt: skip
            x, iters = gn.image.to(x).reshape(-1), iters + gn.iterations
            msg += "; returned the box point whose output is nearest (refined by Gauss–Newton)"
        elif not feasible:
            msg += "; returned the box point whose output is nearest"
    x = x.reshape(r.shape)
    res = _result(f, x, t, r, target_class, iterations=iters, method="closed-form", message=msg)
    res.history = [hist0, _mse(res.output, res.target)]
    res.feasible = feasible
    res.seconds = time.perf_counter() - start
    return res


# --------------------------------------------------------------------------------------
# Gauss–Newton (any differentiable network)
# --------------------------------------------------------------------------------------


def _selu_chain(f: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor, bool]] | None:
    """``[(W, b, selu_after), …]`` if ``f`` is a stack of Flatten / Linear / SELU, else None.

    Only ``nn.Sequential`` containers (nested or not) qualify: their leaves run in module order.
    """
    if not isinstance(f, nn.Sequential):
        return None
    if any(not isinstance(m, nn.Sequential) for m in f.modules() if next(m.children(), None)):
        return None
    chain: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
    for m in _leaf_modules(f):
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


def _chain_jacobian(chain, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
        if selu:
            slopes.append(torch.where(u > 0, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * u.exp()))
            h = torch.selu(u)
        else:
            slopes.append(None)
            h = u
    J = None
    for (W, _, _), slope in zip(reversed(chain), reversed(slopes)):
        if slope is not None:
            J = torch.diag(slope) if J is None else J * slope  # (K, m_l): columns scaled
        J = W if J is None else J @ W  # (K, n_l)
    return h, J


def _jacobian(f: nn.Module, X: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
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


def _jacobians(f: nn.Module, X: torch.Tensor, K: int, chunk: int = 64) -> torch.Tensor:
    """``J`` (B, K, n) at each image of ``X`` (B, *S): closed form for Linear/SELU stacks,
    else autograd in chunks of ``chunk`` images."""
    chain = _selu_chain(f)
    if chain is not None:
        return torch.stack([_chain_jacobian(chain, x)[1] for x in X])
    return torch.cat([_jacobian(f, X[i : i + chunk], K)[1] for i in range(0, len(X), chunk)])


def _certify(f: nn.Module, results: list[InverseResult], R: torch.Tensor, box) -> None:
    """Fill ``kappa`` (and ``kkt`` with a box) of each result, in place.

    ``R`` (B, *S): the references, in the compute dtype on the model's device.
    """
    if not results:
        return
    X = torch.stack([res.image for res in results]).to(R)  # (B, *S)
    J = _jacobians(f, X, len(results[0].target)).cpu()  # (B, K, n)
    for res, Jb, r in zip(results, J, R.cpu()):
        res.kappa = certificate.kappa(Jb, res.image, r)
        if box is not None:
            res.kkt = certificate.kkt_residual(Jb, res.image, r, box).residual


def _min_norm_step(J: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
    """``J⁺ res`` (minimum-norm least-squares step) by SVD; ``J`` (K, n)."""
    U, S, Vh = torch.linalg.svd(J, full_matrices=False)
    cut = max(J.shape) * torch.finfo(J.dtype).eps * (S[0] if len(S) else 0.0)
    keep = S > cut
    return Vh[keep].T @ ((U[:, keep].T @ res) / S[keep])


def _line_search(f, T, X, D, errs, box):
    """Backtrack ``x_i + α_i d_i`` (clipped to the box) from α_i = 1, for a batch of problems
    at once, until each error falls sufficiently.

    Parameters
    ----------
    T : (B, K) Tensor
    X, D : (B, *S) Tensors
        Points and directions.
    errs : list of B float
        ``‖t_i − f(x_i)‖``.

    Returns
    -------
    new : list of B ``(x_new, err_new)``, or ``(None, err)`` where no step length helps
    """
    new = [(None, e) for e in errs]
    pending, step = list(range(len(X))), 1.0
    while pending and step > 2.0**-30:
        cand = X[pending] + step * D[pending]
        if box is not None:
            cand = cand.clamp(*box)
        with torch.no_grad():
            out = f(cand).reshape(len(pending), -1)  # (P, K)
        e = torch.linalg.vector_norm(T[pending] - out, dim=1).tolist()
        still = []
        for j, i in enumerate(pending):
            if e[j] <= (1 - 1e-4 * step) * errs[i]:
                new[i] = (cand[j], e[j])
            else:
                still.append(i)
        pending, step = still, step / 2
    return new


def _bounded_step(J: torch.Tensor, res: torch.Tensor, x: torch.Tensor, lo: float, hi: float):
    """``argmin ‖J d − res‖`` over ``lo ≤ x + d ≤ hi``: the bounded linearised step.

    Parameters
    ----------
    J : (K, n) Tensor
    res : (K,) Tensor
    x : Tensor with n elements, inside ``[lo, hi]``

    Returns
    -------
    d : Tensor, shape and dtype of ``x``

    Notes
    -----
    Solved by :func:`_box_least_squares` (interior point, K × K Newton systems) in float64;
    scipy's bounded-variable least squares (``lsq_linear(method="bvls")``) gives the same
    residual (tested) but pivots one pixel at a time, ~7× slower on this book's problems.
    """
    J64 = J.detach().cpu().double().numpy()
    xf = x.reshape(-1).detach().cpu().double().numpy()
    d = _box_least_squares(J64, res.detach().cpu().double().numpy(), lo - xf, hi - xf)
    return torch.as_tensor(d, dtype=x.dtype, device=x.device).reshape(x.shape)


def _box_least_squares(
    J: np.ndarray,
    r: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    reg: float = 1e-12,
    tol: float = 1e-11,
    max_iter: int = 100,
) -> np.ndarray:
    """Bounded least squares with few rows, by a primal–dual interior-point method.

    Parameters
    ----------
    J : (K, n) ndarray
    r : (K,) ndarray
    lower, upper : (n,) ndarray
        Bounds, ``lower ≤ upper``.
    reg : float
        Tikhonov weight relative to ``‖J‖_F²``: makes the solution unique (the one of least
        norm among the minimisers, to ``reg``) when the minimum is not attained at one point.
    tol : float
        Relative tolerance on the dual residual and the complementarity gap.

    Returns
    -------
    d : (n,) ndarray
        ``argmin ½‖J d − r‖² + ½δ‖d‖²`` over ``lower ≤ d ≤ upper``, ``δ = reg ‖J‖_F²``.

    Notes
    -----
    Mehrotra predictor–corrector on the bound-constrained QP with Hessian ``JᵀJ + δI``.
    Each Newton system ``(Σ + JᵀJ) Δd = g``, ``Σ`` diagonal, is solved by the Woodbury
    identity with one K × K Cholesky factorisation, so an iteration costs O(K² n) and the
    iteration count (10–25 here) does not grow with the number of pixels that change bounds.
    """
    K, n = J.shape
    scale = max(1.0, float(np.linalg.norm(r)), float(np.abs(J).max(initial=0.0)))
    delta = reg * float(np.einsum("ij,ij->", J, J)) or reg
    width = upper - lower
    fixed = width <= 0  # no room: d_i = lower_i
    d = lower + 0.5 * width
    zl, zu = np.ones(n), np.ones(n)
    eye = np.eye(K)
    for _ in range(max_iter):
        s, t = np.maximum(d - lower, 1e-300), np.maximum(upper - d, 1e-300)
        rd = J.T @ (J @ d - r) + delta * d - zl + zu  # (n,) dual residual
        rd[fixed] = 0.0
        gap = (s @ zl + t @ zu) / (2 * n)
        if np.abs(rd).max() <= tol * scale and gap <= 1e-2 * tol * scale**2:
            break
        si = 1.0 / (zl / s + zu / t + delta)  # Σ⁻¹, (n,)
        si[fixed] = 0.0
        chol = np.linalg.cholesky(eye + (J * si) @ J.T)  # I + J Σ⁻¹ Jᵀ, (K, K)
        state = (J, chol, si, rd, s, t, zl, zu)
        step = _ipm_newton(state, 0.0, 0.0, 0.0)  # predictor: the affine-scaling direction
        a = _ipm_longest(state, step, fixed)
        dd, dzl, dzu = step
        gap_aff = ((s + a * dd) @ (zl + a * dzl) + (t - a * dd) @ (zu + a * dzu)) / (2 * n)
        sigma = (gap_aff / gap) ** 3 if gap > 0 else 0.0
        step = _ipm_newton(state, sigma * gap, dd * dzl, -dd * dzu)  # corrector
        a = min(1.0, 0.995 * _ipm_longest(state, step, fixed))
        d, zl, zu = d + a * step[0], zl + a * step[1], zu + a * step[2]
    return np.clip(d, lower, upper)


def _ipm_newton(state, mu, cl, cu):
    """Newton direction ``(Δd, Δz_l, Δz_u)`` of :func:`_box_least_squares` for centring ``mu``
    and second-order corrections ``cl``, ``cu`` (Woodbury: one K × K Cholesky solve)."""
    J, chol, si, rd, s, t, zl, zu = state
    g = -rd + (mu - s * zl - cl) / s - (mu - t * zu - cu) / t  # (n,)
    a = si * g
    dd = a - si * (J.T @ np.linalg.solve(chol.T, np.linalg.solve(chol, J @ a)))
    return dd, (mu - s * zl - cl - zl * dd) / s, (mu - t * zu - cu + zu * dd) / t


def _ipm_longest(state, step, fixed) -> float:
    """Largest α ≤ 1 that keeps slacks and multipliers non-negative along ``step``."""
    _, _, _, _, s, t, zl, zu = state
    dd, dzl, dzu = step
    alpha = 1.0
    for v, dv in ((s, dd), (t, -dd), (zl, dzl), (zu, dzu)):
        neg = (dv < 0) & ~fixed
        if neg.any():
            alpha = min(alpha, float(np.min(-v[neg] / dv[neg])))
    return alpha


def _gauss_newton(
    f,
    T,
    R,
    box,
    *,
    classes,
    max_iter=100,
    tol=1e-12,
    patience=10,
    progress=False,
    **unused,
):
    """Minimum-norm Gauss–Newton with backtracking, for a batch of B problems at once.

    ``T`` (B, K) targets, ``R`` (B, *S) references. Each problem follows its own iterates and
    stops on its own; what the batch shares is the work: one forward and backward pass for all
    the Jacobians of a step (closed form for Linear/SELU stacks, :func:`_chain_jacobian`) and
    one forward pass per step length of the line search.

    With a box, each step first tries the minimum-norm step on the pixels that are free to
    move (:func:`_box_step`, clipped); when that gains less than 10 %, the bounded linearised
    problem ``min ‖J d − res‖, x + d ∈ box`` (:func:`_bounded_step`) is tried too and the better
    step taken — what lets the iteration reach the box point of least output error when the
    target is out of reach (it matches L-BFGS-B's minimum in our tests, ~10× faster).
    """
    _reject_unused("gauss-newton", unused)
    start = time.perf_counter()
    B, K = T.shape
    tn = [float(torch.linalg.vector_norm(t)) or 1.0 for t in T]
    X = R.clone() if box is None else R.clamp(*box)
    chain = _selu_chain(f)
    with torch.no_grad():
        out0 = f(X).reshape(B, -1)
    err = torch.linalg.vector_norm(T - out0, dim=1).tolist()
    history = [[e**2 / K] for e in err]
    errs = [[e] for e in err]
    iters = [max_iter] * B
    msgs = [f"max_iter={max_iter} reached"] * B
    active = list(range(B))
    for it in _progress(range(1, max_iter + 1), progress, "gauss-newton"):
        for i in [i for i in active if err[i] / tn[i] <= tol]:
            iters[i], msgs[i] = it - 1, f"converged: rel_error ≤ tol={tol:g}"
        active = [i for i in active if err[i] / tn[i] > tol]
        if not active:
            break
        XA = X[active]  # (A, *S)
        if chain is not None:
            out, J = map(torch.stack, zip(*(_chain_jacobian(chain, x) for x in XA)))
        else:
            out, J = _jacobian(f, XA, K)  # (A, K), (A, K, n)
        res = T[active] - out  # (A, K)
        ea = [err[i] for i in active]
        if box is None:
            D = torch.stack([_min_norm_step(Ji, ri) for Ji, ri in zip(J, res)]).reshape(XA.shape)
            new = _line_search(f, T[active], XA, D, ea, None)
        else:
            D = torch.stack(
                [_box_step(Ji, ri, x.reshape(-1), *box) for Ji, ri, x in zip(J, res, XA)]
            ).reshape(XA.shape)
            new = _line_search(f, T[active], XA, D, ea, box)
            weak = [j for j, (x, e) in enumerate(new) if x is None or e > 0.9 * ea[j]]
            if weak:
                D2 = torch.stack([_bounded_step(J[j], res[j], XA[j], *box) for j in weak])
                more = _line_search(f, T[active][weak], XA[weak], D2, [ea[j] for j in weak], box)
                for j, (x2, e2) in zip(weak, more):
                    if x2 is not None and e2 < new[j][1]:
                        new[j] = (x2, e2)
        still = []
        for i, (x_new, e_new) in zip(active, new):
            if x_new is None:
                iters[i], msgs[i] = it - 1, "stopped: no step reduces the output error (stagnation)"
                continue
            X[i], err[i] = x_new, e_new
            history[i].append(e_new**2 / K)
            errs[i].append(e_new)
            e = errs[i]
            if patience and len(e) > patience and e_new > (1 - 1e-3) * e[-1 - patience]:
                iters[i] = it
                msgs[i] = f"stopped: error fell by < 0.1 % in {patience} steps (stagnation)"
                continue
            still.append(i)
        active = still
    for i in active:  # ran all max_iter steps
        if err[i] / tn[i] <= tol:
            msgs[i] = f"converged: rel_error ≤ tol={tol:g}"
    results = []
    for i in range(B):
        res_i = _result(f, X[i], T[i], R[i], classes[i], iterations=iters[i],
                        method="gauss-newton", message=msgs[i])  # fmt: skip
        res_i.history = history[i]
        if box is not None:
            res_i.feasible = res_i.rel_error <= REACHED_TOL
        results.append(res_i)
    per = (time.perf_counter() - start) / B
    for res_i in results:
        res_i.seconds = per
    return results


def _box_step(J: torch.Tensor, res: torch.Tensor, x: torch.Tensor, lo: float, hi: float):
    """Minimum-norm GN step with pixels at a bound that the step pushes outward held fixed."""
    fixed = torch.zeros_like(x, dtype=torch.bool)
    d = torch.zeros_like(x)
    for _ in range(10):
        free = ~fixed
        d = torch.zeros_like(x)
        if not free.any():
            break
        d[free] = _min_norm_step(J[:, free], res)
        push = ((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0))
        if not push.any():
            break
        fixed |= push
    return d


# --------------------------------------------------------------------------------------
# First-order methods
# --------------------------------------------------------------------------------------


def _progress(it, progress: bool, desc: str):
    if not progress:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)


def _descent(
    f,
    T,
    R,
    box,
    *,
    opt: str,
    lr: float,
    steps: int,
    tol: float,
    patience: int | None,
    keep_best: bool,
    progress: bool,
    momentum: float,
):
    """Minimise ``MSE(f(x_i), t_i)`` for a batch of ``B`` problems with a torch optimizer.

    Parameters
    ----------
    f : torch.nn.Module
        Frozen, eval mode: maps ``(B, *S)`` to ``(B, K)``; images in a batch are independent.
    T : (B, K) Tensor
        Targets.
    R : (B, *S) Tensor
        Starting images (clipped to the box when there is one).

    Returns
    -------
    runs : list of B tuples ``(x (*S), history, iterations, message)``

    Notes
    -----
    One forward and one backward pass serve the whole batch: the gradient of
    ``Σ_i MSE(f(x_i), t_i)`` with respect to ``x_i`` is the gradient of problem ``i`` alone.
    Each image is its own parameter of the optimizer (SGD and Adam act elementwise), so every
    problem follows exactly the iterates it would follow alone; a problem that has stopped
    (``tol`` or ``patience``) gets no gradient, which the optimizers skip.
    """
    B = len(T)
    xs = [(r.clone() if box is None else r.clamp(*box)).requires_grad_(True) for r in R]
    optimizer = (
        torch.optim.Adam(xs, lr=lr)
        if opt == "adam"
        else torch.optim.SGD(xs, lr=lr, momentum=momentum)
    )
    tn2 = [float((t**2).mean()) or 1.0 for t in T]
    history = [[] for _ in range(B)]
    best = [math.inf] * B
    best_x = [x.detach().clone() for x in xs]
    since = [0] * B
    msgs = [f"{steps} steps"] * B
    active = list(range(B))
    for it in _progress(range(steps + 1), progress, opt):
        optimizer.zero_grad(set_to_none=True)
        with torch.enable_grad():
            out = f(torch.stack([xs[i] for i in active]))  # (A, K)
            per = ((out - T[active]) ** 2).mean(1)  # (A,): the paper's loss of each problem
        values = per.detach().tolist()
        still = []
        for i, value in zip(active, values):
            history[i].append(value)
            if value < best[i]:
                best[i], best_x[i], since[i] = value, xs[i].detach().clone(), 0
            else:
                since[i] += 1
            if math.sqrt(value / tn2[i]) <= tol:
                msgs[i] = f"converged: rel_error ≤ tol={tol:g}"
            elif patience is not None and since[i] >= patience:
                msgs[i] = f"stopped: no improvement for {patience} steps"
            else:
                still.append(i)
        if it == steps or not still:
            break
        keep = torch.tensor([i in still for i in active])
        (per * keep).sum().backward()
        for i in set(active) - set(still):
            xs[i].grad = None  # finished: the optimizer leaves it alone
        optimizer.step()
        if box is not None:
            with torch.no_grad():
                for i in still:
                    xs[i].clamp_(*box)
        active = still
    finals = best_x if keep_best else [x.detach() for x in xs]
    return [(finals[i], history[i], len(history[i]) - 1, msgs[i]) for i in range(B)]


def _first_order_results(f, T, R, box, classes, runs, method, start, message=None):
    """Score each run of :func:`_descent`; ``seconds`` is the batch time divided by B."""
    results = []
    for (x, hist, iters, msg), t, r, c in zip(runs, T, R, classes):
        text = message(hist) if message is not None else msg
        res = _result(f, x, t, r, c, iterations=iters, method=method, message=text)
        res.history = hist
        if box is not None:
            res.feasible = res.rel_error <= REACHED_TOL
        results.append(res)
    per = (time.perf_counter() - start) / len(results)
    for res in results:
        res.seconds = per
    return results


def _gradient(
    f,
    T,
    R,
    box,
    *,
    classes,
    optimizer="adam",
    lr=None,
    max_iter=500,
    tol=1e-12,
    patience=100,
    momentum=0.9,
    progress=False,
    **unused,
):
    _reject_unused("gradient", unused)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {optimizer!r}: choose 'adam' or 'sgd'")
    start = time.perf_counter()
    lr = (1e-2 if optimizer == "adam" else 1e-1) if lr is None else lr
    runs = _descent(
        f,
        T,
        R,
        box,
        opt=optimizer,
        lr=lr,
        steps=max_iter,
        tol=tol,
        patience=patience,
        keep_best=True,
        progress=progress,
        momentum=momentum if optimizer == "sgd" else 0.0,
    )
    return _first_order_results(f, T, R, box, classes, runs, "gradient", start)


def _paper_sgd(f, T, R, box, *, classes, progress=False, **unused):
    _reject_unused("paper-sgd", unused)
    start = time.perf_counter()
    runs = _descent(
        f,
        T,
        R,
        box,
        opt="sgd",
        lr=PAPER_SGD_LR,
        steps=PAPER_SGD_STEPS,
        tol=0.0,
        patience=None,
        keep_best=False,
        progress=progress,
        momentum=PAPER_SGD_MOMENTUM,
    )

    def message(hist):
        return (
            f"released procedure: SGD lr={PAPER_SGD_LR:g}, momentum 0, {PAPER_SGD_STEPS} steps "
            f"on MSE; loss {hist[0]:.5g} → {hist[-1]:.5g}"
        )

    return _first_order_results(f, T, R, box, classes, runs, "paper-sgd", start, message)


def _none(f, t, r, box, *, target_class=None, **unused):
    _reject_unused("none", unused)
    start = time.perf_counter()
    x = r if box is None else r.clamp(*box)
    res = _result(
        f, x, t, r, target_class, iterations=0, method="none", message="the reference itself"
    )
    res.history = [_mse(res.output, res.target)]
    if box is not None:
        res.feasible = res.rel_error <= REACHED_TOL
    res.seconds = time.perf_counter() - start
    return res


def _reject_unused(method: str, unused: dict) -> None:
    if unused:
        raise ValueError(f"method {method!r} takes no option(s) {', '.join(sorted(unused))}")


# One problem at a time (``f, t, r, box``) …
_IMPL = {
    "closed-form": _closed_form,
    "none": _none,
}
# … or the whole batch at once (``f, T, R, box, classes=``): one forward/backward per step.
_IMPL_BATCH = {
    "gauss-newton": _gauss_newton,
    "gradient": _gradient,
    "paper-sgd": _paper_sgd,
}


# --------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------


def _default_dtype(method: str, model: nn.Module) -> torch.dtype:
    if method in ("closed-form", "gauss-newton"):
        return torch.float64
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.float32


def _prepare(model, targets, references, method, box, dtype):
    """Validate method, box, model structure and references; returns (box, dtype)."""
    _check_method(method)
    box = _check_box(box)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if method == "closed-form" and not supports_closed_form(model):
        raise ValueError(
            "method 'closed-form' inverts one Linear layer (optionally Flatten → Linear → SELU); "
            f"this model is a {type(model).__name__} with another structure: "
            "use method='gauss-newton' (exact for any differentiable network)"
        )
    dtype = _default_dtype(method, model) if dtype is None else dtype
    for r in references:
        _check_reference(r)
    return box, dtype


def _output_size(f: nn.Module, r: torch.Tensor) -> int:
    try:
        out = _forward1(f, r)
    except RuntimeError as e:
        raise ValueError(
            f"the model cannot take the reference of shape {tuple(r.shape)} as one input "
            f"(it is given one image without the batch dimension): {e}"
        ) from e
    return out.numel()


def invert(
    model: nn.Module,
    target: torch.Tensor,
    reference: torch.Tensor,
    method: str = "gauss-newton",
    box: tuple[float, float] | None = None,
    *,
    dtype: torch.dtype | None = None,
    target_class: int | None = None,
    **options,
) -> InverseResult:
    """Find an input ``x`` with ``f(x) = target``, close to ``reference``.

    Parameters
    ----------
    model : torch.nn.Module
        ``f``: maps ``(B, *S)`` to ``(B, K)``. It is put in eval mode with frozen parameters for
        the call only (restored afterwards, also on error), and used on its own device.
    target : (K,) Tensor
        The output to reach.
    reference : (*S) Tensor
        One input without the batch dimension, e.g. ``(1, 28, 28)``: the start of the
        iterative methods and the point the closed form stays nearest to (Gauss–Newton keeps
        its null-space content step by step, which gives *a* preimage near it, not in general
        the nearest: ``kappa`` of the result says how far from stationary it is).
    method : {"closed-form", "gauss-newton", "gradient", "paper-sgd", "none"}
        - ``"closed-form"``: one ``Linear`` (→ ``SELU``) layer:
          ``x* = r + W⁺(σ⁻¹(t) − b − W r)``, the preimage point nearest ``r``. With a box:
          the nearest point of ``{x : W x = σ⁻¹(t) − b} ∩ box`` (dual semismooth Newton);
          when that set is empty, ``feasible=False`` and a box point whose output is nearest
          the target: the minimiser of ``‖W x + b − σ⁻¹(t)‖`` over the box
          (``scipy.optimize.lsq_linear``, exact: nearest in pre-activation space), then, for a
          SELU layer, refined by box Gauss–Newton on ``‖f(x) − t‖`` (local). Options:
          ``max_iter=100``, ``tol=1e-12`` (of the dual Newton).
        - ``"gauss-newton"``: any differentiable network: ``x ← x + α J(x)⁺ (t − f(x))`` with
          ``J`` the (K, n) Jacobian, minimum-norm steps (each step keeps the current null-space
          content) and backtracking on ``α``: a preimage found from ``r``, not in general the
          nearest one (:mod:`nnspaces.nearest` moves it closer). With a box: pixels at a bound
          that the step pushes outward are held, the step is recomputed on the rest, and
          iterates are clipped; when
          that gains less than 10 %, the bounded linearised step ``min ‖J d − (t − f(x))‖``
          over ``x + d ∈ box`` is tried as well (so out-of-reach targets end at a box point of
          locally least output error).
          Options: ``max_iter=100``, ``tol=1e-12`` (relative error), ``patience=10`` (stop
          when the error fell by less than 0.1 % over that many steps; ``None`` disables).
        - ``"gradient"``: Adam (``optimizer="adam"``, ``lr=1e-2``) or SGD (``"sgd"``,
          ``lr=1e-1``, ``momentum=0.9``) on ``mean((f(x) − t)²)``; the best iterate is kept;
          stops at ``tol`` or after ``patience=100`` steps without improvement or
          ``max_iter=500`` steps; box → clip after each step; ``progress=True`` shows tqdm.
        - ``"paper-sgd"``: the released procedure exactly: plain SGD (momentum 0), lr 1e-4,
          100 steps on ``mean((f(x) − t)²)``, the last iterate returned, no clipping (its
          images may leave ``[0, 1]``; ``outside_box`` counts the pixels), so it takes no
          ``box``. The released code compares a (K,) target with (1, K) outputs (and, for
          ResNet18, a (32, 1, 1, K) target with (32, K) outputs): the broadcasts repeat
          identical rows, so the mean is this same loss (NOTES §2).
        - ``"none"``: the reference itself (clipped to the box), scored.
    box : (lo, hi), optional
        Keep every pixel in ``[lo, hi]``; ``(0, 1)`` is the valid image range.
    dtype : torch.dtype, optional
        Compute dtype: by default float64 for the exact methods (a float64 copy of the model),
        the model's own dtype for the others.
    target_class : int, optional
        Class of the target for ``margin``; default ``argmax(target)``.
    **options
        Method options listed above; an option the method does not take is an error.

    Returns
    -------
    InverseResult
        ``image`` has the reference's shape, compute dtype, CPU; ``kappa`` (and ``kkt`` with
        a box) certify how near the result is to being the nearest preimage point.

    Raises
    ------
    ValueError
        Unknown method (the allowed ones listed); closed form on another structure (naming the
        method to use); target not of shape (K,), NaN/inf in target or reference; target at or
        below SELU's floor when the network ends in SELU; bad box.

    Notes
    -----
    The inputs that give ``y = σ(W x + b)`` form ``{x : W x = σ⁻¹(y) − b} = x_p + N(W)``; the
    member nearest ``r`` is ``x* = W⁺(σ⁻¹(y) − b) + (I − W⁺W) r``: row space fixed by the
    target, null space taken from the reference.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> f = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.SELU())
    >>> t = f(torch.rand(1, 1, 4, 4))[0].detach()
    >>> res = invert(f, t, torch.zeros(1, 4, 4), "closed-form")
    >>> res.rel_error < 1e-12
    True
    """
    t = torch.as_tensor(target)
    if t.ndim != 1:
        raise ValueError(
            f"target must have shape (K,) — one output vector of the network — got {tuple(t.shape)}"
        )
    classes = None if target_class is None else [target_class]
    T, R = t[None], torch.as_tensor(reference)[None]
    return invert_classes(
        model, T, R, method, box, dtype=dtype, target_classes=classes, _argmax=True, **options
    )[0]


def invert_classes(
    model: nn.Module,
    targets: torch.Tensor,
    references: torch.Tensor,
    method: str = "gauss-newton",
    box: tuple[float, float] | None = None,
    *,
    dtype: torch.dtype | None = None,
    target_classes: Sequence[int] | None = None,
    _argmax: bool = False,
    **options,
) -> list[InverseResult]:
    """:func:`invert` for a batch: target ``targets[i]`` from reference ``references[i]``.

    Parameters
    ----------
    model : torch.nn.Module
    targets : (B, K) Tensor
        E.g. the (10, 10) output of :func:`class_targets`.
    references : (B, *S) Tensor
        E.g. (10, 1, 28, 28): one starting image per class.
    method, box, dtype, **options
        As in :func:`invert`.
    target_classes : sequence of B int, optional
        The class of each target (for ``margin``); default ``0, 1, …, B − 1`` (row ``i`` is
        class ``i``, as :func:`class_targets` builds them).

    Returns
    -------
    results : list of B InverseResult

    Notes
    -----
    The unconstrained closed form is vectorised (one pseudo-inverse for the batch), and
    ``"gradient"`` and ``"paper-sgd"`` take one forward and backward pass per step for the whole
    batch (each problem still follows its own iterates and stops on its own); each result's
    ``seconds`` is then the batch time divided by ``B``. The model is frozen and converted
    once for the whole batch.
    """
    T = torch.as_tensor(targets)
    R = torch.as_tensor(references)
    if T.ndim != 2:
        raise ValueError(f"targets must be (B, K), got shape {tuple(T.shape)}")
    if len(R) != len(T):
        raise ValueError(f"{len(T)} target(s) but {len(R)} reference(s)")
    box, dtype = _prepare(model, T, R, method, box, dtype)
    if method == "paper-sgd" and box is not None:
        raise ValueError(
            "method 'paper-sgd' is the released procedure, which never clips: call it with "
            "box=None (its images may leave [0, 1]; InverseResult.outside_box counts the pixels)"
        )
    device = device_of(model)
    selu_out = _ends_with_selu(model)
    with frozen(model):
        start = time.perf_counter()
        f = _work_copy(model, dtype)
        R = R.to(device=device, dtype=dtype)
        K = _output_size(f, R[0])
        T = torch.stack([_check_target(t, K, selu_out) for t in T]).to(device=device, dtype=dtype)
        if target_classes is not None:
            classes = list(target_classes)
        else:
            classes = [None] * len(T) if _argmax else list(range(len(T)))
        if method == "closed-form" and box is None and len(T) > 1 and not options:
            results = _closed_form_batch(f, T, R, classes, start)
        elif method in _IMPL_BATCH:
            results = _IMPL_BATCH[method](f, T, R, box, classes=classes, **options)
        else:
            results = [
                _IMPL[method](f, t, r, box, target_class=c, **options)
                for t, r, c in zip(T, R, classes)
            ]
        _certify(f, results, R, box)
        return results


def _closed_form_batch(f, T, R, classes, start) -> list[InverseResult]:
    lin, has_selu = _affine_structure(f)
    W = lin.weight.detach()  # (m, n)
    b = lin.bias.detach() if lin.bias is not None else W.new_zeros(W.shape[0])
    Wp, rank = _pinv(W)
    Zt = _preactivation_target(T, b, has_selu)  # (B, m)
    Rf = R.reshape(len(R), -1)  # (B, n)
    X = _closed_form_free(W, Wp, Zt, Rf).reshape(R.shape)  # (B, *S)
    msg = "exact preimage point nearest the reference"
    if rank < W.shape[0]:
        msg = f"W has rank {rank} < {W.shape[0]}: least-squares point (target may be missed)"
    results = []
    for x, t, r, c in zip(X, T, R, classes):
        res = _result(f, x, t, r, c, iterations=0, method="closed-form", message=msg)
        res.history = [_mse(_forward1(f, r), t), _mse(res.output, res.target)]
        results.append(res)
    per = (time.perf_counter() - start) / len(results)
    for res in results:
        res.seconds = per
    return results


def evaluate(
    model: nn.Module,
    target: torch.Tensor,
    image: torch.Tensor,
    *,
    dtype: torch.dtype | None = None,
    target_class: int | None = None,
) -> InverseResult:
    """Score ``image`` (no batch dimension) against ``target`` (K,): ``invert(..., "none")``."""
    return invert(model, target, image, "none", dtype=dtype, target_class=target_class)
