"""The published tree's notebooks start with the Colab bootstrap cell and are otherwise the
executed chapters, unchanged; they carry no path of the build machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from nnspaces import pages, publish, reproduce

ROOT = Path(__file__).resolve().parents[1]


def test_an_executed_notebook_names_no_path_of_the_build_machine(tmp_path):
    """papermill injects and records the build machine's paths; the executed notebook keeps
    the run log's name, which opened from ``book/chapters`` (where the run log lies) names the
    same file, and the notebooks' paths from the book's folder."""
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell(
        'profile = "smoke"\nrun_log = "/home/builder/book/book/chapters/_run.json"\n'
    )
    injected.metadata.tags = ["injected-parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Appendix\n\nFinding."), injected]
    nb.metadata.papermill = {  # what papermill records of the run
        "input_path": "/home/builder/book/notebooks/91_reproducibility.ipynb",
        "output_path": "/home/builder/book/book/.staging/91_reproducibility.ipynb",
        "parameters": {"profile": "smoke", "run_log": "/home/builder/book/book/chapters/_run.json"},
        "version": "2.7.0",
    }
    path = tmp_path / "91_reproducibility.ipynb"
    nbformat.write(nb, path)
    info = dict(
        output="91_reproducibility",
        notebook="91_reproducibility",
        profile="smoke",
        parameters={"profile": "smoke", "run_log": "/home/builder/book/book/chapters/_run.json"},
        seconds=1.0,
        commit="abc1234",
        date="2026-12-07T10:00:00+00:00",
        version="0.1.0",
        repository="https://github.com/o/r",
        branch="published",
    )
    pages.decorate(path, info)
    text = path.read_text()
    assert "/home/builder" not in text
    (cell,) = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    assert cell.source == 'profile = "smoke"\nrun_log = "_run.json"\n'
    assert "remove-cell" in cell.metadata.tags
    record = nbformat.read(path, 4).metadata.papermill  # from the book's folder
    assert record["input_path"] == "notebooks/91_reproducibility.ipynb"
    assert record["output_path"] == "book/chapters/91_reproducibility.ipynb"
    assert record["parameters"] == {"profile": "smoke", "run_log": "_run.json"}
    pages.decorate(path, info)  # again: unchanged
    assert path.read_text() == text


@pytest.mark.slow
def test_published_notebooks_open_with_the_bootstrap_cell(smoke_book, tmp_path):
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    repo = publish.repository()
    expected = publish.bootstrap_cell_source(repo.url, publish.build_ref(smoke_book))
    for c in reproduce.chapters():
        built = nbformat.read(smoke_book / "book" / "chapters" / f"{c.output}.ipynb", 4)
        shown = nbformat.read(tree / "book" / "chapters" / f"{c.output}.ipynb", 4)
        first = shown.cells[0]
        assert first.cell_type == "code" and first.source == expected
        assert "remove-cell" in first.metadata["tags"]  # for Colab, never on a page
        assert [x.source for x in shown.cells[1:]] == [x.source for x in built.cells]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["91_reproducibility", "92_performance"])
def test_the_appendices_carry_no_path_of_the_build_machine(smoke_book, chapter):
    text = (smoke_book / "book" / "chapters" / f"{chapter}.ipynb").read_text()
    for path in {str(smoke_book), str(ROOT), os.path.expanduser("~")}:
        assert path not in text and json.dumps(path)[1:-1] not in text, f"{chapter}: {path}"
