"""What an executed chapter depends on, so that a rebuild re-executes only what changed.

A chapter's fingerprint is a dict of digests, one per thing it depends on: its source
notebook, its title and parameters under the profile, the ``nnspaces`` sources, the
versions of the packages that compute, the data sets it reads, the checkpoints it loads,
and any file a parameter names (the benchmark results). It is stored beside the executed
copy as ``<output>.fingerprint.json``; when the stored one equals the current one the
executed copy is kept. A chapter that reads the run log (the reproducibility appendix) also
depends on every other chapter's fingerprint.

- :func:`chapter` — the fingerprint of one chapter now.
- :func:`changes` — the parts of two fingerprints that differ (the reason for a re-run).
- :func:`read` / :func:`write` — the stored copy (atomic; an unreadable file means "run").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import metadata
from pathlib import Path

from . import cache, profiles
from . import data as _data
from .networks import checkpoint_path

#: Packages whose version changes the numbers or the pages.
PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "mlxtend", "myst-nb")

_PACKAGE_DIR = Path(__file__).resolve().parent


def file_digest(path: Path) -> str:
    """SHA-256 (16 hex digits) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def file_stat(path: Path) -> str:
    """Size and modification time of a file (cheap; the checkpoints are tens of MB)."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def library_digest() -> str:
    """SHA-256 over the package's own sources (``*.py``, ``*.yml``), names and bytes."""
    h = hashlib.sha256()
    for p in sorted(_PACKAGE_DIR.rglob("*")):
        if p.suffix in (".py", ".yml") and "__pycache__" not in p.parts:
            h.update(p.relative_to(_PACKAGE_DIR).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """The installed version of each of :data:`PACKAGES` (``"absent"`` when not installed)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def chapter(
    c: profiles.Chapter,
    profile_name: str,
    params: dict,
    notebooks: Path,
    shared: dict | None = None,
) -> dict:
    """The fingerprint of chapter ``c`` as it would run now.

    Parameters
    ----------
    c : profiles.Chapter
    profile_name : str
    params : dict
        What papermill passes (:func:`nnspaces.profiles.notebook_parameters`); the
        chapter's recipe (:func:`nnspaces.profiles.recipe`) counts too.
    notebooks : Path
        The folder of the source notebooks.
    shared : dict, optional
        Parts every chapter shares, computed once per run (``library``, ``packages``):
        :func:`shared_parts`.

    Returns
    -------
    dict
        ``notebook``, ``title``, ``parameters``, ``library``, ``packages``, ``data``,
        ``checkpoints``, ``files`` — each a string or a dict of strings.
    """
    shared = shared if shared is not None else shared_parts()
    datasets = profiles.needed_datasets(profile_name, [c])
    recipe = profiles.recipe(c, profile_name) if "chapter" in params else {}
    ckpts = {}
    for cfg in profiles.chapter_configs(c, profile_name):
        for w in ("final", "best"):
            p = checkpoint_path(dataclasses.replace(cfg, weights=w))
            ckpts[p.name] = file_stat(p) if p.is_file() else "missing"
    files = {
        k: file_digest(Path(v))
        for k, v in params.items()
        if k != "run_log" and isinstance(v, str) and _is_file(notebooks / v)
    }
    return {
        "notebook": file_digest(notebooks / f"{c.notebook}.ipynb"),
        "title": c.title or "",
        "profile": profile_name,
        "parameters": json.dumps(
            {k: v for k, v in {**recipe, **params}.items() if k != "run_log"}, sort_keys=True
        ),
        "library": shared["library"],
        "packages": shared["packages"],
        "data": {name: _data.fingerprint(name, root) for name, root in datasets.items()},
        "checkpoints": ckpts,
        "files": files,
    }


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a parameter that is text, not a path
        return False


def shared_parts() -> dict:
    """The parts of a fingerprint every chapter shares: ``library`` and ``packages``."""
    return {"library": library_digest(), "packages": package_versions()}


def changes(old: dict | None, new: dict) -> list[str]:
    """The parts of ``new`` that differ from ``old`` (all of them when ``old`` is None)."""
    if old is None:
        return ["no executed copy"]
    return [k for k in new if old.get(k) != new[k]]


def path_for(chapters_dir: Path, output: str) -> Path:
    """Where a chapter's fingerprint is stored: beside its executed copy."""
    return Path(chapters_dir) / f"{output}.fingerprint.json"


def read(chapters_dir: Path, output: str) -> dict | None:
    """The stored fingerprint, or None when absent or unreadable (the chapter then runs)."""
    p = path_for(chapters_dir, output)
    try:
        obj = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def write(chapters_dir: Path, output: str, fp: dict) -> None:
    """Store a chapter's fingerprint (atomically) once its executed copy is in place."""
    body = json.dumps(fp, indent=1, sort_keys=True).encode()
    cache.atomic_write(path_for(chapters_dir, output), lambda f: f.write(body))


def digest(obj) -> str:
    """SHA-256 (16 hex digits) of a JSON-able object: the book build's fingerprint."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
