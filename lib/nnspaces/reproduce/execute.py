"""Stage 3, the chapters run: papermill executes each into the staging folder, ``jobs`` at a
time, in threads of this process; every kernel is given its environment explicitly (its
thread count, the log of the results it uses, the fork server's socket)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from .. import cache, forked_kernels
from ..profiles import Chapter
from .plan import Plan, ReproduceError

#: ``finish(chapter, seconds)``: what the caller does with each chapter that ran to the end.
Finish = Callable[[Chapter, float], None]


def thread_env(threads: int) -> dict:
    """The environment variables that give a kernel ``threads`` threads."""
    return {v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


class KernelServer:
    """The fork server (:class:`nnspaces.forked_kernels.Server`) whose kernels get ``threads``
    threads, started at once so that its imports overlap with the plan, the data check and
    the training. Calling it gives its socket: with ``wait`` once its imports are done
    (worth it when each job runs several chapters); without, None until they are (a chapter
    that starts before then gets a kernel started from scratch)."""

    def __init__(self, threads: int, log):
        self.threads, self.log, self.wait, self.said = threads, log, True, False
        self.server = forked_kernels.Server(dict(os.environ, **thread_env(threads)))

    def __call__(self) -> str | None:
        sock = self.server.socket(wait=self.wait)
        if sock is not None and not self.said:
            self.said = True
            self.log(
                f"[reproduce] kernels fork from a process that imported torch, matplotlib and "
                f"nnspaces once ({self.server.seconds:.1f} s after the start)"
            )
        return sock

    def close(self) -> None:
        self.server.close()


def kernel_manager(env: dict, cwd: Path, started: list | None = None) -> type:
    """:func:`nnspaces.forked_kernels.kernel_manager_class` whose kernel starts in ``cwd``
    with this process's environment and ``env`` over it: nothing of a chapter's passes
    through ``os.environ``, so two chapters run in threads of one process. Each manager that
    started its kernel is appended to ``started`` (to stop the kernels on an interrupt)."""
    base = forked_kernels.kernel_manager_class()

    class ChapterKernelManager(base):
        async def start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **env}
            kw["cwd"] = str(cwd)
            await super().start_kernel(**kw)
            if started is not None:
                started.append(self)

    return ChapterKernelManager


def execute(
    chapter: Chapter,
    params: dict,
    root: Path,
    staging: Path,
    threads: int,
    server: str | None,
    started: list | None = None,
) -> float:
    """Run one chapter with papermill into ``staging``; its seconds. Its kernel gets
    ``threads`` threads; with ``server`` (a fork server's socket) it is forked from it; its
    manager is appended to ``started`` (:func:`kernel_manager`)."""
    import papermill as pm

    src = root / "notebooks" / f"{chapter.notebook}.ipynb"
    out = staging / f"{chapter.output}.ipynb"
    env = {
        **thread_env(threads),
        cache.RESULT_LOG: str(staging / f"{chapter.output}.results.jsonl"),  # results it reads
    }
    if server is not None:
        env[forked_kernels.SOCKET] = server
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=kernel_manager(env, root / "notebooks", started),
        )
    except pm.PapermillExecutionError as e:
        raise ReproduceError(
            f"notebook {src.name} failed in cell {e.cell_index} (execution count "
            f"{e.exec_count}): {e.ename}: {e.evalue}. The partial run is in {out}; the "
            "previous executed copy was left in place."
        ) from None
    return time.perf_counter() - t0


def execute_chapters(plan: Plan, server: Callable[[], str | None], finish: Finish, log) -> None:
    """Run the plan's chapters: the others ``plan.jobs`` at a time, longest first, then those
    that read the run log, alone; ``finish`` each in this thread as it ends. Their leftover
    logs of results are removed first."""
    from .plan import kernel_threads

    for c in plan.run_now:
        (plan.staging / f"{c.output}.results.jsonl").unlink(missing_ok=True)
    threads = kernel_threads(plan.jobs)
    for todo, jobs in ((plan.first, plan.jobs), (plan.reads_log, 1)):
        run_parallel(todo, plan, jobs, threads, server, finish, log)


def run_parallel(todo, plan: Plan, jobs: int, threads: int, server, finish: Finish, log) -> None:
    """Execute ``todo`` (in that order of starting) ``jobs`` at a time; ``finish`` each as it
    completes. Each start is logged. The first failure cancels the chapters not started and
    is raised once the running ones have ended; an interrupt (Ctrl-C) stops their kernels
    first. ``server()``, asked at each start: the fork server's socket, or None (not ready
    yet, or none)."""
    queue, running, started = list(todo), {}, []
    pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="chapter")

    def submit_next() -> None:
        c = queue.pop(0)
        params = plan.params[c.output]
        log(
            f"[reproduce] {c.output}: started — papermill {c.notebook}.ipynb {params} "
            f"({threads} thread(s))"
        )
        args = (c, params, plan.root, plan.staging, threads, server(), started)
        running[pool.submit(execute, *args)] = c

    try:
        while queue and len(running) < jobs:
            submit_next()
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                finish(running.pop(fut), fut.result())
                if queue:
                    submit_next()
    except KeyboardInterrupt:
        for km in started:  # the chapters' threads then end with their kernels
            with contextlib.suppress(Exception):
                km.provisioner.process.terminate()
        raise
    finally:
        queue.clear()
        pool.shutdown(wait=True, cancel_futures=True)
