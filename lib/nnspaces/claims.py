"""The book's conclusions read back from the executed chapters, for the reproducibility
appendix.

:func:`nnspaces.book.glue_verdict` records, in each chapter's outputs, whether a conclusion
holds on the run and why; the sentence itself is the markdown of its ``{verdict}`` block.
:func:`collect_claims` gathers both from every executed chapter (:func:`read_claims`,
:func:`verdict_sentences` with the chapter's glued values); :func:`claims_table` lays them out
as the appendix's table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from . import book
from .book import CLAIM_METADATA, fmt


def read_claims(notebook: str | Path) -> list[dict]:
    """The claims an executed notebook glued, in order, from its outputs' metadata.

    Parameters
    ----------
    notebook : path
        An executed ``.ipynb`` (a chapter of ``book/chapters``).

    Returns
    -------
    list of dict
        As in :data:`nnspaces.book.CLAIMS`; a key glued twice keeps its last record.
    """
    nb = json.loads(Path(notebook).read_text())
    found: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {})
            record = next(
                (
                    m[CLAIM_METADATA]
                    for m in meta.values()
                    if isinstance(m, dict) and CLAIM_METADATA in m
                ),
                None,
            )
            if "scrapbook" in meta and record is not None:
                found.pop(record["key"], None)
                found[record["key"]] = record
    return list(found.values())


def glued_values(notebook: str | Path) -> dict[str, str]:
    """The plain-text value of every key an executed notebook glued (its last gluing)."""
    from myst_nb.ext.glue import GLUE_PREFIX

    nb = json.loads(Path(notebook).read_text())
    values = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            text = out.get("data", {}).get(GLUE_PREFIX + "text/plain")
            if name and text is not None:
                values[name] = "".join(text) if isinstance(text, list) else text
    return values


_VERDICT = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+|\d+\.[ \t]+)?(?P<fence>:{3,}|`{3,})\{verdict\}[ \t]+"
    r"(?P<key>[A-Za-z][\w-]*)[ \t]*$",
    re.M,
)
_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`(?P<key>[^`:]+)(?::(?P<spec>[^`]*))?`")
_ROLE = re.compile(r"\{[\w:-]+\}`(?P<text>[^`<]*?)\s*(?:<(?P<label>[^`>]*)>)?`")
_TEX = {r"\|": "‖", r"\le": "≤", r"\ge": "≥", r"\ne": "≠", r"\times": "×", r"\kappa": "κ",
        r"\sigma": "σ", r"\approx": "≈", r"\,": " ", "{": "", "}": "", "\\": ""}  # fmt: skip


def _glued(values: dict, key: str, spec: str | None) -> str:
    value = values.get(key)
    if value is None:
        return key.replace("_", " ")
    try:
        number = int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    except ValueError:
        return value
    return fmt(number, spec or "")


def plain_sentence(markdown: str, values: dict | None = None, words: int = 24) -> str:
    r"""The first sentence of some MyST markdown as plain text: glue roles replaced by the
    glued values (formatted by their spec), other roles and links by their text, emphasis
    and code marks and ``$`` dropped; cut at ``words`` words.

    >>> plain_sentence("On average {glue:text}`share:.0%` of the *energy* is lost "
    ...                "(see {numref}`fig-a`). More follows.", {"share": "0.561"})
    'On average 56% of the energy is lost (see fig-a).'
    >>> plain_sentence(r"All [ten](x.ipynb) reach $\|x\| \le 1$:" + "\n the rest")
    'All ten reach ‖x‖ ≤ 1: the rest'
    """
    values = values or {}
    text = " ".join(line.strip() for line in markdown.strip().splitlines() if line.strip())
    text = _GLUE_ROLE.sub(lambda m: _glued(values, m["key"], m["spec"]), text)
    text = _ROLE.sub(lambda m: m["text"] or (m["label"] or ""), text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)

    def tex(m):
        s = m[1]
        for a, b in _TEX.items():
            s = s.replace(a, b)
        return s

    text = re.sub(r"\$([^$]*)\$", tex, text)
    text = re.sub(r"\*\*|__|(?<!\w)\*|\*(?!\w)|`", "", text)
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text, maxsplit=1)[0]
    cut = sentence.split()
    return " ".join(cut[:words]) + (" …" if len(cut) > words else "")


def verdict_sentences(notebook: str | Path, values: dict | None = None) -> dict[str, str]:
    """The first sentence of each key's first ``{verdict}`` block in a notebook's markdown,
    as plain text (:func:`plain_sentence`, glued values from ``values``)."""
    nb = json.loads(Path(notebook).read_text())
    found: dict[str, str] = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell["source"])
        for m in _VERDICT.finditer(source):
            if m["key"] in found:
                continue
            body = []
            for line in source[m.end() :].splitlines()[1:]:
                s = line.strip()
                if s.startswith(m["fence"]) or re.match(r"(:{3,}|`{3,})\{otherwise\}", s):
                    break
                if not s.startswith(":") or s.startswith(":::"):
                    body.append(line)
            found[m["key"]] = plain_sentence("\n".join(body), values)
    return found


def collect_claims(
    folder: str | Path | None,
    chapters: list[str],
    this_chapter: str | None = None,
    this_source: str | Path | None = None,
) -> pd.DataFrame:
    """Every conclusion of every executed chapter, for the reproducibility appendix.

    Each chapter's verdicts are read back from its executed notebook (``folder/<chapter>.ipynb``),
    so chapters run in separate kernels, two at a time or on an earlier run, all count;
    ``this_chapter`` (the notebook calling) contributes the verdicts of this kernel instead,
    its sentences read from ``this_source`` (its source notebook), without glued values.

    Parameters
    ----------
    folder : path or None
        Where the executed chapters are (the run log's folder); None: none are read.
    chapters : list of str
        Output stems in the order to list them; absent notebooks are skipped.
    this_chapter : str, optional
        The calling chapter's stem: its records are :data:`nnspaces.book.CLAIMS`.
    this_source : path, optional
        The calling chapter's notebook, for its sentences.

    Returns
    -------
    DataFrame
        Columns ``chapter, key, holds, reason, text``, one row per conclusion: ``text`` is
        the first sentence of its ``{verdict}`` block as plain text (the key in words when
        there is none), ``reason`` the numbers that decided it.
    """
    rows = []
    for chapter in chapters:
        if chapter == this_chapter:
            claims, source, values = book.CLAIMS, this_source, {}
        elif folder is not None and (Path(folder) / f"{chapter}.ipynb").is_file():
            source = Path(folder) / f"{chapter}.ipynb"
            claims, values = read_claims(source), glued_values(source)
        else:
            continue
        found = verdict_sentences(source, values) if source and Path(source).is_file() else {}
        for c in claims:
            text = found.get(c["key"])
            rows.append(
                {
                    "chapter": chapter,
                    "key": c["key"],
                    "holds": bool(c["holds"]),
                    "reason": c.get("reason", ""),
                    "text": text or c["key"].replace("_", " ").capitalize(),
                }
            )
    return pd.DataFrame(rows, columns=["chapter", "key", "holds", "reason", "text"])


def claims_table(claims: pd.DataFrame, titles: dict, label) -> pd.DataFrame:
    """The appendix's table of conclusions (from :func:`collect_claims`) for
    :func:`glue_table` with ``links={"chapter": "chapter_href", "conclusion": "href"}``: the
    chapter's title on the first row of its group, the sentence linked to its block, whether
    it holds on this run (✓ yes, ✗ no) and the reason.

    Parameters
    ----------
    claims : DataFrame
        From :func:`collect_claims`.
    titles : dict
        Chapter stem → title.
    label : callable
        ``label(page, key)``, the HTML id of a verdict block (``nnspaces.sphinxext.label``).

    Examples
    --------
    >>> df = pd.DataFrame([{"chapter": "02_x", "key": "k", "holds": False, "reason": "r",
    ...                     "text": "All."}, {"chapter": "02_x", "key": "j", "holds": True,
    ...                     "reason": "s", "text": "Some."}])
    >>> t = claims_table(df, {"02_x": "Figure 1"}, lambda page, key: f"v-{key}")
    >>> t.values.tolist()[0]
    ['Figure 1', '02_x.html', 'All.', '02_x.html#v-k', '✗ no', 'r']
    >>> t["chapter"].tolist()
    ['Figure 1', '']
    """
    first = ~claims["chapter"].duplicated()
    return pd.DataFrame(
        {
            "chapter": [titles.get(c, c) if f else "" for c, f in zip(claims["chapter"], first)],
            "chapter_href": [f"{c}.html" if f else "" for c, f in zip(claims["chapter"], first)],
            "conclusion": claims["text"],
            "href": [f"{c}.html#{label(c, k)}" for c, k in zip(claims["chapter"], claims["key"])],
            "holds": ["✓ yes" if h else "✗ no" for h in claims["holds"]],
            "reason": claims["reason"].replace("", "—"),
        }
    )
