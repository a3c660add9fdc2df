"""A whole network, layer by layer: spectra and spaces of every Linear/Conv2d
(:func:`layer_table`) and the fraction of real inputs' energy in each layer's null space,
per class (:func:`null_energy_by_layer`: :func:`null_energy_fractions`, the numbers, in
:func:`null_energy_frame`, the table)."""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..common import eval_mode
from ..models import device_of, linear_layers
from .matrices import check_finite, check_view, weight_of
from .operator import OperatorSpaces, conv_padding, operator_energies, operator_spaces
from .svd import as_matrix64, layer_spaces, rank_cutoff, svd_tall

#: Views accepted by :func:`layer_table` and :func:`null_energy_by_layer`.
TABLE_VIEWS = ("kernels", "unfold", "operator")


def _stats(S: Tensor, m: int, n: int, rtol: float | None) -> dict:
    tol = rank_cutoff(S, (m, n), None if rtol is None else float(rtol))
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
        self.spaces = None  # LayerSpaces, or OperatorSpaces for the operator view
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
                op = operator_spaces(self.layer, self.input_shape[-2:], need_vectors)
            except ValueError as e:
                self.note = str(e)
                return
            self.stats = _stats(op.S_sorted, *op.shape, self.rtol)
            self.spaces = op
            return
        view = "unfold" if self.view == "operator" else self.view  # a Linear is its own operator
        A = as_matrix64(self.layer, view, self.name)  # (m, n) float64
        if need_vectors:
            self.spaces = layer_spaces(A, rtol=self.rtol, name=self.name)
            S = self.spaces.S
        else:
            S = svd_tall(A, compute_uv=False)
        self.stats = _stats(S, *A.shape, self.rtol)

    # -- energies ---------------------------------------------------------------------
    def _patches(self, x: Tensor) -> Tensor:
        """The vectors the layer's matrix multiplies: (B, d, L) with d its column count."""
        layer, B = self.layer, x.shape[0]
        if isinstance(layer, nn.Linear):
            return x.reshape(B, -1, layer.in_features).transpose(1, 2)  # (B, n, L)
        kh, kw = layer.kernel_size
        (top, bottom), (left, right) = conv_padding(layer)
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
        if isinstance(self.spaces, OperatorSpaces):
            null, total = operator_energies(self.spaces, self.stats["tol"], x)
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
    check_finite(inputs, "inputs")
    return inputs


@torch.no_grad()
def _run_probes(model: nn.Module, view: str, rtol, inputs, batch_size: int, input_size):
    """Probes for every Linear/Conv2d of ``model``, fed ``inputs`` when given."""
    check_view(view, TABLE_VIEWS)
    probes = [_Probe(n, m, view, rtol) for n, m in linear_layers(model)]
    if inputs is not None or view == "operator":
        for p in probes:  # refuse non-finite weights (naming the layer) before the forward pass
            weight_of(p.layer, p.name)
        device = device_of(model)
        dtype = next((q.dtype for q in model.parameters()), torch.float32)
        data = inputs if inputs is not None else torch.zeros(1, *input_size)
        handles = [p.layer.register_forward_pre_hook(p.hook) for p in probes]
        try:
            with eval_mode(model):
                for start in range(0, len(data), batch_size):
                    for p in probes:
                        p.batch = [] if inputs is not None else None
                    model(data[start : start + batch_size].to(device=device, dtype=dtype))
                    for p in probes:
                        if p.batch:
                            p.null.append(p.batch[0])
                            p.total.append(p.batch[1])
        finally:
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

    Notes
    -----
    Computes and returns (writes nothing): :func:`null_energy_fractions` then
    :func:`null_energy_frame`. The chapters call :func:`nnspaces.notebook.null_energy_by_layer`,
    which memoises the fractions on disk (minutes for ResNet18).
    """
    return null_energy_frame(null_energy_fractions(model, X, y, view, rtol, batch_size))


def null_energy_frame(fractions: tuple[dict, list, list]) -> pd.DataFrame:
    """:func:`null_energy_by_layer`'s table from :func:`null_energy_fractions`' values."""
    data, notes, classes = fractions
    df = pd.DataFrame.from_dict(data, orient="index", columns=classes)
    df.index.name = "layer"
    df.columns.name = "class"
    df["note"] = notes
    return df


def null_energy_fractions(
    model, X, y, view="unfold", rtol=None, batch_size=256
) -> tuple[dict, list, list]:
    """:func:`null_energy_by_layer`'s numbers: ``data`` (layer → mean fraction per class),
    ``notes`` (one per layer) and ``classes`` (sorted labels), all plain Python values."""
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
    return data, notes, classes
