"""Tests of nnspaces.inverse.api: batches follow each problem alone, validation, model state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import layer
from torch import nn

from nnspaces.inverse import invert, invert_classes


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


@pytest.mark.parametrize("box", [None, (0, 1)])
def test_every_result_says_why_its_method_stopped(box):
    """A status per result, a key of its method's TERMINATION_MESSAGES, and the message that
    table gives it (scipy's least_squares convention: > 0 converged, 0 iteration limit)."""
    from nnspaces.inverse import closed_form, first_order, gauss_newton

    f = layer(n=12, m=3, seed=8).double()
    g = torch.Generator().manual_seed(2)
    R = torch.rand(4, 1, 12, generator=g, dtype=torch.float64)
    with torch.no_grad():
        T = f(torch.rand(4, 1, 12, generator=g, dtype=torch.float64))
    T[3] = 5.0  # out of reach inside the box
    cf = invert_classes(f, T, R, "closed-form", box)
    gn = invert_classes(f, T, R, "gauss-newton", box, max_iter=3)
    sgd = invert_classes(f, T, R, "gradient", box, max_iter=4, patience=2)
    if box is None:
        assert {r.status for r in cf} == {1} and cf[0].message == closed_form.TERMINATION_MESSAGES[
            1
        ]
    else:
        assert [r.status for r in cf[:3]] == [3] * 3 and cf[3].status in (-2, -3)
        assert cf[3].message.startswith("target not reachable inside the box")
        assert "a KKT point of the output error" in cf[3].message
    fields = {"max_iter": 3, "tol": 1e-12, "patience": 10}
    for r in gn:
        assert r.message == gauss_newton.TERMINATION_MESSAGES[r.status].format(**fields)
    assert {r.status for r in gn[:3]} <= {0, 1}
    fields = {"max_iter": 4, "tol": 1e-12, "patience": 2}
    for r in sgd:
        assert r.message == first_order.TERMINATION_MESSAGES[r.status].format(**fields)
        assert r.status == (0 if r.iterations == 4 else 2)


def test_none_scores_the_reference():
    f = layer()
    r = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    t = f(r[None])[0].detach()
    res = invert(f, t, r, "none")
    assert res.rel_error < 1e-6 and res.distance == 0 and res.iterations == 0


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_the_models_device():
    f = layer().cuda()
    r = torch.rand(1, 28, 28)
    t = f(r[None].cuda())[0].detach().cpu()
    for method in ("closed-form", "gauss-newton"):
        res = invert(f, t, r, method)
        assert res.rel_error < 1e-6 and res.image.device.type == "cpu"
    assert next(f.parameters()).device.type == "cuda"


@settings(max_examples=15, deadline=None)
@given(B=st.integers(1, 7), K=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_invert_classes_default_classes_for_any_batch(B, K, seed):
    """Without target_classes: row i is class i while B ≤ K, else each target's argmax (an
    IndexError when B > K before); given classes outside 0..K−1 are refused by name."""
    f = layer(n=6, m=K, selu=False, seed=seed % 1000).double()
    gen = torch.Generator().manual_seed(seed)
    T = torch.randn(B, K, generator=gen, dtype=torch.float64)
    R = torch.randn(B, 1, 6, generator=gen, dtype=torch.float64)
    out = invert_classes(f, T, R, "none")
    expected = list(range(B)) if B <= K else T.argmax(1).tolist()
    assert [r.target_class for r in out] == expected
    with pytest.raises(ValueError, match=r"target_classes must lie in 0\.\."):
        invert_classes(f, T, R, "none", target_classes=[K] * B)
