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
