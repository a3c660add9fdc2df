"""Tests of nnspaces.inverse against independent references (numpy forward passes,
np.linalg.pinv, scipy's SLSQP, a hand-written copy of the released SGD loop)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from torch import nn

from nnspaces.inverse import (
    SELU_ALPHA,
    SELU_LAMBDA,
    class_targets,
    evaluate,
    invert,
    invert_classes,
    selu_inverse,
    start_image,
    supports_closed_form,
)

LAM_ALPHA = SELU_LAMBDA * SELU_ALPHA


# ---- independent numpy references ----------------------------------------------------


def np_selu(u):
    return SELU_LAMBDA * np.where(u > 0, u, SELU_ALPHA * np.expm1(np.minimum(u, 0)))


def np_selu_inv(a):
    return np.where(a > 0, a / SELU_LAMBDA, np.log1p(np.minimum(a, 0) / LAM_ALPHA))


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
    torch.manual_seed(seed)
    mods = [nn.Flatten(), nn.Linear(n, m)] + ([nn.SELU()] if selu else [])
    return nn.Sequential(*mods)


def mlp(widths=(64, 32, 16, 5), seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(nn.SELU())
    return nn.Sequential(*mods)


def wb(model) -> tuple[np.ndarray, np.ndarray]:
    lin = next(m for m in model if isinstance(m, nn.Linear))
    return lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()


# ---- SELU inverse --------------------------------------------------------------------


def test_selu_constants_are_torchs():
    one = torch.tensor([1.0], dtype=torch.float64)
    assert float(torch.selu(one)) == SELU_LAMBDA
    far = torch.tensor([-60.0], dtype=torch.float64)
    assert abs(float(torch.selu(far)) + LAM_ALPHA) < 1e-15
    assert float(nn.SELU()(one)) == SELU_LAMBDA


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_selu_inverse_round_trip(dtype, tol):
    u = torch.linspace(-5, 20, 2001, dtype=dtype)
    back = selu_inverse(torch.selu(u))
    assert back.dtype == dtype
    assert torch.allclose(back, u, atol=tol, rtol=tol)
    a = torch.linspace(-1.7, 30, 500, dtype=torch.float64)
    assert torch.allclose(torch.selu(selu_inverse(a)), a, atol=1e-12)
    assert np.allclose(selu_inverse(a).numpy(), np_selu_inv(a.numpy()), atol=1e-13)


def test_selu_inverse_errors():
    with pytest.raises(ValueError, match=r"2 value\(s\) at or below.*smallest -3"):
        selu_inverse(torch.tensor([0.0, -LAM_ALPHA, -3.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        selu_inverse(torch.tensor([0.0, float("nan")]))


# ---- closed form ---------------------------------------------------------------------


@pytest.mark.parametrize("selu", [True, False])
def test_closed_form_exact_through_independent_forward(selu):
    f = layer(selu=selu)
    g = torch.Generator().manual_seed(1)
    t = torch.rand(10, generator=g, dtype=torch.float64) * 4 - 1.5  # any value above the floor
    r = torch.rand(1, 28, 28, generator=g)
    res = invert(f, t, r, "closed-form")
    assert res.image.shape == r.shape and res.image.dtype == torch.float64
    err = rel(np_forward(f, res.image.numpy()), t.numpy())
    assert err <= 1e-10
    assert abs(res.rel_error - err) <= 1e-12
    assert res.feasible is None and res.iterations == 0


@pytest.mark.parametrize("selu", [True, False])
def test_closed_form_is_min_norm_and_moves_in_row_space(selu):
    f = layer(n=100, m=7, selu=selu, seed=3)
    W, b = wb(f)
    t = np.linspace(-1.0, 2.0, 7)
    z = (np_selu_inv(t) if selu else t) - b
    x0 = invert(f, torch.tensor(t), torch.zeros(100), "closed-form").image.numpy()
    assert np.allclose(x0, np.linalg.pinv(W) @ z, atol=1e-12)
    r = np.random.default_rng(0).uniform(0, 1, 100)
    x = invert(f, torch.tensor(t), torch.tensor(r), "closed-form").image.numpy()
    P_null = np.eye(100) - np.linalg.pinv(W) @ W
    assert np.linalg.norm(P_null @ (x - r)) <= 1e-10 * np.linalg.norm(x - r)
    assert np.allclose(P_null @ x, P_null @ r, atol=1e-12)  # null space taken from r


def test_closed_form_refuses_other_structures():
    with pytest.raises(ValueError, match="closed-form.*gauss-newton"):
        invert(mlp(), torch.zeros(5), torch.zeros(64), "closed-form")
    assert supports_closed_form(layer()) and supports_closed_form(nn.Linear(3, 2))
    assert not supports_closed_form(mlp())


def test_invert_classes_matches_invert():
    f = layer(n=50, m=10, seed=4)
    g = torch.Generator().manual_seed(0)
    T = torch.rand(10, 10, generator=g, dtype=torch.float64) * 3 - 1
    R = torch.rand(10, 50, generator=g)
    batch = invert_classes(f, T, R, "closed-form")
    for c, res in enumerate(batch):
        one = invert(f, T[c], R[c], "closed-form", target_class=c)
        assert torch.allclose(res.image, one.image, atol=1e-12)
        assert res.target_class == c and abs(res.margin - one.margin) < 1e-12


# ---- Gauss–Newton --------------------------------------------------------------------


def test_gauss_newton_exact_on_3_layer_selu_net():
    f = mlp((64, 32, 16, 5), seed=5)
    g = torch.Generator().manual_seed(2)
    t = torch.tensor(np_forward(f, torch.randn(64, generator=g).numpy()))
    r = torch.rand(1, 8, 8, generator=g)
    res = invert(f, t, r, "gauss-newton")
    assert res.image.shape == r.shape
    assert rel(np_forward(f, res.image.numpy()), t.numpy()) <= 1e-8
    assert res.iterations >= 1 and len(res.history) == res.iterations + 1
    assert res.history[-1] < res.history[0]


def test_gauss_newton_uses_eval_mode_batchnorm():
    torch.manual_seed(0)
    f = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.SELU(), nn.Flatten(), nn.Linear(144, 5)
    )
    with torch.no_grad():
        f[1].running_mean.uniform_(-1, 1)
        f[1].running_var.uniform_(0.5, 2)
    f.train()
    ref = copy.deepcopy(f).double().eval()  # an independent float64 eval-mode copy
    t = ref(torch.rand(1, 1, 8, 8, dtype=torch.float64))[0].detach()
    res = invert(f, t, torch.rand(1, 8, 8), "gauss-newton")
    out = ref(res.image[None].double())[0].detach()
    assert float(torch.linalg.vector_norm(out - t) / torch.linalg.vector_norm(t)) <= 1e-8
    assert f.training  # restored


# ---- box ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,method",
    [
        (layer, "closed-form"),
        (layer, "gauss-newton"),
        (lambda: mlp((64, 32, 16, 5)), "gauss-newton"),
    ],
)
def test_box_reaches_a_valid_target(make, method):
    f = make()
    n = 784 if isinstance(f[1], nn.Linear) and f[1].in_features == 784 else 64
    rng = np.random.default_rng(7)
    x0 = rng.uniform(0.1, 0.9, n)
    t = torch.tensor(np_forward(f, x0))
    r = torch.tensor(rng.uniform(0, 1, n))
    res = invert(f, t, r, method, box=(0, 1))
    x = res.image.numpy()
    assert x.min() >= 0 and x.max() <= 1 and res.outside_box == 0
    assert rel(np_forward(f, x), t.numpy()) <= 1e-6
    assert res.feasible is True


def test_box_closed_form_is_the_nearest_point():
    f = layer(n=12, m=3, seed=8)
    W, b = wb(f)
    rng = np.random.default_rng(1)
    t = np_forward(f, rng.uniform(0.2, 0.8, 12))
    r = rng.uniform(-0.5, 1.5, 12)
    res = invert(f, torch.tensor(t), torch.tensor(r), "closed-form", box=(0, 1))
    z = np_selu_inv(t) - b
    ref = minimize(
        lambda x: 0.5 * np.sum((x - r) ** 2),
        np.clip(r, 0, 1),
        jac=lambda x: x - r,
        method="SLSQP",
        bounds=[(0, 1)] * 12,
        constraints={"type": "eq", "fun": lambda x: W @ x - z, "jac": lambda x: W},
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert ref.success
    assert np.allclose(res.image.numpy(), ref.x, atol=1e-5)
    assert res.distance <= np.linalg.norm(ref.x - r) + 1e-8


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 6), extra=st.integers(0, 30), seed=st.integers(0, 2**16), selu=st.booleans()
)
def test_box_closed_form_satisfies_kkt(m, extra, seed, selu):
    """x = clip(r + Wᵀλ) for some λ, W x = z, x in the box: the optimality conditions."""
    n = m + 4 + extra
    f = layer(n=n, m=m, selu=selu, seed=seed)
    W, b = wb(f)
    rng = np.random.default_rng(seed)
    t = np_forward(f, rng.uniform(0.05, 0.95, n))
    r = rng.uniform(-1, 2, n)
    res = invert(f, torch.tensor(t), torch.tensor(r), "closed-form", box=(0, 1))
    x = res.image.numpy()
    assert res.feasible and x.min() >= 0 and x.max() <= 1
    z = (np_selu_inv(t) if selu else t) - b
    assert np.linalg.norm(W @ x - z) <= 1e-8 * max(1, np.linalg.norm(z))
    free = (x > 1e-12) & (x < 1 - 1e-12)
    lam = np.linalg.lstsq(W[:, free].T, (x - r)[free], rcond=None)[0]
    assert np.allclose(np.clip(r + W.T @ lam, 0, 1), x, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    K=st.integers(1, 10),
    n=st.integers(1, 300),
    seed=st.integers(0, 2**16),
    at_bounds=st.floats(0, 0.9),
    scale=st.sampled_from([1e-2, 1.0, 1e2, 1e4]),
)
def test_box_least_squares_matches_scipy_bvls(K, n, seed, at_bounds, scale):
    """The interior-point bounded least squares reaches bvls's residual, inside the box."""
    from scipy.optimize import lsq_linear

    from nnspaces.inverse import _box_least_squares

    rng = np.random.default_rng(seed)
    J = rng.normal(size=(K, n)) * rng.uniform(0.1, 10)
    x = rng.uniform(0, 1, n)
    pinned = rng.uniform(size=n) < at_bounds
    x[pinned] = rng.integers(0, 2, pinned.sum())  # pixels already at 0 or 1
    r = rng.normal(size=K) * scale
    d = _box_least_squares(J, r, -x, 1 - x)
    ref = lsq_linear(J, r, bounds=(-x, 1 - x), method="bvls").x
    assert np.all(x + d >= 0) and np.all(x + d <= 1)
    ours, best = np.linalg.norm(J @ d - r), np.linalg.norm(J @ ref - r)
    assert ours <= best + 1e-7 * max(1.0, np.linalg.norm(r))


def test_box_infeasible_is_reported_not_raised():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(30, 4))
    with torch.no_grad():
        f[1].weight.abs_()
        f[1].bias.zero_()
    W, _ = wb(f)
    t = torch.tensor(2 * W @ np.ones(30))  # twice the largest output a [0,1] image gives
    res = invert(f, t, torch.full((30,), 0.5), "closed-form", box=(0, 1))
    assert res.feasible is False and "not reachable" in res.message
    assert np.allclose(res.image.numpy(), 1.0, atol=1e-8)  # the unique box point nearest
    assert res.rel_error == pytest.approx(0.5, abs=1e-8)
    gn = invert(f, t, torch.full((30,), 0.5), "gauss-newton", box=(0, 1))
    assert gn.feasible is False and gn.outside_box == 0
    assert gn.rel_error == pytest.approx(0.5, abs=1e-6)


# ---- first-order methods ----------------------------------------------------------------


def test_paper_sgd_is_the_released_loop():
    f = layer(seed=9)
    g = torch.Generator().manual_seed(3)
    r = torch.rand(1, 28, 28, generator=g)
    t = torch.tensor([3.0] + [-1.0] * 9)
    res = invert(f, t, r, "paper-sgd")
    # the released procedure, written out independently (target shaped like the output)
    z = r.clone().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=1e-4)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = nn.MSELoss()(f(z[None]), t[None])
        losses.append(loss.item())
        loss.backward()
        opt.step()
    assert torch.allclose(res.image, z.detach(), atol=1e-7)
    assert np.allclose(res.history[:100], losses, rtol=1e-6)
    h = np.array(res.history)
    assert len(h) == 101 and res.iterations == 100
    assert np.all(np.diff(h) <= 0)  # monotone
    assert 0 < (h[0] - h[-1]) / h[0] < 0.2  # and small, as in the released log


def test_paper_sgd_never_clips_and_refuses_a_box():
    f = layer(seed=9)
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(3)) + 1.0  # in [1, 2)
    t = torch.tensor([3.0] + [-1.0] * 9)
    res = invert(f, t, r, "paper-sgd")
    assert res.outside_box == int(((res.image < 0) | (res.image > 1)).sum()) > 700
    with pytest.raises(ValueError, match="never clips: call it with box=None"):
        invert(f, t, r, "paper-sgd", box=(0, 1))


def test_gradient_beats_paper_sgd_and_keeps_best():
    f = layer(seed=9)
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([3.0] + [-1.0] * 9)
    paper = invert(f, t, r, "paper-sgd")
    res = invert(f, t, r, "gradient", max_iter=200)
    assert res.rel_error < paper.rel_error / 10
    # the best iterate is kept: the result's loss is the least in the history
    assert float(((res.output - t) ** 2).mean()) == pytest.approx(min(res.history), rel=1e-5)
    sgd = invert(f, t, r, "gradient", optimizer="sgd", max_iter=50)
    assert sgd.rel_error < paper.rel_error
    boxed = invert(f, t, r, "gradient", max_iter=50, box=(0, 1))
    assert boxed.outside_box == 0 and boxed.feasible is (boxed.rel_error <= 1e-6)


@pytest.mark.parametrize(
    "method,options",
    [
        ("paper-sgd", {}),
        ("gradient", {"lr": 0.3, "max_iter": 80, "patience": 3}),  # they stop at different steps
        ("gradient", {"optimizer": "sgd", "max_iter": 30, "tol": 0.2}),
        ("gauss-newton", {"max_iter": 15}),
    ],
)
@pytest.mark.parametrize("box", [None, (0, 1)])
def test_batched_methods_follow_each_problem_alone(method, options, box):
    """One forward/backward for the batch gives each problem exactly its own iterates."""
    if method == "paper-sgd" and box is not None:
        pytest.skip("paper-sgd takes no box (the released procedure never clips)")
    torch.manual_seed(0)
    f = nn.Sequential(  # eval-mode BatchNorm: images of a batch must not interact
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.SELU(), nn.Flatten(), nn.Linear(108, 4)
    ).double()
    with torch.no_grad():
        f[1].running_mean.uniform_(-1, 1)
        f[1].running_var.uniform_(0.5, 2)
    g = torch.Generator().manual_seed(1)
    R = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64)
    T = torch.randn(4, 4, generator=g, dtype=torch.float64) * 2  # row c: target of class c
    batch = invert_classes(f, T, R, method, box, **options)
    for c, res in enumerate(batch):
        one = invert(f, T[c], R[c], method, box, target_class=c, **options)
        assert torch.allclose(res.image, one.image, atol=1e-12, rtol=0)
        assert res.iterations == one.iterations and res.message == one.message
        assert np.allclose(res.history, one.history, rtol=1e-9, atol=1e-12 * one.history[0])
        assert res.target_class == c
    if options.get("patience"):
        assert len({r.iterations for r in batch}) > 1  # they did stop at different steps


def test_closed_form_jacobian_matches_autograd():
    from nnspaces.inverse import _chain_jacobian, _jacobian, _selu_chain

    f = mlp((64, 32, 16, 5), seed=3).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out, J = _chain_jacobian(_selu_chain(f), x)  # (5,), (5, 64)
    out_ref, J_ref = _jacobian(f, x[None], 5)  # (1, 5), (1, 5, 64): autograd, a batch of one
    assert torch.allclose(out, out_ref[0], atol=1e-13)
    assert torch.allclose(J, J_ref[0], atol=1e-12)
    # only plain Flatten/Linear/SELU stacks take the closed form
    assert _selu_chain(nn.Sequential(nn.Linear(4, 3), nn.ReLU())) is None
    assert _selu_chain(nn.Sequential(nn.Linear(4, 3), nn.Flatten(), nn.Linear(3, 2))) is None
    assert len(_selu_chain(nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3))))) == 1


def test_none_scores_the_reference():
    f = layer()
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    t = f(r[None])[0].detach()
    res = evaluate(f, t, r)
    assert res.rel_error < 1e-6 and res.distance == 0 and res.iterations == 0


# ---- bad input and model state ---------------------------------------------------------


@pytest.mark.parametrize(
    "target,reference,kw,match",
    [
        (torch.zeros(9), None, {}, r"shape \(10,\)"),
        (torch.zeros(1, 10), None, {}, r"shape \(K,\)"),
        (torch.tensor([float("nan")] + [0.0] * 9), None, {}, "NaN or inf"),
        (None, torch.full((1, 28, 28), float("inf")), {}, "NaN or inf"),
        (torch.tensor([-2.0] + [0.0] * 9), None, {}, "floor"),
        (None, None, {"method": "newton"}, "closed-form, gauss-newton"),
        (None, None, {"box": (1, 0)}, "lo < hi"),
        (None, None, {"max_iterations": 3}, "takes no option"),
        (None, torch.zeros(1, 27, 28), {}, "cannot take the reference"),
    ],
)
def test_bad_input_errors(target, reference, kw, match):
    f = layer()
    t = torch.zeros(10) if target is None else target
    r = torch.zeros(1, 28, 28) if reference is None else reference
    kw = {"method": "gauss-newton", **kw}
    with pytest.raises(ValueError, match=match):
        invert(f, t, r, **kw)


@pytest.mark.parametrize("method", ["closed-form", "gauss-newton", "gradient", "paper-sgd"])
def test_model_mode_flags_and_weights_are_restored(method):
    f = layer(n=20, m=4)
    f.train()
    f[2].eval()  # a submodule in its own mode
    f[1].bias.requires_grad_(False)
    before = {k: v.clone() for k, v in f.state_dict().items()}
    options = {"max_iter": 3} if method in ("gauss-newton", "gradient") else {}
    invert(f, torch.ones(4), torch.zeros(20), method, **options)
    with pytest.raises(ValueError):  # an error raised while the model is frozen
        invert(f, torch.ones(4), torch.zeros(21), method)
    assert f.training and f[1].training and not f[2].training
    assert f[1].weight.requires_grad and not f[1].bias.requires_grad
    assert f[1].weight.dtype == torch.float32
    assert all(torch.equal(before[k], v) for k, v in f.state_dict().items())


# ---- targets and start images ----------------------------------------------------------


def _toy(n=60, K=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, K, generator=g, dtype=torch.float64)
    y = torch.arange(n) % K
    return Z, y


def test_class_targets_against_numpy():
    Z, y = _toy()
    z, yn = Z.numpy(), y.numpy()
    T = class_targets(None, None, y, "minmax", Z=Z).numpy()
    P = class_targets(None, None, y, "percentile", Z=Z).numpy()
    M = class_targets(None, None, y, "class-mean", Z=Z).numpy()
    To = class_targets(None, None, y, "minmax-per-output", Z=Z).numpy()
    Po = class_targets(None, None, y, "percentile-per-output", Z=Z).numpy()
    for c in range(4):
        for j in range(4):
            if j == c:
                assert T[c, c] == z[:, c].max() and To[c, c] == z[:, c].max()
                assert np.isclose(P[c, c], np.percentile(z[:, c], 75))
                assert np.isclose(Po[c, c], np.percentile(z[:, c], 75))
            else:  # released: the minimum of output c everywhere; ours: of output j
                assert T[c, j] == z[:, c].min() and To[c, j] == z[:, j].min()
                assert np.isclose(P[c, j], np.percentile(z[:, c], 25))
                assert np.isclose(Po[c, j], np.percentile(z[:, j], 25))
        assert np.allclose(M[c], z[yn == c].mean(0))


def test_class_targets_from_model_and_errors():
    f = layer(n=16, m=4)
    X = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 4
    with torch.no_grad():
        Z = f(X)
    assert torch.allclose(class_targets(f, X, y, "minmax"), class_targets(None, None, y, Z=Z))
    with pytest.raises(ValueError, match="unknown target kind"):
        class_targets(f, X, y, "max")
    with pytest.raises(ValueError, match=r"no images of class\(es\) \[3\]"):
        class_targets(None, None, y % 3, "class-mean", Z=Z)


def test_start_images_against_numpy():
    f = layer(n=16, m=4)
    X = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 4
    t = torch.tensor([1.0, -0.5, -0.5, -0.5])
    Xn, c = X.numpy(), 0
    Xc = Xn[y.numpy() == c]
    with torch.no_grad():
        mse = ((f(X[y == c]) - t) ** 2).mean(1).numpy()
    order = np.argsort(mse, kind="stable")
    assert np.allclose(start_image("avg", X, y, c).numpy(), Xc.mean(0))
    assert np.array_equal(start_image("min", X, y, c, model=f, target=t).numpy(), Xc[order[0]])
    am = start_image("avg-min", X, y, c, model=f, target=t, frac=0.3).numpy()
    assert np.allclose(am, Xc[order[:3]].mean(0))
    n1 = start_image("noise", X, y, c, seed=5) - start_image("avg", X, y, c)
    n2 = start_image("noise", X, y, c, seed=5) - start_image("avg", X, y, c)
    assert torch.equal(n1, n2) and n1.min() >= 0 and n1.max() < 1
    assert not torch.equal(n1, start_image("noise", X, y, c, seed=6) - start_image("avg", X, y, c))
    with pytest.raises(ValueError, match="unknown start kind"):
        start_image("mean", X, y, c)


# ---- properties over random shapes and ranks -------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 8),
    extra=st.integers(0, 40),
    rank_drop=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_closed_form_properties(m, extra, rank_drop, seed):
    n = m + extra
    rng = np.random.default_rng(seed)
    k = max(1, m - rank_drop)
    W = rng.normal(size=(m, k)) @ rng.normal(size=(k, n)) / np.sqrt(n)  # rank k
    b = rng.normal(size=m)
    f = nn.Sequential(nn.Flatten(), nn.Linear(n, m), nn.SELU()).double()
    with torch.no_grad():
        f[1].weight.copy_(torch.tensor(W))
        f[1].bias.copy_(torch.tensor(b))
    t = np_selu(W @ rng.normal(size=n) + b)  # in the range of the layer
    r = rng.uniform(0, 1, n)
    res = invert(f, torch.tensor(t), torch.tensor(r), "closed-form")
    x = res.image.numpy()
    assert rel(np_forward(f, x), t) <= 1e-8
    P_null = np.eye(n) - np.linalg.pinv(W) @ W
    assert np.linalg.norm(P_null @ (x - r)) <= 1e-8 * (1 + np.linalg.norm(x - r))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_the_models_device():
    f = layer().cuda()
    r = torch.rand(1, 28, 28)
    t = f(r[None].cuda())[0].detach().cpu()
    for method in ("closed-form", "gauss-newton"):
        res = invert(f, t, r, method)
        assert res.rel_error < 1e-6 and res.image.device.type == "cpu"
    assert next(f.parameters()).device.type == "cuda"
