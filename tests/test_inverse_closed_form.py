"""Tests of nnspaces.inverse.closed_form: the formula against an independent forward pass and
np.linalg.pinv, through closed_form_inverse and through invert."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    layer,
    lbfgsb_box_minimum,
    mlp,
    np_forward,
    np_selu,
    np_selu_inv,
    rel,
    selu_box_error,
    wb,
)
from torch import nn

from nnspaces.inverse import closed_form_inverse, invert, invert_classes, supports_closed_form
from nnspaces.spaces import layer_spaces


def _problem(m=6, n=40, B=5, seed=0, rank=None):
    """W (m, n) [of a given rank], b (m,), targets T (B, m) in SELU's range, references R (B, n)."""
    rng = np.random.default_rng(seed)
    k = m if rank is None else rank
    W = rng.normal(size=(m, k)) @ rng.normal(size=(k, n)) / np.sqrt(n)
    b = rng.normal(size=m)
    T = np_selu(rng.normal(size=(B, n)) @ W.T + b)  # outputs of real inputs: reachable
    R = rng.uniform(0, 1, (B, n))
    return W, b, T, R


@pytest.mark.parametrize("selu", [True, False])
def test_closed_form_inverse_through_independent_forward(selu):
    W, b, T, R = _problem(seed=1)
    if not selu:
        T = np_selu_inv(T)  # any values: a bare affine layer reaches them all
    X = closed_form_inverse(*map(torch.tensor, (W, b, T, R)), selu=selu).numpy()  # (B, n)
    assert X.shape == R.shape
    out = X @ W.T + b
    out = np_selu(out) if selu else out
    np.testing.assert_allclose(out, T, rtol=1e-12, atol=1e-12)
    # x* = r + W⁺(z − W r), row by row with NumPy's pseudo-inverse
    Z = (np_selu_inv(T) if selu else T) - b
    ref = R + (Z - R @ W.T) @ np.linalg.pinv(W).T
    np.testing.assert_allclose(X, ref, atol=1e-12)
    P_null = np.eye(W.shape[1]) - np.linalg.pinv(W) @ W  # null-space part taken from r
    np.testing.assert_allclose(X @ P_null.T, R @ P_null.T, atol=1e-12)


def test_closed_form_inverse_rank_deficient_is_least_squares_nearest():
    W, b, T, R = _problem(m=6, n=30, rank=4, seed=2)
    T = T + 0.3  # off the range: no exact preimage
    X = closed_form_inverse(*map(torch.tensor, (W, b, T, R))).numpy()
    Z = np_selu_inv(T) - b
    np.testing.assert_allclose(X, R + (Z - R @ W.T) @ np.linalg.pinv(W).T, atol=1e-10)
    sp = layer_spaces(torch.tensor(W))
    assert sp.rank == 4
    same = closed_form_inverse(sp, torch.tensor(b), torch.tensor(T), torch.tensor(R)).numpy()
    np.testing.assert_array_equal(same, X)  # spaces or matrix: one SVD either way


def test_closed_form_inverse_keeps_dtype_and_shapes():
    W, b, T, R = (torch.tensor(a, dtype=torch.float32) for a in _problem(seed=3))
    X = closed_form_inverse(W, None, T, R)  # no bias: z = σ⁻¹(t)
    assert X.dtype == torch.float32 and X.shape == R.shape
    assert torch.allclose(torch.selu(X @ W.T), T, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"T must be \(B, 6\) and R \(B, 40\)"):
        closed_form_inverse(W, b, T[:, :5], R)
    with pytest.raises(ValueError, match=r"T must be \(B, 6\)"):
        closed_form_inverse(W, b, T[0], R[0])
    with pytest.raises(ValueError, match="floor"):
        closed_form_inverse(W, b, torch.full_like(T, -2.0), R)


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


@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_unreachable_selu_target_is_a_kkt_point_of_the_output_error(seed):
    """A target the box cannot reach: the closed form returns a KKT point of
    ‖selu(W x + b) − t‖ over the box (checked independently), whose error L-BFGS-B, from the
    box point of least pre-activation error, does not beat by more than 1e-9 relatively."""
    from scipy.optimize import lsq_linear

    n, m = 100, 6
    f = layer(n=n, m=m, seed=seed)
    W, b = wb(f)
    rng = np.random.default_rng(seed)
    t = np_selu(W @ rng.uniform(0, 1, n) + b + 3 * np.sqrt(n) * rng.normal(size=m) / 10)
    res = invert(
        f, torch.tensor(t), torch.full((n,), 0.5, dtype=torch.float64), "closed-form", box=(0, 1)
    )
    assert res.feasible is False and "KKT point" in res.message
    x = res.image.numpy().astype(np.float64)
    assert x.min() >= 0 and x.max() <= 1

    fg = selu_box_error(W, b, t)
    err, g = fg(x)
    bad = np.where(x <= 0, np.minimum(g, 0), np.where(x >= 1, np.maximum(g, 0), g))
    assert np.linalg.norm(bad) <= 1e-9 * np.linalg.norm(g)
    start = lsq_linear(W, np_selu_inv(t) - b, bounds=(0, 1), method="bvls").x
    assert err <= lbfgsb_box_minimum(fg, start) * (1 + 1e-9)
    assert res.rel_error == pytest.approx(np.sqrt(2 * err) / np.linalg.norm(t), rel=1e-9)
    # the certificate invert attaches is that of the problem solved (the best approximation),
    # the same ratio as above; such a result is never called a certified nearest preimage
    assert res.kkt == pytest.approx(np.linalg.norm(bad) / np.linalg.norm(g), abs=1e-12)
    assert not res.reached and not res.certified


# ---- "nearest" proven by convexity, even where κ of J fails ----------------------------


def _edge_case(kind, box=None):
    """A 10 × 784 SELU layer, a reference r and a target for one of the closed form's edge
    cases: ``"tiny"`` (r within 1e-11 of the preimage), ``"cond"`` (cond(W) = 1e10),
    ``"floor"`` (a target entry within 1e-14 of SELU's floor −λα)."""
    from nnspaces.inverse import SELU_FLOOR

    rng = np.random.default_rng(7)
    m, n = 10, 784
    W = rng.normal(size=(m, n)) / 28
    if kind == "cond":
        U, _ = np.linalg.qr(rng.normal(size=(m, m)))
        V, _ = np.linalg.qr(rng.normal(size=(n, m)))
        W = U @ np.diag(np.logspace(0, -10, m)) @ V.T
    b = 0.1 * rng.normal(size=m)
    f = layer(n, m).double()
    with torch.no_grad():
        f[1].weight.copy_(torch.as_tensor(W))
        f[1].bias.copy_(torch.as_tensor(b))
    r = rng.uniform(0.2, 0.8, n)
    x = r + (1e-11 * W[0] / np.linalg.norm(W[0]) if kind == "tiny" else 0.05 * rng.normal(size=n))
    t = np_selu(W @ x + b)
    if kind == "floor":
        t[0] = SELU_FLOOR + 1e-14
    return f, W, b, torch.as_tensor(t), torch.as_tensor(r).reshape(1, 28, 28)


@pytest.mark.parametrize("kind", ["tiny", "cond", "floor"])
def test_closed_form_is_proven_nearest_in_the_edge_cases(kind):
    """The three cases where κ of the Jacobian failed at an exact point (2.3e-5 at
    ‖x − r‖ = 3e-11, ~1e-6 at cond 1e10, 0.99 near the floor): the closed form is proven
    nearest by convexity, and it is the pinv formula's point (numpy, independent)."""
    f, W, b, t, r = _edge_case(kind)
    res = invert(f, t, r, "closed-form")
    z = np_selu_inv(t.numpy()) - b
    ref = r.numpy().ravel() + np.linalg.pinv(W) @ (z - W @ r.numpy().ravel())
    # W⁺ amplifies round-off by cond(W); σ⁻¹ near the floor by 1/σ' (numpy's and torch's z
    # differ there by ~1e-10 relative)
    tol = 1e-9 * max(1.0, np.linalg.norm(ref - r.numpy().ravel())) + 1e-13 * np.linalg.cond(W)
    assert np.abs(res.image.numpy().ravel() - ref).max() <= tol
    assert res.reached and res.proof == "convex"
    assert res.nearest and res.locally_nearest and res.stationary
    # a preimage point next to it (moved in the null space of W) is not proven nearest
    other = res.image.numpy().ravel() + 1e-3 * np.linalg.svd(W)[2][-1]
    moved = invert(f, t, torch.as_tensor(other).reshape(1, 28, 28), "none")
    from nnspaces.inverse.closed_form import certify

    moved.proof = ""
    certify(f, [moved], r[None], None)
    assert moved.proof == "" and not moved.nearest


def test_closed_form_in_the_box_is_proven_nearest_by_its_kkt_point():
    f, W, b, t, r = _edge_case("tiny")
    res = invert(f, t, r, "closed-form", box=(0.0, 1.0))
    assert res.feasible and res.proof == "convex" and res.nearest
