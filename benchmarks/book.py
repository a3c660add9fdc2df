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


def _reproduce(profile: str, work: Path, cache: Path | None, jobs: int | None) -> dict:
    env = dict(os.environ)
    if cache is not None:
        env["NNSPACES_CACHE"] = str(cache)
    cmd = [
        sys.executable,
        "-m",
        "nnspaces",
        "reproduce",
        "--profile",
        profile,
        "--workdir",
        str(work),
    ] + ([] if jobs is None else ["--jobs", str(jobs)])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"reproduce failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    run = json.loads((work / "book" / "chapters" / "_run.json").read_text())
    return {"wall_seconds": wall, "per_chapter_seconds": run["seconds"], "jobs": run.get("jobs", 1)}


def run(profile: str = "default", cold: bool = True, jobs: int | None = None) -> dict:
    """Reproduce ``profile``: cold (empty cache, trains) then warm (cached), or warm only.

    Parameters
    ----------
    profile : str
    cold : bool
        True: both builds in a fresh temporary cache (the first one trains every network).
        False: one warm build on the reader's cache (``$NNSPACES_CACHE`` or
        ``~/.cache/nnspaces``; networks not in it are trained first and that run discarded).
    jobs : int, optional
        Chapters at once (the pipeline's default when None).

    Returns
    -------
    dict
        ``cold`` (when measured) and ``warm``: wall seconds, per-chapter seconds and the jobs;
        ``peak_rss_mb``: the largest resident memory of any child process (the notebook
        kernels), in MB.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        cache = Path(tmp) / "cache" if cold else None
        first = _reproduce(profile, work, cache, jobs)  # cold, or makes sure the cache is full
        warm = _reproduce(profile, work, cache, jobs)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB → MB on Linux
    out = {"profile": profile, "warm": warm, "peak_rss_mb": peak}
    if cold:
        out["cold"] = first
    return out
