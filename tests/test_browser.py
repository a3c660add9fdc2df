"""The built book in a real browser: Debian's Chromium, driven by Playwright.

Opens every page of the smoke build from a local HTTP server and checks what a reader
sees: images load, no traceback or unresolved glue, mathematics typeset by MathJax, and the
navigation reaches every chapter. Saves a screenshot of each page under
``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from nnspaces import reproduce

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / (Path(path).stem + ".png")), full_page=True)
