"""Tests of nnspaces.released.sgd: the released input optimisation on copies of one image.

The network ``_net`` (tests/released_problems.py) has a BatchNorm layer on 1×1 maps, like
ResNet18's ``layer4`` on 28×28 digits.
"""

from __future__ import annotations

import pytest
import torch
from released_problems import (
    _data,
    _net,
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
    _snapshot,
)

from nnspaces import inverse, released
from nnspaces.released.sgd import _run_independent


def test_the_released_target_broadcast_gives_exactly_the_intended_mse():
    out = torch.randn(32, 10, dtype=torch.float64)
    t = torch.randn(10, dtype=torch.float64)
    broadcast = (out - t.reshape(1, 1, 1, 10).expand(32, 1, 1, 10)) ** 2  # (32, 1, 32, 10)
    assert broadcast.shape == (32, 1, 32, 10)
    torch.testing.assert_close(broadcast.mean(), ((out - t) ** 2).mean(), rtol=1e-14, atol=0)


def test_input_sgd_records_the_start_and_every_step_and_leaves_the_model_alone():
    net, (X, _) = _net(), _data(4)
    net.train()
    snap = _snapshot(net)
    run = released.input_sgd(net, X[0], torch.tensor([1.0, 2.0, 3.0]), copies=32)
    assert len(run.history) == inverse.PAPER_SGD_STEPS + 1 == 101
    assert run.image.shape == (1, 8, 8) and run.image.dtype == X.dtype
    with torch.no_grad():
        first = ((net(X[:1].expand(32, 1, 8, 8)) - torch.tensor([1.0, 2.0, 3.0])) ** 2).mean()
    assert run.history[0] == pytest.approx(float(first), rel=1e-6)
    # only the running statistics move in training mode; parameters, flags and grads do not
    after = _snapshot(net)
    assert after["modes"] == snap["modes"] and all(g is None for g in after["grads"])
    for k, v in snap["state"].items():
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(after["state"][k], v), k


def test_on_identical_copies_in_training_mode_the_image_does_not_move():
    # In exact arithmetic the gradient is zero: every copy feeds a BatchNorm whose batch holds
    # identical values, so d out / d x_i = γ/√ε (g_i − mean g) = 0. Float64 leaves ~1e-16 noise.
    net, (X, _) = _net(torch.float64).train(), _data(4, dtype=torch.float64)
    t = torch.tensor([5.0, -1.0, 2.0], dtype=torch.float64)
    run = released.input_sgd(net, X[0], t, copies=32)
    assert float((run.image - X[0]).norm()) < 1e-10
    assert abs(run.history[-1] / run.history[0] - 1) < 1e-10
    assert run.copies_spread < 1e-10
    # the same problem in eval mode does move, and lowers the loss
    net.eval()
    run = released.input_sgd(net, X[0], t, copies=1)
    assert float((run.image - X[0]).norm()) > 1e-6 and run.history[-1] < run.history[0]


def test_one_image_in_eval_mode_is_the_librarys_paper_sgd():
    net, (X, _) = _net(torch.float64), _data(3, dtype=torch.float64)
    T = torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref = inverse.invert_classes(net, T, X, "paper-sgd")
    for x, t, r in zip(X, T, ref):
        ours = released.input_sgd(net, x, t, copies=1)
        torch.testing.assert_close(ours.image, r.image, rtol=1e-10, atol=1e-12)
        assert ours.history == pytest.approx(r.history, rel=1e-10)


def test_all_classes_in_one_eval_batch_follow_their_own_single_image_runs():
    net, (X, _) = _net(torch.float64), _data(3, dtype=torch.float64)
    T = torch.randn(3, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    images, H, _ = _run_independent(net, X, T, steps=20, lr=1e-2)
    assert H.shape == (3, 21)
    for x, t, img, h in zip(X, T, images, H):
        one = released.input_sgd(net, x, t, copies=1, steps=20, lr=1e-2)
        torch.testing.assert_close(img, one.image, rtol=1e-12, atol=1e-14)
        assert h.tolist() == pytest.approx(one.history, rel=1e-12)


def test_copies_in_eval_mode_each_get_a_share_of_the_gradient_and_stay_identical():
    """Eval mode, 32 copies and learning rate lr: the released loop's step without its mode is
    one image's SGD with lr / 32, copy for copy; each class's copies stay identical."""
    net, (X, _) = _net(torch.float64), _data(3, dtype=torch.float64)
    T = torch.randn(3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    images, H, spread = _run_independent(net, X, T, steps=15, lr=3e-1, copies=32)
    assert H.shape == (3, 16) and spread.shape == (3,) and float(spread.max()) == 0.0
    for x, t, img, h in zip(X, T, images, H):
        per_copy = released.input_sgd(net, x, t, copies=32, steps=15, lr=3e-1)  # the loop itself
        torch.testing.assert_close(img, per_copy.image, rtol=1e-12, atol=1e-14)
        assert h.tolist() == pytest.approx(per_copy.history, rel=1e-12)
        one = released.input_sgd(net, x, t, copies=1, steps=15, lr=3e-1 / 32)
        torch.testing.assert_close(img, one.image, rtol=1e-10, atol=1e-12)


def test_input_sgd_rejects_a_batch_as_the_start():
    with pytest.raises(ValueError, match=r"one image \(C, H, W\)"):
        released.input_sgd(_net(), torch.zeros(2, 1, 8, 8), torch.zeros(3))
