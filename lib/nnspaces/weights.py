"""Trained networks as a portable bundle: one tar archive of checkpoints and a manifest.

A bundle lets one machine train the networks and others use them without retraining:

- :func:`export_bundle` — the cached checkpoints of some networks (or of a profile's) into a
  ``.tar`` or ``.tar.gz`` file, with ``manifest.json`` naming each file, its configuration
  and its SHA-256;
- :func:`import_bundle` — check everything in a bundle, then install its checkpoints into
  the cache, where :func:`nnspaces.train.train_or_load` finds them.

``python -m nnspaces weights export FILE [--profile P]`` and ``python -m nnspaces weights
import FILE`` do the same from the command line.

An archive holds ``manifest.json`` (first) and ``models/<file>.pt``, one member per
checkpoint, under the names :meth:`nnspaces.train.TrainConfig.filename` gives them. One
training run caches two checkpoints (final and best-validation weights): a bundle always holds
both. A bundle of a profile also carries the cached results its chapters used in the last
build (memoised computations, ``results/<kind>/<digest>.pt``; training curves,
``trainlength/``; initial condition numbers, ``init/``; network outputs, ``outputs/``;
listed by the pipeline in :func:`nnspaces.cache.results_index`),
so that a book built from it computes nothing the exporting build computed. A result is
keyed by everything it was computed from, this library's code included: one a different
version would compute differently is never read, only recomputed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import datetime
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import torch

from . import __version__, cache, models
from .train import WEIGHTS, TrainConfig

#: Version of the bundle layout (manifest fields, member names); bump it when they change.
FORMAT = 2
#: What the manifest's ``kind`` says, so that another tool's archive is recognised as such.
KIND = "nnspaces-weights"
MANIFEST = "manifest.json"

_MEMBER = re.compile(r"models/([A-Za-z0-9][A-Za-z0-9._-]*\.pt)")
#: A cached result's path relative to the cache root (and its member name).
_RESULT = re.compile(
    r"(?:results/[A-Za-z0-9_-]+|trainlength|init|outputs)/[A-Za-z0-9][A-Za-z0-9._-]*\.pt"
)
_RESULT_FIELDS = ("file", "sha256", "size")
_MODES = {".tar": "w|", ".tar.gz": "w|gz", ".tgz": "w|gz"}
_MANIFEST_MAX = 16 * 2**20  # bytes: a manifest of thousands of networks is far smaller
_ENTRY_FIELDS = ("file", "model", "dataset", "seed", "weights", "config", "sha256")
_ENTRY_FIELDS += ("state_digest", "size")
_OTHER_VERSION = (
    "the bundle was made by another version of nnspaces ({made}); retrain the networks here "
    "(`make book`) or use a bundle exported by nnspaces {this} with the same model definitions"
)


class BundleError(ValueError):
    """A bundle cannot be written, or must not be installed; the message says why and the fix."""


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
        The networks; each stands for its training run, so both its ``"final"`` and its
        ``"best"`` checkpoint are exported.
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
    mode = _write_mode(path)
    if configs is None:
        profile = profile or "default"
        configs = _profile_configs(profile)
    folder = _models_folder(cache_dir)
    entries = [_export_entry(folder / name, cfg) for name, cfg in _runs(configs).items()]
    results = _used_results(profile, folder.parent)
    manifest = {
        "kind": KIND,
        "format": FORMAT,
        "nnspaces": __version__,
        "torch": str(torch.__version__),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "files": entries,
        "results": results,
    }
    cache.atomic_write(path, lambda f: _write_tar(f, mode, manifest, folder))
    return manifest


def import_bundle(path: str | Path, cache_dir: str | Path | None = None) -> list[dict]:
    """Check a bundle completely, then install its checkpoints into the cache.

    Parameters
    ----------
    path : path
        A bundle written by :func:`export_bundle`.
    cache_dir : path, optional
        The cache to install into (default :func:`nnspaces.cache.root`); the checkpoints go
        to its ``models/`` folder.

    Returns
    -------
    list of dict
        One per checkpoint, in the manifest's order: ``file``, ``model``, ``dataset``,
        ``seed``, ``weights``, ``path`` (where it now is) and ``status``: ``"installed"``,
        ``"already present"`` (an identical file was there: left alone) or ``"replaced"``
        (a different file of the same configuration was there); then one per cached result:
        ``file`` (its path in the cache), ``path``, ``status`` and ``result: True``.

    Raises
    ------
    BundleError
        Anything wrong with the bundle; the cache is then left exactly as it was.

    Notes
    -----
    Before the cache is touched: the archive must read to its end; hold ``manifest.json``
    of a known format and only ``models/*.pt`` regular files, each listed there once;
    each file's SHA-256 and size must be the manifest's; each must load with
    ``torch.load(weights_only=True)``, carry the manifest's configuration, and that
    configuration — rebuilt as a :class:`~nnspaces.train.TrainConfig` by this library,
    with this library's model definition hashes and checkpoint format — must give the
    file's name; its weights must match their recorded digest and load into the model.
    Each file is then installed atomically, under the lock :func:`~nnspaces.train.train_or_load`
    takes for its training run. A cached result must match its SHA-256 and size, load with
    ``torch.load(weights_only=True)`` as a stored key and value, and be named by its key's
    digest (as :func:`nnspaces.cache.memo` names it).
    """
    path = Path(path)
    folder = _models_folder(cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # staged inside the cache (one file system): a checked file is then renamed into place,
    # not copied; the staging folder goes, whatever happens
    with (
        tempfile.TemporaryDirectory(prefix=".bundle-import-", dir=folder.parent) as tmp,
        cf.ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool,
    ):
        raw, staged = _unpack(path, Path(tmp))
        manifest = _parse_manifest(raw, staged, path)
        # the checks (hashing and safe loads, much of it outside the GIL) two at a time; the
        # first problem in the manifest's order is the one reported
        checked = list(
            pool.map(lambda e: _verify_entry(e, staged[e["file"]], manifest), manifest["files"])
        )
        list(pool.map(lambda e: _verify_result(e, staged[e["file"]]), manifest["results"]))
        rows = [_install(entry, cfg, staged[entry["file"]], folder) for entry, cfg in checked]
        results = [
            _install_result(e, staged[e["file"]], folder.parent) for e in manifest["results"]
        ]
        return rows + results


# --- export ------------------------------------------------------------------------------


def _profile_configs(profile: str) -> list[TrainConfig]:
    """The networks ``profile`` trains (imported here: ``networks`` reads the profiles)."""
    from . import networks

    return networks.configs(profile)


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
        p = root / rel
        if isinstance(rel, str) and _RESULT.fullmatch(rel) and p.is_file():
            data = p.read_bytes()
            entries.append(
                {"file": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            )
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
        trouble = _checkpoint_problem(ckpt, key, cfg.model)
    except Exception as e:  # truncated zip, flipped bytes, unpickling refusal
        trouble = f"it cannot be read ({type(e).__name__}: {str(e)[:120]})"
    if trouble:
        raise BundleError(
            f"cached checkpoint {path} of {_describe(cfg)}: {trouble}; delete it and retrain"
        )
    return {
        "file": path.name,
        "model": cfg.model,
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "weights": cfg.weights,
        "config": key,
        "sha256": hashlib.sha256(data).hexdigest(),
        "state_digest": ckpt["digest"],
        "size": len(data),
    }


def _write_tar(f, mode: str, manifest: dict, folder: Path) -> None:
    """Stream the manifest, then every checkpoint it lists (bytes re-checked), into ``f``."""
    now = int(time.time())
    with tarfile.open(fileobj=f, mode=mode) as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), now)
        for e in manifest["files"]:
            data = (folder / e["file"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != e["sha256"]:
                raise BundleError(f"{folder / e['file']} changed while exporting: export again")
            _add(tar, f"models/{e['file']}", data, now)
        for e in manifest["results"]:
            data = (folder.parent / e["file"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != e["sha256"]:
                raise BundleError(f"{folder.parent / e['file']} changed while exporting: again")
            _add(tar, e["file"], data, now)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    """Add ``data`` as the regular file ``name`` (mode 644, no owner)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


# --- import ------------------------------------------------------------------------------


def _unpack(path: Path, tmp: Path) -> tuple[bytes | None, dict[str, Path]]:
    """Read the archive to its end: the manifest's bytes, and each checkpoint staged in ``tmp``.

    Every member's name and type is checked before its bytes are read; nothing is extracted
    by tarfile itself, so no member name ever becomes a path outside ``tmp``.
    """
    if not path.is_file():
        raise BundleError(f"no bundle at {path}: give the file `nnspaces weights export` wrote")
    raw, staged, seen = None, {}, set()
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                name = _check_member(member, seen, path)
                f = tar.extractfile(member)
                if name == MANIFEST:
                    raw = f.read()
                else:
                    staged[name] = tmp / name
                    staged[name].parent.mkdir(parents=True, exist_ok=True)
                    with open(tmp / name, "wb") as out:
                        shutil.copyfileobj(f, out)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise BundleError(
            f"cannot read bundle {path} ({type(e).__name__}: {e}): the archive is truncated "
            "or corrupt; copy it again or export a new one"
        ) from e
    return raw, staged


def _check_member(member: tarfile.TarInfo, seen: set, path: Path) -> str:
    """The member's file name (``manifest.json`` or a checkpoint's) once name and type pass."""
    name = member.name
    if name.startswith("/") or ".." in name.split("/"):
        raise BundleError(
            f"bundle {path}: member {name!r} points outside the archive (path traversal): "
            "refusing the bundle"
        )
    m = _MEMBER.fullmatch(name)
    if name != MANIFEST and m is None and not _RESULT.fullmatch(name):
        raise BundleError(
            f"bundle {path}: unexpected member {name!r} (a bundle holds only {MANIFEST}, "
            "models/*.pt and cached results): it was not written by `nnspaces weights export`"
        )
    if not member.isreg():
        raise BundleError(
            f"bundle {path}: member {name!r} is not a regular file (a link or a device)"
        )
    if member.size > _MANIFEST_MAX and name == MANIFEST:
        raise BundleError(
            f"bundle {path}: its {MANIFEST} is implausibly large ({member.size} bytes)"
        )
    key = m.group(1) if m else name
    if key in seen:
        raise BundleError(f"bundle {path}: member {name!r} appears twice")
    seen.add(key)
    return key


def _parse_manifest(raw: bytes | None, staged: dict[str, Path], path: Path) -> dict:
    """The manifest, once its kind, format and list of files agree with the archive."""
    if raw is None:
        raise BundleError(
            f"bundle {path} has no {MANIFEST}: it was not written by `nnspaces weights export`"
        )
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"bundle {path}: {MANIFEST} is not valid JSON ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise BundleError(f"bundle {path}: {MANIFEST} is not an nnspaces weights manifest")
    if manifest.get("format") != FORMAT:
        raise BundleError(
            f"bundle {path} has format {manifest.get('format')!r}, this library reads format "
            f"{FORMAT}: " + _other_version(manifest)
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not all(_well_formed(e) for e in files):
        raise BundleError(f"bundle {path}: {MANIFEST} has a malformed list of files")
    results = manifest.get("results")
    if not isinstance(results, list) or not all(_well_formed_result(e) for e in results):
        raise BundleError(f"bundle {path}: {MANIFEST} has a malformed list of results")
    listed = [e["file"] for e in files] + [e["file"] for e in results]
    if len(set(listed)) != len(listed):
        raise BundleError(f"bundle {path}: {MANIFEST} lists a file twice")
    if missing := sorted(set(listed) - set(staged)):
        raise BundleError(
            f"bundle {path} lacks {missing[0]}, which its manifest lists: the archive is "
            "incomplete; copy it again or export a new one"
        )
    if extra := sorted(set(staged) - set(listed)):
        member = extra[0] if "/" in extra[0] else f"models/{extra[0]}"
        raise BundleError(f"bundle {path}: member {member} is not in its manifest")
    return manifest


def _well_formed(entry) -> bool:
    """An entry is a dict with every field, a dict config and a str file name."""
    return (
        isinstance(entry, dict)
        and all(k in entry for k in _ENTRY_FIELDS)
        and isinstance(entry["config"], dict)
        and isinstance(entry["file"], str)
    )


def _well_formed_result(entry) -> bool:
    """A result entry: a dict with every field and a cache path a result may have."""
    return (
        isinstance(entry, dict)
        and all(k in entry for k in _RESULT_FIELDS)
        and isinstance(entry["file"], str)
        and _RESULT.fullmatch(entry["file"]) is not None
    )


def _other_version(manifest: dict) -> str:
    """The "made by another version" sentence, with the versions that made the bundle."""
    made = f"nnspaces {manifest.get('nnspaces')}, torch {manifest.get('torch')}"
    return _OTHER_VERSION.format(made=made, this=__version__)


def _load_member(entry: dict, staged: Path):
    """A staged member's contents, once its size and SHA-256 are the manifest's and it loads
    with ``torch.load(weights_only=True)``."""
    name = entry["file"]
    data = staged.read_bytes()
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BundleError(
            f"bundle member {name} does not match the SHA-256 its manifest records: it was "
            "changed or corrupted after export; copy the bundle again or export a new one"
        )
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refusal, not a torch file
        raise BundleError(
            f"bundle member {name} cannot be loaded safely ({type(e).__name__}: {str(e)[:120]})"
        ) from e


def _verify_entry(entry: dict, staged: Path, manifest: dict) -> tuple[dict, TrainConfig]:
    """Check one staged checkpoint against its manifest entry and this library; its config."""
    name = entry["file"]
    ckpt = _load_member(entry, staged)
    if not isinstance(ckpt, dict) or ckpt.get("config") != entry["config"]:
        raise BundleError(
            f"bundle member {name}: its checkpoint's configuration differs from the one its "
            "manifest records (the manifest was edited); export the bundle again"
        )
    cfg = _config_of(entry, manifest)
    trouble = _checkpoint_problem(ckpt, entry["config"], cfg.model)
    trouble = trouble or _entry_problem(entry, cfg, ckpt)
    if trouble:
        raise BundleError(f"bundle member {name}: {trouble}")
    return entry, cfg


def _config_of(entry: dict, manifest: dict) -> TrainConfig:
    """The entry's configuration rebuilt by this library; its key must be the recorded one."""
    key, name = entry["config"], entry["file"]
    fields = {k: v for k, v in key.items() if k not in ("definition", "format")}
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
            + _other_version(manifest)
        ) from e
    here = cfg.key()
    if here != key:
        differ = sorted(k for k in set(key) | set(here) if key.get(k) != here.get(k))
        raise BundleError(
            f"bundle member {name}: its {', '.join(differ)} differ from this library's "
            f"({', '.join(f'{k}={key.get(k)!r} here {here.get(k)!r}' for k in differ)}); "
            + _other_version(manifest)
        )
    return cfg


def _checkpoint_problem(ckpt, key: dict, model: str) -> str | None:
    """What is wrong with a loaded checkpoint of cache key ``key`` (as a clause), or None."""
    if not isinstance(ckpt, dict) or ckpt.get("config") != key:
        return "it was made by another configuration"
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return "it holds no state_dict of tensors"
    if cache.state_digest(state) != ckpt.get("digest"):
        return "its weights do not match their recorded SHA-256 (corrupted bytes)"
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != _parameter_shapes(model):
        return f"its tensors' names or shapes are not those of {model}"
    return None


@functools.cache
def _parameter_shapes(model: str) -> dict[str, tuple]:
    """Name → shape of every tensor in ``model``'s state_dict (built once per process)."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        return {k: tuple(v.shape) for k, v in models.build(model).state_dict().items()}


def _entry_problem(entry: dict, cfg: TrainConfig, ckpt: dict) -> str | None:
    """What in the manifest entry disagrees with the checkpoint's configuration, or None."""
    if entry["file"] != (expected := cfg.filename()):
        return f"its name is not the one its configuration gives ({expected}): it was renamed"
    described = (entry["model"], entry["dataset"], entry["seed"], entry["weights"])
    if described != (cfg.model, cfg.dataset, cfg.seed, cfg.weights):
        return "the manifest's model, dataset, seed or weights differ from its configuration"
    if entry["state_digest"] != ckpt["digest"]:
        return "its state digest differs from the manifest's"
    return None


def _install(entry: dict, cfg: TrainConfig, staged: Path, folder: Path) -> dict:
    """Move one checked checkpoint into ``folder`` atomically, under its training run's lock."""
    target = folder / entry["file"]
    final = dataclasses.replace(cfg, weights="final").filename()
    status = _copy_in(staged, target, entry["sha256"], (folder / final).with_suffix(".lock"))
    summary = {k: entry[k] for k in ("file", "model", "dataset", "seed", "weights")}
    return dict(summary, path=str(target), status=status)


def _verify_result(entry: dict, staged: Path) -> None:
    """Check one staged cached result: bytes, a safe load, and then what its kind holds: a
    stored network output is a 2-D floating tensor (its name, a digest of weights and images,
    only the network and the data can check); any other result a stored key and value, named
    by the key's digest."""
    name = entry["file"]
    obj = _load_member(entry, staged)
    if name.startswith("outputs/"):
        if not (isinstance(obj, torch.Tensor) and obj.ndim == 2 and obj.is_floating_point()):
            raise BundleError(f"bundle member {name} is not a table of network outputs")
        return
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(key, dict) or "value" not in obj:
        raise BundleError(f"bundle member {name} is not a cached result (a stored key and value)")
    if not Path(name).stem.endswith(cache.key_digest(key)):
        raise BundleError(
            f"bundle member {name}: its name is not the digest of the key it holds (renamed or "
            "forged); export the bundle again"
        )


def _install_result(entry: dict, staged: Path, root: Path) -> dict:
    """Move one checked result into the cache ``root`` atomically, under the lock
    :func:`nnspaces.cache.memo` takes for it."""
    target = root / entry["file"]
    status = _copy_in(staged, target, entry["sha256"], target.with_name(target.name + ".lock"))
    return {"file": entry["file"], "path": str(target), "status": status, "result": True}


def _copy_in(staged: Path, target: Path, sha256: str, lock: Path) -> str:
    """Move ``staged`` to ``target`` atomically (a rename, else a copy) while holding
    ``lock``, unless ``target`` already has these bytes: ``"already present"``,
    ``"replaced"`` or ``"installed"``."""
    with cache.lock(lock):
        if target.is_file() and _sha256(target) == sha256:
            return "already present"
        status = "replaced" if target.exists() else "installed"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged, 0o644)  # as any file of a shared cache
        try:
            os.replace(staged, target)  # atomic; ``staged`` is on the cache's file system
        except OSError:  # another file system after all (a cache folder that is a mount)
            with open(staged, "rb") as src:
                cache.atomic_write(target, lambda f: shutil.copyfileobj(src, f))
    return status


def _sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()
