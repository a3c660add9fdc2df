"""Tests of nnspaces.released.procedure: the whole re-enactment, released beside corrected.

The network ``_net`` (tests/released_problems.py) has a BatchNorm layer on 1×1 maps, like
ResNet18's ``layer4`` on 28×28 digits.
"""

from __future__ import annotations

import copy

import pytest
import torch
from released_problems import (
    _assert_unchanged,
    _data,
    _net,
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
    _private_cache,  # noqa: F401  (autouse: memoised results in a fresh cache)
    reenacted_run,
)

from nnspaces import cache, inverse, released
from nnspaces.released import procedure


@pytest.fixture(scope="module")
def reenacted():
    return reenacted_run()


def test_reenact_leaves_the_callers_model_untouched(reenacted):
    net, _, _, snap, _ = reenacted
    _assert_unchanged(net, snap)
    assert not net.training


def test_reenact_reports_every_procedure_start_and_digit(reenacted):
    _, X, y, _, rep = reenacted
    df = rep.table()
    assert len(df) == 2 * 2 * 3
    assert set(df["procedure"]) == set(released.PROCEDURES) and set(df["start"]) == {"min", "avg"}
    for H in rep.histories.values():
        assert H.shape == (3, 101)
    for c in range(3):  # start images: the class mean, and an image of the class
        torch.testing.assert_close(rep.starts[("released", "avg")][c], X[y == c].mean(0))
        x0 = rep.starts[("released", "min")][c]
        assert any(torch.equal(x0, x) for x in X[y == c])
    assert set(rep.outputs) == {"batch-train", "copies-train", "eval"}
    assert set(rep.accuracy) == {"eval", "train-mode"}


def test_reenact_released_images_stay_put_and_the_corrected_ones_move(reenacted):
    _, _, _, _, rep = reenacted
    df = rep.table()
    rel, cor = df[df["procedure"] == "released"], df[df["procedure"] == "corrected"]
    assert (rel["distance"] < 1e-10).all() and (rel["change_pct"].abs() < 1e-8).all()
    assert (cor["distance"] > 1e-6).all() and (cor["change_pct"] < 0).all()
    # identical copies: the output is the same for every image (up to rounding)
    assert rep.spread["copies/eval"] < 1e-5 and rep.spread["eval"] > 1e-3
    assert rep.spread["within-copies"] < 1e-10


def test_reenact_corrected_procedure_is_eval_mode_throughout(reenacted):
    net, X, y, _, rep = reenacted
    Z = net(X).detach()
    torch.testing.assert_close(rep.outputs["eval"], Z)
    torch.testing.assert_close(rep.targets["corrected"], released.released_targets(Z))
    for c in range(3):
        ref = inverse.start_image("min", X, y, c, target=rep.targets["corrected"][c], Z=Z)
        assert torch.equal(rep.starts[("corrected", "min")][c], ref)


def test_reenact_running_statistics_drift_on_the_copy_only(reenacted):
    net, _, _, _, rep = reenacted
    assert rep.drift["running_mean"] > 0 and rep.drift["running_var"] > 0
    assert rep.drift["running_var_layer"] in {"1", "5"}  # the names of _net's BatchNorm layers
    assert released.running_stat_drift(net, copy.deepcopy(net)) == {
        "running_mean": 0.0,
        "running_var": 0.0,
        "running_mean_layer": "",
        "running_var_layer": "",
    }


def test_reenact_rejects_unknown_start_images():
    net, (X, y) = _net(), _data(6)
    with pytest.raises(ValueError, match="choose one or more of min, avg"):
        released.reenact(net, X, y, starts=["noise"])


def test_reenact_is_read_back_bit_identical(cache_dir, monkeypatch):
    net, (X, y) = _net(torch.float64), _data(40, dtype=torch.float64)
    rep = released.reenact(net, X, y, steps=3)
    monkeypatch.setattr(procedure, "_reenact", lambda *a, **k: pytest.fail("computed again"))
    back = released.reenact(net, X, y, steps=3)
    assert back.numbers() == rep.numbers()
    for name, u in cache.dataclass_state(rep).items():
        v = getattr(back, name)
        assert type(u) is type(v) and (not isinstance(u, dict) or u.keys() == v.keys()), name
        for k in u if isinstance(u, dict) else ():
            same = torch.equal if isinstance(u[k], torch.Tensor) else (lambda a, b: a == b)
            assert same(u[k], v[k]), (name, k)
    with pytest.raises(pytest.fail.Exception, match="computed again"):
        released.reenact(net, X, y, steps=4)  # another argument: computed
