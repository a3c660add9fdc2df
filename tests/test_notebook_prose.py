"""The book's prose is written in markdown cells, not assembled from Python strings, and the
source notebooks' own tags decide what a page shows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: Words of prose that may stay in string literals of all source notebooks together
#: (issue 21: about 2 400 before the prose moved to markdown).
MAX_PROSE_WORDS = 300
#: Tags by which a code cell's source leaves the page.
CODE_HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}


def prose_words(source: str) -> int:
    """Words of prose in the string literals of Python code: every literal (an f-string
    counted as one) whose text holds at least four words counts all of them; names, labels
    and format specs (fewer words) do not.

    >>> prose_words('x = f"The signal space has {n} dimensions."; y = "ok"')
    5
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return 0
    inside_fstrings = {
        id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
    }
    total = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        elif isinstance(node, ast.Constant) and id(node) not in inside_fstrings:
            parts = [node.value]
        else:
            continue
        words = re.findall(
            r"[A-Za-z][A-Za-z'’-]*", " ".join(p for p in parts if isinstance(p, str))
        )
        total += len(words) if len(words) >= 4 else 0
    return total


def notebook_prose_words(path: Path) -> int:
    """Prose words in the string literals of one source notebook's code cells."""
    return sum(prose_words(c.source) for c in _code_cells(path))


def _code_cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_prose_lives_in_markdown_not_in_python_strings():
    counts = {p.stem: notebook_prose_words(p) for p in NOTEBOOKS}
    assert sum(counts.values()) <= MAX_PROSE_WORDS, counts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_claim_is_assembled_in_python(path):
    sources = [c.source for c in _code_cells(path)]
    assert not [s for s in sources if "book.claim(" in s], "write it as a {verdict} block"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_source_notebook_tags_decide_what_shows(path):
    untagged = []
    for i, cell in enumerate(_code_cells(path)):
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags and "remove-cell" not in tags:
            untagged.append((i, "parameters cell without remove-cell"))
        elif not tags & CODE_HIDDEN:
            untagged.append((i, cell.source.splitlines()[0] if cell.source else ""))
    assert not untagged, f"code cells whose tags do not say what the page shows: {untagged}"
