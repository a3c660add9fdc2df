"""Signal spaces of a layer: the SVD of the matrix its weights define.

A layer ``y = σ(W x + b)`` sees an input only through its row space: the part of ``x`` in
the null space of ``W`` changes nothing downstream. This module computes, for ``Linear``
and ``Conv2d`` layers,

- the matrix a layer's weights define, in several *views* (:func:`weight_matrix`, undone
  by :func:`weight_from_matrix`), and the singular values of a whole convolution
  (:func:`conv_operator_singular_values`);
- the SVD and the four fundamental subspaces of that matrix (:func:`layer_spaces`);
- the two residuals the paper's Figure 1 can mean (:func:`null_residual`, the part of an
  input the layer cannot see, and :func:`row_projection_residual`, what the released code
  computes), and both for each class-average image (:func:`class_average_residuals`);
- a per-layer summary of a whole network (:func:`layer_table`) and the fraction of real
  inputs' energy that falls in each layer's null space, per class
  (:func:`null_energy_by_layer`).

Every SVD is taken in float64 on the CPU, whatever the weights' dtype or device.

References
----------
.. [1] R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image
   Analysis using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73-76,
   arXiv:2402.00261.
.. [2] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
   ICLR 2019, arXiv:1805.10408.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import device_of, linear_layers

#: Views accepted by :func:`weight_matrix` (``"taps"`` is a stack of matrices).
VIEWS = ("kernels", "unfold", "taps")
#: Views accepted by :func:`layer_table` and :func:`null_energy_by_layer`.
TABLE_VIEWS = ("kernels", "unfold", "operator")

_EPS64 = torch.finfo(torch.float64).eps
#: Largest dense circular operator (rows x columns) built when the FFT route does not apply.
_DENSE_LIMIT = 2**23


# --------------------------------------------------------------------------------------
# weights as matrices
# --------------------------------------------------------------------------------------


def _check_view(view: object, allowed: tuple[str, ...]) -> str:
    if view not in allowed:
        hint = ""
        if view == "operator" and "operator" not in allowed:
            hint = " (the operator view is conv_operator_singular_values(layer, size))"
        raise ValueError(f"unknown view {view!r}: choose one of {', '.join(allowed)}{hint}")
    return view


def _label(layer: object, name: str | None) -> str:
    return name if name else type(layer).__name__


def _all_finite(t: Tensor) -> bool:
    """No NaN or inf in t. A finite sum proves it (NaN and inf propagate) and is cheaper."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def _weight_of(layer: object, name: str | None = None) -> tuple[Tensor, int]:
    """The detached weight tensor of ``layer`` and its ``groups``; refuses NaN/inf weights."""
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        w, groups = layer.weight.detach(), getattr(layer, "groups", 1)
    elif isinstance(layer, Tensor):
        w, groups = layer.detach(), 1
    elif isinstance(layer, np.ndarray):
        w, groups = torch.from_numpy(layer), 1
    else:
        raise TypeError(
            f"expected an nn.Linear, an nn.Conv2d or a weight tensor, got {type(layer).__name__}"
        )
    if w.ndim not in (2, 4):
        raise ValueError(
            f"{_label(layer, name)}: a weight must be 2-D (Linear, (out, in)) or 4-D "
            f"(Conv2d, (C_out, C_in, kh, kw)), got shape {tuple(w.shape)}"
        )
    if not w.is_floating_point():
        w = w.double()
    if not _all_finite(w):
        bad = int((~torch.isfinite(w)).sum())
        raise ValueError(
            f"layer {_label(layer, name)!r} has {bad} non-finite (NaN or inf) weights out of "
            f"{w.numel()}: its spaces are undefined; check the checkpoint or the training run"
        )
    return w, groups


def weight_matrix(layer, view: str = "kernels", name: str | None = None) -> Tensor:
    """The matrix (or stack of matrices) a layer's weights define.

    Parameters
    ----------
    layer : nn.Linear, nn.Conv2d, or weight Tensor of shape (m, n) or (C_out, C_in, kh, kw)
        A raw 4-D tensor is read as a convolution with ``groups=1``.
    view : {"kernels", "unfold", "taps"}
        How a convolution weight ``w`` (C_out, C_in, kh, kw) becomes a matrix:

        - ``"kernels"`` (the paper's): ``(C_out*C_in, kh*kw)``, one row per 2-D kernel
          ``w[o, c]``, row index ``o*C_in + c``;
        - ``"unfold"``: ``(C_out, C_in*kh*kw)``, the map from one input patch (as
          ``torch.nn.functional.unfold`` orders it: channel slowest) to the output channels;
        - ``"taps"``: ``(kh*kw, C_out, C_in)``, one channel-mixing matrix per kernel position,
          tap index ``p*kw + q`` (as WeightWatcher pools conv layers).

        A Linear weight ``W`` (m, n) is its own matrix: ``"kernels"`` and ``"unfold"`` return
        ``W``, ``"taps"`` returns ``W[None]`` (1, m, n), the single tap of a 1x1 convolution.
    name : str, optional
        The layer's name, used in error messages.

    Returns
    -------
    M : (m, n) Tensor, or (kh*kw, C_out, C_in) Tensor for ``"taps"``
        Detached, in the weight's dtype and on its device; may share memory with it.

    Raises
    ------
    ValueError
        Unknown view, non-finite weights (the message names the layer), a weight that is
        neither 2-D nor 4-D, or ``groups > 1`` with the ``"unfold"``/``"taps"`` views.

    See Also
    --------
    weight_from_matrix : the inverse reshape.
    conv_operator_singular_values : the spectrum of the whole convolution.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv2d(64, 64, 3, bias=False)
    >>> [tuple(weight_matrix(conv, v).shape) for v in VIEWS]
    [(4096, 9), (64, 576), (9, 64, 64)]
    """
    _check_view(view, VIEWS)
    w, groups = _weight_of(layer, name)
    if w.ndim == 2:
        return w.unsqueeze(0) if view == "taps" else w  # (1, m, n) or (m, n)
    C_out, C_in, kh, kw = w.shape
    if view == "kernels":
        return w.reshape(C_out * C_in, kh * kw)  # (C_out*C_in, kh*kw): one row per 2-D kernel
    if groups != 1:
        raise ValueError(
            f"{_label(layer, name)}: groups={groups} > 1: the {view!r} view of a grouped "
            "convolution is block-diagonal and not built here; use view='kernels'"
        )
    if view == "unfold":
        return w.reshape(C_out, C_in * kh * kw)  # (C_out, C_in*kh*kw), columns ordered (c, p, q)
    return w.permute(2, 3, 0, 1).reshape(kh * kw, C_out, C_in)  # (kh*kw, C_out, C_in), t=p*kw+q


def weight_from_matrix(M: Tensor, view: str, weight_shape: tuple[int, ...]) -> Tensor:
    """Undo :func:`weight_matrix`: rebuild the weight tensor from one of its views.

    Parameters
    ----------
    M : Tensor
        ``weight_matrix(w, view)`` for a weight ``w`` of shape ``weight_shape``.
    view : {"kernels", "unfold", "taps"}
    weight_shape : tuple
        ``(m, n)`` for a Linear weight or ``(C_out, C_in, kh, kw)`` for a convolution.

    Returns
    -------
    w : Tensor of shape ``weight_shape``, same dtype and device as ``M``.

    Examples
    --------
    >>> import torch
    >>> w = torch.randn(8, 3, 3, 3)
    >>> all(torch.equal(weight_from_matrix(weight_matrix(w, v), v, w.shape), w) for v in VIEWS)
    True
    """
    _check_view(view, VIEWS)
    shape = tuple(int(s) for s in weight_shape)
    if len(shape) == 2:
        expected = (1, *shape) if view == "taps" else shape
    elif len(shape) == 4:
        C_out, C_in, kh, kw = shape
        expected = {
            "kernels": (C_out * C_in, kh * kw),
            "unfold": (C_out, C_in * kh * kw),
            "taps": (kh * kw, C_out, C_in),
        }[view]
    else:
        raise ValueError(f"weight_shape must have 2 or 4 entries, got {shape}")
    if tuple(M.shape) != expected:
        raise ValueError(
            f"a {view!r} view of a weight {shape} has shape {expected}, got {tuple(M.shape)}"
        )
    if len(shape) == 2:
        return M.reshape(shape)  # (m, n)
    if view == "taps":
        return (
            M.reshape(kh, kw, C_out, C_in).permute(2, 3, 0, 1).contiguous()
        )  # (C_out, C_in, kh, kw)
    return M.reshape(shape)  # (C_out, C_in, kh, kw)


# --------------------------------------------------------------------------------------
# the SVD and the four subspaces
# --------------------------------------------------------------------------------------


def _as_matrix64(matrix_or_layer, view: str, name: str | None) -> Tensor:
    """A float64 CPU copy of the matrix; a clear error for anything not 2-D and finite."""
    A = matrix_or_layer
    checked = isinstance(A, nn.Module) or (isinstance(A, (Tensor, np.ndarray)) and A.ndim == 4)
    if checked:  # weight_matrix has refused non-finite weights already
        A = weight_matrix(A, view, name)
    A = torch.as_tensor(A.detach() if isinstance(A, Tensor) else np.asarray(A))
    if A.ndim != 2:
        hint = (
            "; the 'taps' view is a stack: call layer_spaces on each tap"
            if view == "taps" and A.ndim == 3
            else ""
        )
        raise ValueError(f"layer_spaces needs a 2-D matrix, got shape {tuple(A.shape)}{hint}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"layer_spaces needs a non-empty matrix, got shape {tuple(A.shape)}")
    A = A.to(device="cpu", dtype=torch.float64)
    if not checked and not _all_finite(A):
        bad = int((~torch.isfinite(A)).sum())
        raise ValueError(
            f"{_label(matrix_or_layer, name)}: the matrix has {bad} non-finite (NaN or inf) entries"
        )
    return A


def _svd_tall(A: Tensor, compute_uv: bool = True):
    """SVD of A (m, n) through its tall orientation (LAPACK is much faster on tall matrices)."""
    if not compute_uv:
        return torch.linalg.svdvals(A if A.shape[0] >= A.shape[1] else A.T)
    if A.shape[0] >= A.shape[1]:
        return torch.linalg.svd(A, full_matrices=False)
    U2, S, Vh2 = torch.linalg.svd(A.T, full_matrices=False)  # A.T = U2 S Vh2
    return Vh2.T.contiguous(), S, U2.T.contiguous()  # A = Vh2.T S U2.T


def _sign_fixed(U: Tensor, S: Tensor, Vh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Flip each pair (u_i, v_i) so that v_i's largest-magnitude entry is positive.

    Singular vectors are defined up to sign; fixing it makes figures of ``sigma_i v_i`` the
    same across LAPACK builds and machines.
    """
    idx = Vh.abs().argmax(dim=1, keepdim=True)  # (k, 1)
    sign = torch.sign(Vh.gather(1, idx))  # (k, 1)
    sign[sign == 0] = 1.0
    return U * sign.T, S, Vh * sign


def _default_rtol(m: int, n: int) -> float:
    return max(m, n) * _EPS64


def _orth_complement(B: Tensor) -> Tensor:
    """An orthonormal basis (d, d-r) of the complement of the orthonormal columns B (d, r)."""
    d, r = B.shape
    if r == 0:
        return torch.eye(d, dtype=B.dtype)
    if r == d:
        return B.new_zeros(d, 0)
    Q, _ = torch.linalg.qr(B, mode="complete")  # (d, d); Q[:, :r] spans B
    return Q[:, r:].contiguous()


@dataclass(frozen=True, repr=False)
class LayerSpaces:
    """The SVD ``A = U diag(S) Vh`` of a layer's matrix and its four fundamental subspaces.

    Built by :func:`layer_spaces`. All tensors are float64 on the CPU. With ``m, n`` the
    matrix shape, ``k = min(m, n)`` and ``r = rank``:

    Attributes
    ----------
    matrix : (m, n) Tensor
        The matrix itself (a float64 copy).
    U : (m, k) Tensor
    S : (k,) Tensor
        Singular values, descending.
    Vh : (k, n) Tensor
    rank : int
        ``r``: the number of singular values above ``tol``.
    rtol, tol : float
        ``tol = rtol * S[0]``; default ``rtol = max(m, n) * eps`` with eps of float64
        (numpy's ``matrix_rank`` default).
    """

    matrix: Tensor
    U: Tensor
    S: Tensor
    Vh: Tensor
    rank: int
    rtol: float
    tol: float

    def __repr__(self) -> str:
        return (
            f"LayerSpaces(shape={self.shape}, rank={self.rank}, sigma_max={self.sigma_max:.4g}, "
            f"sigma_min={self.sigma_min:.4g}, condition_number={self.condition_number:.4g}, "
            f"tol={self.tol:.3g})"
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return tuple(self.matrix.shape)

    @property
    def sigma_max(self) -> float:
        """``S[0]``."""
        return float(self.S[0])

    @property
    def sigma_min(self) -> float:
        """``S[k-1]``, the smallest of the ``min(m, n)`` singular values (may be ~0)."""
        return float(self.S[-1])

    @property
    def condition_number(self) -> float:
        """``S[0] / S[k-1]`` over the full spectrum, ``k = min(m, n)``; ``inf`` if ``rank < k``.

        This is the paper's sigma_max / sigma_min (e.g. sigma_1/sigma_10 for the 10x784
        1-layer network, sigma_1/sigma_9 for the (4096, 9) kernel view). A numerically
        rank-deficient matrix reports ``inf`` instead of a huge, noise-dominated ratio.
        """
        if self.rank < len(self.S):
            return math.inf
        return float(self.S[0] / self.S[-1])

    @property
    def null_dim(self) -> int:
        """``n - r``."""
        return self.shape[1] - self.rank

    @property
    def row_basis(self) -> Tensor:
        """``(n, r)``: orthonormal basis of the row space, ``V_r = Vh[:r].T``."""
        return self.Vh[: self.rank].T

    @property
    def column_basis(self) -> Tensor:
        """``(m, r)``: orthonormal basis of the column space (range), ``U[:, :r]``."""
        return self.U[:, : self.rank]

    @cached_property
    def null_basis(self) -> Tensor:
        """``(n, n - r)``: orthonormal basis of the null space, the complement of ``V_r``."""
        return _orth_complement(self.row_basis)

    @cached_property
    def left_null_basis(self) -> Tensor:
        """``(m, m - r)``: orthonormal basis of the left null space, the complement of ``U_r``."""
        return _orth_complement(self.column_basis)

    @property
    def signal(self) -> Tensor:
        """``(r, n)``: the paper's signal space, ``sigma_i v_i`` as rows: ``S[:r, None] * Vh[:r]``."""
        return self.S[: self.rank, None] * self.Vh[: self.rank]


def layer_spaces(
    matrix_or_layer, view: str = "kernels", rtol: float | None = None, name: str | None = None
) -> LayerSpaces:
    """SVD, rank and fundamental subspaces of a layer's matrix, in float64.

    Parameters
    ----------
    matrix_or_layer : (m, n) Tensor or array, 4-D conv weight, nn.Linear or nn.Conv2d
        Layers and 4-D weights go through :func:`weight_matrix` with ``view``.
    view : {"kernels", "unfold"}
        Used only for layers and 4-D weights (``"taps"`` is a stack; take each tap).
    rtol : float, optional
        Relative rank tolerance: singular values ``<= rtol * S[0]`` count as zero.
        Default ``max(m, n) * eps`` (float64 eps). For a matrix computed in float32, pass
        ``max(m, n) * torch.finfo(torch.float32).eps``.
    name : str, optional
        Used in error messages.

    Returns
    -------
    LayerSpaces
        ``U (m, k)``, ``S (k,)``, ``Vh (k, n)`` with ``k = min(m, n)``, ``rank``, ``tol``,
        the bases ``row_basis (n, r)``, ``null_basis (n, n-r)``, ``column_basis (m, r)``,
        ``left_null_basis (m, m-r)``, ``signal (r, n)`` and ``condition_number``.

    Raises
    ------
    ValueError
        A matrix that is not 2-D or is empty, non-finite entries, an unknown view.

    Notes
    -----
    ``A = U diag(S) Vh``. The row space ``span(v_1..v_r)`` is what the layer sees; the null
    space ``N(A) = {x : A x = 0}`` is what it cannot see; the column space is its range and
    the left null space ``N(A^T)`` the outputs it can never produce. The paper's signal
    space is ``{sigma_i v_i}``. The SVD is computed on a float64 CPU copy, on the tall
    orientation of the matrix (``A`` or ``A^T``). Each pair ``(u_i, v_i)`` is signed so that
    the largest-magnitude entry of ``v_i`` is positive (singular vectors are otherwise
    defined only up to sign).

    References
    ----------
    .. [1] Pattichis & Pattichis, SSIAI 2024, arXiv:2402.00261, Sec. II and Fig. 1.

    Examples
    --------
    >>> import torch
    >>> sp = layer_spaces(torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))
    >>> sp.rank, sp.null_dim, sp.condition_number
    (1, 2, inf)
    >>> sp.signal.abs()
    tensor([[2.2361, 0.0000, 0.0000]], dtype=torch.float64)
    """
    _check_view(view, VIEWS)
    A = _as_matrix64(matrix_or_layer, view, name)
    m, n = A.shape
    U, S, Vh = _sign_fixed(*_svd_tall(A))
    rtol = _default_rtol(m, n) if rtol is None else float(rtol)
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    tol = rtol * float(S[0])
    return LayerSpaces(A, U, S, Vh, int((S > tol).sum()), rtol, tol)


# --------------------------------------------------------------------------------------
# residuals
# --------------------------------------------------------------------------------------


def _flat(x, n: int, what: str = "x") -> tuple[Tensor, tuple[int, ...]]:
    """x as a (B, n) tensor, plus x's shape. Accepts (n,) or (B, ...) with prod(...) == n."""
    x = torch.as_tensor(x)
    shape = tuple(x.shape)
    if x.ndim == 1 and shape[0] == n:
        return x.reshape(1, n), shape  # (1, n)
    if x.ndim >= 2 and math.prod(shape[1:]) == n:
        return x.reshape(shape[0], n), shape  # (B, n)
    raise ValueError(
        f"{what} must have shape (n,) or (B, ...) with n = {n} values per sample "
        f"(e.g. (B, {n}) or images (B, 1, H, W) with H*W = {n}), got {shape}"
    )


def _check_finite(x: Tensor, what: str) -> None:
    if not _all_finite(x):
        raise ValueError(f"{what} holds NaN or inf values")


def _spaces(spaces_or_matrix) -> LayerSpaces:
    if isinstance(spaces_or_matrix, LayerSpaces):
        return spaces_or_matrix
    return layer_spaces(spaces_or_matrix)


def row_null_split(spaces, x) -> tuple[Tensor, Tensor]:
    """Split ``x`` into its row-space and null-space parts, ``x = x_row + x_null``.

    Parameters
    ----------
    spaces : LayerSpaces, or anything :func:`layer_spaces` accepts
        Of a matrix ``A`` (m, n).
    x : (n,) or (B, ...) Tensor with ``prod(...) == n``
        E.g. ``(B, n)`` or images ``(B, 1, 28, 28)`` for ``n = 784``.

    Returns
    -------
    x_row, x_null : Tensors of x's shape, dtype and device
        ``x_row = V_r V_r^T x`` (what the layer sees) and ``x_null = x - x_row``.

    Notes
    -----
    Computed in float64; ``V_r V_r^T = A^+ A`` is the orthogonal projector on the row space.
    """
    sp = _spaces(spaces)
    x = torch.as_tensor(x)
    X, shape = _flat(x, sp.shape[1])  # (B, n)
    _check_finite(X, "x")
    X64 = X.to(torch.float64)
    V = sp.row_basis.to(X64.device)  # (n, r)
    row = (X64 @ V) @ V.T  # (B, n)
    null = X64 - row  # (B, n)
    return row.reshape(shape).to(x.dtype), null.reshape(shape).to(x.dtype)


def null_residual(spaces, x) -> Tensor:
    """The part of ``x`` the layer cannot see: ``x - V_r V_r^T x`` (information lost).

    Parameters
    ----------
    spaces : LayerSpaces, or anything :func:`layer_spaces` accepts
        Of a matrix ``A`` (m, n) with rank ``r`` and row basis ``V_r`` (n, r).
    x : (n,) or (B, ...) Tensor with ``prod(...) == n``
        One vector, a batch ``(B, n)``, or images ``(B, 1, H, W)`` with ``H*W = n``.

    Returns
    -------
    x_null : Tensor of x's shape, dtype and device
        Satisfies ``A x_null = 0`` (to rounding) and is idempotent.

    Notes
    -----
    ``x_null = (I - V_r V_r^T) x = (I - A^+ A) x``. This is the "information lost" the
    paper's text describes; the released code computes :func:`row_projection_residual`.

    Examples
    --------
    >>> import torch
    >>> null_residual(torch.tensor([[1.0, 1.0]]), torch.tensor([3.0, 1.0]))
    tensor([ 1., -1.])
    """
    return row_null_split(spaces, x)[1]


def row_projection_residual(W, x, i: int) -> Tensor:
    """The released code's residual: ``x`` minus its projection on the single row ``w_i``.

    Parameters
    ----------
    W : (m, n) Tensor, nn.Linear, or LayerSpaces (its ``matrix`` is used)
    x : (n,) or (B, ...) Tensor with ``prod(...) == n``
    i : int
        The row, ``0 <= i < m``; the released code uses ``i = c`` for class ``c``.

    Returns
    -------
    r : Tensor of x's shape, dtype and device

    Notes
    -----
    ``r = x - (w_i^T x / w_i^T w_i) w_i``: orthogonal to ``w_i`` only, not to the other rows,
    so it is not the null-space part of ``x`` (see :func:`null_residual`).

    Examples
    --------
    >>> import torch
    >>> row_projection_residual(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([3.0, 1.0]), 0)
    tensor([0., 1.])
    """
    A = W.matrix if isinstance(W, LayerSpaces) else _as_matrix64(W, "kernels", None)
    m, n = A.shape
    if not (isinstance(i, (int, np.integer)) and 0 <= i < m):
        raise ValueError(f"row index i must be an int in [0, {m}), got {i!r}")
    x = torch.as_tensor(x)
    X, shape = _flat(x, n)  # (B, n)
    _check_finite(X, "x")
    X64 = X.to(torch.float64)
    w = A[int(i)].to(X64.device)  # (n,)
    ww = float(w @ w)
    if ww == 0.0:
        raise ValueError(f"row {i} of W is all zero: the projection on it is undefined")
    r = X64 - (X64 @ w / ww)[:, None] * w  # (B, n)
    return r.reshape(shape).to(x.dtype)


@dataclass(frozen=True)
class ClassResiduals:
    """Both residuals of each class-average image (Figure 1, bottom rows).

    Attributes
    ----------
    classes : (C,) Tensor of int64
    averages : (C, ...) Tensor
        Class-average images, in X's dtype (per-sample shape of X).
    null : (C, ...) Tensor
        ``x̄_c - V_r V_r^T x̄_c`` (:func:`null_residual`).
    row : (C, ...) Tensor
        ``x̄_c - (w_c^T x̄_c / w_c^T w_c) w_c`` (:func:`row_projection_residual`, row ``c``).
    """

    classes: Tensor
    averages: Tensor
    null: Tensor
    row: Tensor


def class_average_residuals(W_or_spaces, X: Tensor, y: Tensor, n_classes: int | None = None):
    """Class-average images and both residual kinds of each (Figure 1).

    Parameters
    ----------
    W_or_spaces : LayerSpaces, (m, n) Tensor or nn.Linear
    X : (N, ...) Tensor with ``prod(...) == n``, e.g. images (N, 1, 28, 28)
    y : (N,) integer Tensor of labels
    n_classes : int, optional
        Classes ``0 .. n_classes-1`` must each have images. Default: the labels present.

    Returns
    -------
    ClassResiduals
        ``averages``, ``null`` and ``row`` of shape ``(C, ...)``, in X's dtype.

    Raises
    ------
    ValueError
        Shapes that do not match, non-finite images, an empty class, or a label ``c >= m``
        (the released residual of class ``c`` uses row ``c``).
    """
    sp = _spaces(W_or_spaces)
    X = torch.as_tensor(X)
    y = torch.as_tensor(y).reshape(-1)
    Xf, _ = _flat(X, sp.shape[1], "X")  # (N, n)
    if len(y) != len(Xf):
        raise ValueError(f"X has {len(Xf)} samples but y has {len(y)} labels")
    _check_finite(Xf, "X")
    y = y.to(Xf.device)
    classes = torch.arange(n_classes) if n_classes is not None else torch.unique(y).cpu()
    averages = []
    for c in classes.tolist():
        members = Xf[y == c]
        if len(members) == 0:
            raise ValueError(f"class {c} has no images: its average is undefined")
        averages.append(members.to(torch.float64).mean(0))
    if int(classes.max()) >= sp.shape[0]:
        raise ValueError(f"label {int(classes.max())} has no weight row (W has {sp.shape[0]} rows)")
    avg = torch.stack(averages)  # (C, n) float64
    null = null_residual(sp, avg)  # (C, n)
    row = torch.stack([row_projection_residual(sp, a, int(c)) for a, c in zip(avg, classes)])
    shape = (len(classes), *X.shape[1:])  # (C, ...) per-sample shape of X
    avg, null, row = (t.reshape(shape).to(X.dtype) for t in (avg, null, row))
    return ClassResiduals(classes.to(torch.int64), avg, null, row)


# --------------------------------------------------------------------------------------
# the whole convolution as an operator (circular boundary)
# --------------------------------------------------------------------------------------


def _padding(layer: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zero padding of a Conv2d, "same"/"valid" resolved like torch."""
    if layer.padding == "same":  # torch puts total // 2 first
        totals = [d * (k - 1) for d, k in zip(layer.dilation, layer.kernel_size)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if layer.padding == "valid":
        return ((0, 0), (0, 0))
    return tuple((p, p) for p in layer.padding)


def _conv_geometry(layer) -> tuple[Tensor, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(weight, stride, dilation, leading padding) of a Conv2d or a raw 4-D weight."""
    w, groups = _weight_of(layer)
    if w.ndim != 4:
        raise ValueError(f"the operator view needs a convolution, got a weight {tuple(w.shape)}")
    if groups != 1:
        raise ValueError(f"the operator view needs groups=1, got groups={groups}")
    if not isinstance(layer, nn.Conv2d):
        return w, (1, 1), (1, 1), (0, 0)
    lead = tuple(p[0] for p in _padding(layer))
    return w, tuple(layer.stride), tuple(layer.dilation), lead


def _phase_dft(k: int, d: int, s: int, lead: int, N: int) -> Tensor:
    """(s, N, k) complex: tap p sits at input offset p*d - lead = s*a + r (phase r, shift a);
    E[r, u, p] = exp(+2 pi i u a / N) if tap p has phase r, else 0."""
    offset = torch.arange(k) * d - lead  # (k,)
    r = torch.remainder(offset, s)  # (k,) phase of each tap
    a = torch.div(offset, s, rounding_mode="floor")  # (k,) shift on the subsampled grid
    u = torch.arange(N)
    E = torch.exp(2j * math.pi * torch.outer(u, a).to(torch.float64) / N)  # (N, k)
    mask = (r[None, :] == torch.arange(s)[:, None]).to(torch.complex128)  # (s, k)
    return mask[:, None, :] * E[None]  # (s, N, k)


def _operator_blocks(layer, size: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
    """The circular strided convolution in the Fourier domain: blocks (H', W', C_out, C_in*sh*sw).

    Requires sh | H and sw | W (then the operator is block diagonal over the H'xW' frequencies
    of the polyphase components, H' = H/sh, W' = W/sw).
    """
    w, (sh, sw), (dh, dw), (ph, pw) = _conv_geometry(layer)
    H, W = size
    C_out, C_in, kh, kw = w.shape
    Hp, Wp = H // sh, W // sw
    Eh = _phase_dft(kh, dh, sh, ph, Hp)  # (sh, H', kh)
    Ew = _phase_dft(kw, dw, sw, pw, Wp)  # (sw, W', kw)
    K = torch.einsum("ocpq,rup,tvq->uvocrt", w.to(torch.complex128).cpu(), Eh, Ew)
    return K.reshape(Hp, Wp, C_out, C_in * sh * sw), (Hp, Wp)  # (H', W', C_out, C_in*sh*sw)


def conv_operator_matrix(layer, size: tuple[int, int]) -> Tensor:
    """The dense matrix of a convolution with circular boundary, for small cases.

    Parameters
    ----------
    layer : nn.Conv2d or (C_out, C_in, kh, kw) weight (stride 1, no padding)
    size : (H, W)
        Input size.

    Returns
    -------
    A : (C_out*H'*W', C_in*H*W) float64 Tensor, ``H' = ceil(H / sh)``, ``W' = ceil(W / sw)``
        ``A @ x.flatten()`` is the output, flattened, of ``y[o, i, j] = sum_{c,p,q}
        w[o, c, p, q] x[c, (sh*i + dh*p - ph) mod H, (sw*j + dw*q - pw) mod W]``
        (``ph, pw``: the layer's leading padding). Bias, if any, is left out.
    """
    w, (sh, sw), (dh, dw), (ph, pw) = _conv_geometry(layer)
    H, W = (int(s) for s in size)
    C_out, C_in, kh, kw = w.shape
    Hp, Wp = -(-H // sh), -(-W // sw)
    if C_out * Hp * Wp * C_in * H * W > _DENSE_LIMIT:
        raise ValueError(
            f"the dense operator would be ({C_out * Hp * Wp}, {C_in * H * W}): too large "
            f"(limit {_DENSE_LIMIT} entries)"
        )
    o, c, p, q, i, j = torch.meshgrid(
        *(torch.arange(s) for s in (C_out, C_in, kh, kw, Hp, Wp)), indexing="ij"
    )
    rows = (o * Hp + i) * Wp + j
    cols = (c * H + (sh * i + dh * p - ph) % H) * W + (sw * j + dw * q - pw) % W
    vals = w.to(torch.float64).cpu()[o, c, p, q]
    A = torch.zeros(C_out * Hp * Wp, C_in * H * W, dtype=torch.float64)
    A.index_put_((rows.flatten(), cols.flatten()), vals.flatten(), accumulate=True)
    return A


def conv_operator_singular_values(layer, size: tuple[int, int]) -> Tensor:
    """Singular values of a whole convolution with circular boundary (the "operator" view).

    Parameters
    ----------
    layer : nn.Conv2d (groups=1) or (C_out, C_in, kh, kw) weight (read as stride 1)
    size : (H, W)
        The input's spatial size.

    Returns
    -------
    S : (H'*W'*min(C_out, C_in*sh*sw),) float64 Tensor, descending
        With ``H' = H/sh``, ``W' = W/sw``: all ``min(M, N)`` singular values of the map from
        ``C_in*H*W`` inputs to ``M = C_out*H'*W'`` outputs. Strides that do not divide the
        size fall back to the dense matrix (:func:`conv_operator_matrix`) when it is small.

    Notes
    -----
    With circular boundary a stride-1 convolution is block circulant: the 2-D DFT
    block-diagonalises it into the ``H*W`` matrices ``K(u, v) = sum_{p,q} w[:, :, p, q]
    exp(2 pi i (u p / H + v q / W))`` (C_out, C_in), and its singular values are the union of
    theirs [2]_. A stride ``s`` is handled by splitting the input into its ``s*s`` polyphase
    components, which turns it into a stride-1 convolution with ``C_in*s*s`` channels on the
    ``H/s x W/s`` grid. Zero padding (the layers' own boundary) differs from this at the
    border; the difference matters when the kernel is not small beside the input.

    References
    ----------
    .. [2] H. Sedghi, V. Gupta, P. M. Long, "The Singular Values of Convolutional Layers",
       ICLR 2019, arXiv:1805.10408.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[[0.0, 0, 0], [0, 2, 0], [0, 0, 0]]]]))
    >>> conv_operator_singular_values(conv, (4, 4))  # 2 * identity
    tensor([2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2.],
           dtype=torch.float64)
    """
    return _operator_spaces(layer, size, compute_uv=False).S_sorted


@dataclass
class _OperatorSpaces:
    """The circular operator's spectrum: per-frequency blocks (FFT route) or one dense SVD."""

    S_sorted: Tensor  # (min(M, N),) descending
    shape: tuple[int, int]  # (M, N)
    blocks: tuple | None = None  # (S (H', W', k), Vh (H', W', k, C')) for the FFT route
    geometry: tuple | None = None  # (stride, size)
    dense: LayerSpaces | None = None


def _operator_spaces(layer, size, compute_uv: bool = True) -> _OperatorSpaces:
    w, (sh, sw), _, _ = _conv_geometry(layer)
    H, W = (int(s) for s in size)
    C_out, C_in = w.shape[:2]
    if H < 1 or W < 1:
        raise ValueError(f"size must be positive, got {size}")
    if H % sh or W % sw:  # not block circulant: dense matrix if it is small enough
        try:
            A = conv_operator_matrix(layer, (H, W))
        except ValueError as e:
            raise ValueError(
                f"stride ({sh}, {sw}) does not divide the input size ({H}, {W}), so the FFT "
                f"route does not apply, and {e}"
            ) from None
        if not compute_uv:
            return _OperatorSpaces(_svd_tall(A, compute_uv=False), tuple(A.shape))
        dense = layer_spaces(A)
        return _OperatorSpaces(dense.S, dense.shape, dense=dense)
    K, (Hp, Wp) = _operator_blocks(layer, (H, W))  # (H', W', C_out, C')
    shape = (C_out * Hp * Wp, C_in * H * W)
    if compute_uv:
        _, S, Vh = torch.linalg.svd(K, full_matrices=False)  # (H', W', k), (H', W', k, C')
        blocks = (S, Vh)
    else:
        S, blocks = torch.linalg.svdvals(K), None
    S_sorted = S.flatten().sort(descending=True).values
    return _OperatorSpaces(S_sorted, shape, blocks, ((sh, sw), (H, W)))


def _operator_energies(op: _OperatorSpaces, tol: float, x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (null-space energy, total energy) of x (B, C_in, H, W) under the operator."""
    B = x.shape[0]
    x = x.to(torch.float64)
    if op.dense is not None:
        sp = op.dense
        X = x.reshape(B, -1).cpu()  # (B, C_in*H*W)
        V = sp.Vh[(sp.S > tol)].T  # (N, r)
        R = X - (X @ V) @ V.T
        return R.square().sum(1), X.square().sum(1)
    S, Vh = op.blocks
    (sh, sw), (H, W) = op.geometry
    Hp, Wp = H // sh, W // sw
    C_in = x.shape[1]
    xp = x.cpu().reshape(B, C_in, Hp, sh, Wp, sw)  # x[b, c, sh*i + r, sw*j + t]
    xp = xp.permute(0, 1, 3, 5, 2, 4).reshape(B, C_in * sh * sw, Hp, Wp)  # (B, C', H', W')
    Xf = torch.fft.fft2(xp).permute(2, 3, 1, 0)  # (H', W', C', B)
    keep = (S > tol).to(torch.complex128)[..., None]  # (H', W', k, 1)
    coef = keep * (Vh @ Xf)  # (H', W', k, B): coordinates on the kept right singular vectors
    R = Xf - Vh.conj().transpose(-2, -1) @ coef  # (H', W', C', B)
    return R.abs().square().sum((0, 1, 2)), Xf.abs().square().sum((0, 1, 2))


# --------------------------------------------------------------------------------------
# a whole network
# --------------------------------------------------------------------------------------


def _stats(S: Tensor, m: int, n: int, rtol: float | None) -> dict:
    rtol = _default_rtol(m, n) if rtol is None else float(rtol)
    tol = rtol * float(S[0])
    rank = int((S > tol).sum())
    k = min(m, n)
    return {
        "matrix_shape": (m, n),
        "rank": rank,
        "sigma_max": float(S[0]),
        "sigma_min": float(S[k - 1]),
        "condition_number": float(S[0] / S[k - 1]) if rank == k else math.inf,
        "null_dim": n - rank,
        "tol": tol,
    }


class _Probe:
    """One layer of a network: its spectrum in a view and, fed its inputs, their null energy."""

    def __init__(self, name: str, layer: nn.Module, view: str, rtol: float | None):
        self.name, self.layer, self.view, self.rtol = name, layer, view, rtol
        self.note = ""
        self.input_shape: tuple[int, ...] | None = None
        self.stats: dict | None = None
        self.spaces = None  # LayerSpaces, or _OperatorSpaces for the operator view
        self.null: list[Tensor] = []
        self.total: list[Tensor] = []
        self._V: dict = {}
        self.batch: list[Tensor] | None = None
        if isinstance(layer, nn.Conv2d) and layer.groups != 1 and view != "kernels":
            self.note = f"groups={layer.groups} > 1: the {view!r} view is not built; use 'kernels'"

    # -- spectra ----------------------------------------------------------------------
    def prepare(self, need_vectors: bool) -> None:
        """Compute the spectrum (and the vectors when energies are wanted), once."""
        if self.note or self.stats is not None:
            return
        if self.view == "operator" and isinstance(self.layer, nn.Conv2d):
            if self.input_shape is None:
                self.note = "not reached by the forward pass: input size unknown"
                return
            try:
                op = _operator_spaces(self.layer, self.input_shape[-2:], need_vectors)
            except ValueError as e:
                self.note = str(e)
                return
            self.stats = _stats(op.S_sorted, *op.shape, self.rtol)
            self.spaces = op
            return
        view = "unfold" if self.view == "operator" else self.view  # a Linear is its own operator
        A = _as_matrix64(self.layer, view, self.name)  # (m, n) float64
        if need_vectors:
            self.spaces = layer_spaces(A, rtol=self.rtol, name=self.name)
            S = self.spaces.S
        else:
            S = _svd_tall(A, compute_uv=False)
        self.stats = _stats(S, *A.shape, self.rtol)

    # -- energies ---------------------------------------------------------------------
    def _patches(self, x: Tensor) -> Tensor:
        """The vectors the layer's matrix multiplies: (B, d, L) with d its column count."""
        layer, B = self.layer, x.shape[0]
        if isinstance(layer, nn.Linear):
            return x.reshape(B, -1, layer.in_features).transpose(1, 2)  # (B, n, L)
        kh, kw = layer.kernel_size
        (top, bottom), (left, right) = _padding(layer)
        pads = [left, right, top, bottom]  # F.pad order: last dimension first
        mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
        xp = F.pad(x, pads, mode=mode) if any(pads) else x
        P = F.unfold(
            xp, (kh, kw), dilation=layer.dilation, stride=layer.stride
        )  # (B, C_in*kh*kw, L)
        if self.view == "kernels":  # one kh*kw vector per input channel and position
            C_in, L = x.shape[1], P.shape[-1]
            P = P.reshape(B, C_in, kh * kw, L).transpose(1, 2).reshape(B, kh * kw, C_in * L)
        return P

    def energies(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sample (null-space energy, total energy), float64 on the CPU."""
        if isinstance(self.spaces, _OperatorSpaces):
            null, total = _operator_energies(self.spaces, self.stats["tol"], x)
            return null.cpu(), total.cpu()
        P = self._patches(x).to(torch.float64)  # (B, d, L)
        B, d, L = P.shape
        total = P.square().sum((1, 2)).cpu()  # (B,)
        if self.spaces.rank == d:  # trivial null space
            return torch.zeros_like(total), total
        V = self._V.get(P.device)
        if V is None:
            V = self._V[P.device] = self.spaces.row_basis.to(P.device)  # (d, r)
        P2 = P.transpose(0, 1).reshape(d, B * L)  # (d, B*L): one GEMM instead of B small ones
        R = P2 - V @ (V.T @ P2)  # (d, B*L): the null-space part of every patch
        return R.square().reshape(d, B, L).sum((0, 2)).cpu(), total

    def hook(self, module: nn.Module, args: tuple) -> None:
        x = args[0].detach()
        if self.input_shape is None:
            self.input_shape = tuple(x.shape[1:])
        if self.batch is None or self.note:
            return
        self.prepare(need_vectors=True)
        if self.note:
            return
        null, total = self.energies(x)
        if self.batch:  # the layer ran more than once in this forward pass: pool the calls
            self.batch[0] += null
            self.batch[1] += total
        else:
            self.batch[:] = [null, total]

    def fractions(self) -> Tensor:
        """(N,) per-sample null-energy fraction; NaN where a sample's input energy is zero."""
        null, total = torch.cat(self.null), torch.cat(self.total)
        frac = torch.where(total > 0, null / total.clamp_min(1e-300), torch.nan)
        return frac.clamp(0.0, 1.0)


def _check_inputs(inputs) -> Tensor:
    inputs = torch.as_tensor(inputs)
    if inputs.ndim < 2 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...), got {tuple(inputs.shape)}")
    _check_finite(inputs, "inputs")
    return inputs


@torch.no_grad()
def _run_probes(model: nn.Module, view: str, rtol, inputs, batch_size: int, input_size):
    """Probes for every Linear/Conv2d of ``model``, fed ``inputs`` when given."""
    _check_view(view, TABLE_VIEWS)
    probes = [_Probe(n, m, view, rtol) for n, m in linear_layers(model)]
    if inputs is not None or view == "operator":
        for p in probes:  # refuse non-finite weights (naming the layer) before the forward pass
            _weight_of(p.layer, p.name)
        device = device_of(model)
        dtype = next((q.dtype for q in model.parameters()), torch.float32)
        data = inputs if inputs is not None else torch.zeros(1, *input_size)
        handles = [p.layer.register_forward_pre_hook(p.hook) for p in probes]
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(data), batch_size):
                for p in probes:
                    p.batch = [] if inputs is not None else None
                model(data[start : start + batch_size].to(device=device, dtype=dtype))
                for p in probes:
                    if p.batch:
                        p.null.append(p.batch[0])
                        p.total.append(p.batch[1])
        finally:
            model.train(was_training)
            for h in handles:
                h.remove()
    for p in probes:
        p.prepare(need_vectors=False)
        if inputs is not None and not p.note and not p.null:
            p.note = "not reached by the forward pass"
    return probes


def layer_table(
    model: nn.Module,
    inputs: Tensor | None = None,
    view: str = "unfold",
    rtol: float | None = None,
    batch_size: int = 256,
    input_size: tuple[int, ...] = (1, 28, 28),
) -> pd.DataFrame:
    """One row per Linear/Conv2d layer of ``model`` (module order): its spectrum and spaces.

    Parameters
    ----------
    model : nn.Module
    inputs : (N, C, H, W) Tensor, optional
        Real inputs (e.g. test images (N, 1, 28, 28)). When given, forward pre-hooks capture
        what reaches each layer and the table gains ``null_energy``.
    view : {"unfold", "kernels", "operator"}
        The matrix of each conv layer (:func:`weight_matrix`); ``"operator"`` is the whole
        convolution with circular boundary at the size its input has
        (:func:`conv_operator_singular_values`). A Linear layer is its own matrix in all.
    rtol : float, optional
        Rank tolerance relative to sigma_max; default ``max(m, n) * eps`` (float64).
    batch_size : int
        Images per forward pass.
    input_size : tuple
        One input's shape, used (with a single zero image) to learn each layer's input size
        for the ``"operator"`` view when ``inputs`` is None.

    Returns
    -------
    DataFrame
        Columns ``name, type, weight_shape, view, matrix_shape, rank, sigma_max, sigma_min,
        condition_number, null_dim, tol`` [``, null_energy``] ``, note``. A layer that cannot
        be analysed in ``view`` (e.g. ``groups > 1``) keeps its row, with NaN numbers and the
        reason in ``note``.

    Raises
    ------
    ValueError
        Unknown view, a layer with non-finite weights (named), non-finite inputs.

    Notes
    -----
    ``condition_number = sigma_max / sigma_min`` over the ``min(m, n)`` singular values,
    ``inf`` when the rank is below ``min(m, n)``; ``null_dim = n - rank``.

    ``null_energy`` is the mean over samples of ``sum_l ||(I - V_r V_r^T) p_l||^2 /
    sum_l ||p_l||^2``, where ``p_l`` are the vectors the layer's matrix multiplies: the
    input itself for a Linear, the patches (as ``F.unfold`` extracts them, padding included;
    per channel for the ``"kernels"`` view) for a convolution. Samples whose input to the
    layer is all zero are left out of the mean. For a convolution this is a *per-patch*
    statement and overstates what the layer loses: a patch component in null(M) can still
    reach the output through the overlapping neighbouring patches (an input in the null
    space of the whole convolution has every patch in null(M), not conversely). The
    ``"operator"`` view measures the energy in the null space of the whole (circular)
    convolution instead: what the layer really cannot see, up to the boundary.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    >>> layer_table(net)[["name", "matrix_shape", "rank", "null_dim"]]
      name matrix_shape  rank  null_dim
    0    1    (10, 784)    10       774
    """
    if inputs is not None:
        inputs = _check_inputs(inputs)
    probes = _run_probes(model, view, rtol, inputs, batch_size, input_size)
    rows = []
    for p in probes:
        row = {
            "name": p.name,
            "type": type(p.layer).__name__,
            "weight_shape": tuple(p.layer.weight.shape),
            "view": view,
        }
        stats = p.stats or {
            "matrix_shape": None,
            **dict.fromkeys(
                ["rank", "sigma_max", "sigma_min", "condition_number", "null_dim", "tol"], math.nan
            ),
        }
        row.update(stats)
        if inputs is not None:
            row["null_energy"] = float(p.fractions().nanmean()) if p.null else math.nan
            if p.null and not p.note and math.isnan(row["null_energy"]):
                p.note = "every input reaching this layer is zero"
        row["note"] = p.note
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("rank", "null_dim"):
        df[col] = df[col].astype("Int64")
    return df


def null_energy_by_layer(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    view: str = "unfold",
    rtol: float | None = None,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Mean null-space energy fraction of each layer's inputs, per class (layers x classes).

    Parameters
    ----------
    model : nn.Module
    X : (N, C, H, W) Tensor
        Real inputs, e.g. test images (N, 1, 28, 28).
    y : (N,) integer Tensor
        Their labels.
    view, rtol, batch_size
        As in :func:`layer_table`.

    Returns
    -------
    DataFrame
        Index: layer names in module order. One float column per class label (sorted), the
        mean over that class's samples of the null-energy fraction defined in
        :func:`layer_table`; a final ``note`` column says why a row is NaN.

    Raises
    ------
    ValueError
        Mismatched ``X``/``y`` lengths, non-finite inputs, and as :func:`layer_table`.
    """
    X = _check_inputs(X)
    y = torch.as_tensor(y).reshape(-1).cpu()
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels")
    classes = torch.unique(y).tolist()
    probes = _run_probes(model, view, rtol, X, batch_size, None)
    data, notes = {}, []
    for p in probes:
        if p.null:
            frac = p.fractions()  # (N,)
            data[p.name] = [float(frac[y == c].nanmean()) for c in classes]
        else:
            data[p.name] = [math.nan] * len(classes)
        note = p.note
        empty = [c for c, v in zip(classes, data[p.name]) if math.isnan(v)]
        if not note and empty:
            note = f"classes {empty}: every input reaching this layer is zero"
        notes.append(note)
    df = pd.DataFrame.from_dict(data, orient="index", columns=classes)
    df.index.name = "layer"
    df.columns.name = "class"
    df["note"] = notes
    return df
