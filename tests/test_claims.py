"""nnspaces.claims: how the reproducibility appendix reads every chapter's verdicts back
(glued by nnspaces.book.glue_verdict), with their sentences and reasons."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nnspaces import book, claims


@pytest.fixture
def glued(monkeypatch):
    """Run claims as in a kernel: each glue output is captured as a notebook output."""
    import myst_nb.ext.glue as g

    outputs = []

    def display(bundle, raw, metadata):
        assert raw
        outputs.append(nbformat.v4.new_output("display_data", data=bundle, metadata=metadata))

    monkeypatch.setattr(g, "ipy_display", display)
    monkeypatch.setattr(book, "CLAIMS", [])
    return outputs


def _notebook(path: Path, outputs) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = list(outputs)
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), cell]
    nbformat.write(nb, path)
    return path


def test_verdicts_are_read_back_from_executed_notebooks_in_chapter_order(glued, tmp_path):
    from nnspaces.verdicts import Verdict

    book.glue_verdict("a1", Verdict(True, "one"))
    book.glue_verdict("a2", Verdict(False, "two"))
    book.glue_text("word", "hello")  # not a verdict: ignored
    book.glue_values(x=1.5)
    _notebook(tmp_path / "02_a.ipynb", glued)
    glued.clear()
    book.glue_verdict("b1", Verdict(False, "three"))
    _notebook(tmp_path / "05_b.ipynb", glued)
    assert [c["key"] for c in claims.read_claims(tmp_path / "02_a.ipynb")] == ["a1", "a2"]
    book.CLAIMS[:] = [{"key": "own", "holds": True, "reason": "r", "kind": "verdict"}]
    df = claims.collect_claims(tmp_path, ["05_b", "absent", "02_a", "91_me"], this_chapter="91_me")
    assert list(df["chapter"]) == ["05_b", "02_a", "02_a", "91_me"]
    assert list(df["key"]) == ["b1", "a1", "a2", "own"]
    assert list(df["holds"]) == [False, True, False, True]
    assert list(df["reason"]) == ["three", "one", "two", "r"]
    assert claims.collect_claims(None, ["02_a"]).empty


def test_verdicts_are_collected_with_their_sentence_and_reason(glued, tmp_path):
    from nnspaces.verdicts import Verdict

    book.glue_values(share=0.5612)
    book.glue_verdict("most_invisible", Verdict(True, "56 % in the null space; threshold 50 %"))
    book.glue_verdict("no_block", Verdict(False, "3 of 5"))
    book.glue_verdict("in_list", Verdict(True, "r"))
    path = _notebook(tmp_path / "02_a.ipynb", glued)
    nb = nbformat.read(path, 4)
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            "Intro.\n\n::::{verdict} most_invisible\n:class: x\nOn average "
            "{glue:text}`share:.0%` of the **energy** lies in the null space\n"
            "({numref}`fig-a`). Most is invisible.\n\n:::{otherwise}\nOnly a little.\n:::\n::::"
            "\n\n- ::::{verdict} in_list\n  **In a list:** it [holds](x.ipynb).\n\n"
            "  :::{otherwise}\n  No.\n  :::\n  ::::"
        )
    )
    nbformat.write(nb, path)
    df = claims.collect_claims(tmp_path, ["02_a"])
    assert df.to_dict("records") == [
        {
            "chapter": "02_a",
            "key": "most_invisible",
            "holds": True,
            "reason": "56 % in the null space; threshold 50 %",
            "text": "On average 56% of the energy lies in the null space (fig-a).",
        },
        {
            "chapter": "02_a",
            "key": "no_block",
            "holds": False,
            "reason": "3 of 5",
            "text": "No block",
        },
        {
            "chapter": "02_a",
            "key": "in_list",
            "holds": True,
            "reason": "r",
            "text": "In a list: it holds.",
        },
    ]
    table = claims.claims_table(df, {"02_a": "Figure 1"}, lambda page, key: f"verdict-{key}")
    html = book.table_html(table, links={"chapter": "chapter_href", "conclusion": "href"})
    assert '<a href="02_a.html">Figure 1</a>' in html and "chapter_href" not in html
    assert '<a href="02_a.html#verdict-no_block">No block</a>' in html
    assert html.count("<tr>") == 4 and '<td class="text">✗ no</td>' in html and "✓ yes" in html
