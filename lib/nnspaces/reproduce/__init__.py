"""The reproduce pipeline: train the networks, papermill executes the chapters, Jupyter Book
renders them — each step only where something it depends on changed.

:func:`reproduce` runs five stages, one module each:

1. :mod:`~nnspaces.reproduce.plan` — each chapter's fingerprint (:mod:`nnspaces.fingerprint`:
   its notebook, parameters, the library, the data, the checkpoints it loads) against the one
   stored beside its executed copy says which chapters run (a :class:`Plan`);
2. :mod:`~nnspaces.reproduce.prepare` — their data sets are checked (a missing one stops the
   run before any long work) and every network they load is found, fetched or trained
   (:mod:`nnspaces.networks`);
3. :mod:`~nnspaces.reproduce.execute` — papermill runs them into a staging folder, ``jobs``
   at a time (default: one per CPU core, at most two), each kernel with an equal share of
   the cores, forked from a warm process (:mod:`nnspaces.forked_kernels`); a chapter that
   reads the run log (the reproducibility appendix) runs after all the others, and whenever
   any other ran;
4. :mod:`~nnspaces.reproduce.finalise` — each executed copy that ran to the end is checked,
   decorated and moved to ``book/chapters/`` with its fingerprint; then the run log;
5. :mod:`~nnspaces.reproduce.html` — the HTML is built in a staging folder and swapped in
   place of ``_build/html`` (skipped when nothing it is made of changed).

An interrupted or failing run leaves the previous executed notebooks and the previous HTML as
they were.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from pathlib import Path

from ..profiles import (  # the pipeline's names for them
    Chapter,
    ProfileError,
    chapters,
    load_config,
    needed_datasets,
    notebook_parameters,
    profile,
    profile_names,
)
from . import execute, finalise, html, plan, prepare
from .plan import (
    Plan,
    ReproduceError,
    book_order,
    default_jobs,
    kernel_threads,
    longest_first,
    repo_root,
)

__all__ = [
    "Chapter",
    "Plan",
    "ProfileError",
    "ReproduceError",
    "book_order",
    "chapters",
    "default_jobs",
    "kernel_threads",
    "load_config",
    "longest_first",
    "needed_datasets",
    "notebook_parameters",
    "profile",
    "profile_names",
    "repo_root",
    "reproduce",
]


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
        digest checked, nothing installed from a bad one), while the kernels' fork server
        imports beside it. ``"none"``: no published network is fetched; without it the
        networks stage first fetches those the registry lists (:func:`nnspaces.fetch.fetch`).

    Returns
    -------
    timings : dict
        Seconds per executed chapter (the previous run's for those kept) and for the build,
        as written with the profile to ``book/chapters/_run.json``.
    """
    profile(profile_name)  # fails early on an unknown name
    jobs = default_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}: e.g. --jobs 1 or 2")
    bundle = None if weights in (None, "none") else weights
    root = repo_root()
    work = Path(workdir).resolve() if workdir is not None else root
    if work != root:
        prepare.prepare_workdir(root, work)
    with contextlib.ExitStack() as stack:
        # started first: the fork server's imports overlap with the plan and the networks
        server = stack.enter_context(
            contextlib.closing(execute.KernelServer(kernel_threads(jobs), log))
        )
        if bundle is not None:
            _import_in_background()
        imported = None if bundle is None else prepare.import_weights(bundle, log)
        p = plan.make_plan(root, work, only, profile_name, force, jobs, log)
        if imported is not None:
            p.run["weights_import"] = imported
        if not p.run_now:
            server.close()
        elif bundle is None:
            _import_in_background()
        # a run of one chapter per job starts its kernels from scratch rather than wait
        server.wait = len(p.run_now) > jobs
        prepare.prepare_chapters(p, fetching=weights != "none", bars=bars, log=log)
        finaliser = finalise.Finaliser(p, log, finalise.provenance(root, profile_name))
        execute.execute_chapters(p, server, finaliser, log)
    finaliser.close()
    if build:
        html.build_html(p, finaliser.provenance, log)
    return p.run["seconds"]


def _import_in_background(modules=("papermill", "nbformat")) -> threading.Thread:
    """Import what the chapters' runner needs in a thread of this process (nbformat builds a
    URI grammar at import), beside the bundle's import or the data check and the training;
    a build with nothing to run does not import it. A module that fails to import raises
    again where it is used."""

    def run() -> None:
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=run, name="nnspaces-preload", daemon=True)
    thread.start()
    return thread
