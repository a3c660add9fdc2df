"""Tests of nnspaces.nearest: the refined preimage is nearer the reference than Gauss–Newton's,
still a preimage, and locally nearest (scipy's SLSQP started there finds nothing nearer);
kink gradients against autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from torch import nn

from nnspaces import inverse, nearest
from nnspaces.certificate import kappa
from nnspaces.inverse.gauss_newton import _chain_jacobian, _selu_chain

SHAPE = (1, 5, 6)  # 30 pixels


def _net(seed=0, hidden=(20, 12), K=3, act=nn.SELU):
    torch.manual_seed(seed)
    layers, n = [nn.Flatten()], math.prod(SHAPE)
    for m in hidden:
        layers += [nn.Linear(n, m), act()]
        n = m
    return nn.Sequential(*layers, nn.Linear(n, K)).double()


def _problems(f, B=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        T = f(2 * torch.randn(B, *SHAPE, generator=gen, dtype=torch.float64))
    R = torch.randn(B, *SHAPE, generator=gen, dtype=torch.float64)
    return T, R


@pytest.fixture(scope="module")
def small_run():
    torch.set_num_threads(1)
    f = _net()
    T, R = _problems(f)
    gn, ref = nearest.nearest_preimage(f, T, R, target_classes=T.argmax(1).tolist())
    return f, T, R, gn, ref


def test_refined_is_nearer_and_still_a_preimage(small_run):
    f, T, R, gn, ref = small_run
    for g, r, t, x0 in zip(gn, ref, T, R):
        assert r.distance < g.distance and r.rel_error <= 1e-10
        assert r.start_distance == pytest.approx(g.distance, rel=1e-12)
        assert r.gained == pytest.approx(g.distance - r.distance)
        d = np.array(r.distance_history)
        assert (np.diff(d) < 0).all() and len(d) == r.iterations + 1
        assert len(r.kappa_history) == len(r.kappa_kinks_history) == len(d)
        # independent forward pass and distance
        with torch.no_grad():
            out = f(r.image[None])[0]
        assert torch.linalg.vector_norm(out - t) / torch.linalg.vector_norm(t) <= 1e-10
        assert float(torch.linalg.vector_norm(r.image - x0)) == pytest.approx(r.distance)
        assert r.kappa < r.kappa_start


def test_refined_is_first_order_stationary_once_kinks_are_counted(small_run):
    _, _, _, _, ref = small_run
    for r in ref:
        assert r.kappa_kinks <= 1e-4
        assert r.kinks > 0 or r.kappa <= 1e-4  # without kinks the plain certificate holds


def test_slsqp_from_the_refined_point_finds_nothing_nearer(small_run):
    """Local optimality, checked by an independent solver on the same problem."""
    f, T, R, _, ref = small_run
    checked = 0
    for res, t, r in zip(ref, T, R):
        rn, tn = r.numpy().ravel(), t.numpy()

        def con(x, t=tn):
            with torch.no_grad():
                return f(torch.as_tensor(x).reshape(1, *SHAPE))[0].numpy() - t

        sol = minimize(
            lambda x, rn=rn: 0.5 * np.sum((x - rn) ** 2),
            res.image.numpy().ravel(),
            jac=lambda x, rn=rn: x - rn,
            method="SLSQP",
            constraints={"type": "eq", "fun": con},
            options={"ftol": 1e-14, "maxiter": 200},
        )
        feasible = np.linalg.norm(con(sol.x)) <= 1e-9 * np.linalg.norm(tn)
        if feasible:
            checked += 1
            assert np.linalg.norm(sol.x - rn) >= res.distance * (1 - 1e-6)
    assert checked >= 2  # SLSQP stayed on the preimage


def test_table_summary_and_keys(small_run):
    _, _, _, gn, ref = small_run
    df = nearest.table(gn, ref, network="fcnn5")
    assert len(df) == 3 and (df["gained"] > 0).all()
    assert df["distance"].tolist() == [r.distance for r in ref]
    summary = nearest.summarize(df)
    row = summary.loc["fcnn5"]
    assert row["nearer"] == 3 and row["digits"] == 3
    assert row["kinked"] == int((df["kinks"] > 0).sum())
    assert row["gained_min"] == pytest.approx(df["gained"].min())
    keys = nearest.summary_keys(summary)
    assert keys["near_nearer_fcnn5"] == 3 and math.isnan(keys["near_nearer_fcnn1"])
    with pytest.raises(ValueError, match="2 Gauss–Newton results but 3"):
        nearest.table(gn[:2], ref)


def test_nearness_history_figure(small_run):
    import matplotlib.pyplot as plt

    from nnspaces.plots import certificate as certificate_plots

    *_, ref = small_run
    fig = certificate_plots.nearness_history(ref, title="t")
    left, right = fig.axes[:2]
    assert len(left.lines) == 2 * len(ref) and len(right.lines) == len(ref)
    assert right.lines[0].get_ydata()[0] == 1.0  # distances relative to the start
    plt.close(fig)
    with pytest.raises(ValueError, match="2 labels for 3 results"):
        certificate_plots.nearness_history(ref, labels=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        certificate_plots.nearness_history([])


def test_one_layer_closed_form_is_already_nearest():
    torch.manual_seed(3)
    f = nn.Sequential(nn.Flatten(), nn.Linear(30, 4), nn.SELU()).double()
    T, R = _problems(f, B=4, seed=2)
    cf = inverse.invert_classes(f, T, R, "closed-form")
    out = nearest.refine(f, T, torch.stack([c.image for c in cf]), R)
    for c, r in zip(cf, out):
        assert r.iterations == 0 and r.message.startswith("converged")
        assert r.kappa <= 1e-12 and torch.equal(r.image, c.image)
        assert r.kinks == 0  # the output SELU's pre-activations are fixed by the target


def test_start_off_the_preimage_is_restored_first():
    f = _net(seed=4, hidden=(10,))
    T, R = _problems(f, B=2, seed=5)
    out = nearest.refine(f, T, R, R, target_classes=[0, 0])  # start at the reference itself
    for r in out:
        assert r.rel_error <= 1e-10 and r.distance <= r.start_distance


def test_non_chain_network_uses_autograd_and_reports_nan_kinks():
    f = _net(seed=6, hidden=(12,), act=nn.Tanh)
    T, R = _problems(f, B=2, seed=7)
    gn, ref = nearest.nearest_preimage(f, T, R, target_classes=[0, 0], max_iter=30)
    for g, r in zip(gn, ref):
        assert r.distance < g.distance and r.rel_error <= 1e-10
        assert math.isnan(r.kinks) and math.isnan(r.kappa_kinks)


def test_result_is_an_inverse_result():
    f = _net(seed=8, hidden=(8,))
    T, R = _problems(f, B=1, seed=9)
    (r,) = nearest.refine(f, T, R, R, target_classes=[0], max_iter=5)
    assert isinstance(r, inverse.InverseResult) and r.method == "nearest"
    plain = r.as_inverse_result()
    assert type(plain) is inverse.InverseResult and plain.image is r.image
    assert plain.kappa == r.kappa and plain.distance == r.distance


def test_kink_gradients_and_preactivations_match_autograd():
    f = _net(seed=10)
    chain = _selu_chain(f)
    x = torch.randn(*SHAPE, dtype=torch.float64)
    lin = [m for m in f if isinstance(m, nn.Linear)]

    def hidden(z):  # the hidden pre-activations, by the network's own modules
        h, us = z.reshape(1, -1), []
        for m in f[1:]:
            h = m(h)
            if isinstance(m, nn.Linear) and m is not lin[-1]:
                us.append(h[0])
        return torch.cat(us)

    us = nearest.preactivations(chain, x)
    assert [len(u) for u in us] == [20, 12]
    assert torch.allclose(torch.cat(us), hidden(x), atol=1e-12)
    G = nearest.kink_gradients(chain, x, tol=math.inf)  # every hidden unit
    Jh = torch.autograd.functional.jacobian(hidden, x).reshape(32, -1)
    assert torch.allclose(G, Jh, atol=1e-12)
    sel = torch.cat(us).abs() <= 0.3
    assert torch.allclose(nearest.kink_gradients(chain, x, tol=0.3), Jh[sel], atol=1e-12)


def test_kappa_kinks_is_kappa_with_the_kink_rows():
    f = _net(seed=11)
    chain = _selu_chain(f)
    x, r = torch.randn(2, *SHAPE, dtype=torch.float64)
    J = _chain_jacobian(chain, x)[1]
    G = nearest.kink_gradients(chain, x, tol=0.5)
    assert len(G) > 0
    assert kappa(J, x, r, extra=G) <= kappa(J, x, r)


def test_curvature_is_the_hessian_of_the_lagrangian_by_autograd():
    f = _net(seed=13)
    chain = _selu_chain(f)
    x = torch.randn(*SHAPE, dtype=torch.float64)
    lam = torch.randn(3, dtype=torch.float64)
    loc = nearest._local(chain, x, tol=0.4)  # a few "kinks", to exercise ν
    nu = torch.randn(len(loc.kink_values), dtype=torch.float64)
    assert len(nu) > 0
    us0 = nearest.preactivations(chain, x)
    mask = torch.cat(us0).abs() <= 0.4

    def phi(z):  # λᵀf(z) + νᵀu_A(z), by the network's own modules
        hidden = torch.cat(nearest.preactivations(chain, z))
        return lam @ f(z[None])[0] + nu @ hidden[mask]

    H_ref = torch.autograd.functional.hessian(phi, x).reshape(30, 30)
    G, w = nearest._curvature(chain, loc, lam, nu)
    assert torch.allclose(G.T @ (w[:, None] * G), H_ref, atol=1e-10)


def test_kkt_step_without_curvature_is_the_tangent_step():
    J, x, r = (torch.randn(s, dtype=torch.float64) for s in [(3, 30), (30,), (30,)])
    res = torch.randn(3, dtype=torch.float64)
    d = nearest._kkt_step(J, x, r, res, J.new_zeros(0, 30), J.new_zeros(0))
    d_ref = torch.linalg.pinv(J) @ res + (torch.eye(30) - torch.linalg.pinv(J) @ J) @ (r - x)
    assert torch.allclose(d, d_ref.to(d), atol=1e-12)


def test_bad_input_is_refused():
    f = _net(seed=12, hidden=(6,))
    T, R = _problems(f, B=2)
    with pytest.raises(ValueError, match=r"targets must be \(B, K\)"):
        nearest.refine(f, T[0], R, R)
    with pytest.raises(ValueError, match="2 targets, 1 starts and 2 references"):
        nearest.refine(f, T, R[:1], R)
    with pytest.raises(ValueError, match="differ"):
        nearest.refine(f, T, R.reshape(2, 30), R)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nearest.refine(lambda z: z, T, R, R)
    with pytest.raises(ValueError, match="non-empty subset of tangent"):
        nearest.refine(f, T, R, R, steps=("tangent", "sideways"))


@pytest.mark.slow
def test_default_fcnn5_class_mean_targets_all_come_nearer(cache_dir):
    """The required outcome on the book's default 5-layer network (trains it: ~30 s)."""
    from nnspaces import train

    torch.set_num_threads(1)
    model, _ = train.train_or_load("fcnn5", progress=False)
    splits = train.load_splits({"dataset": "mnist-5k"})
    X, y = splits.X_train, splits.y_train
    T = inverse.class_targets(model, X, y, "class-mean")
    R = torch.stack([inverse.start_image("avg", X, y, c) for c in range(10)])
    gn, ref = nearest.nearest_preimage(model, T, R)
    for g, r in zip(gn, ref):
        assert r.distance < g.distance and r.rel_error <= 1e-10
        assert r.kappa < g.kappa and r.kappa_kinks <= 1e-4
