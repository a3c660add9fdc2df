"""Where a chapter's first paragraph ends, in MyST markdown: the banner goes there.

A paragraph, list item or fenced block (with what it nests: a ``{verdict}`` directive's
body, literal code) ends at the first blank line or heading outside its fences; a paragraph
that ends with a colon keeps the list it introduces.
"""

from __future__ import annotations

import re

_TARGET = re.compile(r"\s*\([^()\s]+\)=\s*$")  # a MyST label line, ``(sec-x)=``
_FENCE = re.compile(r"\s*(?:(?:[-*+]|\d+[.)])\s+)?(`{3,}|~{3,}|:{3,})(.*)$")  # a list item's too
_LIST_ITEM = re.compile(r"\s*([-*+]|\d+[.)])\s")


def is_title(source: str) -> bool:
    """Whether the first line of ``source`` (after any ``(label)=`` targets) is a ``# ``
    heading."""
    for line in source.splitlines():
        if line.strip() and not _TARGET.match(line):
            return line.startswith("# ")
    return False


def split_after_first_paragraph(source: str, heading: bool) -> tuple[str | None, str]:
    """A markdown cell's text up to the end of its first paragraph or fenced block (after
    its ``# `` heading when ``heading``), and the rest. A paragraph that ends with a colon
    keeps the list it introduces. ``(None, "")`` when there is no such paragraph: the text
    ends, or a heading or label comes first.

    >>> split_after_first_paragraph("# T\\n\\nThe finding.\\n\\nMore.\\n", heading=True)
    ('# T\\n\\nThe finding.\\n', 'More.\\n')
    """
    lines = source.splitlines(keepends=True)
    i = 0
    if heading:
        while i < len(lines) and not lines[i].startswith("# "):
            i += 1
        i += 1
    i = _next_text(lines, i)
    if i >= len(lines) or lines[i].startswith("#") or _TARGET.match(lines[i]):
        return None, ""
    end = _block_end(lines, i)
    if "".join(lines[i:end]).rstrip().endswith(":"):  # the list it introduces goes with it
        while (k := _next_text(lines, end)) < len(lines) and (
            _LIST_ITEM.match(lines[k]) or lines[k][:1] in (" ", "\t")
        ):
            end = _block_end(lines, k)
    return "".join(lines[:end]).rstrip() + "\n", "".join(lines[end:]).lstrip("\n")


def _next_text(lines: list[str], i: int) -> int:
    """The index of the first non-blank line from ``i`` on (``len(lines)`` if none)."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _block_end(lines: list[str], i: int) -> int:
    """The index just past the block (paragraph, list item or fenced block with what it
    nests) that starts at line ``i``: the first blank line or heading outside fences."""
    stack: list[tuple[str, bool]] = []  # open fences: (marker, literal code?)
    for j in range(i, len(lines)):
        line = lines[j]
        fence = _FENCE.match(line)
        if fence:
            marker, rest = fence.group(1), fence.group(2).strip()
            top = stack[-1] if stack else None
            if top and marker[0] == top[0][0] and len(marker) >= len(top[0]) and not rest:
                stack.pop()
            elif not (top and top[1]) and (marker[0] != ":" or rest.startswith("{")):
                # an opening fence (inside literal code nothing opens; ::: opens a directive)
                stack.append((marker, marker[0] != ":" and not rest.startswith("{")))
        elif not stack and (not line.strip() or (j > i and line.startswith("#"))):
            return j
    return len(lines)
