"""The registry of published networks: ``registry.json``, installed with the package.

Per profile: a base URL (a GitHub release's ``…/releases/download/<tag>/``), the ``tag``, the
versions that made the files, when they were published, and per file its ``name``,
``sha256``, ``size`` and what it ``holds`` (a network id, with the cache file names of its
``checkpoints``; or ``"results"``). :func:`nnspaces.weights.publish` writes an entry (CI runs
it and commits the file); :mod:`nnspaces.fetch` reads it. With no profiles, nothing is
fetched: everything trains.

``NNSPACES_REGISTRY`` names another registry file (a test's, a benchmark's);
``NNSPACES_WEIGHTS_URL`` replaces every profile's base URL (a mirror, a loopback server).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from . import cache

#: The registry file of the package (``NNSPACES_REGISTRY`` names another).
REGISTRY = Path(__file__).with_name("registry.json")
REGISTRY_ENV = "NNSPACES_REGISTRY"
#: Replaces every profile's base URL when set.
URL_ENV = "NNSPACES_WEIGHTS_URL"
#: Version of the registry's layout.
REGISTRY_FORMAT = 1
#: A published file's name, and a SHA-256 as the registry writes it.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(?:tar|tar\.gz|tgz)")
HEX = re.compile(r"[0-9a-f]{64}")
_FILE_FIELDS = {"name": str, "sha256": str, "size": int, "holds": str}


class RegistryError(ValueError):
    """The registry file is unreadable or malformed; the message names it and the fix."""


def registry_path() -> Path:
    """``$NNSPACES_REGISTRY`` or the package's ``registry.json``."""
    return Path(os.environ.get(REGISTRY_ENV) or REGISTRY)


def empty_registry() -> dict:
    """A registry that publishes nothing (what the package ships until CI fills it)."""
    return {"format": REGISTRY_FORMAT, "profiles": {}}


def read_registry(path: str | Path | None = None) -> dict:
    """The registry (default :func:`registry_path`), checked; an empty one when the file is
    absent.

    Returns
    -------
    dict
        ``format`` and ``profiles``: profile → ``url`` (base URL, ending in ``/``), ``tag``,
        ``nnspaces``, ``torch``, ``published`` (UTC, ISO 8601) and ``files``: one dict per
        file with ``name``, ``sha256``, ``size`` (bytes), ``holds`` (a network id or
        ``"results"``) and, for a network, ``checkpoints`` (the cache file names it holds).

    Raises
    ------
    RegistryError
        The file is not JSON or not a registry of this format.
    """
    path = Path(path) if path is not None else registry_path()
    try:
        reg = json.loads(path.read_text())
    except FileNotFoundError:
        return empty_registry()
    except (OSError, ValueError) as e:
        raise RegistryError(
            f"registry {path} cannot be read ({type(e).__name__}: {e}): restore it from the "
            "repository (`git checkout lib/nnspaces/registry.json`)"
        ) from e
    if problem := _registry_problem(reg):
        raise RegistryError(
            f"registry {path}: {problem}; restore it from the repository or publish again "
            "(`python -m nnspaces weights publish`)"
        )
    return reg


def write_registry(reg: dict, path: str | Path | None = None) -> Path:
    """Write ``reg`` (checked as :func:`read_registry` checks it) atomically; its path."""
    if problem := _registry_problem(reg):
        raise RegistryError(f"not writing a malformed registry: {problem}")
    text = json.dumps(reg, indent=1, sort_keys=True) + "\n"
    return cache.atomic_write(
        Path(path) if path is not None else registry_path(), lambda f: f.write(text.encode())
    )


def _registry_problem(reg) -> str | None:
    """What is wrong with a registry's layout (a clause), or None."""
    if not isinstance(reg, dict) or reg.get("format") != REGISTRY_FORMAT:
        return f"not a registry of format {REGISTRY_FORMAT}"
    profiles = reg.get("profiles")
    if not isinstance(profiles, dict):
        return "its profiles are not a mapping"
    for name, prof in profiles.items():
        if not isinstance(prof, dict) or not isinstance(prof.get("url"), str):
            return f"profile {name!r} has no base URL"
        if not prof["url"].startswith(("http://", "https://")) or not prof["url"].endswith("/"):
            return f"profile {name!r}: base URL {prof['url']!r} is not http(s)://…/"
        files = prof.get("files")
        if not isinstance(files, list):
            return f"profile {name!r} has no list of files"
        for f in files:
            if not isinstance(f, dict) or any(
                not isinstance(f.get(k), t) for k, t in _FILE_FIELDS.items()
            ):
                return f"profile {name!r}: a file lacks one of {sorted(_FILE_FIELDS)}"
            if not NAME.fullmatch(f["name"]) or not HEX.fullmatch(f["sha256"]):
                return f"profile {name!r}: file {f['name']!r} has a bad name or SHA-256"
            if f["holds"] != "results" and not isinstance(f.get("checkpoints"), list):
                return f"profile {name!r}: network file {f['name']!r} lists no checkpoints"
    return None


def _base_url(prof: dict) -> str:
    """The profile's base URL, or ``$NNSPACES_WEIGHTS_URL`` (a ``/`` added) when set."""
    override = os.environ.get(URL_ENV)
    return override.rstrip("/") + "/" if override else prof["url"]


def locate(checkpoint: str, reg: dict | None = None) -> tuple[str, dict] | None:
    """The URL and registry entry of the published file holding the cache file ``checkpoint``
    (a :meth:`~nnspaces.train.TrainConfig.filename`), or None when no profile publishes it."""
    reg = read_registry() if reg is None else reg
    for prof in reg["profiles"].values():
        for f in prof["files"]:
            if checkpoint in f.get("checkpoints", ()):
                return _base_url(prof) + f["name"], f
    return None


def locate_url(url: str, reg: dict | None = None) -> dict | None:
    """The registry entry of the published file at ``url``, or None."""
    reg = read_registry() if reg is None else reg
    for prof in reg["profiles"].values():
        for f in prof["files"]:
            if _base_url(prof) + f["name"] == url:
                return f
    return None


def results_file(profile: str, reg: dict) -> tuple[str, dict] | None:
    """The URL and registry entry of ``profile``'s published results, or None."""
    prof = reg["profiles"].get(profile)
    for f in prof["files"] if prof else []:
        if f["holds"] == "results":
            return _base_url(prof) + f["name"], f
    return None
