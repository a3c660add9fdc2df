"""nnspaces.common: the eval-mode context and the parameter rules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnspaces.common import ParameterError, Spec, eval_mode


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))


def test_eval_mode_is_the_eval_forward_pass():
    net, x = _net().train(), torch.randn(8, 4)
    with eval_mode(net) as m, torch.no_grad():
        got = m(x)
    # reference: the same layers by hand, dropout off and the batch norm's running statistics
    bn = net[2]
    with torch.no_grad():
        ref = (net[0](x) - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
        ref = ref * bn.weight + bn.bias
    torch.testing.assert_close(got, ref)
    assert net.training and all(m.training for m in net.modules())


def test_eval_mode_restores_each_submodule_even_on_error():
    net = _net().train()
    net[1].eval()  # a mixed state: dropout already off
    before = [m.training for m in net.modules()]
    with pytest.raises(RuntimeError, match="boom"), eval_mode(net):
        assert not any(m.training for m in net.modules())
        raise RuntimeError("boom")
    assert [m.training for m in net.modules()] == before


@pytest.mark.parametrize(
    "spec, value",
    [
        (Spec(int, minimum=1), 3),
        (Spec(float, minimum=0.0), 2),  # an int is a float here
        (Spec(float, maximum=1.0), 1.0),  # bounds are inclusive
        (Spec(int, optional=True), None),
        (Spec(str, choices=("a", "b")), "b"),
        (Spec(list, items=("x", "y")), ["y", "x"]),
        (Spec(list, item_type=int), [0, 4, 2]),
    ],
)
def test_a_value_inside_the_rule_passes(spec, value):
    spec.check("p", value)


@pytest.mark.parametrize(
    "spec, value, match",
    [
        (Spec(int, help="epochs"), "3", r"'p' must be int, got str '3' \(epochs\)"),
        (Spec(int), True, "'p' must be int, got bool"),
        (Spec(int, optional=True), 1.5, "must be int or None"),
        (Spec(int), None, "'p' must not be None"),
        (Spec(int, minimum=1), 0, "'p' = 0 must be ≥ 1"),
        (Spec(float, minimum=0.0), math.nan, "'p' = nan must be ≥ 0.0"),
        (Spec(float, maximum=1.0), 1.5, "'p' = 1.5 must be ≤ 1.0"),
        (Spec(float, maximum=1.0), math.nan, "must be ≤ 1.0"),
        (Spec(str, choices=("a", "b")), "c", "'p' = 'c' is not allowed: choose one of 'a', 'b'"),
        (Spec(list, items=("x",)), ["x", "z"], "each item must be one of 'x'"),
        (Spec(list, items=("x",)), [], "at least one"),
        (Spec(list, item_type=int), [1, 1], "distinct"),
        (Spec(list, item_type=int), [-1], "non-negative"),
        (Spec(list, item_type=int), [True], "ints"),
    ],
)
def test_a_value_outside_the_rule_is_refused_by_name(spec, value, match):
    with pytest.raises(ParameterError, match=match):
        spec.check("p", value)
    assert issubclass(ParameterError, ValueError)
