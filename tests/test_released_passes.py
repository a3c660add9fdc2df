"""Tests of nnspaces.released.passes: the released targets, the passes over the data in the
network's mode, the "min" start and its decisiveness.

The network ``_net`` (tests/released_problems.py) has a BatchNorm layer on 1×1 maps, like
ResNet18's ``layer4`` on 28×28 digits.
"""

from __future__ import annotations

import pytest
import torch
from released_problems import (
    _data,
    _manual_train_forward,
    _net,
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
)
from torch import nn

from nnspaces import inverse, models, released
from nnspaces.released.passes import _batches


def test_released_targets_take_every_entry_of_row_c_from_output_c():
    Z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    T = released.released_targets(Z)
    for c in range(4):
        for j in range(4):
            expect = Z[:, c].max() if j == c else Z[:, c].min()
            assert T[c, j] == expect
    with pytest.raises(ValueError, match="non-empty"):
        released.released_targets(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        released.released_targets(torch.tensor([[0.0, float("nan")]]))


def test_batch_outputs_in_training_mode_equal_batch_statistics_written_out():
    net, (X, _) = _net().train(), _data(20)
    Z = released.batch_outputs(net, X, batch_size=8, seed=None)  # batches 0:8, 8:16, 16:20
    ref = torch.cat([_manual_train_forward(net, X[i : i + 8]) for i in (0, 8, 16)])
    torch.testing.assert_close(Z, ref.detach(), rtol=1e-5, atol=1e-5)


def test_batch_outputs_keep_the_image_order_under_a_shuffle_and_merge_a_lone_last_image():
    net, (X, _) = _net().train(), _data(17)
    parts = _batches(17, 8, seed=3)
    assert [len(p) for p in parts] == [8, 9]  # a batch of one would make BatchNorm raise
    assert sorted(torch.cat(parts).tolist()) == list(range(17))
    Z = released.batch_outputs(net, X, batch_size=8, seed=3)
    for idx in parts:  # each image's row is its output within its own batch
        torch.testing.assert_close(Z[idx], _manual_train_forward(net, X[idx]).detach())


def test_batch_outputs_in_eval_mode_equal_the_plain_forward():
    net, (X, _) = _net(), _data(20)
    torch.testing.assert_close(released.batch_outputs(net, X, 8, seed=5), net(X).detach())


def test_identical_copies_in_training_mode_give_the_output_of_the_bn_shift():
    net, (X, _) = _net(torch.float64).train(), _data(12, dtype=torch.float64)
    Z3 = released.copies_outputs(net, X, copies=32)
    assert Z3.shape == (12, 32, 3)
    ref = torch.stack([_manual_train_forward(net, x.expand(32, 1, 8, 8))[0] for x in X])
    torch.testing.assert_close(Z3[:, 0], ref.detach())
    # Zero batch variance on 1×1 maps: bn2 outputs its shift β, whatever the image.
    bn2, lin = net[5], net[8]
    shift_only = torch.relu(bn2.bias) @ lin.weight.T + lin.bias  # (3,)
    torch.testing.assert_close(Z3, shift_only.detach().expand(12, 32, 3), rtol=0, atol=1e-9)


def test_nearest_start_with_one_output_per_image_is_the_librarys_min_start():
    net, (X, y) = _net(), _data(30)
    Z = net(X).detach()
    T = released.released_targets(Z)
    for c in range(3):
        ours = released.nearest_start(X, y, c, Z[:, None], T[c])
        ref = inverse.start_image("min", X, y, c, target=T[c], Z=Z)
        assert torch.equal(ours, ref)


def test_choice_range_is_the_relative_spread_of_the_candidates_losses():
    y = torch.tensor([0, 0, 1, 1, 1])
    Z = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 1.0], [0.0, 4.0]])[:, None]
    T = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    # class 0 losses 0.5, 4.5 → (4.5 − 0.5) / 0.5; class 1 losses 2, 0.5, 8 → 7.5 / 0.5
    assert released.choice_range(y, Z, T).tolist() == [8.0, 15.0]
    X = torch.arange(5.0).reshape(5, 1, 1, 1)
    assert released.nearest_start(X, y, 1, Z, T[1]).item() == 3.0


def test_resnet18_on_digits_normalises_1x1_maps_in_layer4_so_copies_lose_the_image():
    torch.manual_seed(0)
    net = models.build("resnet18").train()
    sizes = {}

    def record(name):
        def hook(module, inputs, output):
            sizes[name] = tuple(inputs[0].shape[2:])  # (H, W) of the maps it normalises

        return hook

    hooks = [
        m.register_forward_hook(record(n))
        for n, m in net.named_modules()
        if isinstance(m, nn.BatchNorm2d) and n.startswith("layer4")
    ]
    X = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    Z = released.copies_outputs(net, X, copies=32)[:, 0]  # (2, 10)
    for h in hooks:
        h.remove()
    assert len(sizes) == 5 and set(sizes.values()) == {(1, 1)}  # bn1, bn2 of two blocks, downsample
    with torch.no_grad():
        Ze = net.eval()(X)
    # what is left of the difference is rounding in the batch statistics of identical copies
    # (1e-4 relative to eval mode's, more or less with the CPU's reduction order and threads)
    assert float((Z[0] - Z[1]).norm()) < 1e-2 * float((Ze[0] - Ze[1]).norm())
