"""The reproduce pipeline: train the networks, papermill executes the chapters, Jupyter Book
renders them — each step only where something it depends on changed.

``reproduce("default")`` (1) compares each chapter's fingerprint (:mod:`nnspaces.fingerprint`:
its notebook, parameters, the library, the data, the checkpoints it loads) with the one stored
beside its executed copy; (2) checks the data sets of the chapters to run; (3) trains every
network they load that the cache lacks, in one stage with a progress bar per network
(:mod:`nnspaces.networks`); (4) runs those chapters into a staging folder and moves each
executed copy to ``book/chapters/`` only when it ran to the end; (5) builds the HTML into a
staging folder and swaps it in place of ``_build/html`` (skipped when nothing it is made of
changed). An interrupted or failing run leaves the previous executed notebooks and the
previous HTML as they were.

Networks and chapters run ``jobs`` at a time (default: one per CPU core, at most two), each
with an equal share of the cores (``OMP_NUM_THREADS``); a chapter that reads the run log
(the reproducibility appendix) runs after all the others, and whenever any other ran.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import yaml

from . import cache, fingerprint, kernels, pages
from . import data as _data
from .layout import launch_ref
from .params import NOTEBOOKS
from .profiles import (  # noqa: F401  (the pipeline's names for them, kept)
    Chapter,
    ProfileError,
    chapters,
    load_config,
    needed_datasets,
    notebook_parameters,
    profile,
    profile_names,
)
from .train import USE_LOG


class ReproduceError(RuntimeError):
    """A chapter failed or the book did not build; the message names where."""


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


def repo_root() -> Path:
    """The checkout holding ``_config.yml`` and ``notebooks/`` (the package is installed
    editable from it)."""
    root = Path(__file__).resolve().parents[2]
    missing = [name for name in ("_config.yml", "notebooks") if not (root / name).exists()]
    if missing:
        raise ReproduceError(
            f"no {' or '.join(missing)} in {root}: this nnspaces is not installed from a "
            "checkout of the book; clone the book's repository with git and, in the clone, run "
            "`make book` (or `pip install -e .` then `python -m nnspaces reproduce`)"
        )
    return root


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


def _import_weights(path: str | Path, log) -> dict:
    """Import the weights bundle at ``path`` into the cache; what the run log records of it."""
    from . import weights

    t0 = time.perf_counter()
    rows = weights.import_bundle(path)
    seconds = time.perf_counter() - t0
    nets = sum(1 for r in rows if not r.get("result"))
    log(
        f"[reproduce] weights bundle {path}: {nets} checkpoints and {len(rows) - nets} cached "
        f"results checked and imported ({seconds:.1f} s)"
    )
    return {"file": str(path), "checkpoints": nets, "results": len(rows) - nets, "seconds": seconds}


#: What the chapters' runner imports (:func:`_import_in_background`).
_PRELOAD = ("papermill", "nbformat")


def _import_in_background(*modules: str) -> threading.Thread:
    """Import ``modules`` in a thread of this process (started; join it before forking).
    A module that fails to import raises again where it is used."""

    def run() -> None:
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=run, name="nnspaces-preload", daemon=True)
    thread.start()
    return thread


def _thread_env(threads: int) -> dict:
    """The environment variables that give a kernel ``threads`` threads."""
    return {v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def _execute_in_worker(
    chapter: Chapter, params: dict, root: Path, staging: Path, threads: int, server: str | None
):
    """:func:`_execute` in a worker process whose kernels get ``threads`` threads."""
    os.environ.update(_thread_env(threads))  # inherited by the kernel papermill starts
    return _execute(chapter, params, root, staging, server)


def _execute(
    chapter: Chapter, params: dict, root: Path, staging: Path, server: str | None = None
) -> float:
    """Run one chapter with papermill into ``staging``; its seconds. With ``server`` (a fork
    server's socket, :class:`nnspaces.kernels.Server`) the kernel is forked from it."""
    import papermill as pm

    src = root / "notebooks" / f"{chapter.notebook}.ipynb"
    out = staging / f"{chapter.output}.ipynb"
    t0 = time.perf_counter()
    env = {
        USE_LOG: str(staging / f"{chapter.output}.uses.jsonl"),  # networks it loads
        cache.RESULT_LOG: str(staging / f"{chapter.output}.results.jsonl"),  # results it reads
    }
    if server is not None:
        env[kernels.SOCKET] = server
    try:
        with _environ(env):
            pm.execute_notebook(
                str(src),
                str(out),
                parameters=params,
                cwd=str(root / "notebooks"),
                kernel_name="python3",
                progress_bar=False,
                # forked or not (no server yet: the launcher starts an ordinary kernel), a
                # kernel that prints no transport warning and is not interrupted to shut down
                kernel_manager_class=kernels.kernel_manager_class(),
            )
    except pm.PapermillExecutionError as e:
        raise ReproduceError(
            f"notebook {src.name} failed in cell {e.cell_index} (execution count "
            f"{e.exec_count}): {e.ename}: {e.evalue}. The partial run is in {out}; the "
            "previous executed copy was left in place."
        ) from None
    return time.perf_counter() - t0


def _prepare_workdir(root: Path, workdir: Path) -> None:
    """Copy the book's sources (config, toc, prose) into ``workdir`` to build it there."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, workdir / name)
    skip = shutil.ignore_patterns("chapters", ".staging", "mathjax")  # MathJax: installed apart
    shutil.copytree(root / "book", workdir / "book", ignore=skip, dirs_exist_ok=True)


def _install_mathjax(work: Path) -> None:
    """Copy MathJax 3 (from the ``django-static-mathjax`` wheel) into ``book/_static``.

    The book then renders its mathematics with no CDN: offline, in CI's browser test, and
    on any mirror of the HTML.
    """
    es5 = resources.files("mathjax").joinpath("static", "mathjax", "es5")
    dest = work / "book" / "_static" / "mathjax"
    if (dest / "tex-chtml.js").is_file():
        return
    tmp = dest.with_name(f".mathjax-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "output" / "chtml" / "fonts").mkdir(parents=True)
    (tmp / "input" / "tex").mkdir(parents=True)
    shutil.copy2(str(es5.joinpath("tex-chtml.js")), tmp / "tex-chtml.js")
    for sub in (("output", "chtml", "fonts", "woff-v2"), ("input", "tex", "extensions")):
        shutil.copytree(str(es5.joinpath(*sub)), tmp.joinpath(*sub))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def _config_with_ref(root: Path, ref: str, folder: Path) -> Path:
    """``root``'s ``_config.yml`` with ``repository.branch`` set to ``ref``, written in
    ``folder``: Jupyter Book makes the launch buttons' URLs from that key."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    config.setdefault("repository", {})["branch"] = ref
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return cache.atomic_write(folder / "_config.yml", lambda f: f.write(text.encode()))


def _personalise(path: Path, chapter: Chapter) -> None:
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


def _build_html(root: Path, ref: str | None = None) -> float:
    """Build the book into a staging folder, then swap it in as ``_build/html``; with ``ref``
    (:func:`nnspaces.layout.launch_ref`) the launch buttons open that git ref."""
    _install_mathjax(root)
    build = root / "_build"
    html = build / "html"
    # Leftovers of a killed run: staging trees are junk; a parked old HTML is restored if
    # the kill fell between the two renames of the swap below.
    for old in sorted(build.glob(".old-*")):
        if not html.exists():
            old.rename(html)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for junk in build.glob(".staging-*"):
        shutil.rmtree(junk, ignore_errors=True)
    staging = build / f".staging-{os.getpid()}"
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "--path-output", str(staging), "-W", "-n", "--keep-going"]
    if ref is not None:  # the buttons open the build's own tag, as its banners' links do
        cmd += ["--config", str(_config_with_ref(root, ref, staging))]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReproduceError(
            f"jupyter-book build failed (exit {proc.returncode}); the previous _build/html "
            f"is untouched. Last output:\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    old = build / f".old-{os.getpid()}"
    if html.exists():
        html.rename(old)
    (staging / "_build" / "html").rename(html)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return time.perf_counter() - t0


class _KernelServers:
    """One fork server (:class:`nnspaces.kernels.Server`) per kernel thread count, started at
    once; calling it with a thread count gives that server's socket. With ``wait`` it waits
    for the server's imports (worth it when each worker runs several chapters); without, a
    chapter that starts before they are done gets a kernel started from scratch (a run of one
    or two chapters)."""

    def __init__(self, settings: set, log, started: dict | None = None, wait: bool = True):
        started = dict(started or {})
        for t in set(started) - settings:  # started early, in case: not needed after all
            started.pop(t).close()
        self.servers = {t: started.get(t) or _KernelServers.start(t) for t in settings}
        self.log, self.said, self.wait = log, False, wait

    @staticmethod
    def early(jobs: int) -> dict:
        """The server the chapters use, started before anything else (its imports overlap
        with the fingerprints and the data check): ``{threads: Server}``."""
        t = kernel_threads(jobs)
        return {t: _KernelServers.start(t)}

    @staticmethod
    def start(threads: int) -> kernels.Server:
        """A fork server whose imports see the environment of kernels with ``threads``."""
        return kernels.Server(dict(os.environ, **_thread_env(threads)))

    def __call__(self, threads: int | None) -> str | None:
        srv = self.servers.get(threads)
        sock = srv.socket(wait=self.wait) if srv is not None else None
        if sock is not None and not self.said:
            self.said = True
            self.log(
                f"[reproduce] kernels fork from a process that imported torch, matplotlib and "
                f"nnspaces once ({srv.seconds:.1f} s after the start)"
            )
        return sock

    def close(self) -> None:
        for srv in self.servers.values():
            srv.stop()  # all at once, then wait for each
        for srv in self.servers.values():
            srv.close()


def _run_parallel(
    todo, params, root, staging, jobs, finish, log, server=None, threads=None
) -> None:
    """Execute ``todo`` (in that order of starting) ``jobs`` at a time; ``finish`` each one
    in this process as it completes. Each start and end is logged with how many chapters
    remain. The first failure cancels the chapters not started and is raised once the
    running ones have ended. Each kernel gets ``threads`` threads (default
    :func:`kernel_threads` of ``jobs``); ``server(threads)``, asked at each start: the socket
    of a fork server whose kernels get that many, or None (not ready yet, or none)."""
    server = server or (lambda threads: None)
    threads = kernel_threads(jobs) if threads is None else threads

    def start_line(c) -> str:
        return f"[reproduce] {c.output}: started — papermill {c.notebook}.ipynb {params[c.output]}"

    if jobs == 1 or len(todo) <= 1:
        for c in todo:
            log(start_line(c))
            with _environ(_thread_env(threads)):
                finish(c, _execute(c, params[c.output], root, staging, server(threads)))
        return
    queue_ = list(todo)
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        running = {}

        def submit_next() -> None:
            c = queue_.pop(0)
            log(start_line(c) + f" ({threads} thread(s))")
            running[
                pool.submit(
                    _execute_in_worker, c, params[c.output], root, staging, threads, server(threads)
                )
            ] = c

        while queue_ and len(running) < jobs:
            submit_next()
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                c = running.pop(fut)
                try:
                    seconds = fut.result()
                except BaseException:
                    queue_.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                finish(c, seconds)
                if queue_:
                    submit_next()


def _stray_outputs(path: Path) -> list[str]:
    """:func:`nnspaces.pages.stray_outputs` of an executed notebook."""
    import nbformat

    return pages.stray_outputs(nbformat.read(path, as_version=4))


def _write_json(path: Path, obj) -> None:
    cache.atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def _provenance(root: Path, profile_name: str) -> dict:
    """What every page's banner says about this run: profile, commit, library version, and
    the repository and published branch of ``_config.yml``."""
    from . import __version__

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


def _stale(todo, params, final: Path, notebooks: Path, profile_name: str, force: bool):
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


def _build_inputs_digest(work: Path, final: Path) -> str:
    """What the HTML is made of: executed copies, prose, bibliography, config, styles."""
    files = [work / "_config.yml", work / "_toc.yml"]
    files += sorted(
        p
        for p in (work / "book").rglob("*")
        if p.is_file() and ".staging" not in p.parts and p.suffix not in (".json", ".jsonl")
    )  # the run log and the fingerprints are not pages
    return fingerprint.digest(
        [(p.relative_to(work).as_posix(), fingerprint.file_stat(p)) for p in files if p.is_file()]
    )


def _results_used(staging: Path, c: Chapter) -> list[str]:
    """The cached results (paths relative to the cache root) chapter ``c`` read or computed,
    from its result log (:data:`nnspaces.cache.RESULT_LOG`)."""
    log = staging / f"{c.output}.results.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return sorted({json.loads(line)["result"] for line in lines})


def _write_results_index(profile_name: str, results: dict) -> None:
    """The union of every chapter's results, in the cache's index for the profile."""
    files = sorted({f for used in results.values() for f in used})
    _write_json(cache.results_index(profile_name), {"profile": profile_name, "files": files})


def _check_uses(c: Chapter, uses: Path, profile_name: str) -> list[str]:
    """Problems with the networks chapter ``c`` loaded: any it trained itself, any not in
    :func:`nnspaces.networks.chapter_configs` (so its fingerprint would miss it)."""
    from .networks import chapter_configs

    listed = {
        cfg.filename()
        for base in chapter_configs(c, profile_name)
        for cfg in (base, replace(base, weights="best"))
    }
    problems = []
    lines = uses.read_text().splitlines() if uses.is_file() else []
    for entry in map(json.loads, lines):
        if entry["file"] not in listed:
            problems.append(f"loads {entry['file']}, which networks.chapter_configs does not list")
        elif entry["trained"]:
            problems.append(f"trained {entry['file']} itself (the training stage should have)")
    return sorted(set(problems))


def _plan(root: Path, work: Path, only, profile_name: str, force: bool, jobs: int, log):
    """Which chapters of the profile (``only``: those stems) run and why, from their
    fingerprints: ``(todo, run log, parameters, fingerprints, why)``, ``why`` mapping each
    chapter to run to its reasons (the others are logged as kept)."""
    todo = chapters()
    if only:
        unknown = sorted(set(only) - {c.output for c in todo})
        if unknown:
            raise ValueError(
                f"unknown chapter(s) {unknown}: choose from {[c.output for c in todo]}"
            )
        todo = [c for c in todo if c.output in only]
    absent = sorted(
        {
            f"{c.notebook}.ipynb"
            for c in todo
            if not (root / "notebooks" / f"{c.notebook}.ipynb").is_file()
        }
    )
    if absent:
        raise ReproduceError(
            f"{root / 'notebooks'} lacks the source notebooks {absent}: restore them "
            "(git checkout -- notebooks) or pull the book's repository again. Nothing was run."
        )
    final = work / "book" / "chapters"
    staging = work / "book" / ".staging"
    final.mkdir(parents=True, exist_ok=True)
    staging.mkdir(parents=True, exist_ok=True)
    run_file = final / "_run.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    if run.get("profile") not in (None, profile_name):
        force = True  # executed copies of another profile: nothing can be kept
    run.update(profile=profile_name, python=sys.version.split()[0])
    run.setdefault("seconds", {})
    run["jobs"] = jobs
    params = {c.output: notebook_parameters(c, profile_name, run_file) for c in todo}
    fps, why = _stale(todo, params, final, root / "notebooks", profile_name, force)
    for c in todo:
        if c.output not in why:
            log(f"[reproduce] {c.output}: unchanged — executed copy kept")
    return todo, run, params, fps, why, force


def reproduce(
    profile_name: str = "default",
    only: list[str] | None = None,
    build: bool = True,
    workdir: str | Path | None = None,
    log=print,
    jobs: int | None = None,
    force: bool = False,
    bars: bool = True,
    weights: str | Path | None = None,
) -> dict:
    """Train what is missing, execute the chapters whose inputs changed, build the book.

    Parameters
    ----------
    profile_name : str
        A profile of ``profiles.yml`` (``smoke``, ``default``, ``paper``).
    only : list of str, optional
        Output stems of the chapters to consider (default: all).
    build : bool
        Render the HTML with Jupyter Book after executing (skipped when nothing it is made of
        changed since the last build).
    workdir : path, optional
        Where the executed chapters (``book/chapters``) and the HTML (``_build/html``) go;
        default the checkout itself. The tests build the smoke profile in a temporary
        folder so that they never replace a reader's book.
    log : callable
        Receives one progress line per step.
    jobs : int, optional
        Networks trained and chapters executed at once (:func:`default_jobs`: one per core,
        at most two), each with ``cores // jobs`` threads. Chapters that read the run log
        run last, alone.
    force : bool
        Re-execute every chapter, whatever the fingerprints say. (What the chapters memoise
        in the cache is recomputed only with ``NNSPACES_RECOMPUTE=1`` in the environment.)
    bars : bool
        tqdm bars for the networks in training.
    weights : path or str, optional
        A weights bundle (``nnspaces weights export``; or its URL, whose SHA-256 the registry
        pins) imported into the cache first (:func:`nnspaces.weights.import_bundle`: every
        digest checked, nothing installed from a bad one); in this process, so that the torch
        and torchvision it imports serve the data check too, while the kernels' fork server
        imports beside it. ``"none"``: no published network is fetched; without it the
        networks stage first fetches those the registry lists (:func:`nnspaces.fetch.fetch`).

    Returns
    -------
    timings : dict
        Seconds per executed chapter (the previous run's for those kept) and for the build,
        as written with the profile to ``book/chapters/_run.json``.

    Notes
    -----
    Stages: (1) fingerprints (:mod:`nnspaces.fingerprint`) decide which chapters run;
    (2) their data sets are checked (a missing one stops the run before any long work);
    (3) every network they load is found in the cache, fetched from the published files
    (:func:`nnspaces.fetch.fetch`, with the profile's memoised results), or trained
    (:func:`nnspaces.networks.train_all`); (4) the chapters run, ``jobs`` at a time, each
    moved into ``book/chapters`` with its fingerprint only when it ran to the end; (5) the
    HTML is built in a staging folder and swapped in.
    """
    from .fetch import fetch as fetch_published
    from .networks import configs, train_all

    profile(profile_name)  # fails early on an unknown name
    fetching = weights != "none"  # `--weights none`: nothing fetched, what is missing trained
    weights = None if weights == "none" else weights
    jobs = default_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}: e.g. --jobs 1 or 2")
    root = repo_root()
    work = Path(workdir).resolve() if workdir is not None else root
    if work != root:
        _prepare_workdir(root, work)
    started = _KernelServers.early(jobs)
    # papermill (and nbformat, which builds a URI grammar at import) imported in a thread of
    # this process, beside a bundle's import or, once the plan says chapters will run, beside
    # the data check and the training stage: the chapters run with it, in this process or in
    # workers forked from it (each worker importing it took 2–10 s); a build with nothing to
    # run does not import it
    preload = None if weights is None else _import_in_background(*_PRELOAD)
    try:
        imported = None if weights is None else _import_weights(weights, log)
        todo, run, params, fps, why, force = _plan(root, work, only, profile_name, force, jobs, log)
        run.pop("weights_import", None)  # a previous build's, not this one's
        run.pop("fetched", None)
        if imported is not None:
            run["weights_import"] = imported
    except BaseException:
        for srv in started.values():
            srv.close()
        raise
    final = work / "book" / "chapters"
    staging = work / "book" / ".staging"
    run_file = final / "_run.json"
    run_now = [c for c in todo if c.output in why]
    reads_log = [c for c in run_now if "run_log" in NOTEBOOKS.get(c.notebook, ())]
    first = longest_first([c for c in run_now if c not in reads_log], run["seconds"])
    # kernels fork from a process that has imported what every chapter imports: started now,
    # its imports overlap with the data check and the training stage
    # every chapter gets the same threads, alone or not: one fork server for all (memoised
    # results are computed with fixed threads, whatever the kernel's: cache.fixed_threads)
    threads = kernel_threads(jobs)
    servers = _KernelServers(
        {threads} if run_now else set(), log, started, wait=len(run_now) > jobs
    )
    if preload is None and run_now:
        preload = _import_in_background(*_PRELOAD)
    try:
        if run_now:
            for c in run_now:
                log(f"[reproduce] {c.output}: will run ({', '.join(why[c.output])})")
            # every data set loads before any long work starts (a missing one stops the run here)
            datasets = needed_datasets(profile_name, run_now)
            log(f"[reproduce] checking data: {', '.join(datasets)}")
            try:
                _data.check(list(datasets), roots=datasets)
            except _data.DataError as e:
                raise ReproduceError(f"{e}\nNothing was run.") from None
            t0 = time.perf_counter()
            needed = configs(profile_name, run_now)
            if fetching:  # the published networks (registry.json) the cache lacks, checked
                run["fetched"] = fetch_published(needed, profile_name, log=log, progress=bars)
            trained = train_all(needed, jobs, log=log, bars=bars)
            run["training"] = {
                "seconds": round(time.perf_counter() - t0, 1),
                "networks": {
                    k: (round(v, 1) if v is not None else "cached") for k, v in trained.items()
                },
            }
            # the fingerprints again: the checkpoints they name exist now
            fps, _ = _stale(run_now, params, final, root / "notebooks", profile_name, True)
        problems: dict[str, list[str]] = {}
        finished: list[str] = []

        provenance = _provenance(root, profile_name)

        stray: dict[str, list[str]] = {}

        def finish(c: Chapter, seconds: float) -> None:
            path = staging / f"{c.output}.ipynb"
            strays = _stray_outputs(path)
            if strays:  # the chapter fails; the others run on, and the run fails at the end
                stray[c.output] = strays
                log(f"[reproduce] {c.output}: FAILED, stray output: " + "; ".join(strays))
                return
            if c.output != c.notebook:
                _personalise(path, c)
            pages.decorate(
                path,
                {
                    **provenance,
                    "output": c.output,
                    "notebook": c.notebook,
                    "parameters": params[c.output],
                    "seconds": seconds,
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
            os.replace(path, final / f"{c.output}.ipynb")
            fingerprint.write(final, c.output, fps[c.output])
            run["seconds"][c.output] = round(seconds, 2)
            _write_json(run_file, run)
            run.setdefault("results", {})[c.output] = _results_used(staging, c)
            issues = _check_uses(c, staging / f"{c.output}.uses.jsonl", profile_name)
            if issues:
                problems[c.output] = issues
                log(f"[reproduce] {c.output}: WARNING " + "; ".join(issues))
            finished.append(c.output)
            log(
                f"[reproduce] {c.output}: done in {seconds:.1f} s "
                f"({len(finished)}/{len(run_now)} chapters, {time.perf_counter() - t0:.0f} s so far)"
            )

        for c in run_now:
            (staging / f"{c.output}.uses.jsonl").unlink(missing_ok=True)
            (staging / f"{c.output}.results.jsonl").unlink(missing_ok=True)
        t0 = time.perf_counter()
        if preload is not None:
            preload.join()  # a fork while another thread imports could copy a held lock
        _run_parallel(first, params, root, staging, jobs, finish, log, servers, threads)
        _run_parallel(reads_log, params, root, staging, 1, finish, log, servers, threads)
    finally:
        servers.close()
    if run_now:
        log(f"[reproduce] {len(run_now)} chapter(s) in {time.perf_counter() - t0:.1f} s")
    run["network_problems"] = problems
    if run_now:
        _write_results_index(profile_name, run.get("results", {}))
    # the run log lists the chapters in the profile's order, whatever order they finished in
    # (then anything else it holds, such as the previous build's time)
    order = {c.output: i for i, c in enumerate(chapters())}
    run["seconds"] = dict(
        sorted(run["seconds"].items(), key=lambda kv: order.get(kv[0], len(order)))
    )
    _write_json(run_file, run)
    if stray:  # the chapters that passed are in place; no book is built without the others
        raise ReproduceError(
            "stray output a reader would see (a value left as a cell's last expression, or a "
            "printed True/False/None, object repr or figure text) in "
            + "; ".join(f"chapter {k}: {', '.join(v)}" for k, v in stray.items())
            + ". End such a cell with an assignment or `;`, or tag it remove-output. "
            f"The executed copies are in {staging}; the previous ones were left in place."
        )
    if build:
        inputs = _build_inputs_digest(work, final)
        html = work / "_build" / "html" / "index.html"
        if not run_now and not force and run.get("build_inputs") == inputs and html.is_file():
            log(f"[reproduce] HTML up to date in {html.parent} (nothing it is made of changed)")
            return run["seconds"]
        log("[reproduce] jupyter-book build (warnings are errors)")
        ref = launch_ref(provenance["branch"], provenance["commit"])
        run["seconds"]["build"] = round(_build_html(work, ref), 2)
        run["build_inputs"] = _build_inputs_digest(work, final)
        _write_json(run_file, run)
        log(f"[reproduce] HTML in {work / '_build' / 'html'} ({run['seconds']['build']:.1f} s)")
    return run["seconds"]


@contextlib.contextmanager
def _environ(values: dict):
    """Set environment variables for the kernels started inside the block, then restore."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
