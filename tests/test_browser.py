"""The built book in a real browser: Debian's Chromium, driven by Playwright.

Opens every page of the smoke build from a local HTTP server and checks what a reader
sees: images load, no traceback or unresolved glue, mathematics typeset by MathJax, and the
navigation reaches every chapter. Every chapter page reads like a paper: a provenance
banner (profile, commit, the executed notebook), code collapsed behind its toggle, no
parameters cell, nothing wider than the text column at 1280 px. Saves a screenshot of each
page (and of each chapter's banner) under ``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import threading
from pathlib import Path

import nbformat
import pytest
import yaml

from nnspaces import pdf, reproduce

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "screenshots"
try:  # the PDF edition's Chromium and flags: one place for both
    CHROMIUM = pdf.chromium()
except pdf.PdfError:
    CHROMIUM = None
FLAGS = pdf.CHROMIUM_FLAGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="BROWSER TEST SKIPPED: no Chromium on this machine. Install it with "
        "`apt-get install chromium` (CI's .ci/run does) to check the rendered pages.",
    ),
]


@pytest.fixture(scope="module")
def site(smoke_book):
    html = smoke_book / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def _pages():
    """Every page of the table of contents: the executed chapters and the prose pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        entry
        for part in toc["parts"]
        for ch in part["chapters"]
        for entry in [ch["file"]] + [s["file"] for s in ch.get("sections", [])]
    ]
    return [f"{f}.html" for f in files]


def test_the_toc_lists_every_executed_chapter():
    assert {f"book/chapters/{c.output}.html" for c in reproduce.chapters()} <= set(_pages())


def test_navigation_reaches_every_chapter(site, page):
    page.goto(f"{site}/index.html")  # a redirect to the root page
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]  # the book's first page
    page.wait_for_url(f"**/{root}.html")
    page.wait_for_load_state("networkidle")
    hrefs = page.eval_on_selector_all("nav a.reference.internal", "els => els.map(e => e.href)")
    for c in reproduce.chapters():
        assert any(h.split("#")[0].endswith(f"book/chapters/{c.output}.html") for h in hrefs), (
            f"{c.output} not in the navigation"
        )


@pytest.mark.parametrize("path", _pages())
def test_page_renders_for_a_reader(site, page, path):
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(f"{site}/{path}", wait_until="networkidle")
    assert response is not None and response.ok, path
    text = page.inner_text("main")
    assert "Traceback (most recent call last)" not in text and "{glue" not in text
    broken = page.eval_on_selector_all(
        "main img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)"
    )
    assert broken == [], f"images that did not load on {path}: {broken}"
    if page.locator("main .math").count():
        page.wait_for_selector("main mjx-container", timeout=15000)
        assert page.locator("main .math mjx-container, main mjx-container").count() > 0
        assert "\\(" not in page.inner_text("main .math >> nth=0")
    # sphinx-thebe (pulled in by Jupyter Book) writes its config script twice on every page,
    # so the browser reports its constant as redeclared; harmless and not ours to fix.
    ours = [e for e in errors if "THEBE_JS_URL" not in e]
    assert ours == [], ours
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (Path(path).stem + ".png")), full_page=True)


# --- chapter pages: provenance, collapsed code, no parameters, nothing too wide -------------


def _chapter_pages():
    return [pytest.param(c, id=c.output) for c in reproduce.chapters()]


def _open(site, page, chapter):
    response = page.goto(f"{site}/book/chapters/{chapter.output}.html", wait_until="networkidle")
    assert response is not None and response.ok, chapter.output
    if page.locator("main .math").count():  # MathJax changes widths: measure after it
        page.wait_for_selector("main mjx-container", timeout=15000)


def _git(*args) -> bool:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True).returncode == 0


def _is_git() -> bool:
    return _git("rev-parse", "--git-dir")


def _is_commit(sha: str) -> bool:
    """A commit of this checkout's history (HEAD may have moved on since the build)."""
    return _git("merge-base", "--is-ancestor", sha, "HEAD")


@pytest.mark.parametrize("chapter", _chapter_pages())
def test_chapter_page_says_how_it_was_made(site, page, chapter):
    _open(site, page, chapter)
    banners = page.locator("main article .admonition.provenance")
    assert banners.count() == 1, f"{chapter.output}: {banners.count()} provenance banners"
    banner = banners.first
    assert banner.is_visible()
    text = " ".join(banner.inner_text().split())
    assert "Profile smoke" in text, text
    shown = re.search(r"Commit ([0-9a-f]{7,40})(-dirty)?", text)
    if _is_git():
        assert shown and _is_commit(shown.group(1)), f"no commit of this checkout in {text}"
    else:
        assert "Commit not recorded" in text, text
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = config["url"].rstrip("/")
    want = f"{url}/blob/{config['branch']}/book/chapters/{chapter.output}.ipynb"
    hrefs = banner.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert want in hrefs, f"{chapter.output}: no link to {want} in {hrefs}"
    # the banner sits under the title, before the chapter's first section
    first_h2 = page.locator("main article h2").first
    if first_h2.count():
        assert banner.bounding_box()["y"] < first_h2.bounding_box()["y"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    banner.screenshot(path=str(SHOTS / f"{chapter.output}-banner.png"))


@pytest.mark.parametrize("chapter", _chapter_pages())
def test_chapter_code_is_collapsed_and_one_click_away(smoke_book, site, page, chapter):
    executed = nbformat.read(smoke_book / "book" / "chapters" / f"{chapter.output}.ipynb", 4)
    hidden = [c for c in executed.cells if "hide-input" in c.metadata.get("tags", [])]
    _open(site, page, chapter)
    toggles = page.locator("main article div.cell.tag_hide-input > details.above-input")
    assert toggles.count() == len(hidden), chapter.output
    shown = page.locator("main article .cell_input").evaluate_all(
        "els => els.filter(e => e.checkVisibility()).length"
    )
    assert shown == 0, f"{chapter.output}: {shown} code cell(s) shown without a click"
    if hidden:
        toggles.first.locator("summary").click()
        code = toggles.first.locator(".cell_input")
        code.wait_for(state="visible", timeout=5000)
        assert " ".join(hidden[0].source.split()[:3]) in " ".join(code.inner_text().split())
    # the parameters cell and papermill's injected one are not on the page, even hidden
    article = page.locator("main article").evaluate("e => e.textContent")
    for cell in executed.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and {"parameters", "injected-parameters"} & set(tags):
            for line in cell.source.splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in article, f"{chapter.output} shows {line!r}"


_OVERFLOW = """col => {
  const edge = col.getBoundingClientRect();
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string"
       ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const bad = [];
  if (col.scrollWidth > col.clientWidth + 1)
    bad.push(`the column: scrollWidth ${col.scrollWidth} > clientWidth ${col.clientWidth}`);
  for (const el of col.querySelectorAll("*")) {
    if (!el.checkVisibility()) continue;  // e.g. the code in a closed toggle
    if (el.parentElement.closest("mjx-container")) continue;  // MathJax clips its own glyphs
    let box = el.parentElement, inside = false;
    for (; box && box !== col; box = box.parentElement) if (scrolls(box)) { inside = true; break; }
    if (inside) continue;  // a wide table or output line scrolls in its own box
    const r = el.getBoundingClientRect();
    if (r.right > edge.right + 1 || r.left < edge.left - 1)
      bad.push(`${name(el)}: [${Math.round(r.left)}, ${Math.round(r.right)}] outside `
               + `[${Math.round(edge.left)}, ${Math.round(edge.right)}]`);
    else if (!scrolls(el) && el.scrollWidth > col.clientWidth + 1)
      bad.push(`${name(el)}: ${el.scrollWidth} px wide in a ${col.clientWidth} px column`);
  }
  return bad.slice(0, 10);
}"""


@pytest.mark.parametrize("chapter", _chapter_pages())
def test_chapter_stays_inside_the_text_column(site, page, chapter):
    assert page.viewport_size["width"] == 1280
    _open(site, page, chapter)
    bad = page.locator("main article.bd-article").evaluate(_OVERFLOW)
    assert bad == [], f"{chapter.output} at 1280 px: " + "; ".join(bad)


#: The chapters that regenerate the paper's Figures 1–3 (and their Fashion-MNIST copies).
PAPER_FIGURES = {
    "02_signal_space": 1,
    "12_fashion_signal_space": 1,
    "03_resnet_kernels": 2,
    "13_fashion_resnet_kernels": 2,
    "05_ideal_inputs": 3,
}


@pytest.mark.parametrize("output", sorted(PAPER_FIGURES))
def test_paper_figures_stand_beside_the_papers_caption(site, page, output):
    """Each of the paper's Figures 1–3 has one side-by-side block: the paper's caption
    quoted word for word, our regenerated figure (loaded), and a computed line comparing
    the two."""
    from nnspaces import paper

    chapter = next(c for c in reproduce.chapters() if c.output == output)
    _open(site, page, chapter)
    blocks = page.locator("main article div.paper-compare")
    assert blocks.count() == 1, f"{output}: {blocks.count()} side-by-side blocks"
    block = blocks.first
    quote = " ".join(block.locator("blockquote").first.inner_text().split())
    caption = " ".join(paper.CAPTIONS[PAPER_FIGURES[output]].split())
    assert caption[:80] in quote, f"{output}: the paper's caption is not quoted: {quote[:120]}"
    img = block.locator("img").first
    assert img.is_visible() and img.evaluate("i => i.complete && i.naturalWidth > 0")
    text = " ".join(block.inner_text().split())
    assert "This run against the paper" in text, text[-300:]
    assert "{glue" not in text and "???" not in text
    block.screenshot(path=str(SHOTS / f"{output}-paper-compare.png"))
