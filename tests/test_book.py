"""Glue helpers and claims: the markdown a claim renders to, its record, and how the
reproducibility appendix reads every chapter's claims back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from nnspaces import book


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


def _markdown(output) -> str:
    """The markdown a glue output carries (under myst-nb's hidden-glue prefix)."""
    from myst_nb.ext.glue import GLUE_PREFIX

    return output.data[GLUE_PREFIX + "text/markdown"]


def _notebook(path: Path, outputs) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = list(outputs)
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), cell]
    nbformat.write(nb, path)
    return path


def test_a_claim_that_holds_glues_its_sentence(glued):
    assert book.claim("all_reach", True, "All **ten** reach it.", "Only 7 do.") is True
    (out,) = glued
    assert out.metadata["scrapbook"]["name"] == "all_reach"
    assert _markdown(out) == "All **ten** reach it."
    assert book.CLAIMS == [
        {
            "key": "all_reach",
            "holds": True,
            "text": "All **ten** reach it.",
            "otherwise": "Only 7 do.",
            "inline": False,
        }
    ]


def test_a_claim_that_fails_glues_a_warning_box_with_what_the_run_shows(glued):
    assert book.claim("all_reach", np.float64(3.0) > 7, "All reach it.", "Only **7** do.") is False
    md = _markdown(glued[0])
    assert md.startswith("````{admonition} Not on this run\n:class: warning claim-failed")
    assert "claim-all-reach" in md and "Only **7** do." in md and "All reach it." not in md
    assert md.rstrip().endswith("````")
    assert book.CLAIMS[0]["holds"] is False


def test_an_inline_claim_that_fails_shows_a_badge_not_a_box(glued):
    book.claim("faster", torch.tensor(False), "faster", "slower (2.1 ×)", inline=True)
    md = _markdown(glued[0])
    assert md == "{bdg-warning}`Not on this run` slower (2.1 ×)"
    assert book.CLAIMS[0]["inline"] is True


def test_a_claim_made_again_replaces_the_earlier_record(glued):
    book.claim("k", False, "a", "b")
    book.claim("other", True, "c", "d")
    book.claim("k", True, "a", "b")
    assert [(c["key"], c["holds"]) for c in book.CLAIMS] == [("other", True), ("k", True)]


@pytest.mark.parametrize(
    "key, holds, text, otherwise, match",
    [
        ("1bad", True, "a", "b", "claim key"),
        ("has space", True, "a", "b", "claim key"),
        ("k", None, "a", "b", "truth value"),
        ("k", "yes", "a", "b", "truth value"),
        ("k", np.array([True, False]), "a", "b", "single truth value"),
        ("k", True, "", "b", "text must be"),
        ("k", True, "a", "  ", "otherwise must be"),
    ],
)
def test_bad_claims_are_refused_with_the_reason(glued, key, holds, text, otherwise, match):
    with pytest.raises(ValueError, match=match):
        book.claim(key, holds, text, otherwise)
    assert not glued and not book.CLAIMS


def test_claims_are_read_back_from_executed_notebooks_in_chapter_order(glued, tmp_path):
    book.claim("a1", True, "A one.", "not A one")
    book.claim("a2", False, "A two.", "not A two")
    _notebook(tmp_path / "02_a.ipynb", glued)
    glued.clear()
    book.claim("b1", False, "B one.", "not B one")
    _notebook(tmp_path / "05_b.ipynb", glued)
    assert [c["key"] for c in book.read_claims(tmp_path / "02_a.ipynb")] == ["a1", "a2"]
    book.CLAIMS[:] = [{"key": "own", "holds": True, "text": "t", "otherwise": "o", "inline": False}]
    df = book.collect_claims(tmp_path, ["05_b", "absent", "02_a", "91_me"], this_chapter="91_me")
    assert list(df["chapter"]) == ["05_b", "02_a", "02_a", "91_me"]
    assert list(df["key"]) == ["b1", "a1", "a2", "own"]
    assert list(df["holds"]) == [False, True, False, True]
    assert book.collect_claims(None, ["02_a"]).empty


def test_outputs_that_are_not_claims_are_ignored(glued, tmp_path):
    book.glue_text("word", "hello")
    book.glue_values(x=1.5)
    book.claim("c", True, "C.", "not C")
    assert [c["key"] for c in book.read_claims(_notebook(tmp_path / "x.ipynb", glued))] == ["c"]


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
    df = book.collect_claims(tmp_path, ["02_a"])
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
    table = book.claims_table(df, {"02_a": "Figure 1"}, lambda page, key: f"verdict-{key}")
    html = book.table_html(table, links={"chapter": "chapter_href", "conclusion": "href"})
    assert '<a href="02_a.html">Figure 1</a>' in html and "chapter_href" not in html
    assert '<a href="02_a.html#verdict-no_block">No block</a>' in html
    assert html.count("<tr>") == 4 and '<td class="text">✗ no</td>' in html and "✓ yes" in html


@pytest.mark.slow
def test_both_states_render_in_a_real_jupyter_book_build(glued, tmp_path):
    """A two-page book: claims that hold and fail, block and inline, and the appendix table,
    built by Jupyter Book with warnings as errors."""
    book.claim("good_one", True, "All **ten** classes reach it ($\\sigma_1 = 3.2$).", "no")
    book.claim("bad_one", False, "Every layer keeps it.", "Layer `fc` discards **42 %**.")
    book.claim("inl_bad", False, "faster", "slower by 3.2 ×", inline=True)
    claims = book.claims_table(
        book.collect_claims(None, ["a"], "a"), {"a": "Page A"}, lambda page, key: key
    )
    book.glue_table("table", claims, links={"chapter": "chapter_href", "conclusion": "href"})
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = glued
    prose = (
        "```{glue:md} good_one\n:format: myst\n```\n\n```{glue:md} bad_one\n:format: myst"
        "\n```\n\nThe method is {glue:md}`inl_bad:myst` than the other.\n\n"
        "```{glue:} table\n```\n"
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Page A"),
        cell,
        nbformat.v4.new_markdown_cell(prose),
    ]
    nbformat.write(nb, tmp_path / "a.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: a\n")
    (tmp_path / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "parse:\n  myst_enable_extensions: [dollarmath, colon_fence]\n"
    )
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "a.html").read_text()
    assert "All <strong>ten</strong> classes reach it" in html and "\\(\\sigma_1 = 3.2\\)" in html
    assert 'class="warning claim-failed claim-bad-one admonition"' in html
    assert 'admonition-title">Not on this run</p>' in html
    assert "Layer <code" in html and "Every layer keeps it" in html  # the latter in the table
    assert "sd-badge" in html and "Not on this run</span> slower by 3.2 × than" in html
    assert html.count("✗ no</td>") == 2 and html.count("✓ yes</td>") == 1
    assert "{glue" not in html and "````" not in html and ":class:" not in html
