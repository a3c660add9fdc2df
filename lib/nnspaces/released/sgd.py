"""The released input optimisation: plain SGD on a batch of copies of one start image.

- :func:`input_sgd` → :class:`SGDRun` — one start image (as ``copies`` copies);
- ``_run`` — one such run per class; ``_run_independent`` — all classes in one eval-mode batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..inverse import PAPER_SGD_LR, PAPER_SGD_STEPS
from ..models import device_of
from .passes import BATCH_SIZE


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


def _run(net, R, T, copies, steps, lr) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One :func:`input_sgd` per class → images (K, C, H, W), histories (K, steps + 1), spreads."""
    runs = [input_sgd(net, r, t, copies, steps, lr) for r, t in zip(R, T)]
    images = torch.stack([r.image for r in runs])  # (K, C, H, W)
    histories = torch.tensor([r.history for r in runs], dtype=torch.float64)  # (K, steps + 1)
    return images, histories, torch.tensor([r.copies_spread for r in runs])


def _run_independent(
    net, R, T, steps, lr, copies: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_run` for an eval-mode network, all classes in one batch: exact, since images in
    a batch do not interact (the gradient of ``Σ_c loss_c`` with respect to image ``c`` is that
    of ``loss_c`` alone).

    Each class's image is ``copies`` copies, each its own variable, and its loss the mean over
    copies and outputs, as in :func:`input_sgd`: each copy then receives ``1/copies`` of its
    image's gradient. Returns images (K, C, H, W) (the first copy), histories (K, steps + 1)
    and the spreads ``max_i ‖z_i − z_0‖`` over each class's copies (K,).
    """
    device = device_of(net)
    K = len(R)
    z = R.detach().to(device).repeat_interleave(copies, 0)  # (K·copies, C, H, W), class-major
    z = z.clone().requires_grad_(True)
    T = T.to(device=device, dtype=z.dtype)
    history = []
    for step in range(steps + 1):
        with torch.enable_grad():
            out = net(z).reshape(K, copies, -1)  # (K, copies, K_out)
            per = ((out - T[:, None]) ** 2).mean((1, 2))  # (K,): each class's loss
        history.append(per.detach().cpu().double())
        if step == steps:
            break
        (grad,) = torch.autograd.grad(per.sum(), z)
        with torch.no_grad():
            z.add_(grad, alpha=-lr)
    z = z.detach().cpu().reshape(K, copies, *R.shape[1:])  # (K, copies, C, H, W)
    spread = (z - z[:, :1]).flatten(2).norm(dim=2).amax(1)  # (K,)
    return z[:, 0], torch.stack(history, 1), spread
