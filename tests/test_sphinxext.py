"""Conclusions in markdown: ``{verdict}`` and ``{when}`` blocks rendered by a real Jupyter Book
build, chosen by the booleans a notebook glued with ``book.glue_verdict`` / ``glue_flag``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnspaces import book, sphinxext
from nnspaces.verdicts import Verdict


@pytest.fixture
def glued(monkeypatch):
    """Glue calls captured as the outputs of one notebook cell, as in a kernel."""
    import myst_nb.ext.glue as g

    outputs = []

    def display(bundle, raw, metadata):
        outputs.append(nbformat.v4.new_output("display_data", data=bundle, metadata=metadata))

    monkeypatch.setattr(g, "ipy_display", display)
    monkeypatch.setattr(book, "CLAIMS", [])
    return outputs


def _build(tmp_path: Path, outputs, prose: str) -> subprocess.CompletedProcess:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = list(outputs)
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Page A"),
        cell,
        nbformat.v4.new_markdown_cell(prose),
    ]
    nbformat.write(nb, tmp_path / "a.ipynb")
    (tmp_path / "b.md").write_text("# Page B\n\n(sec-b)=\n## Section B\n\nText.\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: a\nchapters:\n  - file: b\n")
    (tmp_path / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  extra_extensions: [nnspaces.sphinxext]\n  config:\n    numfig: true\n"
        "parse:\n  myst_enable_extensions: [dollarmath, colon_fence]\n"
    )
    jb = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run(
        [str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )


PROSE = """\
::::{verdict} paper_match
:neutral:
Matches the paper.

:::{otherwise}
Differs from the paper by {glue:text}`share:.0%`.
:::
::::

::::{verdict} most
On average {glue:text}`share:.0%` lies in the null space (see {ref}`sec-b`).

:::{otherwise}
Only {glue:text}`share:.0%` lies there.
:::
::::

::::{verdict} high
At least **90 %** lies there.

:::{otherwise}
Only {glue:text}`share:.2f`, below 0.9, on this run.
:::
::::

- A summary item.
- ::::{verdict} most
  Restated: {glue:text}`share:.1%`.

  :::{otherwise}
  Not restated.
  :::
  ::::

:::{when} on_mnist
Same-fence MNIST wording.

:::{otherwise}
Same-fence Fashion wording.
:::

::::{when} on_mnist
MNIST wording.

```{glue:} made_only_on_mnist
```

:::{otherwise}
Fashion-MNIST wording.
:::
::::

:::::{when} on_mnist
- ::::{verdict} most
  In a list under a flag.

  :::{otherwise}
  Nested alternative.
  :::
  ::::
:::::
"""


@pytest.mark.slow
def test_each_block_shows_the_body_its_glued_verdict_chooses(glued, tmp_path):
    book.glue_values(share=0.56)
    book.glue_verdict("most", Verdict(0.56 > 0.5, "56 %; threshold 50 %"))
    book.glue_verdict("high", Verdict(0.56 > 0.9, "56 %; threshold 90 %"))
    book.glue_flag("on_mnist", False)
    book.glue_verdict("paper_match", Verdict(False, "56 % against 50 %"))
    proc = _build(tmp_path, glued, PROSE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "a.html").read_text()
    # holds: the body with its glued number and a working cross-reference, no alternative
    assert "On average <span" in html and "56%" in html and "Only 56% lies there" not in html
    assert 'href="b.html#sec-b"' in html
    # fails: the alternative in the warning box, the sentence gone
    assert "At least <strong>90 %</strong>" not in html
    assert 'admonition-title">Not on this run</p>' in html and "Only <span" in html
    assert html.count("claim-failed") == 1
    # a restatement inside a list item; only the first block of a key is labelled
    assert "Restated: " in html and "56.0%" in html and "Not restated" not in html
    assert html.count(f'id="{sphinxext.label("a", "most")}"') == 1
    # {when}: the alternative as plain prose, no warning, and the branch not shown is not
    # parsed (its figure was not glued on this run, and the build has no warning for it)
    assert "Fashion-MNIST wording." in html and "MNIST wording." not in html.replace(
        "Fashion-MNIST wording.", ""
    )
    # an {otherwise} fenced like its {when} (closed by the parent's fence) still shows
    assert "Same-fence Fashion wording." in html and "Same-fence MNIST" not in html
    # a {when} that holds a list of verdicts, flag false: nothing of it shows
    assert "In a list under a flag" not in html and "Nested alternative" not in html
    assert "{verdict}" not in html and "{otherwise}" not in html and ":::" not in html
    # a neutral verdict that fails: its other finding as plain prose, labelled, no warning
    assert "Differs from the paper by" in html and "Matches the paper." not in html
    assert "verdict-fails verdict-neutral" in html
    assert html.count(f'id="{sphinxext.label("a", "paper_match")}"') == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "glue_it, message",
    [
        (lambda: None, "No key 'most' found in glue data"),
        (lambda: book.glue_values(most=3), "not a truth value"),
    ],
)
def test_a_verdict_without_a_glued_boolean_fails_the_build(glued, tmp_path, glue_it, message):
    book.glue_values(share=0.5)
    book.glue_verdict("high", Verdict(False, "x"))
    book.glue_verdict("paper_match", Verdict(True, "x"))
    book.glue_flag("on_mnist", True)
    glue_it()
    proc = _build(tmp_path, glued, PROSE)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_glued_table_is_numbered_as_a_table_not_a_figure(glued, tmp_path):
    import pandas as pd

    book.glue_table("tbl_x", pd.DataFrame({"digit": [0, 1], "error": [1e-15, 2e-3]}))
    book.glue_figure("fig_y", _small_figure())
    prose = (
        "```{glue:figure} fig_y\n:name: fig-y\n\nA figure.\n```\n\n"
        "```{glued-table} tbl_x\n:name: tbl-x\n\n**Errors.** Per digit.\n```\n\n"
        "See {numref}`tbl-x` and {numref}`fig-y`.\n"
    )
    proc = _build(tmp_path, glued, prose)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "a.html").read_text()
    # the table has its own counter: Table 1 beside Fig. 1, in the caption and the reference
    assert '<span class="caption-number">Table 1 </span>' in html
    assert '<span class="caption-number">Fig. 1 </span>' in html
    assert "Table 1</span></a> and" in html and "Fig. 2" not in html
    assert "<table" in html and "Per digit." in html


def _small_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("Title", fontsize=12)
    ax.tick_params(labelsize=12)
    return fig


def test_glue_verdict_records_the_reason_and_shows_nothing(glued):
    from myst_nb.ext.glue import GLUE_PREFIX

    assert book.glue_verdict("k", Verdict(True, "3 of 3")) is None
    (out,) = glued
    assert out.data[GLUE_PREFIX + "text/plain"] == "True"
    assert out.metadata["text/plain"][book.CLAIM_METADATA] == {
        "key": "k",
        "holds": True,
        "reason": "3 of 3",
        "kind": "verdict",
    }
    assert book.CLAIMS == [out.metadata["text/plain"][book.CLAIM_METADATA]]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: book.glue_verdict("k", True), TypeError),
        (lambda: book.glue_verdict("1k", Verdict(True, "r")), ValueError),
        (lambda: book.glue_flag("k", 1), ValueError),
        (lambda: Verdict(None, "r"), ValueError),
        (lambda: Verdict(np.array([True, False]), "r"), ValueError),
        (lambda: Verdict(True, " "), ValueError),
    ],
)
def test_bad_verdicts_are_refused(glued, call, error):
    with pytest.raises(error):
        call()
    assert glued == []
