"""The published tree's notebooks start with the Colab bootstrap cell and are otherwise the
executed chapters, unchanged."""

from __future__ import annotations

import nbformat
import pytest

from nnspaces import publish, reproduce


@pytest.mark.slow
def test_published_notebooks_open_with_the_bootstrap_cell(smoke_book, tmp_path):
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    repo = publish.repository()
    expected = publish.bootstrap_cell_source(repo.url, repo.branch)
    for c in reproduce.chapters():
        built = nbformat.read(smoke_book / "book" / "chapters" / f"{c.output}.ipynb", 4)
        shown = nbformat.read(tree / "book" / "chapters" / f"{c.output}.ipynb", 4)
        first = shown.cells[0]
        assert first.cell_type == "code" and first.source == expected
        assert "remove-cell" in first.metadata["tags"]  # for Colab, never on a page
        assert [x.source for x in shown.cells[1:]] == [x.source for x in built.cells]
