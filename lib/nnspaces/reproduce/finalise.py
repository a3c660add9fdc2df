"""Stage 4, each chapter that ran to the end: checked for stray output, personalised (a
repeated notebook), decorated with its banner, moved into ``book/chapters`` with its
fingerprint, its networks and results recorded; then the run log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from .. import cache, fingerprint, pages
from ..profiles import Chapter, chapters, recipe
from .plan import Plan, ReproduceError, write_json


@dataclass
class Finaliser:
    """Called with each chapter that ran (``finaliser(chapter, seconds)``); :meth:`close`
    writes the run log once all have. ``stray``: output stem → what a reader would see that
    they should not."""

    plan: Plan
    log: object
    provenance: dict
    stray: dict = field(default_factory=dict)
    finished: list = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def __call__(self, c: Chapter, seconds: float) -> None:
        plan, path = self.plan, self.plan.staging / f"{c.output}.ipynb"
        strays = _stray_outputs(path)
        if strays:  # the chapter fails; the others run on, and the run fails at the end
            self.stray[c.output] = strays
            self.log(f"[reproduce] {c.output}: FAILED, stray output: " + "; ".join(strays))
            return
        if c.output != c.notebook:
            personalise(path, c)
        date = datetime.now(UTC).isoformat(timespec="seconds")
        page = {"output": c.output, "notebook": c.notebook, "parameters": plan.params[c.output]}
        if "chapter" in page["parameters"]:  # the data set and seeds the banner names
            page["recipe"] = recipe(c, plan.profile)
        pages.decorate(path, {**self.provenance, **page, "seconds": seconds, "date": date})
        os.replace(path, plan.final / f"{c.output}.ipynb")
        fingerprint.write(plan.final, c.output, plan.fps[c.output])
        plan.run["seconds"][c.output] = round(seconds, 2)
        write_json(plan.run_file, plan.run)
        plan.run.setdefault("results", {})[c.output] = _results_used(plan.staging, c)
        self.finished.append(c.output)
        self.log(
            f"[reproduce] {c.output}: done in {seconds:.1f} s ({len(self.finished)}/"
            f"{len(plan.run_now)} chapters, {time.perf_counter() - self.t0:.0f} s so far)"
        )

    def close(self) -> None:
        """Write the run log, chapters in the profile's order; raise if any had stray output
        (the chapters that passed are in place; no book is built without the others)."""
        plan, run = self.plan, self.plan.run
        if plan.run_now:
            n, seconds = len(plan.run_now), time.perf_counter() - self.t0
            self.log(f"[reproduce] {n} chapter(s) in {seconds:.1f} s")
            files = sorted({f for used in run.get("results", {}).values() for f in used})
            write_json(cache.results_index(plan.profile), {"profile": plan.profile, "files": files})
        # whatever order they finished in (then anything else, such as the build's time)
        order = {c.output: i for i, c in enumerate(chapters())}
        run["seconds"] = dict(
            sorted(run["seconds"].items(), key=lambda kv: order.get(kv[0], len(order)))
        )
        write_json(plan.run_file, run)
        if self.stray:
            raise ReproduceError(
                "stray output a reader would see (a value left as a cell's last expression, or "
                "a printed True/False/None, object repr or figure text) in "
                + "; ".join(f"chapter {k}: {', '.join(v)}" for k, v in self.stray.items())
                + ". End such a cell with an assignment or `;`, or tag it remove-output. "
                f"The executed copies are in {plan.staging}; the previous ones were left in "
                "place."
            )


def personalise(path: Path, chapter: Chapter) -> None:
    """Make a repeated notebook's executed copy its own page.

    Its first ``# heading`` becomes ``chapter.title`` (when given), and every figure label
    (``:name: x``) becomes ``<output>-x`` so that two copies never define the same label.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    titled = chapter.title is None
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # the page's own figure names and section labels, and the references to them
    own = set(re.findall(r"(?m)^:name: *(\S+)", markdown))
    own |= set(re.findall(r"(?m)^\(([\w.-]+)\)=\s*$", markdown))
    refs = re.compile(r"(\{(?:numref|ref)\}`(?:[^`<]*<)?)([\w.-]+)(>?`)")

    def _ref(m):
        name = m.group(2)
        return f"{m.group(1)}{chapter.output}-{name}{m.group(3)}" if name in own else m.group(0)

    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if not titled and cell.source.lstrip().startswith("# "):
            _, _, rest = cell.source.lstrip().partition("\n")
            cell.source, titled = f"# {chapter.title}\n{rest}", True
        cell.source = re.sub(r"(?m)^:name: *(\S+)", rf":name: {chapter.output}-\1", cell.source)
        cell.source = re.sub(
            r"(?m)^\(([\w.-]+)\)=(\s*)$", rf"({chapter.output}-\1)=\2", cell.source
        )
        cell.source = refs.sub(_ref, cell.source)
    if not titled:
        raise ReproduceError(f"{path.name} has no '# title' heading to replace")
    nbformat.write(nb, path)


def provenance(root: Path, profile_name: str) -> dict:
    """What every page's banner says about this run: profile, commit, library version, and
    the repository and published branch of ``_config.yml``."""
    from .. import __version__

    repo = yaml.safe_load((root / "_config.yml").read_text()).get("repository", {})
    return {
        "profile": profile_name,
        "commit": _commit(root),
        "version": __version__,
        "repository": repo.get("url", ""),
        "branch": repo.get("branch", "main"),
    }


def _commit(root: Path) -> str | None:
    """``git rev-parse --short HEAD`` (``-dirty`` with uncommitted changes); None outside git."""

    def git(*args: str) -> str:
        cmd = ["git", "-C", str(root), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def _stray_outputs(path: Path) -> list[str]:
    """:func:`nnspaces.pages.stray_outputs` of an executed notebook."""
    import nbformat

    return pages.stray_outputs(nbformat.read(path, as_version=4))


def _results_used(staging: Path, c: Chapter) -> list[str]:
    """The cached results (paths relative to the cache root) chapter ``c`` read or computed,
    from its result log (:data:`nnspaces.cache.RESULT_LOG`)."""
    log = staging / f"{c.output}.results.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return sorted({json.loads(line)["result"] for line in lines})
