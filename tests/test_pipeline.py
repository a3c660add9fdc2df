"""End to end: the smoke profile through papermill and Jupyter Book, in a temporary folder."""

import json
import re
from pathlib import Path

import pytest

from nnspaces import claims, reproduce

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_chapter_is_executed_and_rendered_with_its_figures(smoke_book):
    html = smoke_book / "_build" / "html"
    assert (html / "index.html").is_file()
    run = json.loads((smoke_book / "book" / "chapters" / "_run.json").read_text())
    assert run["profile"] == "smoke"
    for c in reproduce.chapters():
        page = html / "book" / "chapters" / f"{c.output}.html"
        text = page.read_text()
        imgs = re.findall(r'<img[^>]+src="([^"]+)"', text)
        assert imgs, f"{page.name} has no figure"
        for src in imgs:
            if not src.startswith("data:"):
                assert (page.parent / src).resolve().is_file(), src
        assert "Traceback" not in text and "{glue" not in text
        assert c.output in run["seconds"]


@pytest.mark.slow
def test_the_models_chapter_states_data_and_accuracies(smoke_book):
    text = (smoke_book / "_build" / "html" / "book" / "chapters" / "01_models.html").read_text()
    assert "mnist-5k" in text and "300 training" in text
    assert "ResNet18" in text and "paper accuracy" in text


@pytest.mark.slow
def test_chapters_run_in_parallel_and_the_run_log_chapter_runs_last(smoke_book):
    """The pipeline ran its default number of chapters at once, and the reproducibility
    appendix (which reads the run log) saw every other chapter's time."""
    run = json.loads((smoke_book / "book" / "chapters" / "_run.json").read_text())
    assert run["jobs"] == reproduce.default_jobs()
    assert list(run["seconds"])[:-2] == [c.output for c in reproduce.chapters()][:-1]
    nb = json.loads((smoke_book / "book" / "chapters" / "91_reproducibility.ipynb").read_text())
    shown = "".join(  # every output, glued tables too (their links name the chapters)
        "".join(value)
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        for value in out.get("data", {}).values()
        if isinstance(value, str | list)
    )
    for c in reproduce.chapters()[:-1]:
        assert c.output in shown, f"{c.output} ran after the reproducibility appendix"


def _appendix_claims(html_dir: Path) -> list[tuple[str, str, bool]]:
    """(chapter, key, holds) of each row of the appendix's table of conclusions, read from
    each row's link to its block (``<page>.html#verdict-<page>-<key>``) and its ✓/✗ cell."""
    from bs4 import BeautifulSoup

    page = html_dir / "book" / "chapters" / "91_reproducibility.html"
    soup = BeautifulSoup(page.read_text(), "html.parser")
    rows = []
    for tr in soup.select("table.nnspaces-table tr"):
        link = next((a["href"] for a in tr.select("a[href*='#verdict-']")), None)
        status = [td.get_text(strip=True) for td in tr.find_all("td")]
        if link is None or not ({"✓ yes", "✗ no"} & set(status)):
            continue
        target, anchor = link.split("#")
        chapter = Path(target).stem or "91_reproducibility"
        rows.append((chapter, anchor, "✓ yes" in status))
    return rows


@pytest.mark.slow
def test_every_verdict_reaches_the_appendix_and_a_failing_one_says_so_on_its_page(smoke_book):
    """One epoch on 300 images: some conclusions of the book hold, some do not. The appendix
    lists every verdict of every chapter, linked to its block; a block whose verdict fails
    shows its alternative in a "Not on this run" box on its own page, one that holds shows
    none, and no directive markup is left unrendered."""
    from bs4 import BeautifulSoup

    from nnspaces import sphinxext

    html = smoke_book / "_build" / "html"
    chapters = smoke_book / "book" / "chapters"
    listed = _appendix_claims(html)
    holding = [r for r in listed if r[2]]
    failing = [r for r in listed if not r[2]]
    assert holding and failing, listed
    # the appendix lists exactly the verdicts the executed chapters glued, in book order
    glued = [
        (stem, sphinxext.label(stem, r["key"]), r["holds"])
        for stem in reproduce.book_order()
        for r in claims.read_claims(chapters / f"{stem}.ipynb")
    ]
    assert listed == glued
    for chapter, anchor, holds in listed:
        soup = BeautifulSoup(
            (html / "book" / "chapters" / f"{chapter}.html").read_text(), "html.parser"
        )
        block = soup.find(id=anchor)
        assert block is not None, (chapter, anchor)
        assert ("verdict-holds" if holds else "verdict-fails") in block["class"]
        boxes = block.select("div.admonition.claim-failed")
        if holds or "verdict-neutral" in block["class"]:  # a comparison's other finding: prose
            assert not boxes, (chapter, anchor)
        else:
            (box,) = boxes
            assert "warning" in box["class"]
            assert box.select_one(".admonition-title").get_text() == sphinxext.NOT_ON_THIS_RUN
    for page in (html / "book" / "chapters").glob("*.html"):
        text = page.read_text()
        for raw in ("{glue", "{verdict}", "{otherwise}", "{when}", "````", ":class: warning"):
            assert raw not in text, f"{page.name} shows unrendered markup {raw!r}"


@pytest.mark.slow
def test_the_training_stage_trained_every_network_and_no_chapter_trained(smoke_book):
    """The stage before the chapters trained exactly the networks ``networks.configs``
    derives (the session's cache starts empty), and every chapter loaded only networks
    its fingerprint lists, none of them trained by the chapter itself."""
    from nnspaces import networks

    run = json.loads((smoke_book / "book" / "chapters" / "_run.json").read_text())
    expected = {networks.network_id(c) for c in networks.configs("smoke")}
    assert set(run["training"]["networks"]) == expected
    assert all(v != "cached" for v in run["training"]["networks"].values())


def _rerun(work: Path, cache: Path) -> str:
    import os
    import subprocess
    import sys

    env = dict(os.environ, NNSPACES_CACHE=str(cache))
    cmd = [sys.executable, "-m", "nnspaces", "reproduce", "--profile", "smoke", "--workdir"]
    proc = subprocess.run(cmd + [str(work)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_a_rebuild_runs_only_what_changed(smoke_book, tmp_path):
    """Nothing changed: every executed copy is kept and the HTML is not rebuilt. One
    chapter's inputs changed (its stored fingerprint differs): that chapter runs, and the
    appendix that reads the run log, nothing else; then the HTML is rebuilt."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(smoke_book, work, ignore=shutil.ignore_patterns("cache"), symlinks=True)
    cache = smoke_book / "cache"
    out = _rerun(work, cache)
    kept = re.findall(r"\] (\S+): unchanged", out)
    assert sorted(kept) == sorted(c.output for c in reproduce.chapters()), out
    assert "started" not in out and "HTML up to date" in out
    fp = work / "book" / "chapters" / "02_signal_space.fingerprint.json"
    stored = json.loads(fp.read_text())
    fp.write_text(json.dumps({**stored, "notebook": "edited"}))
    out = _rerun(work, cache)
    ran = re.findall(r"\] (\S+): started", out)
    assert sorted(ran) == ["02_signal_space", "91_reproducibility"], out
    assert "02_signal_space: will run (notebook)" in out and "jupyter-book build" in out
    assert json.loads(fp.read_text()) == stored  # the run stored the fingerprint again


@pytest.mark.slow
def test_the_results_each_chapter_used_are_recorded_for_the_profile_bundle(smoke_book):
    """Each chapter's memoised results (read or computed) are in the run log, and their union,
    in the cache's index for the profile, names files the cache holds: what `weights export
    --profile smoke` carries."""
    run = json.loads((smoke_book / "book" / "chapters" / "_run.json").read_text())
    used = run["results"]
    assert set(used) == {c.output for c in reproduce.chapters()}
    assert any(f.startswith("results/reenact/") for f in used["10_released_resnet"])
    assert any(f.startswith("results/invert_classes/") for f in used["05_ideal_inputs"])
    assert any(f.startswith("results/null-energy/") for f in used["04_information_lost"])
    index = json.loads((smoke_book / "cache" / "results" / "index-smoke.json").read_text())
    assert index["files"] == sorted({f for files in used.values() for f in files})
    assert index["files"] and all((smoke_book / "cache" / f).is_file() for f in index["files"])
