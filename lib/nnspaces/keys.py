"""What a cached result is keyed by: its inputs' bits and the code that computes it.

- :func:`key_digest` — the file-name hash of a key.
- :func:`state_digest` — the SHA-256 of a network's weights (or any dict of tensors).
- :func:`source_digest` — the SHA-256 of the source files that compute a result.
- :func:`key_of` — a value made JSON-able for a key (a Tensor or a network by its bits).

:mod:`nnspaces.cache` re-exports them (``cache.state_digest``…).
"""

from __future__ import annotations

import hashlib
import json
import types
from collections.abc import Mapping
from pathlib import Path

import torch


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


def _source_files(source) -> list[Path]:
    """The ``.py`` files of a module, a package or a folder (all of them, recursively), or a
    file."""
    if isinstance(source, types.ModuleType):
        if source.__file__ is None:
            raise ValueError(f"module {source.__name__} has no source file to digest")
        path = Path(source.__file__)
        path = path.parent if path.name == "__init__.py" else path
    else:
        path = Path(source)
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def source_digest(*sources) -> str:
    """SHA-256 over the source files that compute a result, read from disk now.

    Parameters
    ----------
    *sources : module, package, folder or file
        A package or folder stands for every ``.py`` file under it.

    Returns
    -------
    str
        64 hex digits over each file's name and bytes; a change to any file changes it.
    """
    h = hashlib.sha256()
    files = sorted({f.resolve() for s in sources for f in _source_files(s)})
    for f in files:
        h.update(f"{f.name}|{f.stat().st_size}|".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def key_of(value):
    """``value`` made JSON-able for a cache key: what it is, never a lossy summary.

    - a Tensor → the :func:`state_digest` of it (dtype, shape, bits);
    - a ``torch.nn.Module`` → its class, the :func:`state_digest` of its weights and buffers,
      its mode (``training``) and its device type;
    - a ``torch.dtype`` → its name; a mapping → its items (keys as strings); a list or
      tuple → a list; ``None``, bool, int, float, str → themselves.

    Raises
    ------
    TypeError
        For anything else (a key must not silently ignore an input).

    Examples
    --------
    >>> key_of({"dtype": torch.float32, "box": (0, 1)})
    {'dtype': 'torch.float32', 'box': [0, 1]}
    """
    if isinstance(value, torch.Tensor):
        return {"tensor": state_digest({"t": value})}
    if isinstance(value, torch.nn.Module):
        device = next(iter(value.state_dict().values()), torch.empty(0)).device.type
        return {
            "module": type(value).__qualname__,
            "state": state_digest(value.state_dict()),
            "training": value.training,
            "device": device,
        }
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): key_of(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [key_of(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"cannot key a cached result on a {type(value).__name__}: pass tensors, modules, "
        "dtypes, numbers, strings or containers of them"
    )
