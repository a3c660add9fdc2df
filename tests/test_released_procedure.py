"""Tests of nnspaces.released.procedure: the whole re-enactment, the released procedure beside
the same in eval mode (32 copies, then one image with a 32 times larger step).

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
    assert len(df) == 3 * 3 * 3  # procedures × starts × digits
    assert set(df["procedure"]) == set(released.PROCEDURES)
    assert set(df["start"]) == {"min", "avg", "noise"}
    for H in rep.histories.values():
        assert H.shape == (3, 101)
    for c in range(3):  # start images: the class mean, an image of the class, mean + noise
        torch.testing.assert_close(rep.starts[("released", "avg")][c], X[y == c].mean(0))
        x0 = rep.starts[("released", "min")][c]
        assert any(torch.equal(x0, x) for x in X[y == c])
        noisy = inverse.start_image("noise", X, y, c, seed=c)
        for proc in released.PROCEDURES:  # the same noise image for every procedure
            assert torch.equal(rep.starts[(proc, "noise")][c], noisy)
        assert 0 <= float((noisy - X[y == c].mean(0)).min()) and float(noisy.max()) > 1
    assert set(rep.outputs) == {"batch-train", "copies-train", "eval"}
    assert set(rep.accuracy) == {"eval", "train-mode"}


def test_reenact_released_images_stay_put_and_the_eval_mode_ones_move(reenacted):
    _, _, _, _, rep = reenacted
    df = rep.table().set_index(["procedure", "start", "digit"])
    rel, cop, one = (df.loc[p] for p in released.PROCEDURES)
    assert (rel["distance"] < 1e-10).all() and (rel["change_pct"].abs() < 1e-8).all()
    assert (cop["change_pct"] < 0).all() and (one["change_pct"] < 0).all()
    assert (cop["distance"] > 1e-8).all() and (cop["copies_spread"] == 0).all()
    # the 32 times larger step moves the images further and lowers the loss more
    assert (one["distance"] > 10 * cop["distance"]).all()
    assert (one["change_pct"] < cop["change_pct"]).all()
    # identical copies: the output is the same for every image (up to rounding)
    assert rep.spread["copies/eval"] < 1e-5 and rep.spread["eval"] > 1e-3
    assert rep.spread["within-copies"] < 1e-10


def test_reenact_eval_mode_procedures_are_eval_mode_throughout(reenacted):
    net, X, y, _, rep = reenacted
    Z = net(X).detach()
    torch.testing.assert_close(rep.outputs["eval"], Z)
    for proc in ("eval_copies", "eval_one"):
        torch.testing.assert_close(rep.targets[proc], released.released_targets(Z))
        for c in range(3):
            ref = inverse.start_image("min", X, y, c, target=rep.targets[proc][c], Z=Z)
            assert torch.equal(rep.starts[(proc, "min")][c], ref)


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
    with pytest.raises(ValueError, match="choose one or more of min, avg, noise"):
        released.reenact(net, X, y, starts=["avg-min"])


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
