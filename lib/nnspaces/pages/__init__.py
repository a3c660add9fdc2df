"""An executed chapter notebook made into a page: the pipeline's own part of it.

The SOURCE notebooks decide what shows, by their cell tags (``remove-cell`` on the
parameters cell and its heading, ``remove-input`` on code cells, figures and tables glued
into markdown), so that JupyterLab and the page agree. :func:`decorate` does only what
papermill's run adds to a notebook:

- papermill's injected-parameters cell (tag ``injected-parameters``) leaves the page
  (``remove-cell``): the banner states what it held; its ``run_log``, a path of the build
  machine, becomes the file's name (the run log lies beside the executed chapters), and
  papermill's record of the run names the notebooks from the book's folder: a published
  notebook holds no path of the build machine;
- a one-line provenance banner goes right after the title cell's first paragraph (the
  chapter's finding; where it ends: :mod:`nnspaces.pages.markdown`): ``Made by this book's
  run · profile default · mnist-5k · commit abc1234 · 2026-12-07 · details``, a
  sphinx-design ``{dropdown}`` whose body holds the details — data, seeds, the injected
  parameters, time of the run and of the chapter, library version, and links to the executed
  notebook as published and to its source, at the build's own tag
  (:func:`nnspaces.layout.launch_ref`), as the launch buttons.

Calling :func:`decorate` again replaces the banner rather than adding a second one.

:func:`stray_outputs` lists what a reader would see that no author meant to show (a bare
``True``, an object's repr, a figure's ``<Figure size …>``); the pipeline fails a chapter
that has any (:func:`nnspaces.reproduce.reproduce`).
"""

from __future__ import annotations

import ast
import contextlib
import re
from datetime import UTC, datetime
from pathlib import Path

from .. import cache
from ..layout import book_paths, launch_ref
from .markdown import is_title, split_after_first_paragraph

__all__ = ["BANNER_CLASS", "banner", "decorate", "provenance", "stray_outputs"]

#: The CSS class of the banner's dropdown (``book/_static/nnspaces.css`` styles it).
BANNER_CLASS = "provenance"
#: The banner cell's metadata marker: how a second :func:`decorate` finds the first banner.
_MARK = "nnspaces"
#: myst-nb's prefix of glued data (``myst_nb.ext.glue.GLUE_PREFIX``): a glue output shows nothing.
_GLUE_PREFIX = "application/papermill.record/"
_VALUE_CHARS = 40  # one parameter's value in the "run with" line, at most
_ITEM_CHARS = 20  # one item of a list, at most
_LIST_ITEMS = 6  # a longer list shows its first items, "…" and its length
_HIDES_OUTPUT = {"remove-output", "remove_output", "remove-cell", "remove_cell"}
#: MIME types myst-nb renders in preference to ``text/plain`` (its HTML priority list):
#: with one of them present, the plain text is not shown.
_RICH = ("application/vnd.jupyter.widget-view+json", "application/javascript", "text/html")
_RICH += ("image/svg+xml", "image/png", "image/jpeg", "image/gif", "text/markdown", "text/latex")
#: What no author means to show: a bare boolean or None, an object's default repr, a
#: function, a figure's or an artist's text form (``<Figure size 640x480 with 1 Axes>``,
#: ``<Axes: …>``, ``Text(0.5, 1.0, 'title')``, ``[<matplotlib.lines.Line2D at 0x…>]``).
_STRAY = re.compile(
    r"""\A\s*(?:True|False|None)\s*\Z
      | <[^<>\n]*\ at\ 0x[0-9a-fA-F]+>
      | <(?:function|bound\ method|built-in\ function|module|class)\ [^\n]*>
      | <Figure\ size\ [^\n]*>
      | \A\s*<Axes(?:Subplot)?:
      | \A\s*Text\(-?[\d.]+,\ -?[\d.]+,\ """,
    re.VERBOSE,
)
_STRAY_CHARS = 80  # of a stray output's text quoted in the message


def stray_outputs(nb) -> list[str]:
    """Outputs a reader would see that say nothing: one line per output, naming the cell.

    A cell's output counts unless the cell is tagged ``remove-output`` or ``remove-cell``:
    a stream on stdout, or the ``text/plain`` of a result or display that has no richer
    form (an HTML table, an image) for the page to show instead. It is stray when it is
    the plain text of a value left as the cell's last expression (an ``execute_result``:
    ``True``, a dict such as a function's record; a source cell shows nothing itself),
    or, printed or displayed, a bare ``True``/``False``/``None``, an object's repr
    (``<… at 0x…>``, ``<function …>``) or a figure's or plot element's text
    (``<Figure size …>``, ``Text(…)``).

    Cells are counted as in the source notebook: papermill's injected cell and the banner
    are skipped, so ``cell 12`` is the 13th cell the author sees in JupyterLab.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> cell = nbformat.v4.new_code_cell("book.glue_verdict(...)")
    >>> cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "True"})]
    >>> nb.cells = [nbformat.v4.new_markdown_cell("# T"), cell]
    >>> stray_outputs(nb)
    ["cell 1 (id '...'), book.glue_verdict(...): 'True'"]
    """
    found = []
    index = -1
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "injected-parameters" in tags or _is_banner(cell):
            continue
        index += 1
        if cell.cell_type != "code" or tags & _HIDES_OUTPUT:
            continue
        for out in cell.get("outputs", []):
            text = _shown_text(out)
            if text is not None and (out.output_type == "execute_result" or _STRAY.search(text)):
                quoted = " ".join(text.split())
                if len(quoted) > _STRAY_CHARS:
                    quoted = quoted[: _STRAY_CHARS - 1] + "…"
                first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
                found.append(f"cell {index} (id {cell.get('id', '?')!r}), {first[:60]}: {quoted!r}")
    return found


def _shown_text(out) -> str | None:
    """The plain text a page shows for one output, or None (an image, HTML, glue, stderr)."""
    kind = out.get("output_type")
    if kind == "stream":
        text = out.get("text", "")
        return text if out.get("name") == "stdout" and text.strip() else None
    if kind in ("execute_result", "display_data"):
        data = out.get("data", {})
        if any(k in data for k in _RICH) or "text/plain" not in data:
            return None  # glue outputs carry only application/papermill.record/*
        text = data["text/plain"]
        return "".join(text) if isinstance(text, list) else str(text)
    return None


def decorate(path: str | Path, info: dict) -> None:
    """Hide papermill's injected cell and add the provenance banner, in place.

    Parameters
    ----------
    path : path
        The executed notebook (papermill's output), rewritten atomically.
    info : dict
        What the run knows about itself: ``output`` (page stem), ``notebook`` (source
        stem), ``profile``, ``parameters`` (the dict papermill injected), ``seconds``
        (the chapter's run time), ``commit`` (short hash, ``-dirty`` when the tree had
        changes, or None), ``date`` (UTC, ISO 8601), ``version`` (``nnspaces.__version__``),
        ``repository`` (its URL) and ``branch`` (the published branch, whose per-build tag
        :func:`~nnspaces.layout.launch_ref` the links open); ``recipe`` optional.

    Raises
    ------
    KeyError
        ``info`` lacks one of those keys (the message names it).
    ValueError
        The notebook has no ``# title`` markdown cell to put the banner under.

    Notes
    -----
    The banner goes after the first paragraph (or fenced block, such as a ``{verdict}``)
    that follows the ``# title`` heading; the title cell is split there, its rest becoming
    a cell of its own. When the title cell holds only the heading, the next markdown cell's
    first paragraph is the one (unless that cell opens with a heading).
    """
    import nbformat

    if missing := [k for k in _INFO_KEYS if k not in info]:
        raise KeyError(f"decorate: info lacks {missing}; it needs all of {list(_INFO_KEYS)}")
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not _is_banner(c)]
    book_paths(nb, info["notebook"], info["output"])  # no path of the build machine
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata.tags = [*tags, "remove-cell"]
    title = next((i for i, c in enumerate(nb.cells) if _is_title(c)), None)
    if title is None:
        raise ValueError(f"{path.name} has no '# title' markdown cell to put the banner under")
    at = title
    head, rest = split_after_first_paragraph(nb.cells[title].source, heading=True)
    if head is None:  # the title cell holds only its heading: the next cell's paragraph
        nxt = nb.cells[title + 1] if title + 1 < len(nb.cells) else None
        if nxt is not None and nxt.cell_type == "markdown":
            head, rest = split_after_first_paragraph(nxt.source, heading=False)
            if head is not None:
                at = title + 1
    if head is not None and rest:
        nb.cells[at].source = head
        after = nbformat.v4.new_markdown_cell(rest)
        after.id = f"{nb.cells[at].get('id', 'title')}-rest"[:64]
        nb.cells.insert(at + 1, after)
    cell = nbformat.v4.new_markdown_cell(banner(info, _defaults(nb.cells), _glued(nb.cells)))
    ref = launch_ref(info["branch"], info["commit"])
    cell.metadata[_MARK] = {"provenance": True, "commit": info["commit"], "ref": ref}
    cell.id = "nnspaces-provenance"  # a fixed id: decorating again rewrites the same file
    nb.cells.insert(at + 1, cell)
    text = nbformat.writes(nb)
    cache.atomic_write(path, lambda f: f.write(text.encode() + b"\n"))


_INFO_KEYS = ("output", "notebook", "profile", "parameters", "seconds", "commit", "date")
_INFO_KEYS += ("version", "repository", "branch")


def banner(info: dict, defaults: dict | None = None, glued: dict | None = None) -> str:
    """The provenance banner's MyST markdown: a one-line ``{dropdown}`` (class
    :data:`BANNER_CLASS`) whose body holds the details.

    Parameters
    ----------
    info : dict
        As for :func:`decorate`.
    defaults : dict, optional
        The notebook's own parameter defaults, which ``info["recipe"]`` (the chapter's
        recipe) and ``info["parameters"]`` override: the run's seeds and data set show.
    glued : dict, optional
        Text the chapter glued, by key; ``data_description`` describes the data and its
        sizes better than the data set's name.

    Examples
    --------
    >>> info = dict(output="01_models", notebook="01_models", profile="smoke",
    ...             parameters={"epochs": 1}, seconds=12.0, commit="abc1234",
    ...             date="2026-12-02T06:51:00+00:00", version="0.1.0",
    ...             repository="https://github.com/o/r", branch="main")
    >>> md = banner(info, {"seed": 0, "dataset": "mnist-5k"})
    >>> print(md.splitlines()[0])
    :::{dropdown} Made by this book's run · profile smoke · mnist-5k · commit abc1234 · 2026-12-02 · details
    >>> md.splitlines()[1]
    ':class-container: provenance'
    >>> "https://github.com/o/r/blob/main-abc1234/book/chapters/01_models.ipynb" in md
    True
    """
    params = {**(defaults or {}), **info.get("recipe", {}), **info["parameters"]}
    glued = glued or {}
    repo = str(info["repository"]).rstrip("/")
    dataset = params.get("dataset")
    data = glued.get("data_description") or dataset
    seeds = params.get("seeds", params.get("seed"))
    commit = info["commit"]
    line = ["Made by this book's run", f"profile {_escape(str(info['profile']))}"]
    if dataset is not None:
        line.append(_escape(str(dataset)))
    line.append(f"commit {_escape(commit)}" if commit else "commit not recorded")
    line += [_date(info["date"], "%Y-%m-%d"), "details"]
    fields = []
    if data is not None:
        fields.append(("Data", _escape(str(data))))
    if seeds is not None:
        label = "Seeds" if isinstance(seeds, list | tuple) else "Seed"
        fields.append((label, ", ".join(map(str, seeds)) if label == "Seeds" else str(seeds)))
    injected = ", ".join(f"{k}={_short(v)}" for k, v in info["parameters"].items())
    ran_with = f"`{injected.replace('`', '')}`" if injected else "the notebook's own defaults"
    ref = launch_ref(info["branch"], commit)  # what the launch buttons open too
    executed = f"{repo}/blob/{ref}/book/chapters/{info['output']}.ipynb"
    source = f"{repo}/blob/{ref}/notebooks/{info['notebook']}.ipynb"
    code = f"[the executed notebook]({executed}) holds every cell with its outputs, "
    code += f"[its source]({source}) the cells as written"
    fields += [
        ("Run with", ran_with),
        ("Profile", f"`{info['profile']}`"),
        ("Commit", _commit(commit, repo)),
        ("Run", _date(info["date"])),
        ("Chapter time", _seconds(info["seconds"])),
        ("nnspaces", f"`{info['version']}`"),
        ("Code", code),
    ]
    body = "\n".join(f"- **{k}** {v}" for k, v in fields)
    # a colon fence: a backtick fence's info string may hold no backtick (escaped text may)
    head = f":::{{dropdown}} {' · '.join(line)}\n:class-container: {BANNER_CLASS}"
    return f"{head}\n\n{body}\n:::"


def provenance(path: str | Path) -> dict | None:
    """What :func:`decorate` recorded in an executed notebook's banner: ``commit`` (as the
    banner names it) and ``ref`` (the git ref its links open); None without a banner."""
    import nbformat

    nb = nbformat.read(Path(path), as_version=4)
    mark = next((c.metadata[_MARK] for c in nb.cells if _is_banner(c)), None)
    return None if mark is None else {k: mark.get(k) for k in ("commit", "ref")}


def _is_banner(cell) -> bool:
    return cell.cell_type == "markdown" and bool(cell.metadata.get(_MARK, {}).get("provenance"))


def _is_title(cell) -> bool:
    return cell.cell_type == "markdown" and is_title(cell.source)


def _defaults(cells) -> dict:
    """The literal assignments of the ``parameters`` cell (``name = value``), by name."""
    for cell in cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return {}
            out = {}
            for node in tree.body:
                match node:
                    case ast.Assign(targets=[ast.Name(id=name)], value=value):
                        with contextlib.suppress(ValueError):  # not a literal
                            out[name] = ast.literal_eval(value)
            return out
    return {}


def _glued(cells) -> dict:
    """Text the notebook glued (``{glue:text}`` values), by key."""
    out = {}
    for cell in cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            text = o.get("data", {}).get(_GLUE_PREFIX + "text/plain")
            if name and isinstance(text, str):
                out[name] = text
    return out


def _commit(commit: str | None, repo: str) -> str:
    if not commit:
        return "not recorded (not run from a git checkout)"
    sha = commit.removesuffix("-dirty")
    dirty = " with uncommitted changes" if commit.endswith("-dirty") else ""
    return f"[`{commit}`]({repo}/commit/{sha}){dirty}"


def _date(iso: str, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """The run's date and time in UTC (``fmt``); a value that is no ISO date, escaped."""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return _escape(str(iso))
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(fmt)


def _seconds(s: float) -> str:
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    return f"{m} min {s} s" if m < 60 else f"{m // 60} h {m % 60} min"


def _short(v, limit: int = _VALUE_CHARS) -> str:
    """A parameter's value, short: a path by its name, a long list by its ends and length,
    anything else cut at ``limit`` characters."""
    if isinstance(v, list | tuple):
        items = [_short(x, _ITEM_CHARS) for x in v]
        if len(items) > _LIST_ITEMS:
            items = items[: _LIST_ITEMS - 3] + ["…", items[-1]]
            return f"[{', '.join(items)}] ({len(v)} items)"
        return f"[{', '.join(items)}]"
    if isinstance(v, str) and "/" in v:
        v = Path(v).name
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    """Markdown's special characters backslash-escaped: glued text shows as written."""
    return re.sub(r"([\\`*_\[\]{}<>|$#])", r"\\\1", text)
