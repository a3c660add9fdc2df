"""The book build: wall time of ``reproduce`` cold (empty cache) and warm, and peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _reproduce(profile: str, work: Path, cache: Path) -> dict:
    env = dict(os.environ, NNSPACES_CACHE=str(cache))
    cmd = [sys.executable, "-m", "nnspaces", "reproduce", "--profile", profile,
           "--workdir", str(work)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"reproduce failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    run = json.loads((work / "book" / "chapters" / "_run.json").read_text())
    return {"wall_seconds": wall, "per_chapter_seconds": run["seconds"]}


def run(profile: str = "default") -> dict:
    """Reproduce ``profile`` twice from an empty cache: cold (trains) then warm (cached).

    Returns
    -------
    dict
        ``cold`` and ``warm``: wall seconds and per-chapter seconds; ``peak_rss_mb``: the
        largest resident memory of any child process (the notebook kernels), in MB.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work, cache = Path(tmp) / "work", Path(tmp) / "cache"
        cold = _reproduce(profile, work, cache)
        warm = _reproduce(profile, work, cache)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB → MB on Linux
    return {"profile": profile, "cold": cold, "warm": warm, "peak_rss_mb": peak}
