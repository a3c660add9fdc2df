"""The on-disk cache every computation shares: where it is, how files enter it, how they leave.

Trained networks, derived results (:func:`memo`: network outputs, training curves, initial
condition numbers, layer tables, refinements…) and parsed data sets all live under :func:`root` (``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``), so the
book build and a notebook opened in JupyterLab read the same files.

- :func:`root` — the cache folder.
- :func:`atomic_write` — the one way a file is written: a temporary file beside it, renamed
  over it once complete, so a reader never sees half a file.
- :func:`save` and :func:`load` — ``torch.save`` through :func:`atomic_write`; ``torch.load``
  with ``weights_only=True`` that reports a bad file with a warning and returns None.
- :func:`key_digest`, :func:`state_digest`, :func:`key_of`, :func:`source_digest` — the keys
  (:mod:`nnspaces.keys`).
- :func:`lock` — one process at a time (:mod:`filelock`, so no ``fcntl`` is needed).
- :func:`memo` — a deterministic computation's result, kept under ``results/`` and keyed by
  its inputs (weights, tensors, parameters: :func:`key_of`) and by the code that computes it
  (:func:`source_digest`); computed with :data:`MEMO_THREADS` threads (:func:`fixed_threads`)
  whatever the caller's count, so a result one machine computed is the one another reads;
  ``NNSPACES_RECOMPUTE=1`` (:data:`RECOMPUTE`) recomputes and overwrites every memoised
  result; :func:`dataclass_state` — a result object as the plain dict :func:`memo` stores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TypeVar

import filelock
import torch

from .keys import key_digest as key_digest
from .keys import key_of as key_of
from .keys import source_digest as source_digest
from .keys import state_digest as state_digest


def root() -> Path:
    """``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``: shared by the book build and JupyterLab."""
    return Path(os.environ.get("NNSPACES_CACHE", Path.home() / ".cache" / "nnspaces"))


#: Environment variable naming a file to which every memoised result (:func:`memo`) read or
#: computed in the shared cache appends one JSON line (``result``: its path relative to
#: :func:`root`). The reproduce pipeline sets it per chapter and records what each chapter
#: used: a weights bundle of the profile carries those files too.
RESULT_LOG = "NNSPACES_RESULT_LOG"


def record_result(path: Path) -> None:
    """Record the use of the result file ``path``, when it lies in the shared cache and
    ``$NNSPACES_RESULT_LOG`` names a log."""
    log = os.environ.get(RESULT_LOG)
    try:
        rel = Path(path).resolve().relative_to(root().resolve())
    except ValueError:  # a private cache folder (a test, a deliberate recomputation)
        return
    if log:
        with open(log, "a") as f:  # one short line per call: appends do not interleave
            f.write(json.dumps({"result": rel.as_posix()}) + "\n")


def results_index(profile: str) -> Path:
    """``root()/results/index-<profile>.json``: the results (:data:`RESULT_LOG` entries) the
    reproduce pipeline's chapters used under ``profile``, which a weights bundle carries."""
    return root() / "results" / f"index-{profile}.json"


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


#: Environment variable: set to anything but ``""`` or ``"0"``, every :func:`memo` recomputes
#: its result (and stores it again) instead of reading it (``make book FORCE=1`` sets it).
RECOMPUTE = "NNSPACES_RECOMPUTE"
#: Threads every memoised computation runs with (sums, products and SVDs round otherwise with
#: another count): fixed, not keyed, so any build finds a result any other computed.
MEMO_THREADS = 1
#: Version of :func:`memo`'s key: bump it when what a key means changes (2: threads fixed).
MEMO_FORMAT = 2

_T = TypeVar("_T")


def recompute() -> bool:
    """Whether ``$NNSPACES_RECOMPUTE`` asks :func:`memo` to recompute (set, and not ``"0"``)."""
    return os.environ.get(RECOMPUTE, "") not in ("", "0")


@contextlib.contextmanager
def fixed_threads(n: int = MEMO_THREADS) -> Iterator[None]:
    """The ``with`` block with ``n`` (≥ 1) threads in torch (:func:`torch.set_num_threads`)
    and in every BLAS and OpenMP library loaded, numpy's and scipy's included
    (:func:`threadpoolctl.threadpool_limits`); the counts are restored after. A computation
    then rounds the same whatever its caller's count (on one machine and software).

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with fixed_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    import threadpoolctl

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"fixed_threads: n must be a positive int, got {n!r}")
    before = torch.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=n):
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def memo(
    name: str,
    key: Mapping,
    compute: Callable[[], _T],
    *,
    sources: Iterable = (),
    encode: Callable[[_T], object] | None = None,
    decode: Callable[[object], _T] | None = None,
) -> _T:
    """``compute()``, or the result it returned before for the same inputs and code.

    Parameters
    ----------
    name : str
        The kind of result; its files live in ``root()/results/<name>/``.
    key : mapping
        Every input of the computation: weights, tensors and parameters (made JSON-able by
        :func:`key_of`, so a Tensor or a network stands for its bits).
    compute : callable
        Computes the result; it must be deterministic in ``key`` and ``sources``.
    sources : modules, packages or paths
        The code that computes the result (:func:`source_digest`): editing any recomputes.
    encode, decode : callable, optional
        To a value ``torch.load(weights_only=True)`` reads back exactly (tensors, numbers,
        strings, lists, tuples, dicts) and back; default: the result is stored as it is.

    Returns
    -------
    The result: bit-identical whether computed or read back.

    Notes
    -----
    The full key adds the digest of ``sources``, the torch version (reductions may round
    differently with another) and :data:`MEMO_FORMAT`. ``compute`` runs under
    :func:`fixed_threads`, so the caller's thread count changes neither the result nor the
    key (a bundle from 2-thread kernels serves 1-thread ones). The file is ``<key_digest>.pt`` and holds
    the full key, which is compared on reading; it is written atomically while a lock is
    held, so a second process asking for the same result waits for the first and then reads
    it. A file that cannot be read, holds another key or does not decode gives a warning and
    is recomputed. With ``$NNSPACES_RECOMPUTE`` set (:func:`recompute`) the result is
    computed and stored again without reading.
    """
    full = {
        "name": name,
        "key": key_of(key),
        "sources": source_digest(*sources),
        "torch": str(torch.__version__),  # a TorchVersion does not load with weights_only
        "memo": MEMO_FORMAT,
    }
    path = root() / "results" / name / f"{key_digest(full)}.pt"
    with lock(path.with_name(path.name + ".lock")):
        if not recompute():
            found = _read(path, full, decode, f"memoised {name}")
            if found:
                record_result(path)
                return found[0]
        with fixed_threads():
            value = compute()
        save({"key": full, "value": encode(value) if encode is not None else value}, path)
    record_result(path)
    return value


def _read(path: Path, full: dict, decode, what: str) -> tuple | None:
    """``(value,)`` as :func:`memo` stored it at ``path`` under ``full``, decoded; None (with a
    warning naming ``what``, at :func:`memo`'s caller) when the file is absent, cannot be read,
    holds another key or does not decode."""

    def problem(obj):
        if not isinstance(obj, dict) or obj.get("key") != full or "value" not in obj:
            return "it was made under another configuration"
        return None

    obj = load(path, problem, what, "recomputing", stacklevel=3)
    if obj is None:
        return None
    try:
        return (decode(obj["value"]) if decode is not None else obj["value"],)
    except Exception as e:
        warnings.warn(
            f"ignoring {what} {path}: it does not decode ({type(e).__name__}: {str(e)[:120]}); "
            "recomputing",
            stacklevel=3,
        )
        return None


def dataclass_state(obj) -> dict:
    """A dataclass instance as a dict of its fields (shallow): ``type(obj)(**state)`` rebuilds
    it. With fields that are tensors, numbers, strings and containers of them, this is what
    :func:`memo` can store exactly (``encode``).

    >>> from dataclasses import make_dataclass
    >>> P = make_dataclass("P", ["x", "y"])
    >>> dataclass_state(P(1.5, [2]))
    {'x': 1.5, 'y': [2]}
    """
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
