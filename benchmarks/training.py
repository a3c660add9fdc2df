"""The training floor: seconds per ResNet18 epoch, alone and with both cores busy.

A build from an empty cache trains six ResNet18s (20 epochs each) two at a time; this
measures one epoch of the same recipe (3 500 images, batch 32, one thread per process, the
second of two epochs: the first also pays for warming up) in a process on its own and in two
processes at once, so that the cold build can be set against what its training alone must
cost on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

_ONE_EPOCH = """
import json, sys, time, torch
torch.set_num_threads(1)
from nnspaces import train
ends = [time.perf_counter()]
_, report = train.train_or_load(
    "resnet18", dataset=sys.argv[1], epochs=2, seed=0, device="cpu", cache_dir=sys.argv[2],
    progress=False, on_epoch=lambda row: ends.append(time.perf_counter()),
)
# the second epoch: the first also pays for allocations and oneDNN's kernel choices
print(json.dumps({"seconds": ends[2] - ends[1], "images": report["dataset"]["sizes"]["train"]}))
"""


def _epochs(n: int, dataset: str) -> list[dict]:
    """``n`` one-epoch trainings started at once, each in its own process and cache."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _ONE_EPOCH, dataset, os.path.join(tmp, str(i))],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(n)
        ]
        outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a one-epoch training run failed")
    return [json.loads(o.strip().splitlines()[-1]) for o in outs]


def run(dataset: str = "mnist-5k") -> dict:
    """Seconds of one ResNet18 epoch (training and the validation pass after it), the second
    of a two-epoch run.

    Returns
    -------
    dict
        ``images`` (training images per epoch), ``alone`` (seconds, one process),
        ``two_at_once`` (mean seconds of two processes started together), ``cores``.
    """
    t0 = time.perf_counter()
    alone = _epochs(1, dataset)[0]
    both = _epochs(2, dataset)
    return {
        "dataset": dataset,
        "images": alone["images"],
        "alone": alone["seconds"],
        "two_at_once": sum(b["seconds"] for b in both) / len(both),
        "cores": os.cpu_count(),
        "seconds": time.perf_counter() - t0,
    }
