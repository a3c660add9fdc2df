"""An executed chapter notebook made into a page that reads like a paper.

:func:`decorate` rewrites the notebook papermill has just run, before Jupyter Book renders
it:

- the parameters cell (tag ``parameters``), papermill's injected cell
  (``injected-parameters``) and the ``## Parameters`` heading just above them leave the page
  (``remove-cell``): the provenance banner states what they held;
- every code cell with something to show keeps its output and hides its code behind
  Jupyter Book's toggle (``hide-input``): the code is one click away;
- a code cell with nothing to show (imports, ``params.validate``, cells that only glue
  values for the prose) leaves the page entirely (``remove-input``): a toggle over nothing
  is clutter, and its code is in the executed notebook the banner links to;
- a provenance banner goes right after the title cell: profile, data, seeds, commit, date
  of the run, library version, the chapter's run time, the parameters papermill injected,
  and links to the executed notebook as published and to its source.

Cells whose code the author already hid (``remove-input``, ``remove-cell``, ``hide-input``,
``hide-cell``) are left as they are; one tagged ``hide-output`` gets ``hide-input`` too. Calling
:func:`decorate` again replaces the banner rather than adding a second one.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from . import cache

__all__ = ["BANNER_CLASS", "banner", "decorate"]

#: The CSS class of the banner's admonition (``book/_static/nnspaces.css`` styles it).
BANNER_CLASS = "provenance"
#: The banner cell's metadata marker: how a second :func:`decorate` finds the first banner.
_MARK = "nnspaces"
#: myst-nb's prefix of glued data (``myst_nb.ext.glue.GLUE_PREFIX``): a glue output shows nothing.
_GLUE_PREFIX = "application/papermill.record/"
#: Tags by which the author already hid a cell's code. (``hide-output`` or ``remove-output``
#: alone leave the code shown: the first gets ``hide-input`` too, the second shows nothing.)
_CODE_HIDDEN = {
    "remove-cell",
    "remove_cell",
    "remove-input",
    "remove_input",
    "hide-cell",
    "hide-input",
}
_VALUE_CHARS = 40  # one parameter's value in the "run with" line, at most
_ITEM_CHARS = 20  # one item of a list, at most
_LIST_ITEMS = 6  # a longer list shows its first items, "…" and its length


def decorate(path: str | Path, info: dict) -> None:
    """Tag the cells of an executed notebook and add its provenance banner, in place.

    Parameters
    ----------
    path : path
        The executed notebook (papermill's output), rewritten atomically.
    info : dict
        What the run knows about itself: ``output`` (page stem), ``notebook`` (source
        stem), ``profile``, ``parameters`` (the dict papermill injected), ``seconds``
        (the chapter's run time), ``commit`` (short hash, ``-dirty`` when the tree had
        changes, or None), ``date`` (UTC, ISO 8601), ``version`` (``nnspaces.__version__``),
        ``repository`` (its URL) and ``branch`` (the published branch).

    Raises
    ------
    KeyError
        ``info`` lacks one of those keys (the message names it).
    ValueError
        The notebook has no ``# title`` markdown cell to put the banner under.
    """
    import nbformat

    missing = [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise KeyError(f"decorate: info lacks {missing}; it needs all of {list(_INFO_KEYS)}")
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not _is_banner(c)]
    _tag_cells(nb.cells)
    title = next((i for i, c in enumerate(nb.cells) if _is_title(c)), None)
    if title is None:
        raise ValueError(f"{path.name} has no '# title' markdown cell to put the banner under")
    head, rest = _split_at_section(nb.cells[title].source)
    if rest:  # the banner goes under the title and overview, before the first section
        nb.cells[title].source = head
        after = nbformat.v4.new_markdown_cell(rest)
        after.id = f"{nb.cells[title].get('id', 'title')}-sections"[:64]
        nb.cells.insert(title + 1, after)
    cell = nbformat.v4.new_markdown_cell(banner(info, _defaults(nb.cells), _glued(nb.cells)))
    cell.metadata[_MARK] = {"provenance": True}
    cell.id = "nnspaces-provenance"  # a fixed id: decorating again rewrites the same file
    nb.cells.insert(title + 1, cell)
    text = nbformat.writes(nb)
    cache.atomic_write(path, lambda f: f.write(text.encode() + b"\n"))


_INFO_KEYS = (
    "output",
    "notebook",
    "profile",
    "parameters",
    "seconds",
    "commit",
    "date",
    "version",
    "repository",
    "branch",
)


def banner(info: dict, defaults: dict | None = None, glued: dict | None = None) -> str:
    """The provenance banner's MyST markdown (an admonition of class :data:`BANNER_CLASS`).

    Parameters
    ----------
    info : dict
        As for :func:`decorate`.
    defaults : dict, optional
        The notebook's own parameter defaults, which the injected ``info["parameters"]``
        override: the seeds and data set shown are the ones the run used.
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
    >>> md.splitlines()[:2]
    ['````{admonition} How this page was made', ':class: provenance']
    >>> "https://github.com/o/r/blob/main/book/chapters/01_models.ipynb" in md
    True
    """
    params = {**(defaults or {}), **info["parameters"]}
    glued = glued or {}
    repo = str(info["repository"]).rstrip("/")
    data = glued.get("data_description") or params.get("dataset")
    seeds = params.get("seeds", params.get("seed"))
    fields = [("Profile", f"`{info['profile']}`")]
    if data is not None:
        fields.append(("Data", _escape(str(data))))
    if seeds is not None:
        label = "Seeds" if isinstance(seeds, list | tuple) else "Seed"
        fields.append((label, ", ".join(map(str, seeds)) if label == "Seeds" else str(seeds)))
    fields += [
        ("Commit", _commit(info["commit"], repo)),
        ("Run", _date(info["date"])),
        ("nnspaces", f"`{info['version']}`"),
        ("Chapter time", _seconds(info["seconds"])),
    ]
    facts = " · ".join(f"**{k}** {v}" for k, v in fields)
    injected = ", ".join(f"{k}={_short(v)}" for k, v in info["parameters"].items())
    ran_with = f"`{injected.replace('`', '')}`" if injected else "the notebook's own defaults"
    executed = f"{repo}/blob/{info['branch']}/book/chapters/{info['output']}.ipynb"
    source = f"{repo}/blob/{info['branch']}/notebooks/{info['notebook']}.ipynb"
    return (
        "````{admonition} How this page was made\n"
        f":class: {BANNER_CLASS}\n\n"
        f"{facts}\n\n"
        f"This page was run with: {ran_with}\n\n"
        "**Code** “Show code cell source” above a result opens the cell that made it; "
        f"[the executed notebook]({executed}) holds every cell with its outputs, "
        f"[its source]({source}) the cells as written.\n"
        "````"
    )


def _tag_cells(cells) -> None:
    """Tag the parameters cells ``remove-cell``, then each shown code cell ``hide-input``
    (something to show) or ``remove-input`` (nothing to show)."""
    for i, cell in enumerate(cells):
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type != "code":
            continue
        if "parameters" in tags or "injected-parameters" in tags:
            _add(tags, "remove-cell")
            above = cells[i - 1] if i else None
            if above is not None and above.cell_type == "markdown":
                if re.match(r"##\s+Parameters\b", above.source.lstrip()):
                    _add(above.metadata.setdefault("tags", []), "remove-cell")
            continue
        if _CODE_HIDDEN & set(tags):
            continue  # the author decided
        shows = _shows_something(cell) and not {"remove-output", "remove_output"} & set(tags)
        _add(tags, "hide-input" if shows else "remove-input")
    for cell in cells:
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)


def _add(tags: list, tag: str) -> None:
    if tag not in tags:
        tags.append(tag)


def _shows_something(cell) -> bool:
    """Whether any output of a code cell renders on the page (glue outputs, stderr and
    empty streams do not: the book removes stderr, ``nb_output_stderr: remove``)."""
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if out.get("name") != "stderr" and str(out.get("text", "")).strip():
                return True
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if any(not k.startswith(_GLUE_PREFIX) for k in data):
                return True
        elif out.output_type == "error":
            return True
    return False


def _is_banner(cell) -> bool:
    return cell.cell_type == "markdown" and bool(cell.metadata.get(_MARK, {}).get("provenance"))


def _is_title(cell) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("# ")


def _split_at_section(source: str) -> tuple[str, str]:
    """A markdown cell's text before its first ``## `` heading (outside code fences), and
    the rest (empty when it has none)."""
    lines = source.splitlines(keepends=True)
    fence = None
    for i, line in enumerate(lines):
        marker = re.match(r"\s*(`{3,}|~{3,})", line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif marker.group(1).startswith(fence) and not line.strip()[len(fence) :].strip("`~"):
                fence = None
        elif fence is None and i and line.startswith("## "):
            return "".join(lines[:i]).rstrip() + "\n", "".join(lines[i:])
    return source, ""


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
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name):
                        try:
                            out[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            pass
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


def _date(iso: str) -> str:
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return _escape(str(iso))
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


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
