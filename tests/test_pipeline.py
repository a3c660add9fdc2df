"""End to end: the smoke profile through papermill and Jupyter Book, in a temporary folder."""

import json
import re
from pathlib import Path

import pytest

from nnspaces import reproduce

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
    shown = "".join(
        "".join(out.get("data", {}).get("text/plain", ""))
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
    )
    for c in reproduce.chapters()[:-1]:
        assert c.output in shown, f"{c.output} ran after the reproducibility appendix"


def test_bad_jobs_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="jobs must be a positive int"):
        reproduce.reproduce("smoke", workdir=tmp_path, jobs=0, build=False)
    assert not list((tmp_path / "book" / "chapters").glob("*.ipynb"))
