import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from nnspaces import models


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_maps_images_to_ten_outputs(name):
    torch.manual_seed(0)
    net = models.build(name).eval()
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_fcnn_parameter_counts_match_the_architecture():
    widths5 = [784, 256, 256, 128, 32, 10]
    expect5 = sum(a * b + b for a, b in zip(widths5[:-1], widths5[1:]))
    assert _count(models.build("fcnn1")) == 784 * 10 + 10
    assert _count(models.build("fcnn5")) == expect5
    # The 1-layer net ends in SELU, the 5-layer one in a bare Linear (released code).
    assert isinstance(models.build("fcnn1")[-1], nn.SELU)
    assert isinstance(models.build("fcnn5")[-1], nn.Linear)
    assert sum(isinstance(m, nn.SELU) for m in models.build("fcnn5")) == 4


def test_resnet18_is_torchvisions_with_a_one_channel_conv1():
    ref = resnet18(num_classes=10)
    ref_count = sum(p.numel() for p in ref.parameters())
    ours = models.build("resnet18")
    # torchvision's conv1 takes 3 channels; ours takes 1: 64 * 7 * 7 * 2 fewer weights.
    assert _count(ours) == ref_count - 64 * 7 * 7 * 2
    c = ours.conv1
    assert (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.bias) == (
        1,
        64,
        (7, 7),
        (2, 2),
        (3, 3),
        None,
    )
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


# -- load_state_dict_file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    net = models.build("resnet18")
    for m in net.modules():  # trained-looking BatchNorm buffers, so they must round-trip too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
    return net.eval()


def _assert_same_network(loaded, net):
    assert not loaded.training and all(not m.training for m in loaded.modules())
    ref = net.state_dict()
    assert list(loaded.state_dict()) == list(ref)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, ref[k]), k
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


@pytest.mark.parametrize("prefix", ["", "model.", "module."])
def test_a_saved_state_dict_loads_back_to_the_same_weights_and_outputs(resnet, tmp_path, prefix):
    # "model.": the released notebook saved a wrapper holding the ResNet as self.model;
    # "module.": nn.DataParallel.
    path = tmp_path / "final_model_resnet"
    torch.save({prefix + k: v for k, v in resnet.state_dict().items()}, path)
    _assert_same_network(models.load_state_dict_file(path), resnet)


def test_a_checkpoint_wrapping_its_state_dict_is_unwrapped(resnet, tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"config": {"epochs": 20}, "state_dict": resnet.state_dict()}, path)
    _assert_same_network(models.load_state_dict_file(path, "resnet18"), resnet)


def test_fcnn_weights_load_too(tmp_path):
    torch.manual_seed(0)
    net = models.build("fcnn5").eval()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    _assert_same_network(models.load_state_dict_file(tmp_path / "w.pt", "fcnn5"), net)


def test_a_missing_file_says_which_file_to_get(tmp_path):
    with pytest.raises(FileNotFoundError, match="no state_dict file at .*final_model_resnet"):
        models.load_state_dict_file(tmp_path / "absent")


def test_a_pickled_whole_model_is_refused_without_running_its_code(resnet, tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(resnet, path)  # the module object itself, not its state_dict
    with pytest.raises(ValueError, match=r"not a plain state_dict.*torch.save\(model.state_dict"):
        models.load_state_dict_file(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n", "Git LFS pointer"),
        (b"<html>404: Not Found</html>", "not a file written by torch.save"),
    ],
)
def test_files_that_are_not_torch_files_are_named_for_what_they_are(tmp_path, content, match):
    path = tmp_path / "final_model_resnet"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        models.load_state_dict_file(path)


def test_a_truncated_file_says_so(resnet, tmp_path):
    path = tmp_path / "w.pt"
    torch.save(resnet.state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        models.load_state_dict_file(path)


@pytest.mark.parametrize(
    "obj, match",
    [
        (torch.zeros(3), "holds a Tensor, not a state_dict"),
        ([1, 2], "holds a list, not a state_dict"),
        ({}, "holds a dict, not a state_dict"),
        ({"conv1.weight": torch.zeros(1), "epochs": 3}, "not name → tensor, e.g. \\['epochs'\\]"),
    ],
)
def test_other_objects_are_not_taken_for_a_state_dict(tmp_path, obj, match):
    path = tmp_path / "w.pt"
    torch.save(obj, path)
    with pytest.raises(ValueError, match=match):
        models.load_state_dict_file(path)


def test_missing_and_unexpected_keys_are_listed(resnet, tmp_path):
    state = dict(resnet.state_dict())
    del state["fc.bias"], state["layer4.1.bn2.running_var"]
    state["head.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(ValueError) as err:
        models.load_state_dict_file(tmp_path / "w.pt")
    msg = str(err.value)
    assert "2 missing (fc.bias, layer4.1.bn2.running_var)" in msg
    assert "1 unexpected (head.weight)" in msg and "name= one of fcnn1, fcnn5, resnet18" in msg


def test_the_wrong_network_is_named(resnet, tmp_path):
    torch.save(resnet.state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match=r"does not hold the weights of 'fcnn1'.* … and \d+ more"):
        models.load_state_dict_file(tmp_path / "w.pt", "fcnn1")


def test_wrong_shapes_are_listed_with_both_shapes(tmp_path):
    ref = resnet18(num_classes=10)  # torchvision's own: a 3-channel conv1
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError) as err:
        models.load_state_dict_file(tmp_path / "w.pt")
    msg = str(err.value)
    assert "conv1.weight: file (64, 3, 7, 7), resnet18 (64, 1, 7, 7)" in msg
    assert "3 input channels" in msg
