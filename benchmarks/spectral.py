"""Spectral kernels: the ResNet18 layer table and the paper-view SVD of one layer."""

from __future__ import annotations

import statistics
import time

import torch

from nnspaces import models, paper, spaces


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(repeats: int = 5, seed: int = 0) -> list[dict]:
    """Median seconds of ``layer_table`` (all 21 layers, unfold view) and of one SVD."""
    torch.manual_seed(seed)
    net = models.build("resnet18").double().eval()
    conv = spaces.conv_layer(net, paper.RESNET_LAYER)
    return [
        {
            "kernel": "layer_table(resnet18, view='unfold'), float64",
            "median_seconds": _median_time(lambda: spaces.layer_table(net), repeats),
        },
        {
            "kernel": "layer_table(resnet18, view='kernels'), float64",
            "median_seconds": _median_time(
                lambda: spaces.layer_table(net, view="kernels"), repeats
            ),
        },
        {
            "kernel": f"layer_spaces({paper.RESNET_LAYER}, view='kernels') 4096x9",
            "median_seconds": _median_time(
                lambda: spaces.layer_spaces(conv, view="kernels"), repeats
            ),
        },
    ]
