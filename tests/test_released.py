"""The re-enacted released ResNet procedure (nnspaces.released) on a small BatchNorm network.

The network ``_net`` has one BatchNorm layer on 4×4 maps and one on 1×1 maps after global
pooling — like ResNet18's ``layer4`` on 28×28 digits — so that a batch of identical copies in
training mode makes the last one see a batch variance of exactly zero.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnspaces import inverse, models, released
from nnspaces.__main__ import main
from nnspaces.plots import released as released_plots


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: a second thread only contends (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _net(dtype=torch.float32, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 6, 1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(), nn.Linear(6, 3),
    )  # fmt: skip
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # trained-looking affine maps and running statistics
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-1.0, 1.0)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.to(dtype).eval()


def _data(n: int = 60, K: int = 3, dtype=torch.float32, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, 8, 8, generator=g, dtype=dtype)
    return X, torch.arange(n) % K


def _bn_batch(h: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """Training-mode batch norm written out: statistics over (N, H, W), biased variance."""
    mean = h.mean((0, 2, 3), keepdim=True)
    var = ((h - mean) ** 2).mean((0, 2, 3), keepdim=True)
    w, b = bn.weight[None, :, None, None], bn.bias[None, :, None, None]
    return (h - mean) / torch.sqrt(var + bn.eps) * w + b


def _manual_train_forward(net: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """An independent forward pass of ``_net`` in training mode on one batch ``X``."""
    conv1, bn1, _, _, conv2, bn2, _, _, lin = net
    h = F.conv2d(X, conv1.weight, conv1.bias, stride=2, padding=1)
    h = torch.relu(_bn_batch(h, bn1)).mean((2, 3), keepdim=True)  # global average pooling
    h = torch.relu(_bn_batch(F.conv2d(h, conv2.weight, conv2.bias), bn2))
    return h.flatten(1) @ lin.weight.T + lin.bias


def _snapshot(model: nn.Module) -> dict:
    return {
        "modes": [m.training for m in model.modules()],
        "grad_flags": [p.requires_grad for p in model.parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [p.grad for p in model.parameters()],
    }


def _assert_unchanged(model: nn.Module, snap: dict) -> None:
    after = _snapshot(model)
    assert after["modes"] == snap["modes"]
    assert after["grad_flags"] == snap["grad_flags"]
    assert all(g is None for g in after["grads"])
    for k, v in snap["state"].items():
        assert torch.equal(after["state"][k], v), k  # parameters and BN buffers, bit for bit


# -- targets --------------------------------------------------------------------------------


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


# -- training-mode outputs -------------------------------------------------------------------


def test_batch_outputs_in_training_mode_equal_batch_statistics_written_out():
    net, (X, _) = _net().train(), _data(20)
    Z = released.batch_outputs(net, X, batch_size=8, seed=None)  # batches 0:8, 8:16, 16:20
    ref = torch.cat([_manual_train_forward(net, X[i : i + 8]) for i in (0, 8, 16)])
    torch.testing.assert_close(Z, ref.detach(), rtol=1e-5, atol=1e-5)


def test_batch_outputs_keep_the_image_order_under_a_shuffle_and_merge_a_lone_last_image():
    net, (X, _) = _net().train(), _data(17)
    parts = released._batches(17, 8, seed=3)
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


# -- the input optimisation ------------------------------------------------------------------


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
    assert len(run.history) == released.PAPER_SGD_STEPS + 1 == 101
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
    images, H, _ = released._run_independent(net, X, T, steps=20, lr=1e-2)
    assert H.shape == (3, 21)
    for x, t, img, h in zip(X, T, images, H):
        one = released.input_sgd(net, x, t, copies=1, steps=20, lr=1e-2)
        torch.testing.assert_close(img, one.image, rtol=1e-12, atol=1e-14)
        assert h.tolist() == pytest.approx(one.history, rel=1e-12)


def test_input_sgd_rejects_a_batch_as_the_start():
    with pytest.raises(ValueError, match=r"one image \(C, H, W\)"):
        released.input_sgd(_net(), torch.zeros(2, 1, 8, 8), torch.zeros(3))


# -- the whole re-enactment ------------------------------------------------------------------


@pytest.fixture(scope="module")
def reenacted():
    net, (X, y) = _net(torch.float64), _data(60, dtype=torch.float64)
    Xt, yt = _data(30, dtype=torch.float64, seed=7)
    snap = _snapshot(net)
    rep = released.reenact(net, X, y, X_test=Xt, y_test=yt)
    return net, X, y, snap, rep


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


def test_the_comparison_table_puts_the_procedures_side_by_side(reenacted):
    rep = reenacted[-1]
    df, wide = rep.table(), rep.comparison_table()
    assert list(wide.columns) == [
        "start", "digit", "released loss change (%)", "released distance",
        "corrected loss change (%)", "corrected distance",
    ]  # fmt: skip
    assert list(wide["start"]) == ["min"] * 3 + ["avg"] * 3 and len(wide) == 6
    row = df[(df.procedure == "corrected") & (df.start == "avg") & (df.digit == 2)].iloc[0]
    assert wide.iloc[5]["corrected distance"] == row["distance"]
    X0, X1 = rep.starts[("corrected", "avg")][2], rep.images[("corrected", "avg")][2]
    assert row["max_pixel_change"] == pytest.approx(float((X1 - X0).abs().max()))


def test_numbers_count_every_run_and_quote_the_table(reenacted):
    rep = reenacted[-1]
    n, df = rep.numbers(), rep.table()
    assert n["runs"] == 6
    for proc in released.PROCEDURES:
        assert n[f"{proc}_rose"] + n[f"{proc}_fell"] + n[f"{proc}_same"] == 6
        d = df[df["procedure"] == proc]
        assert n[f"{proc}_distance_max"] == d["distance"].max()
        assert n[f"{proc}_change_min"] == d["change_pct"].min()
    assert n["corrected_fell"] == 6
    assert n["spread_ratio"] == rep.spread["copies/eval"] and n["spread_eval"] > 0
    assert 0 <= n["same_min_starts"] <= 3 and 0 <= n["binary_min"] <= 1
    assert {"acc_eval", "acc_train_mode", "target_gap", "drift_var"} <= set(n)
    assert all(isinstance(v, int | float) for v in n.values())


def test_choice_range_is_the_relative_spread_of_the_candidates_losses():
    y = torch.tensor([0, 0, 1, 1, 1])
    Z = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 1.0], [0.0, 4.0]])[:, None]
    T = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    # class 0 losses 0.5, 4.5 → (4.5 − 0.5) / 0.5; class 1 losses 2, 0.5, 8 → 7.5 / 0.5
    assert released.choice_range(y, Z, T).tolist() == [8.0, 15.0]
    X = torch.arange(5.0).reshape(5, 1, 1, 1)
    assert released.nearest_start(X, y, 1, Z, T[1]).item() == 3.0


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
        "running_mean": 0.0, "running_var": 0.0, "running_mean_layer": "",
        "running_var_layer": "",
    }  # fmt: skip


def test_reenact_rejects_unknown_start_images():
    net, (X, y) = _net(), _data(6)
    with pytest.raises(ValueError, match="choose one or more of min, avg"):
        released.reenact(net, X, y, starts=["noise"])


def test_figures_draw_every_digit_and_share_the_difference_scale(reenacted):
    rep = reenacted[-1]
    fig = released_plots.reenactment_figure(rep, "min")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 6 * 3  # 2 procedures × (start, result, difference) × 3 digits
    diff_rows = images[2 * 3 : 3 * 3] + images[5 * 3 : 6 * 3]  # rows 2 and 5, 3 digits each
    diff_limits = {ax.images[0].get_clim() for ax in diff_rows}
    assert len(diff_limits) == 1 and next(iter(diff_limits))[0] < 0
    fig = released_plots.loss_curves(rep, "avg")
    assert len(fig.axes[0].lines) == 3 + 1  # one per digit, and the line at 1


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
    assert float((Z[0] - Z[1]).norm()) < 1e-3 * float((Ze[0] - Ze[1]).norm())


# -- Figure 2's number from a state_dict file ------------------------------------------------


def test_kernel_condition_is_the_kernels_view_svd():
    torch.manual_seed(0)
    net = models.build("resnet18")
    info = released.kernel_condition(net)
    W = net.layer1[0].conv1.weight.detach().double().reshape(64 * 64, 9)  # (4096, 9)
    S = torch.linalg.svdvals(W)
    assert info["matrix_shape"] == (4096, 9) and info["weight_shape"] == (64, 64, 3, 3)
    assert info["condition"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    with pytest.raises(ValueError, match="no layer 'layer9.conv1'"):
        released.kernel_condition(net, "layer9.conv1")
    with pytest.raises(ValueError, match="'layer1.0.bn1' is a BatchNorm2d, not a Conv2d"):
        released.kernel_condition(net, "layer1.0.bn1")


def test_cli_prints_the_condition_number_of_a_state_dict_file(tmp_path, capsys):
    torch.manual_seed(0)
    net = models.build("resnet18")
    path = tmp_path / "final_model_resnet"
    torch.save({f"model.{k}": v for k, v in net.state_dict().items()}, path)  # as released
    assert main(["released-resnet", str(path)]) == 0
    out = capsys.readouterr().out
    cond = released.kernel_condition(net)["condition"]
    assert f"σ1/σ9 = {cond:.4f}" in out and "(4096, 9)" in out and "paper: 1.07" in out
    assert main(["released-resnet", str(tmp_path / "absent")]) == 1
    assert "no state_dict file at" in capsys.readouterr().err
