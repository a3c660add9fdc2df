"""nnspaces.layout: a notebook finds the book's files from any layout it is opened in, and says
so in a note, with a link to its published page, where it runs without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnspaces import layout

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path):
    """A book's folder as a clone or the published tree lays it out."""
    book = tmp_path / "book-clone"
    for sub in ("notebooks", "book/chapters", "benchmarks/results"):
        (book / sub).mkdir(parents=True)
    (book / "_config.yml").write_text("repository: {url: 'https://github.com/Own/rep'}\n")
    (book / "_toc.yml").write_text("root: index\n")
    (book / "benchmarks/results/latest.json").write_text("{}")
    return book


@pytest.fixture
def shown(monkeypatch):
    """The Markdown notes the functions display, recorded."""
    notes = []
    monkeypatch.setattr(layout, "_show_markdown", notes.append)
    return notes


@pytest.mark.parametrize("where", ["notebooks", "book/chapters", "."])
def test_a_book_file_is_the_same_from_every_layout(tree, monkeypatch, shown, where):
    monkeypatch.chdir(tree / where)
    assert layout.book_root() == tree.resolve()
    found = layout.book_file("benchmarks/results/latest.json", "the results", "92_performance")
    assert found == tree.resolve() / "benchmarks/results/latest.json"
    absolute = layout.book_file(found, "the results", "92_performance")  # as it is
    assert absolute == found and shown == []


def test_a_notebook_alone_says_where_the_file_is_and_stops_without_a_traceback(
    tmp_path, monkeypatch, shown
):
    monkeypatch.chdir(tmp_path)  # Colab: /content, no book around
    monkeypatch.setenv(layout.BOOK_URL, "https://own.github.io/rep/")
    assert layout.book_root() is None
    with pytest.raises(layout.NotHere) as e:
        layout.book_file("benchmarks/results/latest.json", "the benchmark results", "92_x")
    (note,) = shown
    assert note.startswith("**Not here:** this appendix summarises the benchmark results")
    assert "(`benchmarks/results/latest.json`)" in note
    assert "[The published page](https://own.github.io/rep/book/chapters/92_x.html)" in note
    assert str(e.value) == note  # what a build that lacked it would report
    assert e.value._render_traceback_() == []  # IPython shows no traceback after the note


def test_the_run_log_is_read_beside_the_notebook_or_a_note_says_it_is_not(tree, monkeypatch, shown):
    chapters = tree / "book" / "chapters"
    monkeypatch.chdir(chapters)  # Jupyter runs a notebook in its folder
    monkeypatch.delenv(layout.BOOK_URL, raising=False)
    assert layout.run_log("_run.json", "91_r") is None
    (note,) = shown
    assert "summarises the build's run (`_run.json`)" in note
    assert "[The published page](https://own.github.io/rep/book/chapters/91_r.html)" in note
    (chapters / "_run.json").write_text(json.dumps({"seconds": {}}))
    assert layout.run_log("_run.json", "91_r") == Path("_run.json") and len(shown) == 1


def test_without_a_known_address_the_note_names_the_published_book(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(layout.BOOK_URL, raising=False)
    assert layout.page_url("91_r") is None
    assert "The published book shows it" in layout.absent_note("x", "a.json", "91_r")


def test_the_launch_ref_is_the_builds_tag_when_a_clean_commit_made_it():
    assert layout.launch_ref("published", "0123abc") == "published-0123abc"
    for commit in ("0123abc-dirty", None, ""):
        assert layout.launch_ref("published", commit) == "published"


def test_the_checkouts_page_address_follows_its_repository(monkeypatch):
    from nnspaces import publish

    owner, name = publish.repository().owner_name  # _config.yml's repository.url
    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.delenv(layout.BOOK_URL, raising=False)
    expected = f"https://{owner.lower()}.github.io/{name}/book/chapters/92_performance.html"
    assert layout.page_url("92_performance") == expected


def test_in_a_kernel_the_note_is_markdown_and_no_traceback_follows(tmp_path):
    """The real display path: IPython renders the note as Markdown, then no traceback."""
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_cell('from nnspaces import layout\\n"
        'layout.book_file("benchmarks/results/latest.json", "the results", "92_x")\')\n'
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "<IPython.core.display.Markdown object>" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr and "NotHere" not in out.stdout
