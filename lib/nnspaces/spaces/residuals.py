"""What a layer cannot see: the row/null split of inputs and the two residuals the paper's
Figure 1 can mean (:func:`null_residual`, and :func:`row_projection_residual`, what the
released code computes), for each class-average image (:func:`class_average_residuals`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .matrices import check_finite
from .svd import LayerSpaces, as_matrix64, layer_spaces


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
    check_finite(X, "x")
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
    A = W.matrix if isinstance(W, LayerSpaces) else as_matrix64(W, "kernels", None)
    m, n = A.shape
    if not (isinstance(i, (int, np.integer)) and 0 <= i < m):
        raise ValueError(f"row index i must be an int in [0, {m}), got {i!r}")
    x = torch.as_tensor(x)
    X, shape = _flat(x, n)  # (B, n)
    check_finite(X, "x")
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
    check_finite(Xf, "X")
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
