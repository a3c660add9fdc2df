"""Every network a profile trains, and the stage that trains them before any chapter runs.

The list is what the chapters declare in ``profiles.yml`` (each chapter's ``networks``:
:func:`nnspaces.profiles.chapter_configs`), never guessed; the notebooks load exactly those
(:func:`nnspaces.notebook.trained_models` refuses others).

- :func:`configs` — a profile's networks as :class:`nnspaces.train.TrainConfig` (final
  weights; the best-validation twin comes from the same training run).
- :func:`network_id` — ``"resnet18-mnist-5k-s0"``: how the command line and the CI matrix
  name a network.
- :func:`describe` — one dict per network (id, model, data set, seed, sizes, cached or not).
- :func:`train_all` — train what the cache lacks, ``jobs`` at a time, longest first, with a
  tqdm bar per network (epoch, ETA) and cache hits reported as such.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path

from tqdm import tqdm

from . import cache, profiles
from .train import TrainConfig, train_or_load

#: Seconds per training image per epoch on one CPU thread (measured on the book's 2-core
#: machine): only the order of training (longest first) and the estimate printed use them.
SECONDS_PER_IMAGE_EPOCH = {"fcnn1": 2e-5, "fcnn5": 6e-5, "resnet18": 4e-3}

#: Training images of each data set when ``n_train`` is None (all of its training split).
FULL_TRAIN = {"mnist-5k": 3500, "mnist": 50000, "fashion-mnist": 50000}


def configs(profile_name: str, chapters: list[profiles.Chapter] | None = None) -> list[TrainConfig]:
    """Every network the chapters (default: all) of a profile load, each once, longest
    training first.

    Raises
    ------
    profiles.ProfileError
        An unknown profile (the message lists the profiles).
    """
    profiles.profile(profile_name)
    todo = profiles.chapters() if chapters is None else chapters
    unique = {}
    for c in todo:
        for cfg in profiles.chapter_configs(c, profile_name):
            unique.setdefault(cache.key_digest(cfg.key()), cfg)
    return sorted(unique.values(), key=estimated_seconds, reverse=True)


def network_id(cfg: TrainConfig) -> str:
    """``<model>-<dataset>-s<seed>``, plus ``-n<n_train>`` when the training set is cut."""
    tail = f"-n{cfg.n_train}" if cfg.n_train is not None else ""
    return f"{cfg.model}-{cfg.dataset}-s{cfg.seed}{tail}"


def estimated_seconds(cfg: TrainConfig) -> float:
    """A rough single-thread CPU training time: for ordering and for the printed estimate."""
    n = cfg.n_train if cfg.n_train is not None else FULL_TRAIN[cfg.dataset]
    return SECONDS_PER_IMAGE_EPOCH[cfg.model] * n * cfg.epochs


def checkpoint_path(cfg: TrainConfig, cache_dir: str | Path | None = None) -> Path:
    """Where :func:`nnspaces.train.train_or_load` keeps ``cfg``'s checkpoint."""
    return Path(cache_dir or cache.root()) / "models" / cfg.filename()


def is_cached(cfg: TrainConfig, cache_dir: str | Path | None = None) -> bool:
    """``cfg``'s checkpoint — the weights it names, those the chapters load — is in the cache
    (not read: the chapters verify its digest when they load it). Training writes the
    best-validation twin beside the final weights; a published network
    (:mod:`nnspaces.fetch`) brings only the weights the chapters load."""
    return checkpoint_path(cfg, cache_dir).is_file()


def describe(profile_name: str, cache_dir: str | Path | None = None) -> list[dict]:
    """One dict per network of a profile: ``id``, ``model``, ``dataset``, ``seed``,
    ``n_train``, ``n_val``, ``epochs``, ``file``, ``cached``, ``estimated_seconds``."""
    return [
        {
            "id": network_id(cfg),
            "model": cfg.model,
            "dataset": cfg.dataset,
            "seed": cfg.seed,
            "n_train": cfg.n_train,
            "n_val": cfg.n_val,
            "epochs": cfg.epochs,
            "file": cfg.filename(),
            "cached": is_cached(cfg, cache_dir),
            "estimated_seconds": round(estimated_seconds(cfg)),
        }
        for cfg in configs(profile_name)
    ]


def select(cfgs: list[TrainConfig], ids: list[str]) -> list[TrainConfig]:
    """The networks of ``cfgs`` named by ``ids``; ``ValueError`` naming unknown ones."""
    by_id = {network_id(c): c for c in cfgs}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ValueError(f"unknown network(s) {unknown}: choose from {sorted(by_id)}")
    return [by_id[i] for i in ids]


def _train_one(cfg: TrainConfig, threads: int, messages) -> float:
    """Train ``cfg`` in a worker process with ``threads`` threads; report epochs on
    ``messages`` as ``(id, epoch)``; return the seconds it took."""
    import torch

    torch.set_num_threads(threads)
    nid = network_id(cfg)
    messages.put((nid, 0))
    t0 = time.perf_counter()
    train_or_load(
        **{k: v for k, v in dataclasses.asdict(cfg).items() if k != "model"},
        model_name=cfg.model,
        progress=False,
        on_epoch=lambda row: messages.put((nid, row["epoch"])),
        published=False,  # the stage fetched what it could (nnspaces.fetch.fetch) before this
    )
    return time.perf_counter() - t0


def train_all(
    cfgs: list[TrainConfig],
    jobs: int = 1,
    log=print,
    cache_dir: str | Path | None = None,
    bars: bool = True,
) -> dict[str, float | None]:
    """Train every network of ``cfgs`` the cache lacks, ``jobs`` at a time, longest first.

    Parameters
    ----------
    cfgs : list of TrainConfig
        From :func:`configs`.
    jobs : int
        Networks trained at once, each in its own process with ``cores // jobs`` threads.
    log : callable
        Receives one line per cache hit and per network finished.
    cache_dir : path, optional
        Only to say which are cached (training uses :func:`nnspaces.cache.root`).
    bars : bool
        A tqdm bar per network in training: data set, seed, epoch, ETA.

    Returns
    -------
    seconds : dict id → float or None
        Training seconds of each network trained here; None for a cache hit.
    """
    out: dict[str, float | None] = {}
    todo = []
    for cfg in sorted(cfgs, key=estimated_seconds, reverse=True):
        if is_cached(cfg, cache_dir):
            out[network_id(cfg)] = None
            log(f"[networks] {network_id(cfg)}: cached ({cfg.filename()})")
        else:
            todo.append(cfg)
    if not todo:
        return out
    jobs = max(1, min(jobs, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    total = sum(estimated_seconds(c) for c in todo) / 60
    log(
        f"[networks] training {len(todo)} network(s), {jobs} at a time with {threads} thread(s) "
        f"each (about {total:.0f} CPU-minutes), longest first"
    )
    ctx = mp.get_context("spawn")  # a clean interpreter: no OpenMP state inherited by fork
    with ctx.Manager() as manager, cf.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        messages = manager.Queue()
        futures = {pool.submit(_train_one, c, threads, messages): c for c in todo}
        progress = {network_id(c): None for c in todo}
        pending = set(futures)
        while pending:
            _drain(messages, progress, todo, bars)
            done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                cfg = futures[fut]
                nid = network_id(cfg)
                try:
                    out[nid] = fut.result()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                _drain(messages, progress, todo, bars)
                if progress[nid] is not None:
                    progress[nid].close()
                log(f"[networks] {nid}: trained in {out[nid]:.0f} s")
    return out


def _drain(messages, progress: dict, todo: list[TrainConfig], bars: bool) -> None:
    """Move the workers' epoch messages onto the tqdm bars (one per network started)."""
    by_id = {network_id(c): c for c in todo}
    while True:
        try:
            nid, epoch = messages.get_nowait()
        except queue.Empty:
            return
        bar = progress.get(nid)
        if bar is None:
            cfg = by_id[nid]
            bar = tqdm(
                total=cfg.epochs,
                desc=f"train {cfg.model} on {cfg.dataset} seed {cfg.seed}",
                unit="epoch",
                disable=not bars,
                dynamic_ncols=True,
            )
            progress[nid] = bar
        bar.update(epoch - bar.n)
