"""The released ResNet "+training", re-enacted: a network left in training mode.

The released notebook rebuilds ResNet18, loads ``final_model_resnet`` into it and never calls
``eval()``, so everything it then computes with the ResNet runs in *training mode*, where every
BatchNorm layer normalises with the statistics of the batch in hand (NOTES §2):

1. the outputs over the training images (histograms and targets) come from batches of 32 real
   images — batch statistics; the running statistics drift as a side effect;
2. the targets are the released min/max ones built from those outputs (:func:`released_targets`);
3. the "min" start image is the class image whose output is nearest (MSE) the target, each
   candidate passed through the network as 32 copies of itself;
4. "+training" optimises a batch of 32 copies of the start image, the target broadcast against
   the batch, by plain SGD (lr 1e-4, momentum 0, 100 steps, last iterate, no clipping).

With 32 identical images, a BatchNorm layer whose maps are 1×1 (all of ResNet18's ``layer4`` on
28×28 inputs) sees a batch variance of zero: it outputs its shift ``β`` whatever the image, and
the network's output no longer depends on the image. :func:`reenact` runs the whole procedure on
a copy of a trained network, beside the corrected procedure (the same steps in eval mode, one
image, as :func:`nnspaces.inverse.invert_classes` with ``"paper-sgd"``).

Public API
----------
- :data:`BATCH_SIZE` — the released batch (and number of copies), 32.
- :func:`released_targets` — ``T[c] = [min_c, …, max_c (at c), …, min_c]`` from outputs.
- :func:`batch_outputs` — outputs over a data set in shuffled batches, in the model's mode.
- :func:`copies_outputs` — each image's outputs when passed as ``copies`` identical copies.
- :func:`nearest_start` — the released "min" start image from such outputs; :func:`choice_range`
  — how decisive that choice is.
- :func:`near_binary_fraction` — how black-and-white images are.
- :func:`input_sgd` — the released input optimisation on one start image.
- :func:`running_stat_drift` — how far BatchNorm running statistics moved.
- :func:`reenact` → :class:`Reenactment` — the released and the corrected procedure, per class.
- :func:`kernel_condition` — Figure 2's condition number of a loaded network's convolution.

References
----------
R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image Analysis
using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73–76, arXiv:2402.00261.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from .inverse import PAPER_SGD_LR, PAPER_SGD_STEPS
from .models import device_of
from .paper import RESNET_LAYER

#: Images per batch in the released code; also the number of copies of the optimised image.
BATCH_SIZE = 32

#: The procedures :func:`reenact` runs: the released one (training mode) and the corrected one.
PROCEDURES = ("released", "corrected")

#: Start images :func:`reenact` accepts (the class mean and the nearest class image).
STARTS = ("min", "avg")


def released_targets(Z: torch.Tensor) -> torch.Tensor:
    """The released code's min/max targets from outputs over the data.

    Parameters
    ----------
    Z : (N, K) Tensor
        Raw outputs of ``N`` images.

    Returns
    -------
    T : (K, K) Tensor
        Row ``c`` is the target of class ``c``; dtype of ``Z``, on the CPU.

    Notes
    -----
    ``T[c, j] = min_n Z[n, c]`` for ``j ≠ c`` and ``T[c, c] = max_n Z[n, c]``: every entry of row
    ``c`` is built from output ``c`` alone (NOTES §2).

    Examples
    --------
    >>> released_targets(torch.tensor([[0.0, 5.0], [2.0, 1.0]]))
    tensor([[2., 0.],
            [1., 5.]])
    """
    Z = torch.as_tensor(Z).detach().cpu()
    if Z.ndim != 2 or len(Z) == 0:
        raise ValueError(f"outputs Z must be a non-empty (N, K) matrix, got {tuple(Z.shape)}")
    if not torch.isfinite(Z).all():
        raise ValueError("the outputs hold NaN or inf: no targets can be built")
    K = Z.shape[1]
    T = Z.min(0).values[:, None].expand(K, K).clone()  # (K, K): row c = min of output c
    T[torch.arange(K), torch.arange(K)] = Z.max(0).values
    return T


def _batches(n: int, batch_size: int, seed: int | None) -> list[torch.Tensor]:
    """Index batches of a seeded permutation; a last batch of one image joins the one before
    (a BatchNorm layer in training mode refuses a single value per channel)."""
    order = torch.arange(n) if seed is None else torch.randperm(n, generator=_gen(seed))
    parts = list(torch.split(order, batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def batch_outputs(
    model: nn.Module, X: torch.Tensor, batch_size: int = BATCH_SIZE, seed: int | None = 0
) -> torch.Tensor:
    """Outputs over a data set, computed in batches in whatever mode ``model`` is in.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C, H, W)`` to ``(B, K)``. Used as it is: in training mode every BatchNorm layer
        normalises with the batch's statistics and updates its running statistics.
    X : (N, C, H, W) Tensor
    batch_size : int
        Images per batch (the released 32).
    seed : int or None
        Seeds the random order of the images (the released loader shuffled); ``None`` keeps the
        given order. In training mode an image's output depends on the other images of its batch.

    Returns
    -------
    Z : (N, K) Tensor
        Row ``n`` is the output of ``X[n]`` (in the original order); CPU, the model's dtype.
    """
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty (N, C, H, W) Tensor, got {tuple(X.shape)}")
    device = device_of(model)
    parts = _batches(len(X), batch_size, seed)
    outs = [model(X[idx].to(device)).cpu() for idx in parts]
    Z = torch.empty(len(X), outs[0].shape[1], dtype=outs[0].dtype)
    Z[torch.cat(parts)] = torch.cat(outs)
    return Z


@torch.no_grad()
def copies_outputs(model: nn.Module, X: torch.Tensor, copies: int = BATCH_SIZE) -> torch.Tensor:
    """Each image's outputs when it is passed as a batch of ``copies`` identical copies.

    Parameters
    ----------
    model : torch.nn.Module
        Used in the mode it is in (the released "min" start: training mode).
    X : (N, C, H, W) Tensor
    copies : int
        ``B``.

    Returns
    -------
    Z : (N, B, K) Tensor
        ``Z[n, b]`` is the output of copy ``b`` of ``X[n]``; CPU, the model's dtype. (The copies'
        rows can differ in the last bits: the network need not treat batch entries identically.)
    """
    if X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty (N, C, H, W) Tensor, got {tuple(X.shape)}")
    device = device_of(model)
    return torch.stack(
        [model(x.to(device).expand(copies, *x.shape).contiguous()).cpu() for x in X]
    )  # (N, B, K)


def nearest_start(
    X: torch.Tensor, y: torch.Tensor, c: int, Z: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """The released "min" start: the class-``c`` image whose outputs are nearest the target.

    Parameters
    ----------
    X : (N, C, H, W) Tensor
    y : (N,) Tensor
    c : int
    Z : (N, B, K) Tensor
        Outputs of every image as ``B`` copies (:func:`copies_outputs`); ``B = 1`` for one output
        per image (``Z[:, None]``).
    target : (K,) Tensor

    Returns
    -------
    x0 : (C, H, W) Tensor
        ``X[n*]`` with ``n* = argmin_{n : y_n = c} mean_{b,k} (Z[n, b, k] − t[k])²``, the first
        of equal minima (the released strict ``<``).
    """
    idx, mse = _choice_losses(y, c, Z, target)
    best = int(torch.nonzero(mse == mse.min())[0])
    return X[idx[best]].detach().cpu()


def _choice_losses(y, c: int, Z: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the class-``c`` images and their losses ``mean_{b,k} (Z[n, b, k] − t[k])²``."""
    idx = torch.nonzero(torch.as_tensor(y).cpu() == c).flatten()
    if len(idx) == 0:
        raise ValueError(f"nearest_start: no images of class {c}")
    t = torch.as_tensor(target, dtype=Z.dtype).reshape(1, 1, -1)
    return idx, ((Z[idx] - t) ** 2).mean((1, 2))  # (Nc,), (Nc,)


def choice_range(y: torch.Tensor, Z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """How decisive the "min" choice is: the relative range of the candidates' losses.

    Parameters
    ----------
    y : (N,) Tensor
    Z : (N, B, K) Tensor
        As in :func:`nearest_start`.
    T : (K, K) Tensor
        Targets, row ``c`` for class ``c``.

    Returns
    -------
    r : (K,) float64 Tensor
        ``(max − min) / min`` of the losses of the class-``c`` images: near 0 when every image of
        the class is (almost) equally near the target, so that rounding decides the choice.
    """
    out = []
    for c in range(len(T)):
        _, mse = _choice_losses(y, c, Z, T[c])
        mse = mse.double()
        out.append(float((mse.max() - mse.min()) / mse.min().clamp_min(1e-300)))
    return torch.tensor(out, dtype=torch.float64)


def near_binary_fraction(images: torch.Tensor, tol: float = 0.1) -> float:
    """Fraction of pixels within ``tol`` of black (0) or white (1).

    Parameters
    ----------
    images : (N, C, H, W) Tensor
    tol : float

    Returns
    -------
    fraction : float

    Examples
    --------
    >>> near_binary_fraction(torch.tensor([0.0, 0.05, 0.5, 0.97]).reshape(1, 1, 2, 2))
    0.75
    """
    x = torch.as_tensor(images).double()
    return float(((x <= tol) | (x >= 1 - tol)).double().mean())


@dataclass
class SGDRun:
    """One run of :func:`input_sgd`.

    Attributes
    ----------
    image : (C, H, W) Tensor
        The first copy after the last step (the released code keeps ``z[0]``).
    history : list of float
        ``steps + 1`` losses: at the start and after every step.
    copies_spread : float
        ``max_i ‖z_i − z_0‖`` over the copies at the end: 0 while they stay identical.
    """

    image: torch.Tensor
    history: list[float]
    copies_spread: float


def input_sgd(
    model: nn.Module,
    x0: torch.Tensor,
    target: torch.Tensor,
    copies: int = BATCH_SIZE,
    steps: int = PAPER_SGD_STEPS,
    lr: float = PAPER_SGD_LR,
) -> SGDRun:
    """The released "+training": plain SGD on a batch of copies of one start image.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C, H, W)`` to ``(B, K)``; used in the mode it is in. No parameter gradient is
        accumulated (only the input is differentiated).
    x0 : (C, H, W) Tensor
        The start image.
    target : (K,) Tensor
    copies : int
        ``B``: the batch is ``copies`` copies of ``x0``, each its own optimisation variable (the
        released ``z`` of shape (32, 1, 28, 28)). With ``copies = 1`` and an eval-mode model this
        is :func:`nnspaces.inverse.invert` with ``"paper-sgd"``.
    steps : int
    lr : float

    Returns
    -------
    SGDRun

    Notes
    -----
    The loss is ``mean((f(z) − t)²)`` with ``f(z)`` of shape (B, K) and, for ``B > 1``, the
    target shaped (B, 1, 1, K) as released: the difference broadcasts to (B, 1, B, K), whose
    entry ``[i, 0, j, k]`` is ``f(z)[j, k] − t[k]`` for every ``i``, so its mean is exactly the
    intended ``mean_{j,k} (f(z)[j, k] − t[k])²``. Each copy receives ``1/B`` of its own image's
    gradient. SGD, momentum 0, no clipping; the last iterate is kept.
    """
    if x0.ndim != 3:
        raise ValueError(f"x0 must be one image (C, H, W), got shape {tuple(x0.shape)}")
    device = device_of(model)
    x0 = x0.detach().to(device)
    t = torch.as_tensor(target).detach().to(device=device, dtype=x0.dtype).reshape(-1)
    K = len(t)
    t = t.reshape(1, 1, 1, K).expand(copies, 1, 1, K) if copies > 1 else t.reshape(1, K)
    z = x0.expand(copies, *x0.shape).clone().requires_grad_(True)  # (B, C, H, W)
    history = []
    for step in range(steps + 1):
        with torch.enable_grad():
            loss = ((model(z) - t) ** 2).mean()  # (B, 1, B, K) for B > 1: the released broadcast
        history.append(loss.item())
        if step == steps:
            break
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            z.add_(grad, alpha=-lr)  # torch.optim.SGD's step with momentum 0, weight decay 0
    z = z.detach()
    spread = float((z - z[:1]).flatten(1).norm(dim=1).max())
    return SGDRun(z[0].cpu(), history, spread)


def _batch_norms(model: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    return {
        n: m
        for n, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    }


def running_stat_drift(before: nn.Module, after: nn.Module) -> dict:
    """How far BatchNorm running statistics moved between two copies of a network.

    Returns
    -------
    drift : dict
        ``running_mean`` and ``running_var``: the largest relative change
        ``‖s_after − s_before‖ / ‖s_before‖`` over the BatchNorm layers (0 without any);
        ``running_mean_layer`` and ``running_var_layer``: the layer where it is largest
        (``""`` without any).
    """
    old, new = _batch_norms(before), _batch_norms(after)
    drift = {"running_mean": 0.0, "running_var": 0.0, "running_mean_layer": "",
             "running_var_layer": ""}  # fmt: skip
    for name, m in old.items():
        for key in ("running_mean", "running_var"):
            a, b = getattr(m, key), getattr(new[name], key).to(getattr(m, key).device)
            rel = float((b - a).norm() / a.norm().clamp_min(torch.finfo(a.dtype).tiny))
            if rel > drift[key]:
                drift[key], drift[f"{key}_layer"] = rel, name
    return drift


def _frozen_copy(model: nn.Module, training: bool) -> nn.Module:
    net = copy.deepcopy(model).train(training)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _max_pairwise(Z: torch.Tensor) -> float:
    Z = Z.double()
    return float(torch.cdist(Z, Z).max())


@dataclass
class Reenactment:
    """What :func:`reenact` found.

    Attributes
    ----------
    targets : dict procedure → (K, K) Tensor
        The released min/max targets from training-mode (``"released"``) or eval-mode
        (``"corrected"``) outputs.
    starts, images : dict (procedure, start) → (K, C, H, W) Tensor
        Start images ``x_0`` and results ``x_steps``, one per class.
    histories : dict (procedure, start) → (K, steps + 1) Tensor
        The loss at the start and after every step.
    copies_spread : dict start → (K,) Tensor
        ``max_i ‖z_i − z_0‖`` over the 32 copies at the end of each released run.
    outputs : dict
        ``"batch-train"`` (N, K): training mode, batches of 32 real images (the released
        histograms); ``"copies-train"`` (N, K): training mode, each image as 32 copies (the
        released "min" start); ``"eval"`` (N, K).
    spread : dict
        ``max_{n,m} ‖Z[n] − Z[m]‖`` over the training images for each of ``outputs``, and
        ``"copies/eval"``, the ratio of the copies' spread to the eval one, and
        ``"within-copies"``, ``max_{n,b} ‖Z[n, b] − Z[n, 0]‖`` over the copies of each image.
    drift : dict
        :func:`running_stat_drift` of the released copy after its passes.
    accuracy : dict
        ``"eval"`` and ``"train-mode"`` test accuracy (batches of 32) when test images are given.
    predicted : dict (procedure, start) → (K,) Tensor
        Eval-mode class of each result.
    choice_range : dict procedure → (K,) Tensor
        :func:`choice_range` of the losses from which the "min" start was chosen.
    """

    targets: dict
    starts: dict
    images: dict
    histories: dict
    copies_spread: dict
    outputs: dict
    spread: dict
    drift: dict
    accuracy: dict = field(default_factory=dict)
    predicted: dict = field(default_factory=dict)
    choice_range: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per procedure, start and digit.

        Columns: procedure, start, digit, loss_start, loss_end, change_pct
        (``100 (loss_end / loss_start − 1)``), distance ``‖x_end − x_0‖``, max_pixel_change
        ``max |x_end − x_0|``, start_norm ``‖x_0‖``, predicted (eval-mode class of the result),
        copies_spread (released only).
        """
        rows = []
        for (proc, start), H in self.histories.items():
            X0, X1 = self.starts[(proc, start)], self.images[(proc, start)]
            dist = (X1 - X0).flatten(1).norm(dim=1)
            peak = (X1 - X0).flatten(1).abs().max(dim=1).values
            norm = X0.flatten(1).norm(dim=1)
            spread = self.copies_spread.get(start) if proc == "released" else None
            for c in range(len(H)):
                h0, h1 = float(H[c, 0]), float(H[c, -1])
                rows.append({
                    "procedure": proc, "start": start, "digit": c,
                    "loss_start": h0, "loss_end": h1, "change_pct": 100 * (h1 / h0 - 1),
                    "distance": float(dist[c]), "max_pixel_change": float(peak[c]),
                    "start_norm": float(norm[c]),
                    "predicted": int(self.predicted[(proc, start)][c]),
                    "copies_spread": float(spread[c]) if spread is not None else float("nan"),
                })  # fmt: skip
        return pd.DataFrame(rows)

    def comparison_table(self) -> pd.DataFrame:
        """Loss change and distance moved per digit, the two procedures side by side.

        Returns
        -------
        pandas.DataFrame
            One row per start image and digit; for each procedure the columns
            ``"<procedure> loss change (%)"`` and ``"<procedure> distance"``.
        """
        df = self.table()
        wide = df.pivot(index=["start", "digit"], columns="procedure",
                        values=["change_pct", "distance"])  # fmt: skip
        cols = {}
        for proc in [p for p in PROCEDURES if p in set(df["procedure"])]:
            cols[f"{proc} loss change (%)"] = wide[("change_pct", proc)]
            cols[f"{proc} distance"] = wide[("distance", proc)]
        order = {s: i for i, s in enumerate(STARTS)}
        out = pd.DataFrame(cols).reset_index()
        by_start = lambda col: col.map(order) if col.name == "start" else col  # noqa: E731
        return out.sort_values(["start", "digit"], key=by_start, ignore_index=True)

    def numbers(self) -> dict[str, float]:
        """The numbers a chapter quotes, flat (keys are valid glue names).

        Returns
        -------
        numbers : dict
            - ``runs``: runs per procedure (digits × start images);
            - for each procedure ``p``: ``p_rose``, ``p_fell``, ``p_same`` (runs whose loss rose,
              fell, stayed exactly equal), ``p_change_min``, ``p_change_max`` (%),
              ``p_distance_median``, ``p_distance_max``, ``p_pixel_max`` (largest change of any
              pixel), ``p_choice_range_median``, ``p_choice_range_max`` (:func:`choice_range`);
            - ``start_norm_median``; ``copies_spread_max`` (released runs);
            - ``spread_copies``, ``spread_eval``, ``spread_batch``, ``spread_ratio``,
              ``within_copies`` (:attr:`spread`); ``drift_mean``, ``drift_var``;
            - ``target_gap``: ``‖T_released − T_corrected‖_F / ‖T_corrected‖_F``;
            - ``acc_eval``, ``acc_train_mode`` when measured;
            - with both start kinds: ``binary_min``, ``binary_avg``
              (:func:`near_binary_fraction` of the released start images) and
              ``same_min_starts`` (digits whose "min" start is the same image in both procedures).
        """
        df = self.table()
        out: dict[str, float] = {"runs": int((df["procedure"] == PROCEDURES[0]).sum())}
        for proc, d in df.groupby("procedure"):
            ch = d["loss_end"] - d["loss_start"]
            out |= {
                f"{proc}_rose": int((ch > 0).sum()), f"{proc}_fell": int((ch < 0).sum()),
                f"{proc}_same": int((ch == 0).sum()),
                f"{proc}_change_min": d["change_pct"].min(), f"{proc}_change_max": d["change_pct"].max(),
                f"{proc}_distance_median": d["distance"].median(),
                f"{proc}_distance_max": d["distance"].max(),
                f"{proc}_pixel_max": d["max_pixel_change"].max(),
            }  # fmt: skip
        for proc, r in self.choice_range.items():
            out[f"{proc}_choice_range_median"] = float(r.median())
            out[f"{proc}_choice_range_max"] = float(r.max())
        out["start_norm_median"] = df["start_norm"].median()
        out["copies_spread_max"] = df["copies_spread"].max()
        names = {"copies-train": "copies", "batch-train": "batch", "eval": "eval",
                 "copies/eval": "ratio", "within-copies": "within"}  # fmt: skip
        out |= {f"spread_{names[k]}": v for k, v in self.spread.items()}
        out |= {"drift_mean": self.drift["running_mean"], "drift_var": self.drift["running_var"]}
        Tr, Tc = self.targets["released"].double(), self.targets["corrected"].double()
        out["target_gap"] = float((Tr - Tc).norm() / Tc.norm())
        out |= {f"acc_{k.replace('-', '_')}": v for k, v in self.accuracy.items()}
        if ("released", "min") in self.starts and ("released", "avg") in self.starts:
            out["binary_min"] = near_binary_fraction(self.starts[("released", "min")])
            out["binary_avg"] = near_binary_fraction(self.starts[("released", "avg")])
            a, b = self.starts[("released", "min")], self.starts[("corrected", "min")]
            out["same_min_starts"] = sum(torch.equal(u, v) for u, v in zip(a, b))
        return {k: float(v) if not isinstance(v, int) else v for k, v in out.items()}


def _check_starts(starts: Sequence[str]) -> list[str]:
    starts = list(starts)
    bad = [s for s in starts if s not in STARTS]
    if bad or not starts:
        raise ValueError(f"starts {starts!r}: choose one or more of {', '.join(STARTS)}")
    return starts


def _starts(kind, X, y, T, Z3, K) -> torch.Tensor:
    """(K, C, H, W) start images; ``Z3`` (N, B, K) outputs for the "min" choice."""
    if kind == "avg":
        return torch.stack([X[torch.as_tensor(y) == c].mean(0).cpu() for c in range(K)])
    return torch.stack([nearest_start(X, y, c, Z3, T[c]) for c in range(K)])


def _run(net, R, T, copies, steps, lr) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One :func:`input_sgd` per class → images (K, C, H, W), histories (K, steps + 1), spreads."""
    runs = [input_sgd(net, r, t, copies, steps, lr) for r, t in zip(R, T)]
    images = torch.stack([r.image for r in runs])  # (K, C, H, W)
    histories = torch.tensor([r.history for r in runs], dtype=torch.float64)  # (K, steps + 1)
    return images, histories, torch.tensor([r.copies_spread for r in runs])


def _run_independent(net, R, T, steps, lr) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_run` with one copy, all classes in one batch: exact for an eval-mode network,
    whose images in a batch do not interact (the gradient of ``Σ_c loss_c`` with respect to
    image ``c`` is that of ``loss_c`` alone)."""
    device = device_of(net)
    z = R.detach().to(device).clone().requires_grad_(True)  # (K, C, H, W)
    T = T.to(device=device, dtype=z.dtype)
    history = []
    for step in range(steps + 1):
        with torch.enable_grad():
            per = ((net(z) - T) ** 2).mean(1)  # (K,): each class's loss
        history.append(per.detach().cpu().double())
        if step == steps:
            break
        (grad,) = torch.autograd.grad(per.sum(), z)
        with torch.no_grad():
            z.add_(grad, alpha=-lr)
    return z.detach().cpu(), torch.stack(history, 1), torch.zeros(len(R))


@torch.no_grad()
def _predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model(images.to(device_of(model))).argmax(1).cpu()


def _accuracy(Z: torch.Tensor, y: torch.Tensor) -> float:
    return float((Z.argmax(1) == torch.as_tensor(y).cpu()).double().mean())


def reenact(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    starts: Sequence[str] = STARTS,
    *,
    steps: int = PAPER_SGD_STEPS,
    lr: float = PAPER_SGD_LR,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    X_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
) -> Reenactment:
    """The released ResNet procedure in training mode, beside the same procedure in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network with BatchNorm layers, ``(B, 1, 28, 28)`` → ``(B, K)``. Left untouched:
        both procedures run on deep copies (mode, parameters and buffers of ``model`` unchanged).
    X : (N, 1, 28, 28) Tensor
        The training images (outputs, targets and start images come from them).
    y : (N,) Tensor
        Their labels, ``0 … K − 1``.
    starts : sequence of {"min", "avg"}
        ``"avg"``: the class-mean image; ``"min"``: the class image whose output is nearest (MSE)
        the class target.
    steps, lr : int, float
        SGD steps and learning rate (the released 100 and 1e-4).
    batch_size : int
        The released 32: images per batch of the outputs pass, copies of the optimised image.
    seed : int
        Order of the images in the outputs pass (the released loader shuffled).
    X_test, y_test : Tensor, optional
        Test images and labels for the accuracy in both modes.

    Returns
    -------
    Reenactment

    Notes
    -----
    *Released* (one copy of ``model`` in training mode, in the released order): accuracy check
    (batches of 32); outputs over ``X`` in shuffled batches of 32 → targets
    :func:`released_targets`; the "min" start chosen with each candidate passed as 32 copies
    (:func:`copies_outputs`), as the released code does; :func:`input_sgd` with 32 copies.
    *Corrected* (a fresh copy in eval mode): outputs over ``X`` → the same target formula → start
    images → :func:`input_sgd` with one image (``"paper-sgd"``), the ``K`` classes in one batch
    (exact in eval mode, where images in a batch do not interact).
    """
    starts = _check_starts(starts)
    K = int(torch.as_tensor(y).max()) + 1
    rel = _frozen_copy(model, training=True)
    ev = _frozen_copy(model, training=False)
    accuracy = {}
    if X_test is not None:
        accuracy["train-mode"] = _accuracy(batch_outputs(rel, X_test, batch_size, seed), y_test)
        accuracy["eval"] = _accuracy(batch_outputs(ev, X_test, 500, None), y_test)
    outputs = {"batch-train": batch_outputs(rel, X, batch_size, seed)}  # the histograms' pass
    copies3 = copies_outputs(rel, X, batch_size)  # (N, B, K): the "min" start's pass
    outputs |= {"copies-train": copies3[:, 0], "eval": batch_outputs(ev, X, 500, None)}
    targets = {
        "released": released_targets(outputs["batch-train"]),
        "corrected": released_targets(outputs["eval"]),
    }
    choice = {"released": copies3, "corrected": outputs["eval"][:, None]}
    setup = {"released": (rel, batch_size), "corrected": (ev, 1)}
    res = {k: {} for k in ("starts", "images", "histories", "predicted")}
    copies_spread = {}
    for proc in PROCEDURES:
        net, copies = setup[proc]
        for start in starts:
            R = _starts(start, X, y, targets[proc], choice[proc], K)  # (K, 1, 28, 28)
            if proc == "released":
                images, hist, spread = _run(net, R, targets[proc], copies, steps, lr)
            else:
                images, hist, spread = _run_independent(net, R, targets[proc], steps, lr)
            res["starts"][(proc, start)], res["images"][(proc, start)] = R, images
            res["histories"][(proc, start)] = hist
            res["predicted"][(proc, start)] = _predict(ev, images)
            if proc == "released":
                copies_spread[start] = spread
    ranges = {p: choice_range(y, choice[p], targets[p]) for p in PROCEDURES}
    spread = {k: _max_pairwise(Z) for k, Z in outputs.items()}
    spread["copies/eval"] = spread["copies-train"] / spread["eval"]
    spread["within-copies"] = float((copies3 - copies3[:, :1]).norm(dim=2).max())
    return Reenactment(
        targets, res["starts"], res["images"], res["histories"], copies_spread, outputs, spread,
        running_stat_drift(model, rel), accuracy, res["predicted"], ranges,
    )  # fmt: skip


def kernel_condition(model: nn.Module, layer: str = RESNET_LAYER) -> dict:
    """Figure 2's number for a network: the condition number of one convolution's kernels.

    Parameters
    ----------
    model : torch.nn.Module
        E.g. :func:`nnspaces.models.load_state_dict_file` of the released ``final_model_resnet``.
    layer : str
        Dotted name of a ``Conv2d`` (the paper's ``layer1.0.conv1``).

    Returns
    -------
    info : dict
        ``layer``; ``weight_shape`` (C_out, C_in, kh, kw); ``matrix_shape``
        ``(C_out·C_in, kh·kw)`` — one row per 2-D kernel (``view="kernels"``); ``S`` the
        singular values (descending, float64); ``condition`` ``S[0] / S[-1]``.
    """
    from .spaces import layer_spaces

    try:
        conv = model.get_submodule(layer)
    except AttributeError as e:
        raise ValueError(f"the network has no layer {layer!r} (e.g. 'layer1.0.conv1')") from e
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(conv).__name__}, not a Conv2d")
    sp = layer_spaces(conv, view="kernels", name=layer)
    return {
        "layer": layer, "weight_shape": tuple(conv.weight.shape), "matrix_shape": sp.shape,
        "S": sp.S, "condition": float(sp.S[0] / sp.S[-1]),
    }  # fmt: skip
