"""The numerical core computes and returns: nothing in ``spaces``, ``inverse``, ``nearest``,
``certificate`` or ``models`` writes into the cache (the chapter layer keeps results)."""

from __future__ import annotations

import torch
from torch import nn

from nnspaces import certificate, inverse, models, nearest, spaces


def test_the_core_writes_nothing_into_the_cache(cache_dir):
    cache = cache_dir
    cache.mkdir()
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(16, 6), nn.SELU(), nn.Linear(6, 3), nn.SELU()
    ).double()
    one = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.SELU()).double()
    X = torch.rand(30, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(30) % 3
    T = inverse.class_targets(net, X, y, "class-mean")  # the outputs: one forward pass
    R = torch.stack([inverse.start_image("avg", X, y, c) for c in range(3)])
    inverse.invert_classes(one, inverse.class_targets(one, X, y), R, "closed-form", (0, 1))
    gn, refined = nearest.nearest_preimage(net, T, R, max_iter=3)
    spaces.layer_table(net, X)
    spaces.null_energy_by_layer(net, X, y)
    certificate.kappa(torch.eye(3, 16, dtype=torch.float64), gn[0].image, R[0])
    assert models.definition_hash("fcnn1") == models.definition_hash("fcnn1")
    assert refined[0].rel_error <= 1e-10  # it did compute
    assert list(cache.rglob("*")) == []
