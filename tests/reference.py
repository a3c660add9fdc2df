"""Independent references the tests compare with, and the small networks they build.

Nothing here imports :mod:`nnspaces`' numerics: NumPy forward passes and SELU, explicit
circular convolutions, matrices of known rank. Importable from every test module
(``pythonpath = ["tests"]`` in pyproject.toml).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: torch's SELU constants, written out independently of nnspaces.inverse.selu.
LAMBDA = 1.0507009873554804934193349852946
ALPHA = 1.6732632423543772848170429916717
LAM_ALPHA = LAMBDA * ALPHA


# ---- inverse maps ------------------------------------------------------------------------


def np_selu(u):
    return LAMBDA * np.where(u > 0, u, ALPHA * np.expm1(np.minimum(u, 0)))


def np_selu_inv(a):
    return np.where(a > 0, a / LAMBDA, np.log1p(np.minimum(a, 0) / LAM_ALPHA))


def selu_box_error(W, b, t):
    """``v (n,) ↦ (½‖selu(W v + b) − t‖², its gradient (n,))``: the output error of a
    Linear → SELU layer, written out independently of the library."""

    def fg(v):
        u = W @ v + b
        r = np_selu(u) - t
        slope = np.where(u > 0, LAMBDA, LAM_ALPHA * np.exp(np.minimum(u, 0)))
        return 0.5 * r @ r, W.T @ (slope * r)

    return fg


def lbfgsb_box_minimum(fg, start) -> float:
    """The least value scipy's L-BFGS-B finds for ``fg`` over ``[0, 1]^n`` from ``start``, with
    tolerances far below the library's (the independent reference for box minima)."""
    from scipy.optimize import minimize

    ref = minimize(
        fg,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, 1)] * len(start),
        options={"ftol": 1e-16, "gtol": 1e-14, "maxiter": 20000, "maxcor": 30},
    )
    return float(ref.fun)


def np_forward(model: nn.Sequential, x) -> np.ndarray:
    """Forward pass of a Flatten/Linear/SELU stack in numpy float64, one input."""
    h = np.asarray(x, dtype=np.float64).reshape(-1)
    for m in model:
        if isinstance(m, nn.Linear):
            W = m.weight.detach().double().numpy()
            b = m.bias.detach().double().numpy() if m.bias is not None else 0.0
            h = W @ h + b
        elif isinstance(m, nn.SELU):
            h = np_selu(h)
        elif not isinstance(m, nn.Flatten):
            raise TypeError(m)
    return h


def rel(out, t) -> float:
    return float(np.linalg.norm(out - t) / np.linalg.norm(t))


def layer(n=784, m=10, selu=True, seed=0) -> nn.Sequential:
    """Flatten → Linear(n, m) [→ SELU], seeded."""
    torch.manual_seed(seed)
    mods = [nn.Flatten(), nn.Linear(n, m)] + ([nn.SELU()] if selu else [])
    return nn.Sequential(*mods)


def mlp(widths=(64, 32, 16, 5), seed=0) -> nn.Sequential:
    """Flatten → Linear → SELU → … → Linear, seeded."""
    torch.manual_seed(seed)
    mods: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(nn.SELU())
    return nn.Sequential(*mods)


def wb(model) -> tuple[np.ndarray, np.ndarray]:
    """The first Linear layer's weight (m, n) and bias (m,), float64."""
    lin = next(m for m in model if isinstance(m, nn.Linear))
    return lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()


# ---- spaces --------------------------------------------------------------------------------


def rand(shape, seed=0, dtype=torch.float64):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)


def exact_rank(m: int, n: int, r: int, seed: int) -> np.ndarray:
    """An integer (m, n) matrix of rank exactly r (exact in float64), all nonzero σ >= 1.

    A = B C with B (m, r) and C (r, n) each holding an identity block, so B^T B >= I and
    C C^T >= I: rank r exactly and sigma_r(A) >= 1.
    """
    rng = np.random.default_rng(seed)
    if r == 0:
        return np.zeros((m, n))
    B = rng.integers(-3, 4, (m, r)).astype(float)
    B[rng.choice(m, r, replace=False)] = np.eye(r)
    C = rng.integers(-3, 4, (r, n)).astype(float)
    C[:, rng.choice(n, r, replace=False)] = np.eye(r)
    return B @ C


def orthonormal(Q: torch.Tensor, tol=1e-12) -> bool:
    return torch.allclose(Q.T @ Q, torch.eye(Q.shape[1], dtype=Q.dtype), atol=tol)


def dense_circular(w: torch.Tensor, stride, dilation, lead, H: int, W: int) -> np.ndarray:
    """Reference: apply the circular convolution (F.pad circular + F.conv2d) to basis images."""
    C_in, kh, kw = w.shape[1:]
    th, tw = dilation * (kh - 1), dilation * (kw - 1)
    n = C_in * H * W
    basis = torch.eye(n, dtype=torch.float64).reshape(n, C_in, H, W)
    xp = F.pad(basis, (lead, tw - lead, lead, th - lead), mode="circular")
    y = F.conv2d(xp, w.double(), stride=stride, dilation=dilation)  # (n, C_out, H', W')
    return y.reshape(n, -1).T.numpy()  # (C_out*H'*W', n)
