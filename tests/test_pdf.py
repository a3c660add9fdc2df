"""The PDF edition of the smoke build, read back with poppler (pdftotext, pdfimages, pdftoppm).

Checks what a reader of the PDF gets: every page of the table of contents in order, each
with a bookmark; the glued numbers of the HTML as printed numbers (no glue keys, no "???");
the figures as images; the references.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from nnspaces import pdf

POPPLER = all(shutil.which(t) for t in ("pdftotext", "pdfimages", "pdftoppm"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
        reason="PDF TEST SKIPPED: no Chromium; `apt-get install chromium` (.ci/run does)",
    ),
    pytest.mark.skipif(
        not POPPLER,
        reason="PDF TEST SKIPPED: no poppler; `apt-get install poppler-utils` (.ci/run does)",
    ),
]


class _Page(HTMLParser):
    """What the PDF must show of one HTML page: glued text, references, whether it has images."""

    def __init__(self) -> None:
        super().__init__()
        self.glued: list[str] = []
        self.references: list[str] = []
        self.images = 0
        self._capture: list | None = None
        self._depth = 0
        self._in_citation = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "img" and "_images/" in (a.get("src") or ""):  # a figure, not a logo
            self.images += 1
        if self._capture is not None:
            self._depth += 1
        elif tag == "span" and "pasted-text" in cls:
            self._capture, self._depth = self.glued, 1
            self.glued.append("")
        elif "citation" in cls and tag == "div":
            self._in_citation = True
        elif self._in_citation and tag == "p":
            self._capture, self._depth = self.references, 1
            self.references.append("")

    def handle_endtag(self, tag):
        if self._capture is not None:
            self._depth -= 1
            if self._depth == 0:
                self._capture = None
                self._in_citation = False

    def handle_data(self, data):
        if self._capture is not None:
            self._capture[-1] += data


def _norm(text: str) -> str:
    """No whitespace and no hyphens: a line may break anywhere, and pdftotext drops the
    hyphen that ends a line ("1.3e-" + "07" reads "1.3e07")."""
    return re.sub(r"[\s\-\u00ad]+", "", text)


@pytest.fixture(scope="module")
def book(smoke_book, tmp_path_factory):
    html = smoke_book / "_build" / "html"
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    info = pdf.build_pdf(html, out, log=lambda line: None)
    return html, out, info


def _text(path: Path, first: int | None = None, last: int | None = None) -> str:
    cmd = ["pdftotext", "-enc", "UTF-8"]
    if first is not None:
        cmd += ["-f", str(first), "-l", str(last)]
    return subprocess.run([*cmd, str(path), "-"], check=True, capture_output=True, text=True).stdout


def _ranges(info) -> list[tuple[str, int, int]]:
    """(HTML page, its first PDF page, its last PDF page), 1-based."""
    firsts = [first for _, _, first in info["chapters"]] + [info["pages"] + 1]
    return [(rel, a, b - 1) for (rel, _, a), b in zip(info["chapters"], firsts[1:])]


def test_every_page_of_the_toc_is_printed_in_order_with_a_bookmark(book):
    html, out, info = book
    order = pdf.page_order(html)
    assert [rel for rel, _, _ in info["chapters"]] == order
    assert all(b >= a for _, a, b in _ranges(info)), "an HTML page printed to no PDF page"
    assert info["pages"] >= len(order) and out.stat().st_size > 0
    from pypdf import PdfReader

    reader = PdfReader(out)
    assert len(reader.pages) == info["pages"]
    outline = [
        (item.title, reader.get_destination_page_number(item) + 1) for item in reader.outline
    ]
    assert outline == [(title, first) for _, title, first in info["chapters"]]


def test_each_page_prints_its_title_and_glued_numbers_and_no_glue_key(book):
    html, out, info = book
    for rel, first, last in _ranges(info):
        text = _norm(_text(out, first, last))
        page = _Page()
        page.feed((html / rel).read_text(encoding="utf-8"))
        title = next(t for r, t, _ in info["chapters"] if r == rel)
        assert _norm(title) in text, f"{rel}: title {title!r} not printed"
        for glued in page.glued:
            if re.search(r"\d", glued):
                assert _norm(glued) in text, f"{rel}: glued {glued!r} missing from the PDF"
        for bad in ("{glue", "???", "Traceback (most recent call last)"):
            assert bad not in text, f"{rel}: {bad!r} printed on PDF pages {first}-{last}"


def test_the_references_are_printed(book):
    html, out, info = book
    text = _norm(_text(out))
    references = []
    for rel in pdf.page_order(html):
        page = _Page()
        page.feed((html / rel).read_text(encoding="utf-8"))
        references += page.references
    assert references, "the smoke build has no bibliography to check"
    for ref in references:
        assert _norm(ref) in text, f"reference not in the PDF: {ref!r}"
    assert "References" in text


def test_figures_are_images_in_the_pdf_and_pages_are_not_blank(book, tmp_path):
    html, out, info = book
    listing = subprocess.run(
        ["pdfimages", "-list", str(out)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]  # two header lines
    image_pages = {int(line.split()[0]) for line in listing if line.strip()}
    for rel, first, last in _ranges(info):
        page = _Page()
        page.feed((html / rel).read_text(encoding="utf-8"))
        if page.images:
            assert image_pages & set(range(first, last + 1)), f"{rel}: no image in the PDF"
            # the first page with an image, rendered: ink on paper, not a blank page
            shown = min(image_pages & set(range(first, last + 1)))
            subprocess.run(
                ["pdftoppm", "-r", "40", "-gray", "-f", str(shown), "-l", str(shown)]
                + [str(out), str(tmp_path / "p")],
                check=True,
            )
            pgm = next(tmp_path.glob("p*.pgm"))
            pixels = np.frombuffer(pgm.read_bytes().split(b"\n", 3)[3], dtype=np.uint8)
            assert (pixels < 200).mean() > 0.01, f"{rel}: PDF page {shown} is nearly blank"
            pgm.unlink()
