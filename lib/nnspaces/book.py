"""Small helpers the chapter notebooks use to put computed results into the prose.

They wrap ``myst_nb.glue`` so that a glued figure is not also shown where it was made,
and a glued sentence renders without Python's quotes. :func:`claim` glues a conclusion
together with the verdict the run computed for it: the page states it only when it holds,
and says so visibly when it does not; :func:`collect_claims` gathers every chapter's claims
for the reproducibility appendix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd


class Text(str):
    """A string whose ``repr`` is itself, so ``{glue:text}`` shows it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure under ``name`` and close it (it is shown by ``{glue:figure}``)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def glue_text(name: str, text: str) -> None:
    """Glue a sentence or word for ``{glue:text}`name``` (rendered without quotes)."""
    from myst_nb import glue

    glue(name, Text(text), display=False)


def glue_values(prefix: str = "", **values) -> None:
    """Glue several numbers at once: ``glue_values("acc_", fcnn1=0.9)`` → key ``acc_fcnn1``.

    NumPy and torch scalars are glued as plain Python numbers, so that a format spec in
    ``{glue:text}`key:.2f``` can parse them.
    """
    from myst_nb import glue

    for key, value in values.items():
        if hasattr(value, "item"):  # numpy / torch scalars: glue the plain Python number
            value = value.item()
        glue(f"{prefix}{key}", value, display=False)


def glue_table(name: str, df) -> None:
    """Glue a DataFrame for a ``{glue:} name`` directive (rendered as an HTML table, no index)."""
    from IPython.display import HTML
    from myst_nb import glue

    glue(name, HTML(df.to_html(index=False, float_format=lambda v: f"{v:.4g}")), display=False)


def glue_markdown(name: str, markdown: str) -> None:
    """Glue MyST markdown (a list, a table, a paragraph with roles) for a ``{glue:md}``
    directive with ``:format: myst``."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(markdown), display=False)


def listing(items, code: bool = False) -> str:
    """Items in a sentence: ``a``, ``a and b``, ``a, b and c`` (each in backticks when
    ``code``); ``none`` when empty.

    >>> listing(["fc", "layer2.0.conv1"], code=True)
    '`fc` and `layer2.0.conv1`'
    >>> listing([1, 2, 3])
    '1, 2 and 3'
    """
    words = [f"`{i}`" if code else str(i) for i in items]
    if not words:
        return "none"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


#: The heading of the box that replaces a conclusion this run does not support.
NOT_ON_THIS_RUN = "Not on this run"

#: Where a claim's glue output keeps its record (the output metadata of its markdown).
CLAIM_METADATA = "nnspaces_claim"

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

#: Every claim made in this kernel, in order: dicts with ``key``, ``holds``, ``text``,
#: ``otherwise`` and ``inline`` (what the reproducibility appendix lists). A claim made again
#: under the same key (a cell run twice) replaces the earlier one.
CLAIMS: list[dict] = []


class _Claim:
    """A glued claim: its markdown, with the claim's record in the output metadata."""

    def __init__(self, markdown: str, record: dict):
        self.markdown, self.record = markdown, record

    def _repr_markdown_(self):
        return self.markdown, {CLAIM_METADATA: self.record}

    def __repr__(self) -> str:
        return self.markdown


def claim_class(key: str) -> str:
    """The CSS class of a failed claim's box in the HTML: ``claim-<key>`` as docutils spells
    class names (lower case, ``_`` → ``-``).

    >>> claim_class("fc_first_Most")
    'claim-fc-first-most'
    """
    from docutils.nodes import make_id

    return make_id(f"claim-{key}")


def claim_markdown(key: str, holds: bool, text: str, otherwise: str, inline: bool = False) -> str:
    """The MyST markdown a claim renders to: ``text`` when it holds; otherwise ``otherwise``
    in a warning box headed :data:`NOT_ON_THIS_RUN` (a warning badge before it when
    ``inline``, since a box cannot sit inside a sentence).

    >>> claim_markdown("k", True, "All *ten* reach it.", "Only 7 do.")
    'All *ten* reach it.'
    >>> print(claim_markdown("k", False, "All ten reach it.", "Only 7 do."))
    ````{admonition} Not on this run
    :class: warning claim-failed claim-k
    Only 7 do.
    ````
    >>> claim_markdown("k", False, "All ten reach it.", "only 7 do", inline=True)
    '{bdg-warning}`Not on this run` only 7 do'
    """
    if holds:
        return text
    if inline:
        return f"{{bdg-warning}}`{NOT_ON_THIS_RUN}` {otherwise}"
    # a backtick fence of four: the body may hold ``` fences or :::, never ````
    return (
        f"````{{admonition}} {NOT_ON_THIS_RUN}\n:class: warning claim-failed {claim_class(key)}"
        f"\n{otherwise}\n````"
    )


def claim(key: str, holds: bool, text: str, otherwise: str, *, inline: bool = False) -> bool:
    """Glue a conclusion that the run itself checks, for a ``{glue:md}`` directive.

    The page shows ``text`` when ``holds`` and, when it does not, a warning box headed
    "Not on this run" holding ``otherwise``: a sentence of the prose can never state a
    conclusion its own run contradicts. The record (key, holds, text, otherwise) is kept in
    :data:`CLAIMS` and in the glue output's metadata, from which the reproducibility appendix
    collects every chapter's claims (:func:`collect_claims`).

    Parameters
    ----------
    key : str
        The glue key (a letter, then letters, digits, ``_`` or ``-``). Show the claim with
        a block directive (its own paragraph)::

            ```{glue:md} key
            :format: myst
            ```

        or, with ``inline=True``, inside a sentence: ``{glue:md}`key:myst```.
    holds : bool
        The condition, evaluated on this run's numbers (a Python, NumPy or torch bool).
    text : str
        The sentence (MyST markdown) shown when ``holds``; put the run's numbers in with an
        f-string.
    otherwise : str
        What this run shows instead (MyST markdown): the numbers that break the sentence.
    inline : bool
        Render for the inline role: a warning badge instead of a box.

    Returns
    -------
    holds : bool

    Raises
    ------
    ValueError
        A malformed key, an empty ``text`` or ``otherwise``, or a ``holds`` that is not a
        single truth value (None, a string, an array of several).
    """
    from myst_nb import glue

    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            f"claim key {key!r}: use a letter, then letters, digits, '_' or '-' (it is a glue "
            "key and a CSS class)"
        )
    for name, value in (("text", text), ("otherwise", otherwise)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"claim {key!r}: {name} must be a non-empty markdown string")
    if holds is None or isinstance(holds, str):
        raise ValueError(f"claim {key!r}: holds must be a truth value, got {holds!r}")
    try:
        holds = bool(holds)
    except (ValueError, RuntimeError) as e:  # arrays and tensors of several values
        raise ValueError(f"claim {key!r}: holds must be a single truth value ({e})") from None
    record = {
        "key": key,
        "holds": holds,
        "text": text,
        "otherwise": otherwise,
        "inline": bool(inline),
    }
    CLAIMS[:] = [c for c in CLAIMS if c["key"] != key]
    CLAIMS.append(record)
    glue(key, _Claim(claim_markdown(key, holds, text, otherwise, inline), record), display=False)
    return holds


def read_claims(notebook: str | Path) -> list[dict]:
    """The claims an executed notebook glued, in order, from its outputs' metadata.

    Parameters
    ----------
    notebook : path
        An executed ``.ipynb`` (a chapter of ``book/chapters``).

    Returns
    -------
    list of dict
        As in :data:`CLAIMS`; a key glued twice keeps its last record.
    """
    nb = json.loads(Path(notebook).read_text())
    found: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {})
            record = meta.get("text/markdown", {}).get(CLAIM_METADATA)
            if "scrapbook" in meta and record is not None:
                found.pop(record["key"], None)
                found[record["key"]] = record
    return list(found.values())


def collect_claims(
    folder: str | Path | None, chapters: list[str], this_chapter: str | None = None
) -> pd.DataFrame:
    """Every claim of every executed chapter, for the reproducibility appendix.

    Each chapter's claims are read back from its executed notebook (``folder/<chapter>.ipynb``),
    so chapters run in separate kernels, two at a time or on an earlier run, all count;
    ``this_chapter`` (the notebook calling) contributes the claims of this kernel instead.

    Parameters
    ----------
    folder : path or None
        Where the executed chapters are (the run log's folder); None: none are read.
    chapters : list of str
        Output stems in the order to list them; absent notebooks are skipped.
    this_chapter : str, optional
        The calling chapter's stem: its claims are :data:`CLAIMS`.

    Returns
    -------
    DataFrame
        Columns ``chapter, key, holds, text, otherwise, inline``, one row per claim.
    """
    rows = []
    for chapter in chapters:
        if chapter == this_chapter:
            claims = CLAIMS
        elif folder is not None and (Path(folder) / f"{chapter}.ipynb").is_file():
            claims = read_claims(Path(folder) / f"{chapter}.ipynb")
        else:
            continue
        rows += [{"chapter": chapter, **c} for c in claims]
    columns = ["chapter", "key", "holds", "text", "otherwise", "inline"]
    return pd.DataFrame(rows, columns=columns)


def _cell(markdown: str) -> str:
    """Markdown as the body of a list-table cell: later lines indented under the ``- ``."""
    return "\n    ".join(line.rstrip() for line in markdown.strip().splitlines())


def claims_markdown(claims: pd.DataFrame) -> str:
    """A MyST list-table of claims (from :func:`collect_claims`) for ``{glue:md}``: chapter
    (linked), key, whether it holds on this run, the book's sentence, and what the page
    shows instead when it does not.

    >>> import pandas as pd
    >>> df = pd.DataFrame([{"chapter": "02_x", "key": "k", "holds": False, "text": "All.",
    ...                     "otherwise": "Not all.", "inline": False}])
    >>> print(claims_markdown(df))  # doctest: +NORMALIZE_WHITESPACE
    ```{list-table}
    :header-rows: 1
    :widths: 2 2 1 4 4
    * - chapter
      - claim
      - on this run
      - the book's sentence
      - what the page shows instead
    * - {doc}`02_x`
      - `k`
      - ✗ not on this run
      - All.
      - Not all.
    ```
    """
    if claims.empty:
        return "No chapter made a claim on this run."
    lines = [
        "```{list-table}",
        ":header-rows: 1",
        ":widths: 2 2 1 4 4",
        "* - chapter",
        "  - claim",
        "  - on this run",
        "  - the book's sentence",
        "  - what the page shows instead",
    ]
    for r in claims.itertuples():
        lines += [
            f"* - {{doc}}`{r.chapter}`",
            f"  - `{r.key}`",
            f"  - {'✓ holds' if r.holds else '✗ not on this run'}",
            f"  - {_cell(r.text)}",
            f"  - {'—' if r.holds else _cell(r.otherwise)}",
        ]
    return "\n".join([*lines, "```"])
