"""The weights bundle's format, and every check a bundle passes before the cache is touched.

A bundle is a tar archive (plain or gzipped) holding ``manifest.json`` first, then
``models/<file>.pt``, one member per checkpoint, under the names
:meth:`nnspaces.train.TrainConfig.filename` gives them, and optionally memoised results under
their paths in the cache (``results/<kind>/<digest>.pt``, :func:`nnspaces.cache.memo`). :func:`nnspaces.weights.export_bundle` writes one;
:func:`install` reads one — the reading half lives here, below :mod:`nnspaces.train`, so that
:func:`nnspaces.train.train_or_load` can install a published network
(:mod:`nnspaces.fetch`) with the same checks as ``nnspaces weights import``.

- :func:`install` — check a bundle completely, then install its files into a cache.
- :func:`checkpoint_problem` — what is wrong with a loaded checkpoint (export checks too).
- :class:`BundleError` — a bundle that cannot be written or must not be installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch

from . import __version__, cache, models

#: Version of the bundle layout (manifest fields, member names); bump it when they change.
FORMAT = 2
#: What the manifest's ``kind`` says, so that another tool's archive is recognised as such.
KIND = "nnspaces-weights"
MANIFEST = "manifest.json"

_MEMBER = re.compile(r"models/([A-Za-z0-9][A-Za-z0-9._-]*\.pt)")
#: A cached result's path relative to the cache root (and its member name).
RESULT = re.compile(r"results/[A-Za-z0-9_-]+/[0-9a-f]{16}\.pt")
_RESULT_FIELDS = ("file", "sha256", "size")
_MANIFEST_MAX = 16 * 2**20  # bytes: a manifest of thousands of networks is far smaller
_ENTRY_FIELDS = ("file", "model", "dataset", "seed", "weights", "config", "sha256")
_ENTRY_FIELDS += ("state_digest", "size")
_OTHER_VERSION = (
    "the bundle was made by another version of nnspaces ({made}); retrain the networks here "
    "(`make book`) or use a bundle exported by nnspaces {this} with the same model definitions"
)


class BundleError(ValueError):
    """A bundle cannot be written, or must not be installed; the message says why and the fix."""


def install(
    path: str | Path, cache_dir: str | Path | None, config_of: Callable[[dict, dict], object]
) -> list[dict]:
    """Check a bundle completely, then install its checkpoints and results into a cache.

    Parameters
    ----------
    path : path
        A bundle written by :func:`nnspaces.weights.export_bundle`.
    cache_dir : path or None
        The cache to install into (None: :func:`nnspaces.cache.root`); the checkpoints go to
        its ``models/`` folder, the results to their paths in it.
    config_of : callable
        ``config_of(entry, manifest)`` → the :class:`~nnspaces.train.TrainConfig` this library
        makes of a manifest entry's recorded configuration, whose ``key()`` must be the
        recorded one; raises :class:`BundleError` when it cannot
        (:func:`nnspaces.weights.import_bundle` rebuilds it; :mod:`nnspaces.fetch` compares
        it with the network it asked for).

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
    of a known format and only ``models/*.pt`` and result regular files, each listed there
    once; each file's SHA-256 and size must be the manifest's; each must load with
    ``torch.load(weights_only=True)``, carry the manifest's configuration, and that
    configuration — as ``config_of`` makes it, with this library's model definition hashes
    and checkpoint format — must give the file's name; its weights must match their recorded
    digest and have the model's tensor names and shapes. Each file is then installed
    atomically, under the lock :func:`~nnspaces.train.train_or_load` takes for its training
    run. A cached result must match its SHA-256 and size, load with
    ``torch.load(weights_only=True)`` as a stored key and value, and be named by its key's
    digest (as :func:`nnspaces.cache.memo` names it).
    """
    path = Path(path)
    folder = Path(cache_dir or cache.root()) / "models"
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
            pool.map(
                lambda e: _verify_entry(e, staged[e["file"]], manifest, config_of),
                manifest["files"],
            )
        )
        list(pool.map(lambda e: _verify_result(e, staged[e["file"]]), manifest["results"]))
        rows = [_install(entry, cfg, staged[entry["file"]], folder) for entry, cfg in checked]
        results = [
            _install_result(e, staged[e["file"]], folder.parent) for e in manifest["results"]
        ]
        return rows + results


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
    if name != MANIFEST and m is None and not RESULT.fullmatch(name):
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
            f"{FORMAT}: " + other_version(manifest)
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
        and RESULT.fullmatch(entry["file"]) is not None
    )


def other_version(manifest: dict) -> str:
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


def _verify_entry(entry: dict, staged: Path, manifest: dict, config_of) -> tuple[dict, object]:
    """Check one staged checkpoint against its manifest entry and this library; its config."""
    name = entry["file"]
    ckpt = _load_member(entry, staged)
    if not isinstance(ckpt, dict) or ckpt.get("config") != entry["config"]:
        raise BundleError(
            f"bundle member {name}: its checkpoint's configuration differs from the one its "
            "manifest records (the manifest was edited); export the bundle again"
        )
    cfg = config_of(entry, manifest)
    trouble = checkpoint_problem(ckpt, entry["config"], cfg.model)
    trouble = trouble or _entry_problem(entry, cfg, ckpt)
    if trouble:
        raise BundleError(f"bundle member {name}: {trouble}")
    return entry, cfg


def checkpoint_problem(ckpt, key: dict, model: str) -> str | None:
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


def _entry_problem(entry: dict, cfg, ckpt: dict) -> str | None:
    """What in the manifest entry disagrees with the checkpoint's configuration, or None."""
    if entry["file"] != (expected := cfg.filename()):
        return f"its name is not the one its configuration gives ({expected}): it was renamed"
    described = (entry["model"], entry["dataset"], entry["seed"], entry["weights"])
    if described != (cfg.model, cfg.dataset, cfg.seed, cfg.weights):
        return "the manifest's model, dataset, seed or weights differ from its configuration"
    if entry["state_digest"] != ckpt["digest"]:
        return "its state digest differs from the manifest's"
    return None


def _install(entry: dict, cfg, staged: Path, folder: Path) -> dict:
    """Move one checked checkpoint into ``folder`` atomically, under its training run's lock."""
    target = folder / entry["file"]
    final = dataclasses.replace(cfg, weights="final").filename()
    status = _copy_in(staged, target, entry["sha256"], (folder / final).with_suffix(".lock"))
    summary = {k: entry[k] for k in ("file", "model", "dataset", "seed", "weights")}
    return dict(summary, path=str(target), status=status)


def _verify_result(entry: dict, staged: Path) -> None:
    """Check one staged memoised result: bytes, a safe load, a stored key and value, and a
    name that is the key's digest."""
    name = entry["file"]
    obj = _load_member(entry, staged)
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(key, dict) or "value" not in obj:
        raise BundleError(f"bundle member {name} is not a cached result (a stored key and value)")
    if Path(name).stem != cache.key_digest(key):
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
        if target.is_file() and sha256_file(target) == sha256:
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


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()
