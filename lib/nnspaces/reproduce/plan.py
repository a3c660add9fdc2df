"""Stage 1, the plan: which chapters of a profile run and why, from their fingerprints."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import cache, fingerprint
from ..params import NOTEBOOKS
from ..profiles import Chapter, chapters, notebook_parameters


class ReproduceError(RuntimeError):
    """A chapter failed or the book did not build; the message names where."""


@dataclass
class Plan:
    """What a run does: the chapters considered, the run log, and why each stale one runs.

    Attributes
    ----------
    root, work : Path
        The checkout (sources) and the build folder (``book/chapters``, ``_build/html``).
    profile : str
    jobs : int
        Chapters (and networks) at once.
    force : bool
        Re-execute every chapter (also set when the executed copies are another profile's).
    todo : list of Chapter
        The chapters considered, in ``profiles.yml`` order.
    run : dict
        The run log (``book/chapters/_run.json``), updated as the run goes.
    params, fps : dict
        Output stem → papermill parameters; → fingerprint.
    why : dict
        Output stem → reasons, for the chapters that run.
    """

    root: Path
    work: Path
    profile: str
    jobs: int
    force: bool
    todo: list[Chapter]
    run: dict
    params: dict
    fps: dict
    why: dict

    @property
    def final(self) -> Path:
        return self.work / "book" / "chapters"

    @property
    def staging(self) -> Path:
        return self.work / "book" / ".staging"

    @property
    def run_file(self) -> Path:
        return self.final / "_run.json"

    @property
    def run_now(self) -> list[Chapter]:
        return [c for c in self.todo if c.output in self.why]

    @property
    def reads_log(self) -> list[Chapter]:
        """The chapters to run that read the run log: they run last, alone."""
        return [c for c in self.run_now if "run_log" in NOTEBOOKS.get(c.notebook, ())]

    @property
    def first(self) -> list[Chapter]:
        """The other chapters to run, in the order to start them (:func:`longest_first`)."""
        readers = self.reads_log
        return longest_first([c for c in self.run_now if c not in readers], self.run["seconds"])


def repo_root() -> Path:
    """The checkout holding ``_config.yml`` and ``notebooks/`` (the package is installed
    editable from it)."""
    root = Path(__file__).resolve().parents[3]
    missing = [name for name in ("_config.yml", "notebooks") if not (root / name).exists()]
    if missing:
        raise ReproduceError(
            f"no {' or '.join(missing)} in {root}: this nnspaces is not installed from a "
            "checkout of the book; clone the book's repository with git and, in the clone, run "
            "`make book` (or `pip install -e .` then `python -m nnspaces reproduce`)"
        )
    return root


def book_order() -> list[str]:
    """The executed chapters' output stems (:func:`chapters`) in the order of the table of
    contents (``_toc.yml``), the order a reader meets them; any the toc does not list follow,
    in execution order."""
    toc = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    files = [toc["root"]] + [
        entry
        for part in toc.get("parts", [])
        for ch in part["chapters"]
        for entry in [ch["file"]] + [s["file"] for s in ch.get("sections", [])]
    ]
    executed = [c.output for c in chapters()]
    stems = [Path(f).name for f in files if Path(f).name in executed]
    return stems + [s for s in executed if s not in stems]


def default_jobs() -> int:
    """Chapters executed at once by default: one per CPU core, at most two.

    More than two gains little here: most chapters are a few seconds of single-threaded work.
    """
    return max(1, min(2, os.cpu_count() or 1))


def kernel_threads(jobs: int) -> int:
    """Threads each notebook kernel gets in a run of ``jobs`` chapters at once (≥ 1), also one
    that runs alone (the reproducibility appendix, a lone changed chapter): one fork server
    serves every chapter of a run. (Memoised results do not depend on it: they are computed
    with :data:`nnspaces.cache.MEMO_THREADS` threads whatever the kernel has.)"""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def longest_first(todo: list[Chapter], seconds: dict) -> list[Chapter]:
    """``todo`` in the order to start them: those the last run timed (``seconds``: output stem
    → seconds) longest first, then the others in ``profiles.yml`` order (which lists the
    longest of a build from an empty cache first).

    With two chapters at a time, starting the long ones first keeps the last minutes from
    running one chapter on one core (longest-processing-time scheduling)."""
    timed = sorted(
        (c for c in todo if isinstance(seconds.get(c.output), (int, float))),
        key=lambda c: -seconds[c.output],
    )
    return timed + [c for c in todo if c not in timed]


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path``, atomically."""
    cache.atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def make_plan(root: Path, work: Path, only, profile_name: str, force: bool, jobs: int, log) -> Plan:
    """Which chapters of the profile (``only``: those stems) run and why, from their
    fingerprints; the chapters kept are logged as kept."""
    todo = _selected(root, only)
    final = work / "book" / "chapters"
    final.mkdir(parents=True, exist_ok=True)
    (work / "book" / ".staging").mkdir(parents=True, exist_ok=True)
    run_file = final / "_run.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    if run.get("profile") not in (None, profile_name):
        force = True  # executed copies of another profile: nothing can be kept
    run.update(profile=profile_name, python=sys.version.split()[0], jobs=jobs)
    run.setdefault("seconds", {})
    for key in ("weights_import", "fetched"):  # a previous build's, not this one's
        run.pop(key, None)
    params = {c.output: notebook_parameters(c, profile_name, run_file) for c in todo}
    fps, why = stale(todo, params, final, root / "notebooks", profile_name, force)
    for c in todo:
        if c.output not in why:
            log(f"[reproduce] {c.output}: unchanged — executed copy kept")
    return Plan(root, work, profile_name, jobs, force, todo, run, params, fps, why)


def _selected(root: Path, only) -> list[Chapter]:
    """The profile's chapters (``only``: those output stems), their source notebooks checked."""
    todo = chapters()
    if only:
        unknown = sorted(set(only) - {c.output for c in todo})
        if unknown:
            raise ValueError(
                f"unknown chapter(s) {unknown}: choose from {[c.output for c in todo]}"
            )
        todo = [c for c in todo if c.output in only]
    notebooks = root / "notebooks"
    absent = sorted(
        {f"{c.notebook}.ipynb" for c in todo if not (notebooks / f"{c.notebook}.ipynb").is_file()}
    )
    if absent:
        raise ReproduceError(
            f"{notebooks} lacks the source notebooks {absent}: restore them "
            "(git checkout -- notebooks) or pull the book's repository again. Nothing was run."
        )
    return todo


def stale(todo, params, final: Path, notebooks: Path, profile_name: str, force: bool):
    """Each chapter's fingerprint now, and why each stale one must run (``{}`` when kept).

    A chapter that reads the run log also runs when any other chapter runs."""
    shared = fingerprint.shared_parts()
    fps = {
        c.output: fingerprint.chapter(c, profile_name, params[c.output], notebooks, shared)
        for c in todo
    }
    why = {}
    for c in todo:
        if force:
            why[c.output] = ["FORCE=1"]
        elif not (final / f"{c.output}.ipynb").is_file():
            why[c.output] = ["no executed copy"]
        else:
            changed = fingerprint.changes(fingerprint.read(final, c.output), fps[c.output])
            if changed:
                why[c.output] = changed
    readers = [c for c in todo if "run_log" in NOTEBOOKS.get(c.notebook, ())]
    if any(o not in {r.output for r in readers} for o in why):
        for r in readers:
            why.setdefault(r.output, ["other chapters ran (it reads the run log)"])
    return fps, why
