"""nnspaces.ideal.recipe: the paper's Figure 3 as its caption describes it, checked against
plain SGD written out here, numpy distances and a hand-made re-enactment."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from ideal_problems import _data, _nets

from nnspaces.ideal import (
    caption_choices,
    class_spread,
    paper_recipe,
    released_log_change,
    rule_vs_recipe,
    run_grid,
)

CHOICES = {
    "one": (("avg", "paper-sgd", (0, 1, 4, 5, 6, 8, 9)), ("min", "paper-sgd", (2, 3, 7))),
    "bn": (("avg", "none", (1, 4, 5, 6, 7, 9)), ("min", "none", (0, 2, 3, 8)), ("avg-min", "none", (4,))),
}  # fmt: skip


def _sgd(model, x0, t, steps=100, lr=1e-4):
    """The released "+training" written out: plain SGD on mean((f(x) − t)²), last iterate."""
    x = x0.clone().unsqueeze(0).requires_grad_(True)
    for _ in range(steps):
        loss = ((model(x) - t) ** 2).mean()
        (g,) = torch.autograd.grad(loss, x)
        x = (x - lr * g).detach().requires_grad_(True)
    return x.detach()[0]


def _minmax(Z):
    K = Z.shape[1]
    T = np.tile(Z.min(0)[:, None], (1, K))  # row c: the minimum of output c
    T[np.arange(K), np.arange(K)] = Z.max(0)
    return T


def _fake_reenactment(X, y, model):
    """What recipe reads of a re-enactment: released starts, targets and first-copy outputs."""
    with torch.no_grad():
        Z = model(X) + 0.01  # any (N, K) outputs stand for the training-mode ones
    T = torch.as_tensor(_minmax(Z.numpy()))
    means = torch.stack([X[y == c].mean(0) for c in range(10)])
    picks = torch.stack([X[y == c][c % 3] for c in range(10)])  # any class image
    return SimpleNamespace(
        targets={"released": T},
        outputs={"copies-train": Z},
        starts={("released", "avg"): means, ("released", "min"): picks},
    )


def test_caption_choices_take_the_last_of_a_digit_named_twice():
    ch = caption_choices(CHOICES)
    assert len(ch) == 20
    assert ch[("bn", 4)] == ("avg-min", "none", [("avg", "none")])
    assert ch[("one", 3)] == ("min", "paper-sgd", [])
    assert caption_choices()[("fcnn5", 0)] == ("min", "paper-sgd", [])


def test_class_spread_is_the_median_distance_from_the_class_mean():
    X, y = _data()
    s = class_spread(X, y)
    Xn, yn = X.double().numpy().reshape(len(X), -1), y.numpy()
    for c in range(10):
        Xc = Xn[yn == c]
        assert s[c] == pytest.approx(np.median(np.linalg.norm(Xc - Xc.mean(0), axis=1)), rel=1e-12)


def test_paper_recipe_runs_the_caption_procedure_per_digit():
    X, y = _data()
    nets = _nets()
    model, bn = nets["one"], nets["two"]  # "two" stands for a re-enacted network
    rep = _fake_reenactment(X, y, bn)
    table, images = paper_recipe({"one": model, "bn": bn}, X, y, {"bn": rep}, CHOICES)
    assert len(table) == 20 and set(images) == set(zip(table.network, table.digit))
    with torch.no_grad():
        Z = model(X).double().numpy()  # (N, K): eval-mode outputs, independently
    T = _minmax(Z)
    Xn, yn = X.double().numpy(), y.numpy()
    for r in table.itertuples():
        x = images[(r.network, r.digit)]
        mean = Xn[yn == r.digit].mean(0)
        if r.network == "one":  # "+training" from avg or min (the image whose output is nearest)
            if r.start == "avg":
                x0 = mean
            else:
                idx = np.flatnonzero(yn == r.digit)
                x0 = Xn[idx[np.argmin(((Z[idx] - T[r.digit]) ** 2).mean(1))]]
            t = torch.as_tensor(T[r.digit], dtype=torch.float32)
            ref = _sgd(model, torch.as_tensor(x0, dtype=torch.float32), t)
            np.testing.assert_allclose(x.numpy(), ref.numpy(), atol=1e-6)
            assert r.label == f"{r.start}+SGD" and r.search == "eval mode"
            assert np.isfinite(r.rel_error) and r.predicted >= 0
        else:  # the released search's start images, unchanged
            if r.start == "avg-min":
                idx = np.flatnonzero(yn == r.digit)
                Zr, Tr = rep.outputs["copies-train"].numpy(), rep.targets["released"].numpy()
                near = idx[np.argsort(((Zr[idx] - Tr[r.digit]) ** 2).mean(1), kind="stable")]
                x0 = Xn[near[: max(1, len(idx) // 4)]].mean(0)
            else:
                x0 = rep.starts[("released", r.start)][r.digit].double().numpy()
            np.testing.assert_allclose(x.double().numpy(), x0, atol=1e-6)
            assert r.label == r.start and r.search == "training mode, 32 copies"
            assert r.distance_start == 0 and np.isnan(r.rel_error)
            assert r.also == ("avg" if r.digit == 4 else "")
        xd = x.double().numpy()
        assert r.distance_start == pytest.approx(np.linalg.norm(xd - x0), abs=1e-5)
        assert r.pixel_change_max == pytest.approx(np.abs(xd - x0).max(), abs=1e-6)
        assert r.dist_class_mean == pytest.approx(np.linalg.norm(xd - mean), abs=1e-5)
        assert r.start_norm == pytest.approx(np.linalg.norm(x0), rel=1e-5)


def test_paper_recipe_refuses_what_the_caption_does_not_name():
    X, y = _data()
    nets = _nets()
    with pytest.raises(ValueError, match="names no images for network 'two'"):
        paper_recipe({"two": nets["two"]}, X, y, choices=CHOICES)
    rep = _fake_reenactment(X, y, nets["one"])
    with pytest.raises(ValueError, match="training-mode SGD"):
        paper_recipe({"one": nets["one"]}, X, y, {"one": rep}, CHOICES)


def test_released_log_change_counts_iterates_0_to_99_of_min_starts():
    X, y = _data()
    _, results = run_grid(
        {"one": _nets()["one"]}, X, y, starts=("avg", "min"), methods=("paper-sgd",)
    )
    t = released_log_change(results)
    assert len(t) == 10 and set(t["network"]) == {"one"}
    for r in t.itertuples():
        h = results[("one", r.digit, "min", "paper-sgd")].history
        assert len(h) == 101
        assert r.change == pytest.approx(h[99] / h[0] - 1, rel=1e-12)
    assert isinstance(t, pd.DataFrame)
    with pytest.raises(ValueError, match="no runs"):
        released_log_change(results, start="noise")
    with pytest.raises(ValueError, match="iterate 200"):
        released_log_change(results, last=200)


def test_rule_vs_recipe_is_the_distance_between_the_two_images():
    a, b = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    best = pd.DataFrame(
        {"network": ["n", "n"], "digit": [0, 1], "start": ["avg", "min"], "method": ["gn", "gn"]}
    )
    results = {("n", 0, "avg", "gn"): SimpleNamespace(image=a),
               ("n", 1, "min", "gn"): SimpleNamespace(image=b)}  # fmt: skip
    d = rule_vs_recipe(best, results, {("n", 0): b, ("n", 1): b})
    assert d.to_dict() == {("n", 0): 2.0, ("n", 1): 0.0}
    assert len(rule_vs_recipe(best, results, {("n", 1): b})) == 1  # only pairs both hold
