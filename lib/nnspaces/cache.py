"""The on-disk cache every computation shares: where it is, how files enter it, how they leave.

Trained networks, network outputs, training curves, initial condition numbers and parsed
data sets all live under :func:`root` (``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``), so the
book build and a notebook opened in JupyterLab read the same files.

- :func:`root` — the cache folder.
- :func:`atomic_write` — the one way a file is written: a temporary file beside it, renamed
  over it once complete, so a reader never sees half a file.
- :func:`save` and :func:`load` — ``torch.save`` through :func:`atomic_write`; ``torch.load``
  with ``weights_only=True`` that reports a bad file with a warning and returns None.
- :func:`save_value` and :func:`load_value` — a value stored under the key that made it.
- :func:`key_digest` — the file-name hash of a key; :func:`state_digest` — the SHA-256 of a
  network's weights (or any dict of tensors).
- :func:`lock` — one process at a time (:mod:`filelock`, so no ``fcntl`` is needed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import filelock
import torch


def root() -> Path:
    """``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``: shared by the book build and JupyterLab."""
    return Path(os.environ.get("NNSPACES_CACHE", Path.home() / ".cache" / "nnspaces"))


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``path`` through a temporary file in its folder, renamed over it when complete.

    Parameters
    ----------
    path : path
        The file to (re)place; its folder is created when missing.
    write : callable
        Receives the temporary file, open for binary writing, and writes the contents.

    Returns
    -------
    path : Path

    Notes
    -----
    ``os.replace`` is atomic on one file system: a process killed mid-write leaves the old
    file (or none), never a truncated one; the temporary file is removed on any error. The
    file is made readable by all (``0o644``), like any file of a shared cache.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "sub" / "x.txt"
    >>> atomic_write(p, lambda f: f.write(b"done")).read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared like any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(obj, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def load(
    path: str | Path,
    problem: Callable[[object], str | None],
    what: str,
    redo: str,
    stacklevel: int = 1,
):
    """``torch.load(path, weights_only=True)``, or None with a warning when the file is bad.

    Parameters
    ----------
    path : path
    problem : callable
        Returns what is wrong with the loaded object (a clause such as ``"it was made under
        another configuration"``), or None when it is good.
    what : str
        Names the file in the warning, e.g. ``"cached checkpoint"``.
    redo : str
        What the caller does instead, e.g. ``"retraining"``.
    stacklevel : int
        As :func:`warnings.warn`'s, counted from the caller of this function.

    Returns
    -------
    The loaded object, or None when the file is absent, cannot be read or has a problem.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        trouble = problem(obj)
    except Exception as e:  # truncated zip, flipped bytes in the archive, unpickling refusal
        trouble = f"it cannot be read ({type(e).__name__}: {str(e)[:120]})"
    if trouble:
        warnings.warn(f"ignoring {what} {path}: {trouble}; {redo}", stacklevel=stacklevel + 1)
        return None
    return obj


def save_value(path: str | Path, key: dict, value) -> Path:
    """Store ``value`` at ``path`` together with the ``key`` that made it (atomically)."""
    return save({"key": key, "value": value}, path)


def load_value(
    path: str | Path, key: dict, check=None, what: str = "cached result", stacklevel: int = 1
):
    """The value :func:`save_value` stored at ``path`` under ``key``.

    Returns None (with a warning naming ``what``) when the file cannot be read, was made
    under another key, or its value fails ``check(value)``; None without a warning when
    there is no file.
    """

    def problem(obj):
        if not isinstance(obj, dict) or obj.get("key") != key:
            return "it was made under another configuration"
        if check is not None and not check(obj.get("value")):
            return "its contents are not what it should hold"
        return None

    obj = load(path, problem, what, "recomputing", stacklevel=stacklevel + 1)
    return None if obj is None else obj["value"]


def key_digest(key: dict) -> str:
    """The first 16 hex digits of the SHA-256 of ``key`` as sorted JSON: a cache file's name.

    >>> key_digest({"b": 1, "a": [2, 3]}) == key_digest({"a": [2, 3], "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def state_digest(state_dict: dict) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes (in name order).

    Parameters
    ----------
    state_dict : dict
        Name → Tensor, e.g. ``model.state_dict()``; tensors on any device.

    Returns
    -------
    str
        64 hex digits; equal for equal names, dtypes, shapes and bits.
    """
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def lock(path: str | Path) -> Iterator[None]:
    """Hold the inter-process lock ``path`` for the ``with`` block; wait while another holds it.

    Uses :class:`filelock.FileLock`: ``flock`` on the file where the platform has ``fcntl``
    (the file stays; the lock goes with its holder, even a killed one), Windows' own file
    locking on Windows, and elsewhere a lock file that exists while the lock is held.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(path):
        yield
