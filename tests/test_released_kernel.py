"""Tests of nnspaces.released.kernel: Figure 2's number from a state_dict file."""

from __future__ import annotations

import pytest
import torch
from released_problems import (
    _one_thread,  # noqa: F401  (autouse: one thread for the tiny networks)
)

from nnspaces import models, released
from nnspaces.__main__ import main


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
