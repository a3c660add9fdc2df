"""Conclusions written in markdown, shown or replaced by a verdict the run computed.

A chapter writes each run-dependent conclusion as MyST markdown (glued numbers,
cross-references and all) inside a ``{verdict}`` directive, with what the run shows instead
in an ``{otherwise}`` block::

    ::::{verdict} most_invisible
    On average {glue:text}`null_share:.0%` of a test image's energy lies in the null
    space: most of an image is invisible to this classifier.

    :::{otherwise}
    Only {glue:text}`null_share:.0%` of a test image's energy lies in the null space.
    :::
    ::::

The key names a boolean the chapter glued with :func:`nnspaces.book.glue_verdict` (the
condition itself is a tested function of :mod:`nnspaces.verdicts`). When it holds, the page
shows the first body; when it does not, the ``{otherwise}`` body inside a warning box headed
"Not on this run". ``{when}`` is the same choice without the warning: the page shows the
first body or the ``{otherwise}`` body (if any) as plain prose (a Fashion-MNIST page that
has no paper number to compare with, say, or figures of a network this profile does not
run); only the body shown is parsed. Its key is glued with :func:`nnspaces.book.glue_flag`.

A ``{verdict}`` with the ``:neutral:`` option is a comparison whose two outcomes are both
findings ("matches the paper" / "differs from the paper"): the ``{otherwise}`` body shows as
plain prose, without the warning, and the block keeps its label and its place in the
reproducibility appendix.

Why a directive: the prose stays in markdown, where it can hold links and glued numbers and
be read in review, while the choice of body is made by the run; both bodies sit side by
side in the source notebook, and JupyterLab shows both as plain text. The first block of a
key gets the label ``verdict-<page>-<key>`` (a Summary may restate it under the same key),
so the reproducibility appendix can link to it.

``{glued-table} key`` pastes a table glued with :func:`nnspaces.book.glue_table` under a
caption, like ``{glue:figure}``, but numbered as a table ("Book table N", referenced with
``{numref}``): a table is not a figure.

Registered in ``_config.yml`` (``sphinx.extra_extensions``).
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives

#: The heading of the box that replaces a conclusion this run does not support.
NOT_ON_THIS_RUN = "Not on this run"


class otherwise_node(nodes.Element):
    """The ``{otherwise}`` body: consumed by its ``{verdict}`` or ``{when}``, never written."""


class _Otherwise(Directive):
    """``{otherwise}``: the body shown when the enclosing verdict does not hold."""

    has_content = True

    def run(self):
        node = otherwise_node()
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def label(docname: str, key: str) -> str:
    """The label of a verdict block: ``verdict-<page stem>-<key>`` in docutils' id spelling.

    >>> label("book/chapters/02_signal_space", "most_invisible")
    'verdict-02-signal-space-most-invisible'
    """
    return nodes.make_id(f"verdict-{docname.rsplit('/', 1)[-1]}-{key}")


def _glued_truth(document, key: str) -> bool:
    """The boolean glued under ``key`` in this page's notebook (``text/plain`` True/False)."""
    from myst_nb.core.variables import RetrievalError
    from myst_nb.ext.glue.utils import retrieve_glue_data

    try:
        result = retrieve_glue_data(document, key)
    except RetrievalError as e:
        raise ValueError(
            f"{e} Glue it in a code cell before the text: book.glue_verdict({key!r}, ...)"
        ) from None
    text = str(result.data.get("text/plain", "")).strip()
    if text not in ("True", "False"):
        raise ValueError(
            f"glue key {key!r} holds {text[:40]!r}, not a truth value: glue it with "
            "book.glue_verdict or book.glue_flag"
        )
    return text == "True"


_OPEN = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(:{3,})\{([\w-]+)\}")  # in a list item too
_CLOSE = re.compile(r"^\s*(:{3,})\s*$")


def otherwise_span(lines: list[str]) -> tuple[int, int] | None:
    """The first and last line of the top-level ``{otherwise}`` block of a directive's
    content (its opening and closing colon fences; ``len(lines)`` when the parent's fence
    closes it), or None; nested blocks are skipped.

    >>> otherwise_span(["a", "::::{verdict} k", "b", ":::{otherwise}", "c", ":::", "::::",
    ...                 ":::{otherwise}", "d", ":::"])
    (7, 9)
    >>> otherwise_span(["a", ":::{otherwise}", "b"])
    (1, 3)
    >>> otherwise_span(["- ::::{verdict} k", "  b", "", "  :::{otherwise}", "  c", "  :::",
    ...                 "  ::::"]) is None
    True
    """
    stack: list[tuple[int, str]] = []
    start = None
    for i, line in enumerate(lines):
        opening, closing = _OPEN.match(line), _CLOSE.match(line)
        if opening:
            if not stack and opening.group(2) == "otherwise":
                start = i
            stack.append((len(opening.group(1)), opening.group(2)))
        elif closing and stack and len(closing.group(1)) >= stack[-1][0]:
            stack.pop()
            if not stack and start is not None:
                return start, i
    # an {otherwise} fenced like its parent (":::" inside ":::") is closed by the parent's
    # own fence: it runs to the end of the content
    return (start, len(lines)) if start is not None else None


class _Choice(Directive):
    """Show the body or its ``{otherwise}`` by a glued boolean (see the module docstring)."""

    required_arguments = 1
    has_content = True
    option_spec = {"class": directives.class_option, "neutral": directives.flag}
    #: whether the ``{otherwise}`` body is a warning headed :data:`NOT_ON_THIS_RUN`; a
    #: verdict parses both bodies (a broken glue key in either fails the build), a ``{when}``
    #: only the one it shows (the other may paste figures this profile did not make)
    warn = True

    def run(self):
        key = self.arguments[0]
        document = self.state.document
        try:
            holds = _glued_truth(document, key)
        except ValueError as e:
            return [document.reporter.error(str(e), line=self.lineno)]
        content, offset = self.content, self.content_offset
        if not self.warn:  # only the branch shown is parsed
            span = otherwise_span(list(content))
            if span is None:
                content = content if holds else content[0:0]
            elif holds:
                content = content[: span[0]] + content[span[1] + 1 :]
            else:
                content, offset = content[span[0] + 1 : span[1]], offset + span[0] + 1
        body = nodes.Element()
        self.state.nested_parse(content, offset, body)
        if not self.warn:
            box = nodes.container(classes=["when", f"when-{'holds' if holds else 'fails'}"])
            box.extend(body.children)
            return [box]
        alternatives = [n for n in body.children if isinstance(n, otherwise_node)]
        if len(alternatives) != 1:
            return [
                document.reporter.error(
                    f"{self.name} {key!r}: give exactly one {{otherwise}} block "
                    f"(found {len(alternatives)})",
                    line=self.lineno,
                )
            ]
        state = "holds" if holds else "fails"
        box = nodes.container(
            classes=["verdict", f"verdict-{state}", *self.options.get("class", [])]
        )
        env = getattr(document.settings, "env", None)
        seen = env.temp_data.setdefault("nnspaces_verdicts", set()) if env else {key}
        if key not in seen:  # a label the appendix can link to (the first block of a key)
            seen.add(key)
            name = label(env.docname, key)
            box["ids"].append(name)
            box["names"].append(name)
            document.note_explicit_target(box)
        if holds:
            box.extend(n for n in body.children if not isinstance(n, otherwise_node))
        elif "neutral" in self.options:  # a comparison: its other outcome is a finding too
            box["classes"].append("verdict-neutral")
            box.extend(alternatives[0].children)
        else:
            warning = nodes.admonition(classes=["warning", "claim-failed"])
            warning += nodes.title(NOT_ON_THIS_RUN, NOT_ON_THIS_RUN)
            warning.extend(alternatives[0].children)
            box += warning
        return [box]


class _Verdict(_Choice):
    warn = True


class _When(_Choice):
    warn = False


def _stray_otherwise(self, node):
    raise nodes.SkipNode


class glued_table(nodes.figure):
    """A pasted table with its caption: a figure node that Sphinx numbers as a ``table``."""


def _glued_table_directive():
    """``{glued-table}``: myst-nb's ``{glue:figure}`` whose node is a :class:`glued_table`
    (built lazily: myst-nb is imported only when Sphinx loads the extension)."""
    from myst_nb.ext.glue.directives import PasteFigureDirective

    class _GluedTable(PasteFigureDirective):
        def run(self):
            result = super().run()
            for node in result:
                if type(node) is nodes.figure:
                    # the same node (the document's ids and names point to it), retyped
                    node.__class__ = glued_table
            return result

    return _GluedTable


def _visit_glued_table(self, node):
    self.visit_figure(node)


def _depart_glued_table(self, node):
    self.depart_figure(node)


def setup(app):
    """Register ``{verdict}``, ``{when}``, ``{otherwise}`` and ``{glued-table}``."""
    app.add_node(otherwise_node, html=(_stray_otherwise, None))
    app.add_directive("verdict", _Verdict)
    app.add_directive("when", _When)
    app.add_directive("otherwise", _Otherwise)
    app.add_enumerable_node(glued_table, "table", html=(_visit_glued_table, _depart_glued_table))
    app.add_directive("glued-table", _glued_table_directive())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
