"""Merge one profile's entry of a freshly published registry into the repository's registry.

    python3 .github/scripts/merge_registry.py PROFILE NEW_REGISTRY REGISTRY

CI's ``weights`` job runs it on the latest ``main`` after ``python -m nnspaces weights
publish`` wrote NEW_REGISTRY in a build job. The other profiles' entries of REGISTRY are
kept (the paper and the default editions publish in different runs). It prints ``changed``
and rewrites REGISTRY when the profile's files hold other networks or results than the
entry there (what the files hold, not their digests or dates: a bundle of the same
networks written again is not a new publication); otherwise it prints ``unchanged`` and
writes nothing. Standard library only: it runs before any environment is installed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

_HOLDS = ("holds", "checkpoints", "results")  # what a published file holds


def contents(entry: dict | None) -> list[str]:
    """What the files of a profile's registry entry hold, one sorted JSON text per file."""
    files = (entry or {}).get("files", [])
    return sorted(json.dumps({k: f.get(k) for k in _HOLDS}, sort_keys=True) for f in files)


def merge(profile: str, new: dict, current: dict) -> dict | None:
    """``current`` with ``new``'s entry of ``profile``, or None when it holds the same."""
    entry = new.get("profiles", {}).get(profile)
    if entry is None:
        raise SystemExit(f"error: the new registry publishes no profile {profile!r}")
    if new.get("format") != current.get("format"):
        raise SystemExit(
            f"error: registry formats differ (new {new.get('format')!r}, current "
            f"{current.get('format')!r}): publish again with this checkout's nnspaces"
        )
    if contents(entry) == contents(current.get("profiles", {}).get(profile)):
        return None
    return {**current, "profiles": {**current.get("profiles", {}), profile: entry}}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    profile, new_path, path = argv[0], Path(argv[1]), Path(argv[2])
    merged = merge(profile, json.loads(new_path.read_text()), json.loads(path.read_text()))
    if merged is None:
        print("unchanged")
        return 0
    # the layout nnspaces.fetch.write_registry writes, replaced atomically
    text = json.dumps(merged, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print("changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
