"""The PDF edition: the built HTML printed page by page by Chromium, merged into one file.

:func:`build_pdf` serves ``_build/html`` on a local port, opens each page of the table of
contents in headless Chromium (Debian's ``chromium``, driven by Playwright), waits until
MathJax has typeset it, prints it with the print style sheet (no navbar, sidebars, launch
buttons or prev/next links) and merges the pages with ``pypdf`` into one file with a
bookmark per page, written atomically (``_build/pdf/book.pdf`` by default).

Collapsed toggles (code behind "Show code cell source", hidden outputs) are left out: the
PDF shows what a reader of the web page sees before clicking; the code is in the executed
notebooks that each page's banner links to.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from . import cache

__all__ = ["PdfError", "build_pdf", "chromium", "page_order", "CHROMIUM_FLAGS"]

#: Headless Chromium in a container, offline: no sandbox, GPU, network chatter or updates.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Added to every page before printing, on top of the theme's own print rules.
PRINT_CSS = """
@media print {
  .bd-header, .bd-header-article, .header-article, .bd-sidebar-primary,
  .bd-sidebar-secondary, .prev-next-area, .bd-footer, .bd-footer-article,
  .bd-footer-content, .skip-link, #pst-skip-link, .sidebar-toggle, .search-button-field,
  .dropdown-launch-buttons, .headerlink, button.copybtn, details.hide,
  #jb-print-toc { display: none !important; }
  .bd-main .bd-content, .bd-article-container, .bd-page-width {
    max-width: none !important; width: 100% !important; margin: 0 !important;
  }
  .bd-container { display: block !important; }
  .bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
  #jb-print-docs-body { display: none !important; }
  img { break-inside: avoid; max-width: 100% !important; height: auto; }
  figure { break-inside: avoid; }
  /* paper does not scroll: what scrolls sideways on screen wraps or shrinks to the column */
  div.cell_output, div.output, div.text_html, div.text_plain, div.math,
  div.pst-scrollable-table-container, div.table-wrapper, mjx-container {
    overflow: visible !important; max-width: 100% !important;
  }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important; }
  table, table.dataframe { width: 100% !important; max-width: 100% !important; font-size: 0.8em; }
  th, td { white-space: normal !important; overflow-wrap: anywhere; }
}
"""
#: The page at 80 %: the web layout's text column and wide tables fit A4 between 15 mm margins.
PRINT_SCALE = 0.8
#: How long one page may take to load and typeset (ms).
PAGE_TIMEOUT_MS = 60_000


class PdfError(RuntimeError):
    """The PDF cannot be made; the message says what to install or build first."""


def chromium() -> str:
    """The path of the system's Chromium (Debian ``chromium``); ``PdfError`` if none."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise PdfError("no Chromium on this machine: install it with `apt-get install chromium`")
    return path


class _Nav(HTMLParser):
    """The root page's redirect target (index.html) or the hrefs of its book navigation."""

    def __init__(self) -> None:
        super().__init__()
        self.refresh: str | None = None
        self.hrefs: list[str] = []
        self._depth = 0  # >0 inside <nav class="bd-docs-nav">

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=(\S+)", a.get("content") or "")
            self.refresh = m and m.group(1)
        if tag == "nav":
            if self._depth or "bd-docs-nav" in (a.get("class") or "").split():
                self._depth += 1
        elif self._depth and tag == "a" and "internal" in (a.get("class") or "").split():
            self.hrefs.append(a.get("href") or "")

    def handle_endtag(self, tag):
        if tag == "nav" and self._depth:
            self._depth -= 1


def _parse(path: Path) -> _Nav:
    nav = _Nav()
    nav.feed(path.read_text(encoding="utf-8"))
    return nav


def page_order(html: str | Path) -> list[str]:
    """The book's pages in table-of-contents order, as the built navigation lists them.

    Parameters
    ----------
    html : path
        The built book (``_build/html``).

    Returns
    -------
    pages : list of str
        Paths relative to ``html``: the root page (where ``index.html`` redirects) first,
        then each entry of the sidebar's navigation, once each.
    """
    html = Path(html)
    index = html / "index.html"
    if not index.is_file():
        raise PdfError(f"no {index}: build the book first (`make book`)")
    root = _parse(index).refresh or "index.html"
    pages = [root]
    base = (html / root).parent
    for href in _parse(html / root).hrefs:
        target = href.split("#")[0]
        if not target:
            continue
        rel = (base / target).resolve().relative_to(html.resolve()).as_posix()
        if rel not in pages:
            pages.append(rel)
    return pages


@contextlib.contextmanager
def _serve(html: Path) -> Iterator[str]:
    """``html`` served on a free local port (MathJax's fonts do not load from file://)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _print_page(page, url: str, out: Path) -> str:
    """Load ``url``, wait for MathJax, print it to ``out``; returns the page's title."""
    response = page.goto(url, wait_until="networkidle", timeout=PAGE_TIMEOUT_MS)
    if response is None or not response.ok:
        raise PdfError(f"{url} did not load ({response and response.status})")
    # MathJax 3 loads deferred: wait for its startup promise (typesetting of the page)
    page.wait_for_function(
        "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup"
        " && MathJax.startup.promise)",
        timeout=PAGE_TIMEOUT_MS,
    )
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.add_style_tag(content=PRINT_CSS)
    # a dropdown (the banner's details, a long table, the all-images grids) prints open
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.pdf(
        path=str(out),
        format="A4",
        scale=PRINT_SCALE,
        print_background=True,
        margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"},
    )
    return page.inner_text("main h1") if page.locator("main h1").count() else page.title()


def build_pdf(html: str | Path, out: str | Path, log=print) -> dict:
    """Print the built book to one PDF.

    Parameters
    ----------
    html : path
        The built book (``_build/html``).
    out : path
        The PDF to write (replaced atomically: a reader never sees half a file).
    log : callable
        Receives one line per printed page.

    Returns
    -------
    info : dict
        ``pages`` (PDF pages in all), ``seconds``, and ``chapters``: a list of
        ``(html page, title, first PDF page)``.
    """
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    html, out = Path(html), Path(out)
    order = page_order(html)
    executable = chromium()
    t0 = time.perf_counter()
    writer = PdfWriter()
    chapters = []
    book = None  # the book's title: "<page> — <book>" in every page's <title>
    with (
        tempfile.TemporaryDirectory() as tmp,
        _serve(html) as site,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            for i, rel in enumerate(order):
                part = Path(tmp) / f"{i:03d}.pdf"
                title = _print_page(page, f"{site}/{rel}", part).replace("#", "").strip()
                book = book or page.title().rsplit(" \N{EM DASH} ", 1)[-1]
                first = len(writer.pages)
                writer.append(PdfReader(part))
                writer.add_outline_item(title=title, page_number=first)
                chapters.append((rel, title, first + 1))
                log(f"[pdf] {rel}: {len(writer.pages) - first} page(s)")
        finally:
            browser.close()
        writer.add_metadata({"/Title": book or "book", "/Creator": "nnspaces.pdf (Chromium)"})
        cache.atomic_write(out, writer.write)
    info = {"pages": len(writer.pages), "seconds": time.perf_counter() - t0, "chapters": chapters}
    log(
        f"[pdf] {out}: {info['pages']} pages from {len(order)} HTML pages in {info['seconds']:.1f} s"
    )
    return info
