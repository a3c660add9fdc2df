"""Where a notebook runs, and where the published book is: the appendices' files and links.

A chapter runs in whatever layout a reader opens it from — ``notebooks/`` of a clone, the
executed copy in ``book/chapters/``, the published tree on Binder, or one notebook alone on
Colab:

- :func:`book_root` — the book's folder above the working folder (None for a notebook alone);
- :func:`book_file` — a file of the book whatever the layout, or a Markdown note
  (:func:`absent_note`) that this notebook runs without it, then :class:`NotHere`;
- :func:`run_log` — the pipeline's run log beside the executed chapters, or a note;
- :func:`book_paths` — an executed notebook's paths from the book's folder, not the build
  machine's;
- :func:`launch_ref` — the git ref a build's pages open (its per-build tag);
  :func:`pages_url` and :func:`page_url` — the published book and a chapter's page there.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import yaml

#: Environment variable: the published book's address (``https://OWNER.github.io/NAME/``).
#: The published notebooks' first cell sets it (:mod:`nnspaces.publish`), so that a notebook
#: opened alone, on Colab, can link to its page.
BOOK_URL = "NNSPACES_BOOK_URL"


class NotHere(FileNotFoundError):
    """A file a notebook renders is not where it runs. :func:`book_file` has displayed why as
    a Markdown note; in Jupyter no traceback follows (IPython prints the lines of
    :meth:`_render_traceback_` instead of one), and the run stops there."""

    def _render_traceback_(self) -> list[str]:
        return []


def book_root(start: str | Path | None = None) -> Path | None:
    """The book's folder: the nearest of ``start`` (default the working folder) and its
    parents that holds ``_config.yml`` and ``_toc.yml`` (a clone, a build's folder, the
    published tree); None for a notebook opened alone (Colab)."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    return None


def launch_ref(branch: str, commit: str | None) -> str:
    """The git ref a build's pages open (launch buttons, the banner's links, Colab's install).

    Parameters
    ----------
    branch : str
        ``repository.branch`` of ``_config.yml``: the published branch, which CI moves to
        every new build.
    commit : str or None
        The built commit as the banner names it (short hash; ``-dirty`` with uncommitted
        changes; None outside git).

    Returns
    -------
    str
        ``<branch>-<commit>``, the tag CI pushes with each build's published tree, so a page
        opens the very notebook it shows, whatever was published since; ``branch`` (the latest
        published) for a build no tag can hold: outside git or with uncommitted changes.

    Examples
    --------
    >>> launch_ref("published", "abc1234")
    'published-abc1234'
    >>> launch_ref("published", "abc1234-dirty"), launch_ref("published", None)
    ('published', 'published')
    """
    if not commit or commit.endswith("-dirty"):
        return branch
    return f"{branch}-{commit}"


def pages_url(repository: str) -> str | None:
    """The GitHub Pages address of a repository's site, where CI deploys the book.

    >>> pages_url("https://github.com/Some-Owner/book.git")
    'https://some-owner.github.io/book/'
    >>> pages_url("https://gitlab.com/o/r") is None
    True
    """
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository)
    return f"https://{m.group(1).lower()}.github.io/{m.group(2)}/" if m else None


def page_url(stem: str) -> str | None:
    """The published page of the chapter ``stem``: under ``$NNSPACES_BOOK_URL``, else under
    the Pages address of the book's ``repository.url`` (``_config.yml``); None when neither
    is known."""
    base = os.environ.get(BOOK_URL)
    root = book_root()
    if not base and root is not None:
        repo = (yaml.safe_load((root / "_config.yml").read_text()) or {}).get("repository", {})
        base = pages_url(str(repo.get("url", "")))
    return f"{base.rstrip('/')}/book/chapters/{stem}.html" if base else None


def absent_note(what: str, path: str | Path, stem: str) -> str:
    """The Markdown note of a notebook that runs without ``path`` (``what`` it holds),
    linking to the chapter's published page when :func:`page_url` knows it."""
    url = page_url(stem)
    page = f"[The published page]({url})" if url else "The published book"
    return (
        f"**Not here:** this appendix summarises {what} (`{Path(path).as_posix()}`), which "
        f"the book's build holds and this notebook runs without (opened alone, as on Colab, "
        f"or in a clone not built yet). {page} shows it; in a clone, "
        "`make book` builds it."
    )


def _show_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def book_file(path: str | Path, what: str, stem: str) -> Path:
    """A file of the book: ``path`` itself when absolute, else ``path`` under
    :func:`book_root` — the same file whether the notebook runs in ``notebooks/``, in
    ``book/chapters/`` or in the published tree.

    Raises
    ------
    NotHere
        The file is not there; :func:`absent_note` was displayed first.
    """
    found = Path(path)
    root = book_root()
    if not found.is_absolute() and root is not None:
        found = root / found
    if found.is_file():
        return found
    note = absent_note(what, path, stem)
    _show_markdown(note)
    raise NotHere(note)


def run_log(path: str | Path | None, stem: str) -> Path | None:
    """The pipeline's run log (``_run.json``, beside the executed chapters; a relative path is
    the executed notebook's, from its folder), or None, with :func:`absent_note` displayed,
    where the notebook runs without it (Binder, Colab, a clone never built)."""
    if path is not None and Path(path).is_file():
        return Path(path)
    _show_markdown(absent_note("the build's run", path or "book/chapters/_run.json", stem))
    return None


#: papermill's line injecting ``run_log`` (a string literal, as it writes one).
_RUN_LOG = re.compile(r"(?m)^(run_log = )('[^'\n]*'|\"[^\"\n]*\")$")


def book_paths(nb, notebook: str, output: str) -> None:
    """Write an executed notebook's paths as the book names them, in place: papermill's
    record of the run gives the source and the executed notebook from the book's folder, and
    the run log (an injected parameter; it lies beside the executed chapters) by its name,
    which from the executed notebook's folder names the same file. A published notebook then
    holds no path of the build machine.

    Parameters
    ----------
    nb : NotebookNode
        papermill's output, read with :mod:`nbformat`.
    notebook, output : str
        The source notebook's stem (``notebooks/``) and the executed one's (``book/chapters/``).
    """
    record = nb.metadata.get("papermill")
    if record:
        record["input_path"] = f"notebooks/{notebook}.ipynb"
        record["output_path"] = f"book/chapters/{output}.ipynb"
        params = record.get("parameters") or {}
        if isinstance(params.get("run_log"), str):
            params["run_log"] = Path(params["run_log"]).name
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = _RUN_LOG.sub(_by_name, cell.source)


def _by_name(m: re.Match) -> str:
    """``run_log = "/build/…/_run.json"`` → ``run_log = "_run.json"`` (as papermill quotes)."""
    return f'{m[1]}"{Path(ast.literal_eval(m[2])).name}"'
