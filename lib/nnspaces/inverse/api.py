"""The entry points: :func:`invert` and :func:`invert_classes`.

They validate the call (method, box, target, reference, model structure), freeze the model
and convert it to the compute dtype once, hand the batch to the method's solver
(:data:`_SOLVERS`: one module per method), and certify each result (``kappa``, ``kkt``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from .. import certificate
from ..models import device_of
from . import closed_form, first_order, gauss_newton
from .closed_form import supports_closed_form
from .common import check_classes, frozen, leaf_modules, reject_unused, work_copy
from .linalg import jacobians
from .result import InverseResult, build_results, forward_one
from .selu import SELU_FLOOR

METHODS = ("closed-form", "gauss-newton", "gradient", "paper-sgd", "none")


def _none(f, T, R, box, *, classes, **unused) -> list[InverseResult]:
    """The ``"none"`` method: the reference itself (clipped to the box), scored (status 0)."""
    reject_unused("none", unused)
    start = time.perf_counter()
    X = R if box is None else R.clamp(*box)
    B = len(R)
    return build_results(
        f,
        X,
        T,
        R,
        classes,
        method="none",
        start=start,
        iterations=[0] * B,
        messages=["the reference itself"] * B,
        box=box,
    )


#: Each method's solver: ``(f, T (B, K), R (B, *S), box, *, classes, **options)`` → B results.
_SOLVERS = {
    "closed-form": closed_form.solve,
    "gauss-newton": gauss_newton.solve,
    "gradient": first_order.gradient,
    "paper-sgd": first_order.paper_sgd,
    "none": _none,
}


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return method


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


def _ends_with_selu(model: nn.Module) -> bool:
    leaves = leaf_modules(model)
    return bool(leaves) and isinstance(leaves[-1], nn.SELU)


def _default_dtype(method: str, model: nn.Module) -> torch.dtype:
    if method in ("closed-form", "gauss-newton"):
        return torch.float64
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.float32


def _prepare(model, references, method, box, dtype):
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
    if method == "paper-sgd" and box is not None:
        raise ValueError(
            "method 'paper-sgd' is the released procedure, which never clips: call it with "
            "box=None (its images may leave [0, 1]; InverseResult.outside_box counts the pixels)"
        )
    return box, dtype


def _output_size(f: nn.Module, r: torch.Tensor) -> int:
    try:
        out = forward_one(f, r)
    except RuntimeError as e:
        raise ValueError(
            f"the model cannot take the reference of shape {tuple(r.shape)} as one input "
            f"(it is given one image without the batch dimension): {e}"
        ) from e
    return out.numel()


def _certify(f: nn.Module, results: list[InverseResult], R: torch.Tensor, box, method) -> None:
    """Fill ``kappa`` (and ``kkt`` with a box) of each result, in place: for a target it
    reached, the KKT residual of the nearest point; for one out of reach, of the best
    approximation (:func:`nnspaces.certificate.error_kkt_residual`). The closed form's are
    then measured on ``W`` and proven by convexity (:func:`closed_form.certify`); the other
    methods' are first-order only (``proof`` stays ``""``).

    ``R`` (B, *S): the references, in the compute dtype on the model's device.
    """
    if not results:
        return
    X = torch.stack([res.image for res in results]).to(R)  # (B, *S)
    J = jacobians(f, X, len(results[0].target)).cpu()  # (B, K, n)
    Rc = R.cpu()
    for res, k in zip(results, certificate.kappas(J, [res.image for res in results], Rc)):
        res.kappa = k
    for res, Jb, r in zip(results, J, Rc):
        if box is not None and res.reached:
            res.kkt = certificate.kkt_residual(Jb, res.image, r, box).residual
        elif box is not None:  # out of reach: the best approximation is what was solved
            err = (res.output - res.target).to(Jb)
            res.kkt = certificate.error_kkt_residual(Jb, res.image, err, box)
    if method == "closed-form":
        closed_form.certify(f, results, R, box)


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


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
        the nearest: ``kappa`` of the result says how far from first-order stationary it is,
        and even ``kappa = 0`` does not make it the nearest).
    method : {"closed-form", "gauss-newton", "gradient", "paper-sgd", "none"}
        - ``"closed-form"``: one ``Linear`` (→ ``SELU``) layer:
          ``x* = r + W⁺(σ⁻¹(t) − b − W r)``, the preimage point nearest ``r``. With a box:
          the nearest point of ``{x : W x = σ⁻¹(t) − b} ∩ box`` (dual semismooth Newton).
          When that set is empty (a Farkas certificate, or bounded least squares, proves it),
          ``feasible=False`` and the box point whose output is nearest the target: for a
          layer without SELU the minimiser of ``‖W x + b − t‖`` over the box (an exact
          active-set Newton; scipy's ``lsq_linear(method="bvls")`` where it fails); for a SELU
          layer a KKT point of ``½‖selu(W x + b) − t‖²`` over the box (the same active-set
          Newton on the output error, SELU's kinks counted in its KKT check; where it ends
          without a KKT point, L-BFGS-B and the active set again, the best point kept and
          the message saying "NOT a KKT point"). The problem is convex, so a result whose
          first-order condition holds (measured on ``W``, to
          :func:`nnspaces.certificate.kappa_roundoff`) is proven nearest:
          ``proof="convex"``. Options: ``max_iter=100``, ``tol=1e-12`` (of the dual Newton).
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
        a box) measure first-order stationarity (``stationary``); ``proof`` and ``nearest``
        say whether nearness is proven — only the closed form's can be (convexity).

    Raises
    ------
    ValueError
        Unknown method (the allowed ones listed); closed form on another structure (naming the
        method to use); target not of shape (K,), NaN/inf in target or reference; target at or
        below SELU's floor when the network ends in SELU; bad box; ``target_class`` outside
        ``0 … K − 1``.

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
        The class of each target (for ``margin``), each in ``0 … K − 1``; default
        ``0, 1, …, B − 1`` when ``B ≤ K`` (row ``i`` is class ``i``, as :func:`class_targets`
        builds them), else the ``argmax`` of each target.

    Returns
    -------
    results : list of B InverseResult

    Notes
    -----
    The unconstrained closed form is vectorised (one SVD for the batch), and
    ``"gauss-newton"``, ``"gradient"`` and ``"paper-sgd"`` take one forward and backward pass
    per step for the whole batch (each problem still follows its own iterates and stops on its
    own); each result's ``seconds`` is the batch time divided by ``B``. The model is frozen and
    converted once for the whole batch.
    """
    T = torch.as_tensor(targets)
    R = torch.as_tensor(references)
    if T.ndim != 2:
        raise ValueError(f"targets must be (B, K), got shape {tuple(T.shape)}")
    if len(R) != len(T):
        raise ValueError(f"{len(T)} target(s) but {len(R)} reference(s)")
    box, dtype = _prepare(model, R, method, box, dtype)
    device = device_of(model)
    selu_out = _ends_with_selu(model)
    with frozen(model):
        f = work_copy(model, dtype)
        R = R.to(device=device, dtype=dtype)
        K = _output_size(f, R[0])
        T = torch.stack([_check_target(t, K, selu_out) for t in T]).to(device=device, dtype=dtype)
        classes = check_classes(target_classes, len(T), K, _argmax)
        results = _SOLVERS[method](f, T, R, box, classes=classes, **options)
        _certify(f, results, R, box, method)
        return results
