"""Stage 2, what the chapters to run need: the build folder, a weights bundle, the data sets,
the networks (fetched from the published files, or trained)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .. import data as _data
from ..profiles import needed_datasets
from .plan import Plan, ReproduceError, stale


def prepare_workdir(root: Path, workdir: Path) -> None:
    """Copy the book's sources (config, toc, prose) into ``workdir`` to build it there."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, workdir / name)
    skip = shutil.ignore_patterns("chapters", ".staging", "mathjax")  # MathJax: installed apart
    shutil.copytree(root / "book", workdir / "book", ignore=skip, dirs_exist_ok=True)


def import_weights(path: str | Path, log) -> dict:
    """Import the weights bundle at ``path`` into the cache; what the run log records of it."""
    from .. import weights

    t0 = time.perf_counter()
    rows = weights.import_bundle(path)
    seconds = time.perf_counter() - t0
    nets = sum(1 for r in rows if not r.get("result"))
    log(
        f"[reproduce] weights bundle {path}: {nets} checkpoints and {len(rows) - nets} cached "
        f"results checked and imported ({seconds:.1f} s)"
    )
    return {"file": str(path), "checkpoints": nets, "results": len(rows) - nets, "seconds": seconds}


def prepare_chapters(plan: Plan, fetching: bool, bars: bool, log) -> None:
    """Check the data sets of the chapters to run (a missing one stops the run before any
    long work), then find, fetch (unless ``fetching`` is False) or train every network they
    load; records the training in ``plan.run`` and renews ``plan.fps`` (the checkpoints the
    fingerprints name exist now)."""
    from .. import fetch, networks

    run_now = plan.run_now
    if not run_now:
        return
    for c in run_now:
        log(f"[reproduce] {c.output}: will run ({', '.join(plan.why[c.output])})")
    datasets = needed_datasets(plan.profile, run_now)
    log(f"[reproduce] checking data: {', '.join(datasets)}")
    try:
        _data.check(list(datasets), roots=datasets)
    except _data.DataError as e:
        raise ReproduceError(f"{e}\nNothing was run.") from None
    t0 = time.perf_counter()
    needed = networks.configs(plan.profile, run_now)
    if fetching:  # the published networks (registry.json) the cache lacks, checked
        plan.run["fetched"] = fetch.fetch(needed, plan.profile, log=log, progress=bars)
    trained = networks.train_all(needed, plan.jobs, log=log, bars=bars)
    plan.run["training"] = {
        "seconds": round(time.perf_counter() - t0, 1),
        "networks": {k: (round(v, 1) if v is not None else "cached") for k, v in trained.items()},
    }
    notebooks = plan.root / "notebooks"
    fps, _ = stale(run_now, plan.params, plan.final, notebooks, plan.profile, True)
    plan.fps.update(fps)
