"""The published tree: the repository at the built commit plus the executed notebooks.

Jupyter Book's launch buttons (Binder, Colab) open ``book/chapters/<name>.ipynb`` at the
build's own tag, ``<branch>-<commit>`` (:func:`nnspaces.layout.launch_ref`;
``repository.branch`` of ``_config.yml`` is ``published``), the commit each page's banner
names; so do the banner's links and Colab's install. Those notebooks are generated and
ignored by git on ``main``, so CI publishes a commit that holds them, tags it, and moves the
branch to it (the latest build):

- :func:`publish_tree` — the tracked files at ``HEAD`` (``git archive``) plus
  ``<workdir>/book/chapters/*.ipynb``, nothing else generated;
- :func:`build_ref` — the tag the build's pages open, checked against the chapters and HEAD;
- :func:`commit_tree` — that tree as one commit whose parent is ``HEAD``, ready for
  ``git push origin SHA:refs/tags/REF`` and ``git push --force origin
  SHA:refs/heads/published``;
- :func:`launch_links` — the launch links of the built HTML and the repository path each
  opens, so a test can check every button opens a file of the published tree;
- :func:`bootstrap_cell_source` — a first cell for Colab, which has no ``nnspaces``.

The repository URL lives in ``_config.yml`` only (:func:`repository`); a fork changes it
there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import pages, reproduce
from .layout import pages_url

__all__ = [
    "LaunchLink",
    "PublishError",
    "bootstrap_cell_source",
    "build_ref",
    "commit_tree",
    "launch_links",
    "publish_tree",
    "repository",
]

#: The PyTorch index of CPU-only wheels (Binder's and Colab's torch, no CUDA libraries).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


class PublishError(RuntimeError):
    """The build or the checkout cannot be published; the message says what to do."""


@dataclass(frozen=True)
class Repository:
    """``_config.yml``'s ``repository`` and ``launch_buttons`` sections."""

    url: str  # https://github.com/OWNER/NAME
    branch: str  # the published branch; each build's pages open its tag <branch>-<commit>
    launch_buttons: dict

    @property
    def owner_name(self) -> tuple[str, str]:
        """``(OWNER, NAME)`` of a GitHub URL."""
        m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", self.url)
        if m is None:
            raise PublishError(f"repository.url {self.url!r} in _config.yml is not a GitHub URL")
        return m.group(1), m.group(2)


def repository(config: str | Path | None = None) -> Repository:
    """The repository the launch buttons open, read from ``_config.yml`` (the checkout's by
    default): the one place its URL is written."""
    path = Path(config) if config is not None else reproduce.repo_root() / "_config.yml"
    cfg = yaml.safe_load(path.read_text())
    repo = cfg.get("repository") or {}
    if "url" not in repo:
        raise PublishError(f"{path} has no repository.url")
    return Repository(repo["url"], repo.get("branch", "main"), cfg.get("launch_buttons") or {})


def publish_tree(workdir: str | Path, dest: str | Path, root: str | Path | None = None) -> Path:
    """Assemble the published tree in ``dest``: the tracked files at ``HEAD`` and the
    executed chapters.

    Parameters
    ----------
    workdir : path
        The build (``python -m nnspaces reproduce --workdir``; the checkout itself by
        default in the CLI) whose ``book/chapters/*.ipynb`` are published.
    dest : path
        A folder that does not exist yet or is empty. It is assembled beside itself and
        renamed into place, so it is never half there.
    root : path, optional
        The git checkout (default: the one the package is installed from).

    Returns
    -------
    dest : Path

    Raises
    ------
    PublishError
        ``dest`` holds files, the build lacks the notebook of a chapter (a launch button
        would open a missing file), or :func:`build_ref` refuses it.
    """
    root = Path(root) if root is not None else reproduce.repo_root()
    chapters = Path(workdir) / "book" / "chapters"
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise PublishError(f"{dest} is not empty: remove it or name a new folder")
    missing = [
        c.output for c in reproduce.chapters() if not (chapters / f"{c.output}.ipynb").is_file()
    ]
    if missing:
        raise PublishError(
            f"{chapters} lacks the executed chapters {missing}: run "
            "`python -m nnspaces reproduce` (all chapters) before publishing"
        )
    ref = build_ref(workdir, root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        _git_archive(root, tmp)
        (tmp / "book" / "chapters").mkdir(parents=True, exist_ok=True)
        repo = repository(root / "_config.yml")
        first = bootstrap_cell_source(repo.url, ref, root)
        for nb in sorted(chapters.glob("*.ipynb")):
            _with_bootstrap(nb, tmp / "book" / "chapters" / nb.name, first)
        tmp.chmod(0o755)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def build_ref(workdir: str | Path, root: str | Path | None = None) -> str:
    """The git ref every page of the build at ``workdir`` opens: the ``ref`` its executed
    chapters' banners recorded (:func:`nnspaces.pages.provenance`), the tag under which CI
    pushes the published tree (``git push origin SHA:refs/tags/REF``).

    Raises
    ------
    PublishError
        A chapter has no banner (not executed by the pipeline), the chapters come from builds
        that open different refs, or the build's commit is not ``HEAD`` of ``root``.

    Notes
    -----
    A build with uncommitted changes (or outside git) has no tag of its own: its pages open
    the published branch itself (:func:`nnspaces.layout.launch_ref`), and so does its tree.
    """
    root = Path(root) if root is not None else reproduce.repo_root()
    chapters = Path(workdir) / "book" / "chapters"
    found = {
        c.output: pages.provenance(chapters / f"{c.output}.ipynb") for c in reproduce.chapters()
    }
    if bare := [name for name, p in found.items() if p is None or not p.get("ref")]:
        raise PublishError(
            f"{chapters} holds chapters without a provenance banner {bare}: publish a build "
            "of `python -m nnspaces reproduce`"
        )
    refs = {p["ref"] for p in found.values()}
    if len(refs) > 1:
        first = {ref: next(n for n, p in found.items() if p["ref"] == ref) for ref in refs}
        raise PublishError(
            f"the chapters come from several builds ({first}): their pages would open "
            "different commits; rebuild them all at one commit (`make book FORCE=1`)"
        )
    (ref,) = refs
    commit = next(iter(found.values()))["commit"]
    head = _git(root, dict(os.environ), "-C", str(root), "rev-parse", "HEAD")
    if ref != repository(root / "_config.yml").branch and not head.startswith(str(commit)):
        raise PublishError(
            f"the build was made at commit {commit}, but HEAD is {head[:12]}: publish it from "
            "that commit, or rebuild at HEAD (`make book FORCE=1`)"
        )
    return ref


def _git_archive(root: Path, dest: Path) -> None:
    """Extract ``git archive HEAD`` of ``root`` into ``dest``."""
    proc = subprocess.Popen(
        ["git", "-C", str(root), "archive", "--format=tar", "HEAD"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    unreadable = None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            tar.extractall(dest, filter="data")
    except tarfile.ReadError as e:  # no archive: outside a git checkout, git says why
        unreadable = e
    err = proc.stderr.read().decode()
    if proc.wait() != 0 or unreadable is not None:
        raise PublishError(
            f"git archive HEAD failed in {root}: {err.strip() or unreadable}\nThe published "
            "tree is made from a commit: run this in a git clone of the book's repository"
        )


def commit_tree(tree: str | Path, message: str, root: str | Path | None = None) -> str:
    """Record the folder ``tree`` as one commit of ``root``'s repository whose parent is
    ``HEAD``; returns its hash. Nothing else changes: no branch moves, and the checkout's
    index and files stay as they were (a private index file is used).

    The parent makes the published commit say which commit of ``main`` it was built from;
    CI then force-pushes it: ``git push --force origin SHA:refs/heads/published``.
    """
    root = Path(root) if root is not None else reproduce.repo_root()
    tree = Path(tree).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        git_dir = _git(root, env, "-C", str(root), "rev-parse", "--absolute-git-dir")
        on_tree = ["--git-dir", git_dir, "--work-tree", str(tree), "-C", str(tree)]
        # --force: the executed chapters are ignored by the tree's own .gitignore
        _git(root, env, *on_tree, "add", "--all", "--force", ".")
        sha = _git(root, env, *on_tree, "write-tree")
        return _git(root, env, *on_tree, "commit-tree", sha, "-p", "HEAD", "-m", message)


def _git(root: Path, env: dict, *args: str) -> str:
    proc = subprocess.run(["git", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed in {root}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass(frozen=True)
class LaunchLink:
    """One launch button of a built page and the repository file it opens."""

    page: str  # the HTML page, relative to _build/html
    kind: str  # "binder", "colab" or "jupyterhub"
    url: str
    repository: str  # https://github.com/OWNER/NAME
    branch: str
    path: str  # the file it opens, relative to the repository root


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _hrefs(html_file: Path) -> list[str]:
    parser = _Anchors()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.hrefs


def launch_links(html: str | Path, config: str | Path | None = None) -> list[LaunchLink]:
    """Every launch link of the built pages under ``html`` (``_build/html``).

    Links are recognised by the hub URLs of ``config``'s ``launch_buttons`` (the build's
    ``_config.yml``; the checkout's by default) and read in Jupyter Book 1.x's forms::

        binder      {binderhub_url}/v2/gh/OWNER/NAME/BRANCH?urlpath=lab/tree/PATH
        colab       {colab_url}/github/OWNER/NAME/blob/BRANCH/PATH
        jupyterhub  {jupyterhub_url}/hub/user-redirect/git-pull?repo=URL&branch=BRANCH&urlpath=lab/tree/NAME/PATH

    Returns
    -------
    links : list of LaunchLink
        In page order (sorted paths), then link order on the page.
    """
    html = Path(html)
    buttons = repository(config).launch_buttons
    hubs = {
        kind: buttons.get(f"{kind}_url", "").rstrip("/")
        for kind in ("binderhub", "colab", "jupyterhub")
    }
    links = []
    for page in sorted(html.rglob("*.html")):
        rel = page.relative_to(html).as_posix()
        for href in _hrefs(page):
            for kind, hub in hubs.items():
                if hub and href.startswith(hub + "/"):
                    link = _parse(kind, href[len(hub) :], href, rel)
                    if link is not None:
                        links.append(link)
    return links


def _parse(kind: str, rest: str, url: str, page: str) -> LaunchLink | None:
    parts = urlsplit(rest)
    query = parse_qs(parts.query)
    if kind == "binderhub":
        m = re.fullmatch(r"/v2/gh/([^/]+)/([^/]+)/(.+)", parts.path)
        if m is None:
            return None
        owner, name, branch = m.groups()
        path = re.sub(r"^(lab/tree|tree|notebooks)/", "", query.get("urlpath", [""])[0])
        return LaunchLink(page, "binder", url, f"https://github.com/{owner}/{name}", branch, path)
    if kind == "colab":
        m = re.fullmatch(r"/github/([^/]+)/([^/]+)/blob/([^/]+)/(.+)", parts.path)
        if m is None:
            return None
        owner, name, branch, path = m.groups()
        return LaunchLink(page, "colab", url, f"https://github.com/{owner}/{name}", branch, path)
    if parts.path != "/hub/user-redirect/git-pull":
        return None
    repo = unquote(query["repo"][0])
    # urlpath: {ui}/{NAME}/{PATH}: nbgitpuller clones into a folder named after the repository
    path = re.sub(r"^(lab/tree|tree|notebooks)/[^/]+/", "", query.get("urlpath", [""])[0])
    return LaunchLink(page, "jupyterhub", url, repo, query.get("branch", [""])[0], path)


def _with_bootstrap(src: Path, dest: Path, source: str) -> None:
    """Copy an executed notebook with :func:`bootstrap_cell_source`'s cell first (tagged
    ``remove-cell``: it is for Colab, never for a page)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", "bootstrap"]})
    cell.id = "colab-bootstrap"
    nb.cells.insert(0, cell)
    nbformat.write(nb, dest)


def _pin(name: str, root: Path) -> str:
    """``name==version`` as ``requirements.txt`` pins it (the one list of versions)."""
    for line in (root / "requirements.txt").read_text().splitlines():
        spec = line.split("#")[0].strip()
        if re.match(rf"{re.escape(name)}\s*==", spec, re.IGNORECASE):
            return spec.replace(" ", "")
    raise PublishError(f"requirements.txt pins no version of {name}")


def bootstrap_cell_source(repository: str, branch: str, root: str | Path | None = None) -> str:
    """A first code cell for the published notebooks: on Colab, installs the book's package.

    Outside Colab it does nothing. On Colab it names the published book
    (``$NNSPACES_BOOK_URL``, :func:`nnspaces.layout.pages_url`: an appendix opened alone links
    to its page); and, when ``nnspaces`` does not import, it pip-installs CPU-only
    torch/torchvision (only if torch is missing: Colab ships its own), myst-nb (the chapters
    glue their numbers with it) and ``nnspaces @ git+{repository}@{branch}``, then says so.
    Versions are the pins of ``requirements.txt``.

    Parameters
    ----------
    repository : str
        ``https://github.com/OWNER/NAME`` (``_config.yml``'s ``repository.url``).
    branch : str
        The git ref to install from: the build's tag (:func:`build_ref`), so the library is
        the one that made the notebook.
    root : path, optional
        The checkout whose ``requirements.txt`` gives the versions.
    """
    root = Path(root) if root is not None else reproduce.repo_root()
    torch = [_pin("torch", root) + "+cpu", _pin("torchvision", root) + "+cpu"]
    package = f"nnspaces @ git+{repository}@{branch}"
    q = json.dumps  # string literals in double quotes, as ruff formats them
    book = pages_url(repository) or ""
    return f"""\
# On Google Colab only: install this book's package (elsewhere this cell does nothing).
import importlib.util
import os
import subprocess
import sys

if "google.colab" in sys.modules:  # where the published book is, for the appendices' notes
    os.environ.setdefault("NNSPACES_BOOK_URL", {q(book)})
if "google.colab" in sys.modules and importlib.util.find_spec("nnspaces") is None:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    if importlib.util.find_spec("torch") is None:  # Colab ships torch: kept when there
        cpu = ["--extra-index-url", {q(TORCH_CPU_INDEX)}]
        subprocess.check_call(pip + cpu + [{q(torch[0])}, {q(torch[1])}])
    package = {q(package)}
    subprocess.check_call(pip + [{q(_pin("myst-nb", root))}, package])
    importlib.invalidate_caches()
    print(f"Installed {{package}} for this Colab session.")"""
