"""Launch buttons open files that exist: nnspaces.publish, binder/ and the built pages.

The buttons open ``book/chapters/<chapter>.ipynb`` at the build's tag ``published-<commit>``
(:func:`nnspaces.layout.launch_ref`), the commit the page's banner names, under which CI
pushes the tree :func:`nnspaces.publish.publish_tree` assembles. The slow test reads every
launch link of the smoke build, checks it names its page's banner's ref, and finds its target
in a tree assembled from that build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from nnspaces import layout, pages, publish, reproduce

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


def _info(chapter, commit: str | None) -> dict:
    """What the pipeline tells :func:`nnspaces.pages.decorate` about a chapter run at ``commit``."""
    return dict(
        output=chapter.output,
        notebook=chapter.notebook,
        profile="smoke",
        parameters={},
        seconds=1.0,
        commit=commit,
        date="2026-12-07T10:00:00+00:00",
        version="0.1.0",
        repository=REPO.url,
        branch=REPO.branch,
    )


def _fake_build(workdir: Path, commit: str | None = None, only: dict | None = None) -> Path:
    """A build folder holding an executed notebook for every chapter, with the banner the
    pipeline gives it (made at ``commit``; ``only``: chapter → another commit), and the run
    log."""
    chapters = workdir / "book" / "chapters"
    chapters.mkdir(parents=True)
    for c in reproduce.chapters():
        path = chapters / f"{c.output}.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {c.output}\n\nWhat it finds.")]
        nbformat.write(nb, path)
        pages.decorate(path, _info(c, (only or {}).get(c.output, commit)))
    (chapters / "_run.json").write_text("{}")
    return workdir


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


# --- the repository URL: one home -----------------------------------------------------------


def test_the_repository_url_is_set_in_config_yml_only():
    files = _git(ROOT, "grep", "-l", "--fixed-strings", REPO.url).splitlines()
    # the registry of published networks holds the release URLs the publishing job wrote
    # (read from _config.yml when it ran): a record, not a second place to set the URL
    files = [f for f in files if f != "lib/nnspaces/registry.json"]
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


# --- each build's pages open its own tag ------------------------------------------------------


def test_a_build_opens_its_tag_checked_against_the_chapters_and_head(tmp_path, small_repo):
    head = _git(small_repo, "rev-parse", "HEAD")
    short = _git(small_repo, "rev-parse", "--short", "HEAD")
    build = _fake_build(tmp_path / "build", short)
    ref = publish.build_ref(build, small_repo)
    assert ref == f"published-{short}" == layout.launch_ref(REPO.branch, short)
    # the banners' links open it too: the executed notebook and its source at that tag
    banner = nbformat.read(build / "book" / "chapters" / "01_models.ipynb", 4).cells[1].source
    assert f"{REPO.url}/blob/{ref}/book/chapters/01_models.ipynb" in banner
    assert f"{REPO.url}/blob/{ref}/notebooks/01_models.ipynb" in banner
    assert f"{REPO.url}/commit/{short}" in banner
    # and Colab installs the library of that commit
    tree = publish.publish_tree(build, tmp_path / "tree", root=small_repo)
    first = nbformat.read(tree / "book" / "chapters" / "01_models.ipynb", 4).cells[0].source
    assert f"nnspaces @ git+{REPO.url}@{ref}" in first
    assert head.startswith(short)


def test_a_build_of_another_commit_or_of_several_is_not_published(tmp_path, small_repo):
    short = _git(small_repo, "rev-parse", "--short", "HEAD")
    other = tmp_path / "other"
    _fake_build(other, "0000000")
    with pytest.raises(publish.PublishError, match="made at commit 0000000, but HEAD is"):
        publish.publish_tree(other, tmp_path / "t1", root=small_repo)
    mixed = _fake_build(tmp_path / "mixed", short, only={"01_models": "1111111"})
    with pytest.raises(publish.PublishError, match="several builds .*make book FORCE=1"):
        publish.build_ref(mixed, small_repo)
    bare = _fake_build(tmp_path / "bare", short)
    nbformat.write(nbformat.v4.new_notebook(), bare / "book" / "chapters" / "01_models.ipynb")
    with pytest.raises(publish.PublishError, match=r"without a provenance banner \['01_models'\]"):
        publish.build_ref(bare, small_repo)
    assert not (tmp_path / "t1").exists()


def test_a_build_with_uncommitted_changes_opens_the_published_branch(tmp_path, small_repo):
    """No tag holds such a build: its pages open the latest published tree instead."""
    dirty = _fake_build(tmp_path / "dirty", "0000000-dirty")
    assert publish.build_ref(dirty, small_repo) == REPO.branch


@pytest.mark.slow
def test_every_launch_button_of_the_smoke_book_opens_the_notebook_its_page_shows(
    smoke_book, tmp_path
):
    config = publish.repository(smoke_book / "_config.yml")
    assert config.url == REPO.url and config.branch == "published"
    owner, name = config.owner_name
    html = smoke_book / "_build" / "html"
    links = publish.launch_links(html, smoke_book / "_config.yml")
    binder = config.launch_buttons["binderhub_url"].rstrip("/")
    colab = config.launch_buttons["colab_url"].rstrip("/")
    expected, refs = {}, set()
    for c in reproduce.chapters():
        path = f"book/chapters/{c.output}.ipynb"
        page = f"book/chapters/{c.output}.html"
        # the ref the page's banner names: the commit of the run that made it
        made = pages.provenance(smoke_book / path)
        ref = made["ref"]
        assert ref == layout.launch_ref(config.branch, made["commit"])
        refs.add(ref)
        expected[(page, "binder")] = f"{binder}/v2/gh/{owner}/{name}/{ref}?urlpath=lab/tree/{path}"
        expected[(page, "colab")] = f"{colab}/github/{owner}/{name}/blob/{ref}/{path}"
        # the banner on the page links the executed notebook at the same ref
        assert f"{config.url}/blob/{ref}/{path}" in publish._hrefs(html / page)
    found = {(link.page, link.kind): link.url for link in links}
    assert found == expected  # each chapter page has both buttons, in Jupyter Book's form
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    assert refs == {publish.build_ref(smoke_book)}  # one build, one tag to push
    for link in links:
        assert link.repository == REPO.url
        assert (tree / link.path).is_file(), f"{link.url} opens {link.path}, not in the tree"
        assert re.fullmatch(r"book/chapters/\w+\.ipynb", link.path)


# --- the Colab bootstrap cell --------------------------------------------------------------


@pytest.fixture
def pip_calls(monkeypatch):
    """subprocess.check_call recorded instead of run; ``$NNSPACES_BOOK_URL`` unset, and
    unset again after the test (the cell sets it on Colab)."""
    monkeypatch.setenv(layout.BOOK_URL, "")
    monkeypatch.delenv(layout.BOOK_URL)
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd) or 0)
    return calls


REF = "published-0123abc"  # a build's tag


def _run_cell(**kw) -> None:
    exec(compile(publish.bootstrap_cell_source(REPO.url, REF, **kw), "cell", "exec"), {})


def test_bootstrap_cell_does_nothing_outside_colab(monkeypatch, pip_calls, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "nnspaces", None)  # even with the package missing
    _run_cell()
    assert pip_calls == [] and capsys.readouterr().out == ""
    assert layout.BOOK_URL not in os.environ


def test_bootstrap_cell_on_colab_names_the_published_book(monkeypatch, pip_calls):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    _run_cell()
    assert pip_calls == []  # the package imports: nothing installed
    owner, name = REPO.owner_name
    assert os.environ[layout.BOOK_URL] == f"https://{owner.lower()}.github.io/{name}/"


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
    package = f"nnspaces @ git+{REPO.url}@{REF}"  # the library that made the notebooks
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


# --- the appendices run where a launch button opens them -------------------------------------


def _execute(nb: Path, cwd: Path, cache: Path, monkeypatch):
    """Run ``nb`` top to bottom as a reader's kernel would, in ``cwd``, with an empty cache;
    the executed copy (``ran-<name>`` in ``cwd``)."""
    import papermill as pm

    from nnspaces import forked_kernels

    monkeypatch.setenv("NNSPACES_CACHE", str(cache))
    monkeypatch.delenv(layout.BOOK_URL, raising=False)
    out = cwd / f"ran-{nb.name}"
    pm.execute_notebook(
        str(nb),
        str(out),
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
        kernel_manager_class=forked_kernels.kernel_manager_class(fork=False),
    )
    return nbformat.read(out, 4)


def _notes(ran) -> list[str]:
    """The Markdown notes the run displayed."""
    return [
        o["data"]["text/markdown"]
        for c in ran.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]


@pytest.mark.slow
def test_the_appendices_run_top_to_bottom_in_the_published_tree(smoke_book, tmp_path, monkeypatch):
    """Binder: the published tree, the notebook in book/chapters, a fresh cache, no run log."""
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    chapters = tree / "book" / "chapters"
    perf = _execute(chapters / "92_performance.ipynb", chapters, tmp_path / "c1", monkeypatch)
    assert _notes(perf) == []  # the benchmark results found from the book's folder
    repro = _execute(chapters / "91_reproducibility.ipynb", chapters, tmp_path / "c2", monkeypatch)
    (note,) = _notes(repro)  # no run log is published: it says so, and runs to the end
    assert note.startswith("**Not here:** this appendix summarises the build's run (`_run.json`)")
    owner, name = REPO.owner_name
    assert (
        f"(https://{owner.lower()}.github.io/{name}/book/chapters/91_reproducibility.html)" in note
    )


@pytest.mark.slow
def test_an_appendix_opened_alone_says_what_it_lacks(smoke_book, tmp_path, monkeypatch):
    """Colab: one notebook in an empty folder, no book around it."""
    import papermill as pm

    alone = tmp_path / "content"
    alone.mkdir()
    for stem in ("91_reproducibility", "92_performance"):
        (alone / f"{stem}.ipynb").write_bytes(
            (smoke_book / "book" / "chapters" / f"{stem}.ipynb").read_bytes()
        )
    repro = _execute(alone / "91_reproducibility.ipynb", alone, tmp_path / "c1", monkeypatch)
    assert len(_notes(repro)) == 1  # runs to the end, saying the run's sections are empty
    with pytest.raises(pm.PapermillExecutionError) as e:  # stops, after a note
        _execute(alone / "92_performance.ipynb", alone, tmp_path / "c2", monkeypatch)
    assert e.value.ename == "NotHere" and e.value.traceback == []  # no traceback to read
    ran = nbformat.read(alone / "ran-92_performance.ipynb", 4)
    (note,) = _notes(ran)
    assert note.startswith("**Not here:** this appendix summarises the benchmark results")


# --- every chapter runs where a launch button opens it, from the published networks -----------


def _trained_in(ran) -> list[str]:
    """The training progress lines a run printed (``train <model> on <data>``): none when
    every network came from the cache or the published files."""
    return [
        line
        for c in ran.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
        for line in o.get("text", "").splitlines()
        if re.search(r"\btrain (fcnn1|fcnn5|resnet18) on ", line)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["binder", "colab"])
def test_every_published_chapter_runs_from_the_published_networks(
    smoke_book, tmp_path, monkeypatch, where
):
    """Every published notebook run top to bottom where a launch button opens it, with an
    empty cache, its networks fetched from the published files on a loopback server: none
    is trained. Binder opens it in the published tree (``book/chapters``); Colab alone, in
    an empty folder (the appendix of benchmark results then stops with its note)."""
    import papermill as pm
    from benchmarks.fetch import serving

    from nnspaces import weights

    registry = tmp_path / "registry.json"
    served = tmp_path / "served"
    base = "https://example.invalid/releases/download/test/"  # the server's URL replaces it
    weights.publish(served, "smoke", base, "test", smoke_book / "cache", registry)
    tree = publish.publish_tree(smoke_book, tmp_path / "published")
    chapters = tree / "book" / "chapters"
    monkeypatch.setenv("NNSPACES_REGISTRY", str(registry))
    fresh = tmp_path / "fresh-cache"
    with serving(served) as url:
        monkeypatch.setenv("NNSPACES_WEIGHTS_URL", url)
        for nb in sorted(chapters.glob("[0-9]*.ipynb")):
            cwd = chapters
            if where == "colab":
                cwd = tmp_path / "content" / nb.stem
                cwd.mkdir(parents=True)
                nb = Path(cwd / nb.name)
                nb.write_bytes((chapters / nb.name).read_bytes())
            try:
                ran = _execute(nb, cwd, fresh, monkeypatch)
            except pm.PapermillExecutionError as e:
                assert where == "colab" and nb.stem == "92_performance", (nb.name, e)
                assert e.ename == "NotHere"
                continue
            assert _trained_in(ran) == [], f"{nb.name} trained instead of fetching"
    assert any((fresh / "models").glob("*.pt"))  # the networks came from the server
