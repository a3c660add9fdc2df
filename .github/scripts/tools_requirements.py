"""Print requirements.txt less the packages pyproject.toml lists as nnspaces's dependencies.

    python3 .github/scripts/tools_requirements.py > tools.txt

CI's ``lowest`` job resolves pyproject.toml with ``uv pip compile --resolution lowest-direct``
together with this list: the library's dependencies at their lower bounds, the tools that
the unit tests use (pytest, hypothesis, jupyter-book, ruff …) at the book's pins.
Standard library only.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tool_pins(pyproject: Path, requirements: Path) -> list[str]:
    """The pins of ``requirements`` whose package ``pyproject`` does not depend on."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    library = {_norm(_NAME.match(d).group()) for d in deps}
    pins = []
    for line in requirements.read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec and _norm(_NAME.match(spec).group()) not in library:
            pins.append(spec)
    return pins


if __name__ == "__main__":
    print("\n".join(tool_pins(ROOT / "pyproject.toml", ROOT / "requirements.txt")))
    sys.exit(0)
