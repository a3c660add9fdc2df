"""Tests of nnspaces.certificate against independent references (scipy.linalg.null_space,
np.linalg.pinv, scipy's SLSQP on a box QP) and identities (κ = 0 on the row space, 1 on the
null space, 0 at the one-layer closed form)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space
from scipy.optimize import lsq_linear, minimize
from torch import nn

from nnspaces import certificate, data, inverse, train
from nnspaces.certificate import (
    error_kkt_residual,
    kappa,
    kappas,
    kkt_residual,
    null_component,
    row_basis,
)


def _random(K=4, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((K, n)), rng.standard_normal(n), rng.standard_normal(n)


def _np_kappa(J, x, r):
    """κ from an orthonormal null-space basis (scipy), independent of the SVD cutoff code."""
    d = x - r
    N = null_space(J)  # (n, n − rank)
    return np.linalg.norm(N @ (N.T @ d)) / np.linalg.norm(d)


# ---- kappa ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_null_space_and_pinv(seed):
    J, x, r = _random(seed=seed)
    k = kappa(J, x, r)
    assert k == pytest.approx(_np_kappa(J, x, r), rel=1e-12)
    d = x - r
    P = np.eye(len(d)) - np.linalg.pinv(J) @ J
    assert k == pytest.approx(np.linalg.norm(P @ d) / np.linalg.norm(d), rel=1e-12)


def test_kappa_zero_on_row_space_and_one_on_null_space():
    J, _, r = _random(K=3, n=10, seed=1)
    lam = np.array([0.5, -2.0, 1.0])
    assert kappa(J, r + J.T @ lam, r) <= 1e-14
    N = null_space(J)
    assert kappa(J, r + N @ np.arange(1.0, N.shape[1] + 1), r) == pytest.approx(1.0, abs=1e-14)


def test_kappas_of_a_batch_are_each_kappa():
    """The batch: full-rank, rank-deficient (the cutoff per matrix) and x = r (κ = 0), each
    against scipy's null space; shapes of images accepted."""
    Js, Xs, Rs, want = [], [], [], []
    for seed in range(4):
        J, x, r = _random(K=3, n=9, seed=10 + seed)
        if seed == 1:
            J = np.vstack([J[:2], J[0] - 2 * J[1]])  # rank 2
        if seed == 2:
            x = r.copy()
        Js.append(J)
        Xs.append(x.reshape(1, 3, 3))
        Rs.append(r.reshape(1, 3, 3))
        want.append(0.0 if seed == 2 else _np_kappa(J, x, r))
    got = kappas(np.stack(Js), np.stack(Xs), np.stack(Rs))
    assert got[2] == 0.0
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert got == pytest.approx([kappa(J, x, r) for J, x, r in zip(Js, Xs, Rs)], rel=1e-12)
    with pytest.raises(ValueError, match=r"\(B, K, n\)"):
        kappas(Js[0], Xs[:1], Rs[:1])


def test_kappa_rank_deficient_uses_the_cutoff_rule():
    J, x, r = _random(K=3, n=9, seed=2)
    J = np.vstack([J, J[0] + J[1]])  # (4, 9) of rank 3
    assert len(row_basis(J)) == 3
    assert kappa(J, x, r) == pytest.approx(_np_kappa(J, x, r), rel=1e-12)


def test_kappa_extra_rows_widen_the_row_space():
    J, x, r = _random(K=2, n=8, seed=3)
    e = np.random.default_rng(4).standard_normal(8)
    x = r + J.T @ np.array([1.0, 2.0]) + 0.3 * e  # leaves row(J) along e
    assert kappa(J, x, r) > 0.05
    assert kappa(J, x, r, extra=e[None]) <= 1e-14
    assert kappa(J, x, r, extra=e) == kappa(J, x, r, extra=e[None])


def test_kappa_x_equal_r_is_zero_and_shapes_and_dtypes():
    J, x, _ = _random(K=2, n=16, seed=5)
    assert kappa(J, x, x) == 0.0
    Jt = torch.as_tensor(J)
    xi, ri = torch.as_tensor(x).reshape(1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.float64)
    assert kappa(Jt, xi, ri) == pytest.approx(kappa(J, x, np.zeros(16)), rel=1e-12)
    k32 = kappa(Jt.float(), xi.float(), ri.float())
    assert k32 == pytest.approx(kappa(J, x, np.zeros(16)), rel=1e-5)
    w = null_component(Jt, xi)
    assert w.shape == xi.shape and w.dtype == torch.float64
    assert torch.allclose(Jt @ w.reshape(-1), torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_kappa_bad_input_is_refused_with_a_message():
    J, x, r = _random(K=2, n=6)
    with pytest.raises(ValueError, match=r"\(K, n\) matrix"):
        kappa(J[0], x, r)
    with pytest.raises(ValueError, match="5 elements but J has 6 columns"):
        kappa(J, x[:5], r)
    bad = x.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        kappa(J, bad, r)


def test_multipliers_are_the_least_squares_fit():
    J, x, r = _random(K=3, n=10, seed=9)
    lam = certificate.multipliers(J, x, r).numpy()
    assert np.allclose(lam, np.linalg.lstsq(J.T, x - r, rcond=None)[0], atol=1e-12)


def test_rank_cutoff_is_numpys_rule():
    S = torch.tensor([3.0, 1.0, 1e-20], dtype=torch.float64)
    assert certificate.rank_cutoff(S, (3, 50)) == 50 * np.finfo(np.float64).eps * 3.0


# ---- the one-layer closed form is certified ------------------------------------------


def _jacobian_autograd(model, x):
    """(K, n) Jacobian by torch.autograd.functional.jacobian: independent of the library."""
    x = x.detach().double()
    J = torch.autograd.functional.jacobian(lambda z: model(z[None])[0], x)
    return J.reshape(J.shape[0], -1)


def test_closed_form_of_a_random_selu_layer_has_kappa_zero():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Flatten(), nn.Linear(36, 5), nn.SELU()).double()
    T = f(torch.rand(5, 1, 6, 6, dtype=torch.float64)).detach()
    R = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    for res, r in zip(inverse.invert_classes(f, T, R, "closed-form"), R):
        assert res.rel_error <= 1e-12
        assert kappa(_jacobian_autograd(f, res.image), res.image, r) <= 1e-12


def test_closed_form_of_a_trained_fcnn1_has_kappa_zero(tmp_path, mnist5k):
    small = data.subsample(mnist5k, 200)
    model, _ = train.train_or_load(
        "fcnn1", splits=small, cache_dir=tmp_path, epochs=1, n_train=200, progress=False
    )
    X, y = small.X_train, small.y_train
    T = inverse.class_targets(model, X, y, "class-mean")
    R = torch.stack([inverse.start_image("avg", X, y, c) for c in range(10)])
    for res, r in zip(inverse.invert_classes(model, T, R, "closed-form"), R):
        J = _jacobian_autograd(model.double(), res.image)
        assert res.rel_error <= 1e-12 and kappa(J, res.image, r) <= 1e-12


# ---- the KKT residual with a box -----------------------------------------------------


def _box_qp():
    """min ½‖x − r‖² s.t. A x = b, 0 ≤ x ≤ 1, solved by SLSQP and polished on its active set.

    The polish solves the equality-constrained projection on the free pixels in closed form
    (numpy's pinv), so the solution is exact to round-off.
    """
    rng = np.random.default_rng(7)
    n, K = 10, 2
    A = rng.standard_normal((K, n))
    r = rng.uniform(-0.6, 1.6, n)  # several pixels want to leave the box
    b = A @ rng.uniform(0.2, 0.8, n)  # a feasible target
    sol = minimize(
        lambda x: 0.5 * (x - r) @ (x - r),
        np.full(n, 0.5),
        jac=lambda x: x - r,
        method="SLSQP",
        bounds=[(0, 1)] * n,
        constraints={"type": "eq", "fun": lambda x: A @ x - b, "jac": lambda x: A},
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert sol.success
    x = sol.x.copy()
    lower, upper = x <= 1e-7, x >= 1 - 1e-7
    x[lower], x[upper] = 0.0, 1.0
    F = ~(lower | upper)
    AF = A[:, F]
    rhs = b - A[:, ~F] @ x[~F]
    x[F] = r[F] + np.linalg.pinv(AF) @ (rhs - AF @ r[F])
    assert np.abs(A @ x - b).max() <= 1e-12 and x.min() >= 0 and x.max() <= 1
    assert np.abs(x - sol.x).max() <= 1e-5
    assert lower.any() or upper.any()
    return A, x, r, F


def test_kkt_residual_zero_at_box_qp_solution_and_positive_elsewhere():
    A, x, r, F = _box_qp()
    res = kkt_residual(A, x, r, (0.0, 1.0))
    assert res.residual <= 1e-12
    assert res.n_free == F.sum() and res.n_lower + res.n_upper == (~F).sum()
    assert (res.mu[x == 0] >= -1e-12).all() and (res.mu[x == 1] <= 1e-12).all()
    # a feasible but non-optimal point: move along the null space of A on the free pixels
    y = x.copy()
    y[F] += 1e-3 * null_space(A[:, F])[:, 0]
    assert np.abs(A @ (y - x)).max() <= 1e-12 and y.min() >= 0 and y.max() <= 1
    assert kkt_residual(A, y, r, (0.0, 1.0)).residual > 1e-4
    # a bound multiplier of the wrong sign at one active pixel: the joint fit of λ and μ
    # cannot explain it, and leaves the residual scipy's bounded least squares leaves
    i = int(np.flatnonzero(~F)[0])
    sign = 1.0 if x[i] == 0 else -1.0  # at lo the multiplier must be ≥ 0, at hi ≤ 0
    r2 = r.copy()
    r2[i] = x[i] - (A.T @ res.lam.numpy())[i] + sign  # g_i − (Aᵀλ)_i = −sign
    bad = kkt_residual(A, x, r2, (0.0, 1.0))
    assert bad.residual > 1e-3
    assert bad.residual == pytest.approx(_lsq_kkt(A, x, r2, 0.0, 1.0), rel=1e-8)


def _lsq_kkt(J, x, r, lo, hi, tol=1e-9):
    """The KKT residual by scipy's bounded least squares on λ and μ jointly (independent):
    ``min ‖g − Jᵀλ − μ_L + μ_U‖``, ``μ ≥ 0`` on the pixels at each bound."""
    g = x - r
    L, U = np.flatnonzero(x <= lo + tol), np.flatnonzero(x >= hi - tol)
    U = np.setdiff1d(U, L)
    n, K = len(x), len(J)
    E = np.eye(n)
    A = np.hstack([J.T, E[:, L], -E[:, U]])  # (n, K + |L| + |U|)
    lb = np.r_[np.full(K, -np.inf), np.zeros(len(L) + len(U))]
    sol = lsq_linear(A, g, bounds=(lb, np.inf), method="bvls", tol=1e-14)
    return np.linalg.norm(g - A @ sol.x) / np.linalg.norm(g)


@settings(max_examples=40, deadline=None)
@given(
    K=st.integers(2, 6),
    n_free=st.integers(0, 5),
    n_bound=st.integers(1, 14),
    seed=st.integers(0, 2**31 - 1),
)
def test_kkt_residual_zero_at_an_exact_kkt_point_with_few_free_pixels(K, n_free, n_bound, seed):
    """An exact KKT point built from multipliers of the right signs, with fewer free pixels
    than constraints (where a fit of λ on the free pixels alone fails): residual 0; with a
    random reference, scipy's joint bounded least squares' residual."""
    rng = np.random.default_rng(seed)
    n = n_free + n_bound
    J = rng.standard_normal((K, n))
    x = np.r_[rng.uniform(0.1, 0.9, n_free), rng.integers(0, 2, n_bound).astype(float)]
    lam = rng.standard_normal(K)
    mu = np.where(x == 0, 1.0, np.where(x == 1, -1.0, 0.0)) * rng.uniform(0, 2, n)
    r = x - (J.T @ lam + mu)
    assert kkt_residual(J, x, r, (0.0, 1.0)).residual <= 1e-10
    r2 = x - rng.standard_normal(n)
    expected = _lsq_kkt(J, x, r2, 0.0, 1.0)
    assert kkt_residual(J, x, r2, (0.0, 1.0)).residual == pytest.approx(expected, abs=1e-9)


# ---- round-off bound and second-order test ------------------------------------------


def test_kappa_roundoff_grows_with_cond_and_with_x_near_r():
    rng = np.random.default_rng(3)
    U, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    V, _ = np.linalg.qr(rng.standard_normal((20, 4)))
    x, r = rng.standard_normal(20), rng.standard_normal(20)
    b = [
        certificate.kappa_roundoff(U @ np.diag(s) @ V.T, x, r)
        for s in ([1, 1, 1, 1], [1, 1, 1, 1e-8])
    ]
    assert b[0] < 1e-13 and b[1] == pytest.approx(b[0] + 10 * np.finfo(float).eps * 1e8, rel=1e-6)
    near = certificate.kappa_roundoff(U @ V.T, r + 1e-12, r)
    assert near > 1e-3
    assert certificate.kappa_roundoff(U @ V.T, r, r) == np.inf


@pytest.mark.parametrize("seed", range(4))
def test_reduced_curvature_is_the_eigenvalue_on_scipys_null_space(seed):
    rng = np.random.default_rng(seed)
    K, n, m = 3, 9, 5
    J, G, w = rng.standard_normal((K, n)), rng.standard_normal((m, n)), rng.standard_normal(m)
    Z = null_space(J)  # (n, n − K)
    ref = np.linalg.eigvalsh(Z.T @ (np.eye(n) - G.T @ np.diag(w) @ G) @ Z).min()
    assert certificate.reduced_curvature(J, G, w) == pytest.approx(ref, abs=1e-12)
    E = rng.standard_normal((2, n))  # with extra rows held
    Z = null_space(np.vstack([J, E]))
    ref = np.linalg.eigvalsh(Z.T @ (np.eye(n) - G.T @ np.diag(w) @ G) @ Z).min()
    assert certificate.reduced_curvature(J, G, w, extra=E) == pytest.approx(ref, abs=1e-12)
    assert certificate.reduced_curvature(J, G[:1], [0.0]) == 1.0
    assert certificate.reduced_curvature(np.eye(n), G, w) == np.inf


def test_kkt_without_box_is_kappa():
    J, x, r = _random(K=3, n=11, seed=8)
    assert kkt_residual(J, x, r).residual == pytest.approx(kappa(J, x, r), rel=1e-12)
    assert kkt_residual(J, r, r).residual == 0.0


def test_kkt_bad_box_is_refused():
    J, x, r = _random(K=2, n=5)
    with pytest.raises(ValueError, match="lo < hi"):
        kkt_residual(J, x, r, (1.0, 0.0))


def test_error_kkt_residual_zero_at_the_bounded_least_squares_point_and_positive_elsewhere():
    """For f(x) = A x, the best box point of an unreachable target is scipy's bounded-variable
    least squares (an independent solver): the error KKT residual vanishes there, not at a
    box point next to it, and not at the unconstrained least-squares point clipped."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((4, 30))
    t = 40.0 * rng.standard_normal(4)  # far outside A·[0, 1]^30
    sol = lsq_linear(A, t, bounds=(0.0, 1.0), method="bvls", tol=1e-14)
    x = np.clip(sol.x, 0.0, 1.0)
    assert np.linalg.norm(A @ x - t) > 1.0  # out of reach
    assert error_kkt_residual(A, x, A @ x - t, (0.0, 1.0)) <= 1e-10
    free = np.flatnonzero((x > 1e-9) & (x < 1 - 1e-9))
    y = x.copy()
    y[free if free.size else 0] = 0.5
    assert error_kkt_residual(A, y, A @ y - t, (0.0, 1.0)) > 1e-3
    z = np.clip(np.linalg.lstsq(A, t, rcond=None)[0], 0.0, 1.0)
    assert error_kkt_residual(A, z, A @ z - t, (0.0, 1.0)) > 1e-3
    with pytest.raises(ValueError, match="err must have 4 elements"):
        error_kkt_residual(A, x, np.ones(3), (0.0, 1.0))
