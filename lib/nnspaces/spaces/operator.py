"""A whole convolution as one linear operator (circular boundary): its dense matrix for small
cases, its singular values by the FFT (:func:`conv_operator_singular_values`), and the energy
of inputs in its null space (used by :mod:`nnspaces.spaces.table`).

References
----------
.. [2] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
   ICLR 2019, arXiv:1805.10408.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .matrices import weight_of
from .svd import LayerSpaces, layer_spaces, svd_tall

#: Largest dense circular operator (rows x columns) built when the FFT route does not apply.
_DENSE_LIMIT = 2**23


def conv_padding(layer: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` zero padding of a Conv2d ("same", "valid" as torch)."""
    if layer.padding == "same":  # torch puts total // 2 first
        totals = [d * (k - 1) for d, k in zip(layer.dilation, layer.kernel_size)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if layer.padding == "valid":
        return ((0, 0), (0, 0))
    return tuple((p, p) for p in layer.padding)


def _conv_geometry(layer) -> tuple[Tensor, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(weight, stride, dilation, leading padding) of a Conv2d or a raw 4-D weight."""
    w, groups = weight_of(layer)
    if w.ndim != 4:
        raise ValueError(f"the operator view needs a convolution, got a weight {tuple(w.shape)}")
    if groups != 1:
        raise ValueError(f"the operator view needs groups=1, got groups={groups}")
    if not isinstance(layer, nn.Conv2d):
        return w, (1, 1), (1, 1), (0, 0)
    lead = tuple(p[0] for p in conv_padding(layer))
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
    return operator_spaces(layer, size, compute_uv=False).S_sorted


@dataclass
class OperatorSpaces:
    """The circular operator's spectrum: per-frequency blocks (FFT route) or one dense SVD."""

    S_sorted: Tensor  # (min(M, N),) descending
    shape: tuple[int, int]  # (M, N)
    blocks: tuple | None = None  # (S (H', W', k), Vh (H', W', k, C')) for the FFT route
    geometry: tuple | None = None  # (stride, size)
    dense: LayerSpaces | None = None


def operator_spaces(layer, size, compute_uv: bool = True) -> OperatorSpaces:
    """The spectrum (and, with ``compute_uv``, the right singular vectors) of the circular
    convolution ``layer`` at input ``size`` (H, W): FFT blocks, or a dense SVD where the stride
    does not divide the size."""
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
            return OperatorSpaces(svd_tall(A, compute_uv=False), tuple(A.shape))
        dense = layer_spaces(A)
        return OperatorSpaces(dense.S, dense.shape, dense=dense)
    K, (Hp, Wp) = _operator_blocks(layer, (H, W))  # (H', W', C_out, C')
    shape = (C_out * Hp * Wp, C_in * H * W)
    if compute_uv:
        _, S, Vh = torch.linalg.svd(K, full_matrices=False)  # (H', W', k), (H', W', k, C')
        blocks = (S, Vh)
    else:
        S, blocks = torch.linalg.svdvals(K), None
    S_sorted = S.flatten().sort(descending=True).values
    return OperatorSpaces(S_sorted, shape, blocks, ((sh, sw), (H, W)))


def operator_energies(op: OperatorSpaces, tol: float, x: Tensor) -> tuple[Tensor, Tensor]:
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
