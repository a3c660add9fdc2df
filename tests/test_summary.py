"""Results at a glance, the paper's numbers, the environment record."""

import pytest
import torch

from nnspaces import environment, layerviews, models, paper, spaces, summary


def test_verdict_wording_and_tolerance():
    assert paper.verdict(7.22, 7.22) == "matches (+0.0 %)"
    assert paper.verdict(1.0, 0.92, rel_tol=0.01) == "higher by 8.7 %"
    assert paper.verdict(0.9, 0.92, rel_tol=0.01).startswith("lower by 2.2")


def test_headline_numbers_against_independent_svd():
    torch.manual_seed(0)
    nets = {"fcnn1": models.build("fcnn1"), "resnet18": models.build("resnet18")}
    reports = {"fcnn1": {"test_acc": 0.5}, "resnet18": {"test_acc": 0.25}}
    n = summary.headline_numbers(nets, reports)
    S = torch.linalg.svdvals(nets["fcnn1"][1].weight.double())
    assert n["cond_fcnn1"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    K = nets["resnet18"].layer1[0].conv1.weight.double().reshape(-1, 9)  # (4096, 9)
    S = torch.linalg.svdvals(K)
    assert n["cond_resnet"] == pytest.approx(float(S[0] / S[-1]), rel=1e-12)
    t = summary.results_table(n)
    assert list(t["paper"]) == [92.0, 99.0, paper.CONDITION_FCNN1, paper.CONDITION_RESNET_LAYER]
    assert t.loc[0, "this book"] == 50.0 and t.loc[0, "verdict"].startswith("lower")


def test_conv_layer_lookup_and_views():
    net = models.build("resnet18")
    with pytest.raises(ValueError, match="layer1.0.conv1"):
        layerviews.conv_layer(net, "layer1.0.bn1")
    assert layerviews.input_sizes(net)["layer1.0.conv1"] == (7, 7)
    views = layerviews.layer_views(net, "layer1.0.conv1")
    assert set(views) == {"kernels", "unfold", "taps", "operator 7x7"}
    taps = net.layer1[0].conv1.weight.double().permute(2, 3, 0, 1).reshape(9, 64, 64)
    ref = torch.linalg.svdvals(taps).flatten().sort(descending=True).values
    torch.testing.assert_close(views["taps"], ref)
    t = layerviews.views_table(views)
    assert t.loc["kernels", "condition number"] == pytest.approx(
        spaces.layer_spaces(net.layer1[0].conv1, view="kernels").condition_number
    )


def test_environment_record(tmp_path):
    v = environment.package_versions(("torch", "surely-not-a-package"))
    assert str(torch.__version__).startswith(v.loc[0, "version"].split("+")[0])
    assert v.loc[1, "version"] == "not installed"
    assert environment.machine()["cpu cores"].isdigit()
    log = tmp_path / "_run.json"
    log.write_text('{"seconds": {"01_models": 3.5}}')
    assert environment.timings(log).to_dict("records") == [{"chapter": "01_models", "seconds": 3.5}]
    assert environment.timings(None).empty
    assert environment.parallel_jobs(log) == 1  # a log from before parallel runs
    log.write_text('{"seconds": {}, "jobs": 2}')
    assert environment.parallel_jobs(log) == 2 and environment.parallel_jobs(None) == 1
