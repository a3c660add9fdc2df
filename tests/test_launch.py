"""Launch buttons open files that exist: nnspaces.publish, binder/ and the built pages.

The buttons open ``book/chapters/<chapter>.ipynb`` on the branch ``published``, which CI
assembles with :func:`nnspaces.publish.publish_tree`. The slow test reads every launch link
of the smoke build and finds its target in a tree assembled from that build.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from nnspaces import publish, reproduce

ROOT = Path(__file__).resolve().parents[1]
REPO = publish.repository()


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        spec = line.split("#")[0].strip()
        if "==" in spec:
            name, version = spec.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def _fake_build(workdir: Path) -> Path:
    """A build folder holding an (empty) executed notebook for every chapter, and the run log."""
    chapters = workdir / "book" / "chapters"
    chapters.mkdir(parents=True)
    for c in reproduce.chapters():
        nbformat.write(nbformat.v4.new_notebook(), chapters / f"{c.output}.ipynb")
    (chapters / "_run.json").write_text("{}")
    return workdir


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


# --- the repository URL: one home -----------------------------------------------------------


def test_the_repository_url_is_set_in_config_yml_only():
    files = _git(ROOT, "grep", "-l", "--fixed-strings", REPO.url).splitlines()
    assert files == ["_config.yml"], f"{REPO.url} is written in {files}: read it from _config.yml"
    assert REPO.branch == "published", "the launch buttons must open the published branch"
    assert REPO.owner_name == tuple(REPO.url.removeprefix("https://github.com/").split("/"))


# --- binder/ ---------------------------------------------------------------------------------


def test_binder_pins_are_the_books_with_cpu_torch():
    book, binder = _pins(ROOT / "requirements.txt"), _pins(ROOT / "binder" / "requirements.txt")
    assert binder["torch"] == book["torch"] + "+cpu"
    assert binder["torchvision"] == book["torchvision"] + "+cpu"
    for name, version in binder.items():
        if name not in ("torch", "torchvision"):
            assert book.get(name) == version, (
                f"binder pins {name}=={version}, the book {book.get(name)}"
            )
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert f"--extra-index-url {publish.TORCH_CPU_INDEX}" in text


def test_binder_post_build_is_executable_and_installs_the_package_without_deps():
    mode = _git(ROOT, "ls-files", "--stage", "binder/postBuild").split()[0]
    assert mode == "100755", (
        "binder/postBuild must be committed executable (git update-index --chmod=+x)"
    )
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


# --- publish_tree and commit_tree --------------------------------------------------------------


def test_publish_tree_is_head_plus_the_executed_notebooks(tmp_path):
    work = _fake_build(tmp_path / "build")
    tree = publish.publish_tree(work, tmp_path / "tree")
    tracked = set(_git(ROOT, "ls-tree", "-r", "--name-only", "HEAD").splitlines())
    chapters = {f"book/chapters/{c.output}.ipynb" for c in reproduce.chapters()}
    files = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert files == tracked | chapters  # no run log, no .venv, no _build
    assert (tree / "binder" / "postBuild").stat().st_mode & 0o111


def test_publish_tree_refuses_a_build_without_every_chapter(tmp_path):
    work = _fake_build(tmp_path / "build")
    missing = reproduce.chapters()[0].output
    (work / "book" / "chapters" / f"{missing}.ipynb").unlink()
    with pytest.raises(publish.PublishError, match=missing):
        publish.publish_tree(work, tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_publish_tree_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "mine.txt").write_text("keep")
    with pytest.raises(publish.PublishError, match="not empty"):
        publish.publish_tree(_fake_build(tmp_path / "build"), tmp_path / "tree")
    assert (tmp_path / "tree" / "mine.txt").read_text() == "keep"


@pytest.fixture
def small_repo(tmp_path, monkeypatch):
    """A one-commit repository whose .gitignore ignores the executed chapters, as ours does."""
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.invalid")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    (repo / ".gitignore").write_text("book/chapters/\n")
    for name in ("_config.yml", "requirements.txt"):  # the bootstrap cell reads both
        (repo / name).write_text((ROOT / name).read_text())
    _git(repo, "add", ".")
    _git(repo, "commit", "--quiet", "-m", "first")
    return repo


def test_commit_tree_records_ignored_notebooks_on_top_of_head_and_moves_nothing(
    tmp_path, small_repo
):
    tree = publish.publish_tree(_fake_build(tmp_path / "build"), tmp_path / "tree", root=small_repo)
    head = _git(small_repo, "rev-parse", "HEAD")
    sha = publish.commit_tree(tree, "published", root=small_repo)
    assert _git(small_repo, "rev-parse", f"{sha}^") == head  # its parent is the built commit
    files = set(_git(small_repo, "ls-tree", "-r", "--name-only", sha).splitlines())
    chapters = {f"book/chapters/{c.output}.ipynb" for c in reproduce.chapters()}
    assert files == {".gitignore", "_config.yml", "requirements.txt"} | chapters
    assert _git(small_repo, "rev-parse", "HEAD") == head
    assert _git(small_repo, "status", "--porcelain") == ""  # index and files untouched


# --- launch_links ---------------------------------------------------------------------------


def test_launch_links_reads_binder_colab_and_jupyterhub_forms(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "repository: {url: 'https://github.com/o/r', branch: pub}\n"
        "launch_buttons: {binderhub_url: 'https://b.example', colab_url: 'https://c.example',"
        " jupyterhub_url: 'https://h.example'}\n"
    )
    html = tmp_path / "html"
    (html / "ch").mkdir(parents=True)
    hub = (
        "https://h.example/hub/user-redirect/git-pull?repo=https%3A//github.com/o/r"
        "&amp;urlpath=lab/tree/r/book/x.ipynb&amp;branch=pub"
    )
    (html / "ch" / "x.html").write_text(
        '<a href="https://b.example/v2/gh/o/r/pub?urlpath=lab/tree/book/x.ipynb">B</a>'
        '<a href="https://c.example/github/o/r/blob/pub/book/x.ipynb">C</a>'
        f'<a href="{hub}">H</a><a href="https://github.com/o/r">repo</a>'
    )
    links = publish.launch_links(html, tmp_path / "_config.yml")
    assert [(link.kind, link.repository, link.branch, link.path) for link in links] == [
        (kind, "https://github.com/o/r", "pub", "book/x.ipynb")
        for kind in ("binder", "colab", "jupyterhub")
    ]
    assert {link.page for link in links} == {"ch/x.html"}


@pytest.mark.slow
def test_every_launch_button_of_the_smoke_book_opens_a_published_notebook(smoke_book, tmp_path):
    config = publish.repository(smoke_book / "_config.yml")
    assert config.url == REPO.url and config.branch == "published"
    owner, name = config.owner_name
    links = publish.launch_links(smoke_book / "_build" / "html", smoke_book / "_config.yml")
    binder = config.launch_buttons["binderhub_url"].rstrip("/")
    colab = config.launch_buttons["colab_url"].rstrip("/")
    expected = {}
    for c in reproduce.chapters():
        path = f"book/chapters/{c.output}.ipynb"
        page = f"book/chapters/{c.output}.html"
        expected[(page, "binder")] = (
            f"{binder}/v2/gh/{owner}/{name}/{config.branch}?urlpath=lab/tree/{path}"
        )
        expected[(page, "colab")] = f"{colab}/github/{owner}/{name}/blob/{config.branch}/{path}"
    found = {(link.page, link.kind): link.url for link in links}
    assert found == expected  # each chapter page has both buttons, in Jupyter Book's form
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    for link in links:
        assert link.repository == REPO.url and link.branch == "published"
        assert (tree / link.path).is_file(), f"{link.url} opens {link.path}, not in the tree"
        assert re.fullmatch(r"book/chapters/\w+\.ipynb", link.path)


# --- the Colab bootstrap cell --------------------------------------------------------------


@pytest.fixture
def pip_calls(monkeypatch):
    """subprocess.check_call recorded instead of run."""
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd) or 0)
    return calls


def _run_cell(**kw) -> None:
    exec(compile(publish.bootstrap_cell_source(REPO.url, REPO.branch, **kw), "cell", "exec"), {})


def test_bootstrap_cell_does_nothing_outside_colab(monkeypatch, pip_calls, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "nnspaces", None)  # even with the package missing
    _run_cell()
    assert pip_calls == [] and capsys.readouterr().out == ""


def test_bootstrap_cell_does_nothing_on_colab_when_the_package_imports(monkeypatch, pip_calls):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    _run_cell()
    assert pip_calls == []


@pytest.mark.parametrize("torch_there", [True, False])
def test_bootstrap_cell_on_colab_installs_the_published_package(
    monkeypatch, pip_calls, capsys, torch_there
):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setitem(sys.modules, "nnspaces", None)  # not importable
    if not torch_there:
        monkeypatch.setitem(sys.modules, "torch", None)
    _run_cell(root=ROOT)
    pins = _pins(ROOT / "requirements.txt")
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    package = f"nnspaces @ git+{REPO.url}@published"
    cpu = [
        *pip,
        "--extra-index-url",
        publish.TORCH_CPU_INDEX,
        f"torch=={pins['torch']}+cpu",
        f"torchvision=={pins['torchvision']}+cpu",
    ]
    own = [*pip, f"myst-nb=={pins['myst-nb']}", package]
    assert pip_calls == ([own] if torch_there else [cpu, own])
    assert package in capsys.readouterr().out
