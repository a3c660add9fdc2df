import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from nnspaces import models


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_maps_images_to_ten_outputs(name):
    torch.manual_seed(0)
    net = models.build(name).eval()
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_fcnn_parameter_counts_match_the_architecture():
    widths5 = [784, 256, 256, 128, 32, 10]
    expect5 = sum(a * b + b for a, b in zip(widths5[:-1], widths5[1:]))
    assert models.count_parameters(models.build("fcnn1")) == 784 * 10 + 10
    assert models.count_parameters(models.build("fcnn5")) == expect5
    # The 1-layer net ends in SELU, the 5-layer one in a bare Linear (released code).
    assert isinstance(models.build("fcnn1")[-1], nn.SELU)
    assert isinstance(models.build("fcnn5")[-1], nn.Linear)
    assert sum(isinstance(m, nn.SELU) for m in models.build("fcnn5")) == 4


def test_resnet18_is_torchvisions_with_a_one_channel_conv1():
    ref = resnet18(num_classes=10)
    ref_count = sum(p.numel() for p in ref.parameters())
    ours = models.build("resnet18")
    # torchvision's conv1 takes 3 channels; ours takes 1: 64 * 7 * 7 * 2 fewer weights.
    assert models.count_parameters(ours) == ref_count - 64 * 7 * 7 * 2
    c = ours.conv1
    assert (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.bias) == (
        1, 64, (7, 7), (2, 2), (3, 3), None,
    )  # fmt: skip
    ref_keys = set(ref.state_dict())
    assert set(ours.state_dict()) == ref_keys


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="fcnn1, fcnn5, resnet18"):
        models.build("vgg16")


def test_definition_hash_tracks_the_architecture(monkeypatch):
    h = models.definition_hash("fcnn1")
    assert h == models.definition_hash("fcnn1") and h != models.definition_hash("fcnn5")
    monkeypatch.setitem(models._BUILDERS, "fcnn1", lambda: models._fcnn((784, 12)))
    assert models.definition_hash("fcnn1") != h
