"""The reproduce pipeline: papermill executes every chapter, Jupyter Book renders them.

``reproduce("default")`` runs each chapter notebook of ``notebooks/`` with the profile's
parameters into a staging folder, moves the executed copy to ``book/chapters/`` only when
it ran to the end, then builds the HTML into a staging folder and swaps it in place of
``_build/html``. An interrupted or failing run therefore leaves the previous executed
notebooks and the previous HTML as they were.

Chapters run ``jobs`` at a time (default: one per CPU core, at most two), each kernel with
an equal share of the cores (``OMP_NUM_THREADS``); a chapter that reads the run log (the
reproducibility appendix) runs after all the others.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from . import cache
from . import data as _data
from .params import NOTEBOOKS


class ReproduceError(RuntimeError):
    """A chapter failed or the book did not build; the message names where."""


@dataclass(frozen=True)
class Chapter:
    """One executed chapter: source notebook, output stem, title and parameters of its own.

    A notebook may appear several times (e.g. once per data set), each with its own output
    stem, ``title`` (replaces the notebook's first heading) and ``parameters``;
    ``profile_parameters`` holds per-profile values that override both the profile's and
    the chapter's (e.g. a training subset that differs between ``smoke`` and ``default``).
    """

    notebook: str
    output: str
    parameters: dict = field(default_factory=dict)
    title: str | None = None
    profile_parameters: dict = field(default_factory=dict)


def load_config() -> dict:
    """The profiles file (``nnspaces/profiles.yml``) as a dict."""
    text = resources.files("nnspaces").joinpath("profiles.yml").read_text()
    return yaml.safe_load(text)


def profile_names() -> list[str]:
    return list(load_config()["profiles"])


def profile(name: str) -> dict:
    """A profile's ``description`` and ``parameters``; ``ValueError`` naming the choices."""
    profiles = load_config()["profiles"]
    if name not in profiles:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(profiles)}")
    return profiles[name]


def chapters() -> list[Chapter]:
    """The chapters in execution order, as ``profiles.yml`` lists them."""
    return [
        Chapter(
            c["notebook"],
            c["output"],
            c.get("parameters") or {},
            c.get("title"),
            c.get("profile_parameters") or {},
        )
        for c in load_config()["chapters"]
    ]


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
    """The checkout holding ``_config.yml`` (the package is installed editable from it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "_config.yml").is_file():
        raise ReproduceError(
            f"no _config.yml in {root}: run the pipeline from a git checkout of the book "
            "with the package installed editable (pip install -e .)"
        )
    return root


def notebook_parameters(chapter: Chapter, profile_name: str, run_log: Path | None = None) -> dict:
    """The parameters papermill passes: the profile's that the notebook declares, plus its own.

    A notebook that declares ``profile`` receives the profile's name, and one that declares
    ``run_log`` the path of the pipeline's ``_run.json`` (timings of the chapters so far).
    """
    declared = NOTEBOOKS.get(chapter.notebook)
    if declared is None:
        raise ReproduceError(f"notebook {chapter.notebook!r} has no entry in params.NOTEBOOKS")
    shared = {k: v for k, v in profile(profile_name)["parameters"].items() if k in declared}
    if "profile" in declared:
        shared["profile"] = profile_name
    if "run_log" in declared and run_log is not None:
        shared["run_log"] = str(run_log)
    own = chapter.profile_parameters.get(profile_name) or {}
    return {**shared, **chapter.parameters, **own}


def default_jobs() -> int:
    """Chapters executed at once by default: one per CPU core, at most two.

    More than two gains little here: most chapters are a few seconds of single-threaded work.
    """
    return max(1, min(2, os.cpu_count() or 1))


def kernel_threads(jobs: int) -> int:
    """Threads each notebook kernel gets when ``jobs`` chapters run at once (≥ 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _execute_in_worker(chapter: Chapter, params: dict, root: Path, staging: Path, threads: int):
    """:func:`_execute` in a worker process whose kernels get ``threads`` threads."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)  # inherited by the kernel papermill starts
    return _execute(chapter, params, root, staging)


def _execute(chapter: Chapter, params: dict, root: Path, staging: Path) -> float:
    import papermill as pm

    src = root / "notebooks" / f"{chapter.notebook}.ipynb"
    out = staging / f"{chapter.output}.ipynb"
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            cwd=str(root / "notebooks"),
            kernel_name="python3",
            progress_bar=False,
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
    skip = shutil.ignore_patterns("chapters", ".staging", "_static")
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


def _personalise(path: Path, chapter: Chapter) -> None:
    """Make a repeated notebook's executed copy its own page.

    Its first ``# heading`` becomes ``chapter.title`` (when given), and every figure label
    (``:name: x``) becomes ``<output>-x`` so that two copies never define the same label.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    titled = chapter.title is None
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if not titled and cell.source.lstrip().startswith("# "):
            _, _, rest = cell.source.lstrip().partition("\n")
            cell.source, titled = f"# {chapter.title}\n{rest}", True
        cell.source = re.sub(r"(?m)^:name: *(\S+)", rf":name: {chapter.output}-\1", cell.source)
    if not titled:
        raise ReproduceError(f"{path.name} has no '# title' heading to replace")
    nbformat.write(nb, path)


def _build_html(root: Path) -> float:
    """Build the book into a staging folder, then swap it in as ``_build/html``."""
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


def _run_parallel(todo, profile_name, run_file, root, staging, jobs, finish, log) -> None:
    """Execute ``todo`` (in that order of starting) ``jobs`` at a time; ``finish`` each one
    in this process as it completes. The first failure cancels the chapters not started and
    is raised once the running ones have ended."""
    if jobs == 1 or len(todo) <= 1:
        for c in todo:
            params = notebook_parameters(c, profile_name, run_file)
            log(f"[reproduce] {c.output}: papermill {c.notebook}.ipynb {params}")
            finish(c, _execute(c, params, root, staging))
        return
    threads = kernel_threads(jobs)
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for c in todo:
            params = notebook_parameters(c, profile_name, run_file)
            log(
                f"[reproduce] {c.output}: papermill {c.notebook}.ipynb {params} "
                f"(queued; {jobs} at a time, {threads} thread(s) each)"
            )
            futures[pool.submit(_execute_in_worker, c, params, root, staging, threads)] = c
        for fut in cf.as_completed(futures):
            try:
                seconds = fut.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            finish(futures[fut], seconds)


def _write_json(path: Path, obj) -> None:
    cache.atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def needed_datasets(profile_name: str, todo: list[Chapter] | None = None) -> dict[str, object]:
    """The data sets the chapters ``todo`` (default: all) read under a profile.

    Returns
    -------
    datasets : dict name → root
        Each data set's ``data_root`` parameter (None: the default location).
    """
    out: dict[str, object] = {}
    for c in chapters() if todo is None else todo:
        p = notebook_parameters(c, profile_name)
        out.setdefault(p.get("dataset", "mnist-5k"), p.get("data_root"))
        if "fashion_n_train" in p:  # the comparison chapter reads Fashion-MNIST too
            out.setdefault("fashion-mnist", None)
    return out


def reproduce(
    profile_name: str = "default",
    only: list[str] | None = None,
    build: bool = True,
    workdir: str | Path | None = None,
    log=print,
    jobs: int | None = None,
) -> dict:
    """Execute the chapters with a profile's parameters and build the book.

    Parameters
    ----------
    profile_name : str
        A profile of ``profiles.yml`` (``smoke``, ``default``, ``paper``).
    only : list of str, optional
        Output stems of the chapters to run (default: all).
    build : bool
        Render the HTML with Jupyter Book after executing.
    workdir : path, optional
        Where the executed chapters (``book/chapters``) and the HTML (``_build/html``) go;
        default the checkout itself. The tests build the smoke profile in a temporary
        folder so that they never replace a reader's book.
    log : callable
        Receives one progress line per step.
    jobs : int, optional
        Chapters executed at once (:func:`default_jobs`: one per core, at most two). Each
        kernel gets ``OMP_NUM_THREADS = cores // jobs``. Chapters that read the run log run
        last, alone.

    Returns
    -------
    timings : dict
        Seconds per executed chapter and for the build (also written, with the profile,
        to ``book/chapters/_run.json``).
    """
    profile(profile_name)  # fails early on an unknown name
    jobs = default_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}: e.g. --jobs 1 or 2")
    root = repo_root()
    work = Path(workdir).resolve() if workdir is not None else root
    if work != root:
        _prepare_workdir(root, work)
    todo = chapters()
    if only:
        unknown = sorted(set(only) - {c.output for c in todo})
        if unknown:
            raise ValueError(
                f"unknown chapter(s) {unknown}: choose from {[c.output for c in todo]}"
            )
        todo = [c for c in todo if c.output in only]
    # every data set loads before any long work starts (a missing one stops the run here)
    datasets = needed_datasets(profile_name, todo)
    log(f"[reproduce] checking data: {', '.join(datasets)}")
    try:
        _data.check(list(datasets), roots=datasets)
    except _data.DataError as e:
        raise ReproduceError(f"{e}\nNothing was run.") from None
    final = work / "book" / "chapters"
    staging = work / "book" / ".staging"
    final.mkdir(parents=True, exist_ok=True)
    staging.mkdir(parents=True, exist_ok=True)
    run_file = final / "_run.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    run.update(profile=profile_name, python=sys.version.split()[0])
    run.setdefault("seconds", {})
    run["jobs"] = jobs

    def finish(c: Chapter, seconds: float) -> None:
        if c.output != c.notebook:
            _personalise(staging / f"{c.output}.ipynb", c)
        os.replace(staging / f"{c.output}.ipynb", final / f"{c.output}.ipynb")
        run["seconds"][c.output] = round(seconds, 2)
        _write_json(run_file, run)
        log(f"[reproduce] {c.output}: done in {seconds:.1f} s")

    reads_log = [c for c in todo if "run_log" in NOTEBOOKS.get(c.notebook, ())]
    first = [c for c in todo if c not in reads_log]
    _run_parallel(first, profile_name, run_file, root, staging, jobs, finish, log)
    _run_parallel(reads_log, profile_name, run_file, root, staging, 1, finish, log)
    # the run log lists the chapters in the profile's order, whatever order they finished in
    # (then anything else it holds, such as the previous build's time)
    order = {c.output: i for i, c in enumerate(chapters())}
    run["seconds"] = dict(
        sorted(run["seconds"].items(), key=lambda kv: order.get(kv[0], len(order)))
    )
    _write_json(run_file, run)
    if build:
        log("[reproduce] jupyter-book build (warnings are errors)")
        run["seconds"]["build"] = round(_build_html(work), 2)
        _write_json(run_file, run)
        log(f"[reproduce] HTML in {work / '_build' / 'html'} ({run['seconds']['build']:.1f} s)")
    return run["seconds"]
