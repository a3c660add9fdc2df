"""Trained networks as portable bundles: export, import (a file or a URL), and publishing.

A bundle lets one machine train the networks and others use them without retraining:

- :func:`export_bundle` — the cached checkpoints of some networks (or of a profile's) into a
  ``.tar`` or ``.tar.gz`` file, with ``manifest.json`` naming each file, its configuration
  and its SHA-256;
- :func:`import_bundle` — a bundle file, or one at an ``http(s)`` URL whose SHA-256 is given
  or pinned in the registry: check everything in it, then install its checkpoints into the
  cache, where :func:`nnspaces.train.train_or_load` finds them;
- :func:`publish` — the files CI uploads as release assets: one single-network bundle per
  network of a profile and one of the profile's results, each recorded (name, SHA-256, size)
  in the registry that :mod:`nnspaces.fetch` downloads from.

``python -m nnspaces weights export FILE [--profile P]``, ``python -m nnspaces weights import
FILE|URL [--sha256 HEX]`` and ``python -m nnspaces weights publish OUTDIR --profile P`` do the
same from the command line.

An archive holds ``manifest.json`` (first) and ``models/<file>.pt``, one member per
checkpoint, under the names :meth:`nnspaces.train.TrainConfig.filename` gives them (the
format and its checks: :mod:`nnspaces.bundle`). One training run caches two checkpoints
(final and best-validation weights): an exported bundle holds both; a published one holds the
weights the chapters load (the final epoch's: the best epoch's scores are in its training
report). A bundle of a profile also carries the cached results its chapters used in the last
build (memoised results, ``results/<kind>/<digest>.pt``, listed by the pipeline in
:func:`nnspaces.cache.results_index`),
so that a book built from it computes nothing the exporting build computed. A result is
keyed by everything it was computed from, this library's code included: one a different
version would compute differently is never read, only recomputed.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import json
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import torch

from . import __version__, bundle, cache, fetch
from .bundle import FORMAT, KIND, MANIFEST, RESULT, BundleError, checkpoint_problem, other_version
from .train import WEIGHTS, TrainConfig

__all__ = ["FORMAT", "KIND", "MANIFEST", "BundleError", "export_bundle", "import_bundle", "publish"]

_MODES = {".tar": "w|", ".tar.gz": "w|gz", ".tgz": "w|gz"}


def export_bundle(
    path: str | Path,
    configs: Iterable[TrainConfig] | None = None,
    profile: str | None = None,
    cache_dir: str | Path | None = None,
) -> dict:
    """Write the cached checkpoints of some networks into a tar archive with a manifest.

    Parameters
    ----------
    path : path
        The bundle to write, ending in ``.tar`` or ``.tar.gz`` (``.tgz``): plain or gzipped.
        Written atomically: a failed export leaves no file (or the old one).
    configs : iterable of TrainConfig, optional
        The networks; each stands for its training run: its checkpoint (the weights it
        names) is exported, and its twin (``"best"`` for ``"final"``, and the reverse) when
        the cache holds it — training caches both, a published network only the weights the
        chapters load (:mod:`nnspaces.fetch`).
    profile : str, optional
        Export the networks the profile trains (:func:`nnspaces.networks.configs`); the
        ``"default"`` profile when neither ``configs`` nor ``profile`` is given.
    cache_dir : path, optional
        The cache holding the checkpoints (default :func:`nnspaces.cache.root`).

    Returns
    -------
    manifest : dict
        What ``manifest.json`` holds: ``kind``, ``format``, ``nnspaces`` and ``torch``
        versions, ``created`` (UTC, ISO 8601), ``profile`` and ``files``, one dict per
        checkpoint: ``file``, ``model``, ``dataset``, ``seed``, ``weights``, ``config`` (the
        full cache key), ``sha256`` (of the file's bytes), ``state_digest``, ``size`` (bytes);
        and ``results``, one dict per cached result (``file``: its path in the cache,
        ``sha256``, ``size``), those the profile's chapters used (none for ``configs``).

    Raises
    ------
    BundleError
        A checkpoint is missing (train it first: ``make book``) or damaged, or ``path`` has
        another suffix.
    """
    if configs is not None and profile is not None:
        raise ValueError("export_bundle: give configs or profile, not both")
    if configs is None:
        from . import networks  # imported here: it reads the profiles

        profile = profile or "default"
        configs = networks.configs(profile)
    configs = list(configs)
    named = {cfg.filename() for cfg in configs}
    folder = _models_folder(cache_dir)
    runs = {n: c for n, c in _runs(configs).items() if n in named or (folder / n).is_file()}
    return _export(path, runs, profile, cache_dir)


def import_bundle(
    path: str | Path,
    cache_dir: str | Path | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Check a bundle completely, then install its checkpoints into the cache.

    Parameters
    ----------
    path : path or str
        A bundle written by :func:`export_bundle` or :func:`publish`, or its ``http://`` or
        ``https://`` URL: downloaded first (:func:`nnspaces.fetch.download`) into a temporary
        folder, and kept only when its SHA-256 is ``sha256`` or, without it, the one the
        registry pins for that URL.
    cache_dir : path, optional
        The cache to install into (default :func:`nnspaces.cache.root`); the checkpoints go
        to its ``models/`` folder.
    sha256 : str, optional
        The file's SHA-256 (64 hex digits): a file whose bytes differ is refused. Required
        for a URL the registry does not list.
    progress : bool
        The download's progress bar.

    Returns
    -------
    list of dict
        What :func:`nnspaces.bundle.install` returns: one row per checkpoint, then
        one per cached result, each with its ``status``.

    Raises
    ------
    BundleError
        Anything wrong with the bundle, or a download that failed or was refused
        (:class:`nnspaces.fetch.FetchError`); the cache is then left exactly as it was.

    Notes
    -----
    Every check of :func:`nnspaces.bundle.install` runs before the cache is touched; the
    configuration each manifest entry records is rebuilt as a :class:`TrainConfig` by this
    library and must give the recorded key (the model definitions' hashes and the checkpoint
    format included): a bundle of another version is refused as such.
    """
    if sha256 is not None:
        sha256 = fetch.check_sha256(sha256)
    if isinstance(path, str) and path.startswith(("http://", "https://")):
        if sha256 is None:
            listed = fetch.locate_url(path)
            if listed is None:
                raise BundleError(
                    f"{path} is not in the registry ({fetch.registry_path()}): give its SHA-256 "
                    "(`--sha256 HEX`, as its publisher states it) to import it"
                )
            sha256 = listed["sha256"]
        with tempfile.TemporaryDirectory(prefix="nnspaces-import-") as tmp:
            local = fetch.download(path, sha256, tmp, progress)
            return bundle.install(local, cache_dir, _config_of)
    if sha256 is not None and Path(path).is_file():
        if (actual := bundle.sha256_file(Path(path))) != sha256:
            raise BundleError(
                f"bundle {path} has SHA-256 {actual}, not the {sha256} given: a changed or "
                "damaged copy; nothing was installed"
            )
    return bundle.install(Path(path), cache_dir, _config_of)


def publish(
    outdir: str | Path,
    profile: str,
    base_url: str,
    tag: str,
    cache_dir: str | Path | None = None,
    registry: str | Path | None = None,
) -> dict:
    """Write a profile's published files into ``outdir`` and pin them in the registry.

    Parameters
    ----------
    outdir : path
        Where the files go (created): ``<network id>.tar`` per network of the profile
        (:func:`nnspaces.networks.network_id`), holding the weights its chapters load (the
        final epoch's; a network a chapter loads with ``weights="best"`` carries both), and
        ``results-<profile>.tar`` with the results the profile's chapters memoised in the last
        build (left out when the cache holds none). CI uploads them as release assets.
    profile : str
        A profile whose networks are all in the cache (``make book PROFILE=…`` first).
    base_url : str
        Where the files will be downloadable, ending in ``/`` (a GitHub release's
        ``…/releases/download/<tag>/``).
    tag : str
        The release tag, recorded in the registry.
    cache_dir : path, optional
        The cache holding the networks (default :func:`nnspaces.cache.root`).
    registry : path, optional
        The registry to update (default :func:`nnspaces.fetch.registry_path`); written
        atomically, other profiles' entries kept.

    Returns
    -------
    dict
        The profile's registry entry: ``url``, ``tag``, ``nnspaces``, ``torch``,
        ``published`` and ``files`` (``name``, ``sha256``, ``size``, ``holds``: the network
        id or ``"results"``, ``checkpoints`` or ``results``: what it holds).

    Raises
    ------
    BundleError
        A network of the profile is not in the cache, or is damaged.
    """
    from . import networks

    if not base_url.startswith(("http://", "https://")) or not base_url.endswith("/"):
        raise ValueError(f"base URL {base_url!r} must be http(s)://… ending in '/'")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, TrainConfig]] = {}
    for cfg in networks.configs(profile):  # each with the weights its chapters load
        runs.setdefault(networks.network_id(cfg), {})[cfg.filename()] = cfg
    files = []
    for nid, run in runs.items():
        target = outdir / f"{nid}.tar"
        manifest = _export(target, run, None, cache_dir)
        checkpoints = [e["file"] for e in manifest["files"]]
        files.append(dict(_file_entry(target), holds=nid, checkpoints=checkpoints))
    results = outdir / f"results-{profile}.tar"
    manifest = _export(results, {}, profile, cache_dir)
    if manifest["results"]:
        files.append(dict(_file_entry(results), holds="results", results=len(manifest["results"])))
    else:
        results.unlink()
    entry = {"url": base_url, "tag": tag, **_made_by("published"), "files": files}
    reg = fetch.read_registry(registry)
    reg["profiles"][profile] = entry
    fetch.write_registry(reg, registry)
    return entry


# --- export ------------------------------------------------------------------------------


def _made_by(when: str) -> dict:
    """The versions that wrote a manifest or a registry entry, and the time under ``when``."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return {"nnspaces": __version__, "torch": str(torch.__version__), when: now}


def _file_entry(path: Path) -> dict:
    """``name``, ``sha256`` and ``size`` of a written file, as the registry records them."""
    return {"name": path.name, "sha256": bundle.sha256_file(path), "size": path.stat().st_size}


def _export(path: str | Path, runs: dict[str, TrainConfig], profile: str | None, cache_dir) -> dict:
    """Write the checkpoints of ``runs`` (file name → config) and, for a profile, its used
    results into the bundle ``path``; its manifest."""
    mode = _write_mode(path)
    folder = _models_folder(cache_dir)
    entries = [_export_entry(folder / name, cfg) for name, cfg in runs.items()]
    results = _used_results(profile, folder.parent)
    manifest = {"kind": KIND, "format": FORMAT, **_made_by("created"), "profile": profile}
    manifest |= {"files": entries, "results": results}
    cache.atomic_write(path, lambda f: _write_tar(f, mode, manifest, folder))
    return manifest


def _used_results(profile: str | None, root: Path) -> list[dict]:
    """Manifest entries of the cached results the profile's chapters used in the last build
    (:func:`nnspaces.cache.results_index`) that are still in the cache; none without a
    profile or an index."""
    if profile is None:
        return []
    index = root / cache.results_index(profile).relative_to(cache.root())
    try:
        files = json.loads(index.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # no build of this profile yet, or an unreadable index: checkpoints only
    entries = []
    for rel in files:
        if isinstance(rel, str) and RESULT.fullmatch(rel) and (root / rel).is_file():
            data = (root / rel).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            entries.append({"file": rel, "sha256": digest, "size": len(data)})
    return entries


def _models_folder(cache_dir: str | Path | None) -> Path:
    """The checkpoints' folder: ``models/`` in ``cache_dir`` or the cache root (as training's)."""
    return Path(cache_dir or cache.root()) / "models"


def _write_mode(path: str | Path) -> str:
    """tarfile's stream mode for the bundle's suffix: plain ``.tar`` or gzipped ``.tar.gz``."""
    name = Path(path).name
    for suffix, mode in _MODES.items():
        if name.endswith(suffix):
            return mode
    raise BundleError(f"bundle {path}: its name must end in .tar, .tar.gz or .tgz")


def _runs(configs: Iterable[TrainConfig]) -> dict[str, TrainConfig]:
    """File name → config of each config's final and best twins (one training run writes
    both), without repeats."""
    out = {}
    for cfg in configs:
        for w in WEIGHTS:
            twin = dataclasses.replace(cfg, weights=w)
            out.setdefault(twin.filename(), twin)
    return out


def _describe(cfg: TrainConfig) -> str:
    """``fcnn1 on mnist-5k (seed 0, final weights, 20 epochs)``: a network, for messages."""
    run = f"seed {cfg.seed}, {cfg.weights} weights, {cfg.epochs} epochs"
    return f"{cfg.model} on {cfg.dataset} ({run})"


def _export_entry(path: Path, cfg: TrainConfig) -> dict:
    """The manifest entry of ``cfg``'s cached checkpoint ``path``, checked as an import will."""
    key = cfg.key()
    if not path.is_file():
        raise BundleError(
            f"{_describe(cfg)} is not in the cache ({path} is missing): train it first — "
            "`make book` trains the default profile's networks, `python -m nnspaces reproduce "
            "--profile P` another profile's"
        )
    data = path.read_bytes()
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        trouble = checkpoint_problem(ckpt, key, cfg.model)
    except Exception as e:  # truncated zip, flipped bytes, unpickling refusal
        trouble = f"it cannot be read ({type(e).__name__}: {str(e)[:120]})"
    if trouble:
        raise BundleError(
            f"cached checkpoint {path} of {_describe(cfg)}: {trouble}; delete it and retrain"
        )
    entry = {"file": path.name, "model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed}
    entry |= {"weights": cfg.weights, "config": key, "sha256": hashlib.sha256(data).hexdigest()}
    return entry | {"state_digest": ckpt["digest"], "size": len(data)}


def _write_tar(f, mode: str, manifest: dict, folder: Path) -> None:
    """Stream the manifest, then every checkpoint it lists (bytes re-checked), into ``f``."""
    now = int(time.time())
    with tarfile.open(fileobj=f, mode=mode) as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), now)
        members = [(folder / e["file"], f"models/{e['file']}", e) for e in manifest["files"]]
        members += [(folder.parent / e["file"], e["file"], e) for e in manifest["results"]]
        for source, name, e in members:
            data = source.read_bytes()
            if hashlib.sha256(data).hexdigest() != e["sha256"]:
                raise BundleError(f"{source} changed while exporting: export again")
            _add(tar, name, data, now)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    """Add ``data`` as the regular file ``name`` (mode 644, no owner)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


# --- import ------------------------------------------------------------------------------


def _config_of(entry: dict, manifest: dict) -> TrainConfig:
    """The entry's configuration rebuilt by this library; its key must be the recorded one."""
    key, name = entry["config"], entry["file"]
    fields = TrainConfig.fields_of(key)
    if fields.get("device") == "cuda" and not torch.cuda.is_available():
        raise BundleError(
            f"bundle member {name} was trained on a GPU (device='cuda') and no GPU is visible "
            "here, where training uses device='cpu' and would never find it: import the bundle "
            "where a GPU is visible, or retrain here (`make book`)"
        )
    try:
        cfg = TrainConfig(**fields)
    except (TypeError, ValueError) as e:
        raise BundleError(
            f"bundle member {name}: its configuration is not one this library knows ({e}); "
            + other_version(manifest)
        ) from e
    here = cfg.key()
    if here != key:
        differ = sorted(k for k in set(key) | set(here) if key.get(k) != here.get(k))
        raise BundleError(
            f"bundle member {name}: its {', '.join(differ)} differ from this library's "
            f"({', '.join(f'{k}={key.get(k)!r} here {here.get(k)!r}' for k in differ)}); "
            + other_version(manifest)
        )
    return cfg
