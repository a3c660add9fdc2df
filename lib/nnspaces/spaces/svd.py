"""The SVD of a layer's matrix and its four fundamental subspaces (:func:`layer_spaces`), and
the library's one rank rule (:func:`rank_cutoff`). Every SVD is taken in float64 on the CPU."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor, nn

from .matrices import VIEWS, all_finite, check_view, layer_label, weight_matrix


def as_matrix64(matrix_or_layer, view: str, name: str | None) -> Tensor:
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
    if not checked and not all_finite(A):
        bad = int((~torch.isfinite(A)).sum())
        raise ValueError(
            f"{layer_label(matrix_or_layer, name)}: the matrix has {bad} non-finite (NaN or inf) "
            "entries"
        )
    return A


def svd_tall(A: Tensor, compute_uv: bool = True):
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


def default_rtol(shape: tuple[int, int], dtype: torch.dtype = torch.float64) -> float:
    """The default relative rank tolerance of an (m, n) matrix: ``max(m, n) · eps``.

    NumPy's ``matrix_rank`` and ``pinv`` rule, with ``eps`` of ``dtype`` (float64 for the
    SVDs of this package). The one rule of the library: :func:`rank_cutoff` applies it.
    """
    return max(shape) * torch.finfo(dtype).eps


def rank_cutoff(S: Tensor, shape: tuple[int, int], rtol: float | None = None) -> float:
    """Singular values at or below this count as zero: ``rtol · σ_max``.

    Parameters
    ----------
    S : (k,) Tensor
        Singular values of an (m, n) matrix, largest first.
    shape : (m, n)
    rtol : float, optional
        Default :func:`default_rtol` in the dtype of ``S``: ``max(m, n) · eps · σ_max``.

    Returns
    -------
    cut : float
        0 for an empty ``S``.

    Examples
    --------
    >>> S = torch.tensor([3.0, 1e-20], dtype=torch.float64)
    >>> rank_cutoff(S, (2, 50)) == 50 * torch.finfo(torch.float64).eps * 3.0
    True
    """
    rtol = default_rtol(shape, S.dtype) if rtol is None else rtol
    return rtol * (float(S[0]) if len(S) else 0.0)


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
        """``(r, n)``: the paper's signal space, ``sigma_i v_i`` as rows: ``S[:r, None] * Vh[:r]``
        (``r`` the rank)."""
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
    check_view(view, VIEWS)
    A = as_matrix64(matrix_or_layer, view, name)
    m, n = A.shape
    U, S, Vh = _sign_fixed(*svd_tall(A))
    rtol = default_rtol((m, n)) if rtol is None else float(rtol)
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    tol = rank_cutoff(S, (m, n), rtol)
    return LayerSpaces(A, U, S, Vh, int((S > tol).sum()), rtol, tol)
