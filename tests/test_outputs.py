"""Raw outputs over a data set, and their on-disk cache, against plain forward passes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnspaces.outputs import cached_outputs, collect_outputs


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(16, 8), nn.BatchNorm1d(8), nn.SELU(), nn.Linear(8, 3)
    )


def _images(n=50, seed=0):
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


def test_collect_outputs_is_an_eval_mode_forward_pass_in_batches():
    f, X = _net(), _images()
    f.train()
    Z = collect_outputs(f, X, batch_size=7)
    f.eval()
    with torch.no_grad():
        ref = f(X)
    assert torch.allclose(Z, ref, atol=1e-6) and Z.shape == (50, 3)
    f.train()
    collect_outputs(f, X)
    assert f.training  # mode restored


def test_cached_outputs_are_read_back_and_keyed_by_weights_and_images(cache_dir):
    f, X = _net(), _images()
    calls = []
    f.register_forward_hook(lambda *a: calls.append(1))
    folder = cache_dir / "results" / "outputs"
    Z1 = cached_outputs(f, X)
    n = len(calls)
    Z2 = cached_outputs(f, X)
    assert len(calls) == n, "second call ran the network again"
    assert torch.equal(Z1, Z2) and torch.equal(Z1, collect_outputs(f, X))
    assert len(list(folder.glob("*.pt"))) == 1
    with torch.no_grad():  # other weights: another file, new outputs
        f[1].weight.add_(0.1)
    Z3 = cached_outputs(f, X)
    assert not torch.equal(Z3, Z1) and len(list(folder.glob("*.pt"))) == 2
    cached_outputs(f, _images(seed=1))  # other images: another file
    assert len(list(folder.glob("*.pt"))) == 3


def test_a_corrupted_cache_file_is_reported_and_recomputed(cache_dir):
    f, X = _net(), _images()
    Z = cached_outputs(f, X)
    (path,) = (cache_dir / "results" / "outputs").glob("*.pt")
    key = torch.load(path, weights_only=True)["key"]
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.warns(UserWarning, match="cannot be read"):
        again = cached_outputs(f, X)
    assert torch.equal(again, Z)
    torch.save({"key": key, "value": torch.zeros(3)}, path)  # its key, but not (N, K)
    with pytest.warns(UserWarning, match="does not decode"):
        assert torch.equal(cached_outputs(f, X), Z)
    assert torch.equal(cached_outputs(f, X), Z)  # rewritten intact
