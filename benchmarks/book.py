"""The book build: wall time of ``reproduce`` in the cases a person meets, and peak memory.

- ``cold``: empty cache and no executed copies: trains every network, runs every chapter.
- ``warm``: every network cached, every chapter re-executed (``--force``); what the chapters
  memoise in the cache (``nnspaces.cache.memo``) is read back.
- ``warm_recompute``: the same with ``NNSPACES_RECOMPUTE=1``: every chapter computes
  everything again from the cached networks.
- ``warm_plain``: ``warm`` with ``NNSPACES_FORK_KERNELS=0``: every kernel started from
  scratch instead of forked from the fork server (:mod:`nnspaces.forked_kernels`);
  ``fork_saves_seconds`` is what the fork server saves (default profile, 2 cores: a warm
  build took 48 s with it and 89 s without).
- ``no_change``: nothing changed since the last build: every executed copy and the HTML kept.
- ``one_chapter``: one chapter's inputs changed (its stored fingerprint no longer matches):
  that chapter runs, the appendix that reads the run log, and the HTML build; reported with
  the overhead beyond the time of the chapters that ran.
- ``bundle``: ``reproduce --weights`` (``make book WEIGHTS=…``) on a fresh cache: the
  bundle (``weights export``) checked and imported, then a full build; what a newcomer with
  the CI's bundle pays.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The chapter whose fingerprint the ``one_chapter`` case invalidates.
EDITED = "02_signal_space"


def _nnspaces(
    args: list[str], cache: Path | None, recompute: bool = False, fork: bool = True
) -> tuple[float, str]:
    env = dict(os.environ, **({"NNSPACES_RECOMPUTE": "1"} if recompute else {}))
    if not fork:  # every kernel started from scratch
        env["NNSPACES_FORK_KERNELS"] = "0"
    if cache is not None:
        env["NNSPACES_CACHE"] = str(cache)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "nnspaces", *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"nnspaces {args[0]} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return wall, proc.stdout


def _reproduce(
    profile,
    work: Path,
    cache,
    jobs,
    force=False,
    recompute=False,
    weights: Path | None = None,
    fork: bool = True,
) -> dict:
    args = ["reproduce", "--profile", profile, "--workdir", str(work)]
    args += ([] if jobs is None else ["--jobs", str(jobs)]) + (["--force"] if force else [])
    args += [] if weights is None else ["--weights", str(weights)]
    wall, out = _nnspaces(args, cache, recompute, fork)
    run = json.loads((work / "book" / "chapters" / "_run.json").read_text())
    ran = [line.split("] ")[1].split(":")[0] for line in out.splitlines() if ": started" in line]
    return {
        "wall_seconds": wall,
        "per_chapter_seconds": run["seconds"],
        "chapters_run": ran,
        "training": run.get("training", {}) if ran else {},
        "jobs": run.get("jobs", 1),
        "weights_import": run.get("weights_import"),
    }


def fork_vs_plain(profile, work: Path, cache, jobs=None) -> dict:
    """A warm build of ``work`` (every network in ``cache``) with the fork server, then one
    without (``NNSPACES_FORK_KERNELS=0``): ``{"warm": …, "warm_plain": …,
    "fork_saves_seconds": …}``."""
    warm = _reproduce(profile, work, cache, jobs, force=True)
    plain = _reproduce(profile, work, cache, jobs, force=True, fork=False)
    saves = plain["wall_seconds"] - warm["wall_seconds"]
    return {"warm": warm, "warm_plain": plain, "fork_saves_seconds": saves}


def _one_chapter(profile, work: Path, cache, jobs) -> dict:
    fp = work / "book" / "chapters" / f"{EDITED}.fingerprint.json"
    stored = json.loads(fp.read_text())
    fp.write_text(json.dumps({**stored, "notebook": "edited"}))
    r = _reproduce(profile, work, cache, jobs)
    # the chapter and those that read its output (the run log's reader) run one after the
    # other: what is left of the wall time is the pipeline's own overhead and the HTML build
    ran = sum(r["per_chapter_seconds"][c] for c in r["chapters_run"])
    r["edited"] = EDITED
    r["overhead_seconds"] = r["wall_seconds"] - ran
    return r


def _bundle(profile, tmp: Path, cache, jobs) -> dict:
    bundle = tmp / "weights.tar"
    export_s, _ = _nnspaces(["weights", "export", str(bundle), "--profile", profile], cache)
    # `make book WEIGHTS=…`: one command imports the bundle into a fresh cache and builds
    r = _reproduce(profile, tmp / "bundle-work", tmp / "fresh-cache", jobs, weights=bundle)
    r.update(
        export_seconds=export_s,
        import_seconds=r["weights_import"]["seconds"],
        bundle_mb=bundle.stat().st_size / 2**20,
        wall_with_import_seconds=r["wall_seconds"],
    )
    return r


def run(
    profile: str = "default", cold: bool = True, jobs: int | None = None, bundle: bool = True
) -> dict:
    """Measure the build cases of this module's docstring.

    Parameters
    ----------
    profile : str
    cold : bool
        True: a fresh temporary cache, so the first build trains every network (``cold``).
        False: the reader's cache (``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``); networks
        not in it are trained first and that first build is not reported.
    jobs : int, optional
        Networks and chapters at once (the pipeline's default when None).
    bundle : bool
        Also measure the build from a weights bundle (``bundle``).

    Returns
    -------
    dict
        ``warm``, ``warm_plain``, ``warm_recompute``, ``no_change``, ``one_chapter``,
        ``bundle`` and (when measured) ``cold``:
        wall seconds, per-chapter seconds, chapters run and the jobs; ``peak_rss_mb``: the
        largest resident memory of any child process, in MB.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        cache = tmp / "cache" if cold else None
        first = _reproduce(profile, work, cache, jobs)  # cold, or makes sure the cache is full
        out = {"profile": profile}
        out["warm_recompute"] = _reproduce(profile, work, cache, jobs, force=True, recompute=True)
        out.update(fork_vs_plain(profile, work, cache, jobs))
        out["no_change"] = _reproduce(profile, work, cache, jobs)
        out["one_chapter"] = _one_chapter(profile, work, cache, jobs)
        if bundle:
            out["bundle"] = _bundle(profile, tmp, cache, jobs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if cold:
        out["cold"] = first
    return out
