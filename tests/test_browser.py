"""The built book in a real browser: Debian's Chromium, driven by Playwright.

Opens every page of the smoke build from a local HTTP server, at 1280 px (a desktop) and
at 390 px (a phone), and checks what a reader sees:

- the page loads: images, MathJax, no traceback, no unresolved glue, no script error;
- nothing stray: no bare ``True``/``False``/``None`` or object repr in an output or in
  glued text;
- no table wider than the text column;
- every content image has alt text that says what it shows (not a file path) and sits in
  a figure numbered "Book figure N";
- the smallest text of every figure is at least 9 CSS px at 1280 px. How it is measured:
  ``book.glue_figure`` records the smallest font of each figure in PNG pixels in the
  glued output's metadata (``metadata["image/png"]["nnspaces_figure"]["min_text_px"]``);
  myst-nb names the image file after the SHA-256 of its PNG bytes, so the executed
  notebooks give ``sha256 → min_text_px``, and the browser gives each image's scale,
  rendered width / natural width;
- navigation: one header and one search box; at 390 px ☰ opens the chapter list and the
  contents button the page's contents; at 1280 px ☰ collapses the chapter list;
- chapters read like a paper: the first paragraph after the title states a result with a
  glued number (``span.pasted-text``) or is a ``{verdict}``; the one-line provenance banner
  (at most 60 px high at 1280 px) comes after it with its details one click away; no code
  is shown; no "NOTES" (a file readers do not have); every chapter links to another page.

Each page is opened once per width (:func:`_visit`): the measurements of every check are
taken in that one visit and cached, then each test asserts one of them. Screenshots of every
page at both widths go to ``_build/screenshots/<page>-<width>.png``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import os
import re
import subprocess
import threading
from pathlib import Path

import nbformat
import pytest
import yaml

from nnspaces import book, layout, pdf, reproduce

ROOT = Path(__file__).resolve().parents[1]
#: Where the screenshots go (``NNSPACES_SCREENSHOTS`` chooses another folder).
SHOTS = Path(os.environ.get("NNSPACES_SCREENSHOTS", ROOT / "_build" / "screenshots"))
try:  # the PDF edition's Chromium and flags: one place for both
    CHROMIUM = pdf.chromium()
except pdf.PdfError:
    CHROMIUM = None
FLAGS = pdf.CHROMIUM_FLAGS
#: Window sizes: a desktop and a phone (an iPhone 12-15's CSS viewport).
WIDTHS = {1280: 900, 390: 844}
DESKTOP, PHONE = 1280, 390
#: The provenance banner's height at most, at 1280 px.
BANNER_PX = 60

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="BROWSER TEST SKIPPED: no Chromium on this machine. Install it with "
        "`apt-get install chromium` (CI's .ci/run does) to check the rendered pages.",
    ),
]


# --- the pages ---------------------------------------------------------------------------


def _pages() -> list[str]:
    """Every page of the table of contents: the executed chapters and the prose pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        entry
        for part in toc["parts"]
        for ch in part["chapters"]
        for entry in [ch["file"]] + [s["file"] for s in ch.get("sections", [])]
    ]
    return [f"{f}.html" for f in files]


def _chapters() -> list[str]:
    """The pages of executed chapters (``book/chapters/*.html``)."""
    return [p for p in _pages() if p.startswith("book/chapters/")]


def _id(path: str) -> str:
    return Path(path).stem


def _at_both_widths(paths: list[str]):
    return [
        pytest.param(p, w, id=f"{_id(p)}-{w}") for p in paths for w in sorted(WIDTHS, reverse=True)
    ]


# --- what one visit measures (JavaScript run in the page) --------------------------------

#: A bare value or a repr no author meant to show (as nnspaces.pages.stray_outputs).
_STRAY_JS = r"""
/^(True|False|None)$/.test(t)
|| /<[^<>\n]* at 0x[0-9a-fA-F]+>/.test(t)
|| /<(function|bound method|built-in function|module|class) [^\n]*>/.test(t)
|| /<Figure size [^\n]*>/.test(t)
|| /^<Axes(Subplot)?:/.test(t)
|| /^Text\(-?[\d.]+, -?[\d.]+, /.test(t)
"""

_MEASURE = (
    """art => {
  const vis = e => e.checkVisibility();
  const box = e => e.getBoundingClientRect();
  const cs = getComputedStyle(art);
  const column = art.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  const facts = {column};

  // outputs and glued text a reader sees
  const shown = new Set(art.querySelectorAll(
    ".cell_output pre, .cell_output .output, span.pasted-text, div.output pre"));
  facts.strays = [...new Set([...shown].filter(vis).map(e => e.innerText.trim())
    .filter(t => """
    + _STRAY_JS
    + """))].map(t => t.slice(0, 80));

  // tables
  facts.tables = [...art.querySelectorAll("table")].filter(vis).map(t => {
    let up = t, scrolls = false;  // the table, or a box around it, scrolls sideways?
    while (up && up !== art && !scrolls) {
      const o = getComputedStyle(up).overflowX;
      scrolls = (o === "auto" || o === "scroll") && box(up).width <= facts.column + 1;
      up = up.parentElement;
    }
    return {
      width: Math.max(box(t).width, t.scrollWidth),
      scrolls,
      name: (t.className || "table") + ": " + t.innerText.trim().split("\\n")[0].slice(0, 60),
    };
  });
  facts.page_scrolls = document.documentElement.scrollWidth > window.innerWidth + 1;

  // content images
  facts.images = [...art.querySelectorAll("img")].filter(vis).map(i => {
    const fig = i.closest("figure");
    const number = fig && fig.querySelector("figcaption .caption-number");
    return {
      file: i.src.split("/").pop(),
      alt: i.getAttribute("alt") || "",
      caption: number ? number.innerText.trim() : "",
      shown: box(i).width,
      natural: i.naturalWidth,
    };
  });

  // the first block after the title that is not the banner (nor an empty cell)
  const skip = e => e.matches("details.provenance")
    || (!e.innerText.trim() && !e.querySelector("img"));  // a label, a cell with nothing shown
  const h1 = art.querySelector("h1");
  let first = h1 && h1.nextElementSibling;
  while (first && skip(first)) first = first.nextElementSibling;
  facts.first = first ? {
    tag: first.tagName.toLowerCase() + "." + [...first.classList].join("."),
    text: first.innerText.trim().slice(0, 160),
    glued: first.matches("div.verdict")
      || !!first.querySelector("span.pasted-text, div.verdict"),
  } : null;
  const banner = art.querySelector("details.provenance");
  facts.banner = banner ? {
    height: box(banner).height,
    open: banner.open,
    after_first: !!(first && (first.compareDocumentPosition(banner)
                              & Node.DOCUMENT_POSITION_FOLLOWING)),
    text: banner.querySelector("summary").innerText.trim(),
    links: [...banner.querySelectorAll("a")].map(a => a.href),
  } : null;

  // words and links
  facts.notes = (document.querySelector("main").innerText.match(/\\bNOTES\\b[^\\n]{0,40}/g)
                 || []);
  const here = location.pathname;
  facts.links = [...new Set([...art.querySelectorAll("a[href]")]
    .filter(a => !a.closest(".prev-next-area, .provenance") && !a.matches(".headerlink"))
    .map(a => new URL(a.href))
    .filter(u => u.origin === location.origin && u.pathname.endsWith(".html")
                 && u.pathname !== here)
    .map(u => u.pathname))];
  facts.code_shown = [...art.querySelectorAll(".cell_input")].filter(vis).length;

  // the page's frame: headers and search boxes a reader sees
  const seen = e => vis(e) && box(e).width > 0 && box(e).height > 0;
  facts.headers = [...document.querySelectorAll("header.bd-header, .bd-header-article")]
    .filter(seen).map(e => e.className);
  facts.searches = [...new Set(document.querySelectorAll(
    ".search-button-field, button.search-button, form.bd-search input"))]
    .filter(seen).map(e => e.className);
  facts.sections = art.querySelectorAll("h2").length;
  return facts;
}"""
)

#: Where the chapter list (primary sidebar) and the page contents (secondary) are.
_SIDEBARS = """() => {
  const where = sel => {
    const e = document.querySelector(sel);
    if (!e || !e.checkVisibility()) return null;
    const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width};
  };
  return {primary: where(".bd-sidebar-primary"), secondary: where(".bd-sidebar-secondary")};
}"""


#: Script errors of the themes, harmless and not ours to fix: sphinx-thebe (pulled in by
#: Jupyter Book) writes its config script twice on every page, so the browser reports its
#: constant as redeclared; pydata-sphinx-theme 0.15.2's fixMoreLinksInMobileSidebar reads a
#: "More" menu that a book with no header links lacks (the function is gone in 0.15.3).
_HARMLESS = re.compile(
    r"THEBE_JS_URL|reading 'classList'\)[^\n]*\n[^\n]*pydata-sphinx-theme\.js", re.S
)


def _on_screen(where: dict | None, width: int) -> bool:
    """A sidebar a reader sees: visible, mostly inside the window."""
    return (
        where is not None
        and where["left"] >= -1
        and where["right"] <= width + 1
        and (where["width"] > 100)
    )


def _visit(browser, site: str, path: str, width: int) -> dict:
    tab = browser.new_page(viewport={"width": width, "height": WIDTHS[width]})
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack or ''}"))
    try:
        response = tab.goto(f"{site}/{path}", wait_until="networkidle")
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        if tab.locator("main .math").count():  # MathJax changes widths: measure after it
            tab.wait_for_selector("main mjx-container", timeout=15000)
        art = tab.locator("main article.bd-article")
        facts = art.evaluate(_MEASURE)
        facts["text"] = tab.inner_text("main")
        facts["broken"] = tab.eval_on_selector_all(
            "main img",
            "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)",
        )
        facts["math_raw"] = tab.locator("main .math").count() > 0 and "\\(" in tab.inner_text(
            "main .math >> nth=0"
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / f"{_id(path)}-{width}.png"), full_page=True)
        facts["sidebars"] = {"before": tab.evaluate(_SIDEBARS)}
        facts["sidebars"]["menu"] = _click(tab, ".primary-toggle")
        tab.reload(wait_until="load")
        facts["sidebars"]["contents"] = _click(tab, ".secondary-toggle")
        facts["errors"] = [e for e in errors if not _HARMLESS.search(e)]
        return facts
    finally:
        tab.close()


def _click(tab, selector: str) -> dict | None:
    """The sidebars after a click on the first visible ``selector`` (None: none visible)."""
    button = tab.locator(f"{selector}:visible")
    if not button.count():
        return None
    button.first.click()
    tab.wait_for_timeout(600)  # the sidebars slide in
    return tab.evaluate(_SIDEBARS)


def _open(site, page, output: str) -> None:
    response = page.goto(f"{site}/book/chapters/{output}.html", wait_until="networkidle")
    assert response is not None and response.ok, output
    if page.locator("main .math").count():  # MathJax changes widths: measure after it
        page.wait_for_selector("main mjx-container", timeout=15000)


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
    if (inside) continue;  // a wide output line scrolls in its own box
    const r = el.getBoundingClientRect();
    if (r.right > edge.right + 1 || r.left < edge.left - 1)
      bad.push(`${name(el)}: [${Math.round(r.left)}, ${Math.round(r.right)}] outside `
               + `[${Math.round(edge.left)}, ${Math.round(edge.right)}]`);
    else if (!scrolls(el) && el.scrollWidth > col.clientWidth + 1)
      bad.push(`${name(el)}: ${el.scrollWidth} px wide in a ${col.clientWidth} px column`);
  }
  return bad.slice(0, 10);
}"""


def _git(*args) -> bool:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True).returncode == 0


# --- fixtures -----------------------------------------------------------------------------


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
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    """One tab at 1280 px, for the checks that open pages themselves."""
    tab = browser.new_page(viewport={"width": DESKTOP, "height": WIDTHS[DESKTOP]})
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def visit(site, browser):
    """``visit(path, width)``: what a reader sees of a page at a window width, measured
    once (then cached): :data:`_MEASURE`'s facts, script errors, broken images, and the
    sidebars before and after a click on ☰ and on the contents button."""
    cache: dict = {}

    def get(path: str, width: int) -> dict:
        if (path, width) not in cache:
            cache[path, width] = _visit(browser, site, path, width)
        return cache[path, width]

    return get


@pytest.fixture(scope="module")
def figure_text(smoke_book) -> dict:
    """Smallest text in PNG pixels of every glued figure, by its image file's name
    (``<sha256 of the PNG bytes>.png``, as myst-nb names it)."""
    out = {}
    for path in sorted((smoke_book / "book" / "chapters").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for o in cell.get("outputs", []):
                record = o.get("metadata", {}).get("image/png", {}).get(book.FIGURE_METADATA)
                png = next((v for k, v in o.get("data", {}).items() if k.endswith("image/png")), 0)
                if record and png:
                    digest = hashlib.sha256(base64.b64decode(png)).hexdigest()
                    out[f"{digest}.png"] = record["min_text_px"]
    return out


# --- the table of contents and the pages load ---------------------------------------------


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


@pytest.mark.parametrize(("path", "width"), _at_both_widths(_pages()))
def test_page_renders_for_a_reader(visit, path, width):
    facts = visit(path, width)
    assert "Traceback (most recent call last)" not in facts["text"]
    assert "{glue" not in facts["text"]
    assert facts["broken"] == [], f"images that did not load on {path}: {facts['broken']}"
    assert not facts["math_raw"], f"{path}: mathematics not typeset"
    assert facts["errors"] == [], facts["errors"]


# --- nothing stray, nothing too wide -------------------------------------------------------


@pytest.mark.parametrize(("path", "width"), _at_both_widths(_pages()))
def test_no_bare_value_or_repr_is_shown(visit, path, width):
    assert visit(path, width)["strays"] == [], f"{path} at {width} px shows stray output"


@pytest.mark.parametrize(("path", "width"), _at_both_widths(_pages()))
def test_no_table_is_wider_than_the_text_column(visit, path, width):
    """At 1280 px every table fits the column; on a phone a wider one scrolls sideways
    inside its own box, and the page itself never does."""
    facts = visit(path, width)
    wide = [
        f"{t['name']!r}: {t['width']:.0f} px"
        for t in facts["tables"]
        if t["width"] > facts["column"] + 1 and (width == DESKTOP or not t["scrolls"])
    ]
    assert wide == [], f"{path} at {width} px, column {facts['column']:.0f} px: {wide}"
    assert not facts["page_scrolls"], f"{path} at {width} px: the page scrolls sideways"


@pytest.mark.parametrize("chapter", [pytest.param(c, id=c.output) for c in reproduce.chapters()])
def test_chapter_stays_inside_the_text_column(site, page, chapter):
    """Nothing but a scrolling box pokes out of the column at 1280 px."""
    assert page.viewport_size["width"] == DESKTOP
    _open(site, page, chapter.output)
    bad = page.locator("main article.bd-article").evaluate(_OVERFLOW)
    assert bad == [], f"{chapter.output} at 1280 px: " + "; ".join(bad)


# --- figures: alt text, numbered captions, legible text ----------------------------------

_FILE_LIKE = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|svg|gif|webp)$|^_images/|^\.\./", re.I)


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _pages()])
def test_every_image_has_alt_text_and_a_numbered_caption(visit, path):
    bad = []
    for img in visit(path, DESKTOP)["images"]:
        alt = img["alt"].strip()
        if not alt or _FILE_LIKE.search(alt):
            bad.append(f"{img['file']}: alt text {alt!r} does not say what it shows")
        if not re.match(r"Book figure \d+", img["caption"]):
            bad.append(f"{img['file']}: not in a figure numbered 'Book figure N'")
    assert bad == [], f"{path}: " + "; ".join(bad)


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _pages()])
def test_the_smallest_figure_text_is_at_least_9_px_at_1280(visit, figure_text, path):
    bad = []
    for img in visit(path, DESKTOP)["images"]:
        if img["file"] not in figure_text:
            bad.append(f"{img['file']}: no text record (not glued with book.glue_figure)")
            continue
        px = figure_text[img["file"]] * img["shown"] / img["natural"]
        if px < book.MIN_TEXT_PX:
            bad.append(
                f"{img['file']}: {px:.1f} px (font {figure_text[img['file']]:.1f} PNG px, "
                f"shown {img['shown']:.0f} of {img['natural']} px)"
            )
    assert bad == [], f"{path}: " + "; ".join(bad)


# --- navigation: one header; the toggles work ---------------------------------------------


@pytest.mark.parametrize(("path", "width"), _at_both_widths(_pages()))
def test_one_header_and_one_search_box(visit, path, width):
    facts = visit(path, width)
    assert len(facts["headers"]) == 1, f"{path} at {width} px: headers {facts['headers']}"
    assert len(facts["searches"]) == 1, f"{path} at {width} px: search {facts['searches']}"


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _pages()])
def test_on_a_phone_the_chapter_list_and_the_contents_open(visit, path):
    bars = visit(path, PHONE)["sidebars"]
    assert not _on_screen(bars["before"]["primary"], PHONE), f"{path}: chapter list open at start"
    assert bars["menu"] is not None, f"{path}: no ☰ button at {PHONE} px"
    assert _on_screen(bars["menu"]["primary"], PHONE), f"{path}: ☰ did not open: {bars['menu']}"
    if visit(path, PHONE)["sections"]:  # a page with sections has contents to open
        assert bars["contents"] is not None, f"{path}: no contents button at {PHONE} px"
        assert _on_screen(bars["contents"]["secondary"], PHONE), (
            f"{path}: the contents did not open: {bars['contents']}"
        )


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _pages()])
def test_on_a_desktop_the_menu_button_collapses_the_chapter_list(visit, path):
    bars = visit(path, DESKTOP)["sidebars"]
    assert _on_screen(bars["before"]["primary"], DESKTOP), f"{path}: no chapter list at start"
    assert bars["menu"] is not None, f"{path}: no ☰ button at {DESKTOP} px"
    after = bars["menu"]["primary"]
    assert after is None or after["right"] <= 1, f"{path}: ☰ did not collapse it: {after}"


# --- chapters read like a paper -----------------------------------------------------------


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _chapters()])
def test_the_first_paragraph_states_a_result_with_a_glued_number(visit, path):
    first = visit(path, DESKTOP)["first"]
    assert first is not None, f"{path}: nothing after the title"
    assert first["glued"], (
        f"{path}: the first paragraph ({first['tag']}) has no glued number or verdict: "
        f"{first['text']!r}"
    )


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _pages()])
def test_no_mention_of_notes(visit, path):
    assert visit(path, DESKTOP)["notes"] == [], f"{path} mentions a file readers do not have"


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _chapters()])
def test_every_chapter_links_to_another_page_of_the_book(visit, path):
    assert visit(path, DESKTOP)["links"], f"{path}: no link to another page of the book"


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _chapters()])
def test_no_code_is_shown_without_a_click(visit, path):
    assert visit(path, DESKTOP)["code_shown"] == 0, f"{path}: code cells shown"


@pytest.mark.parametrize("path", [pytest.param(p, id=_id(p)) for p in _chapters()])
def test_the_banner_is_one_line_under_the_finding_with_its_details_a_click_away(visit, path):
    banner = visit(path, DESKTOP)["banner"]
    assert banner is not None, f"{path}: no provenance banner"
    assert banner["height"] <= BANNER_PX, f"{path}: banner {banner['height']:.0f} px high"
    assert not banner["open"] and banner["after_first"], banner
    text = " ".join(banner["text"].split())
    assert text.startswith("Made by this book’s run · profile smoke"), text
    shown = re.search(r"commit ([0-9a-f]{7,40})(-dirty)?", text)
    if _git("rev-parse", "--git-dir"):  # a commit of this checkout (HEAD may have moved on)
        assert shown and _git("merge-base", "--is-ancestor", shown.group(1), "HEAD"), text
    else:
        assert "commit not recorded" in text, text
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    # the ref of this build (its tag published-<commit>), not the branch that moves on
    ref = layout.launch_ref(config["branch"], shown and shown.group(1) + (shown.group(2) or ""))
    want = f"{config['url'].rstrip('/')}/blob/{ref}/{path.replace('.html', '.ipynb')}"
    assert want in banner["links"], f"{path}: no link to {want} in {banner['links']}"


@pytest.mark.parametrize("chapter", [pytest.param(c, id=c.output) for c in reproduce.chapters()])
def test_the_parameters_are_not_on_the_page(smoke_book, site, page, chapter):
    """The parameters cell and papermill's injected one are not on the page, even hidden."""
    executed = nbformat.read(smoke_book / "book" / "chapters" / f"{chapter.output}.ipynb", 4)
    _open(site, page, chapter.output)
    article = page.locator("main article").evaluate("e => e.textContent")
    for cell in executed.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and {"parameters", "injected-parameters"} & set(tags):
            for line in cell.source.splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in article, f"{chapter.output} shows {line!r}"


# --- the paper's figures -------------------------------------------------------------------

#: The chapters that regenerate the paper's Figures 1–3 (their Fashion-MNIST runs have no
#: figure of the paper to quote).
PAPER_FIGURES = {"02_signal_space": 1, "03_resnet_kernels": 2, "05_ideal_inputs": 3}


@pytest.mark.parametrize("output", sorted(PAPER_FIGURES))
def test_paper_figures_quote_the_papers_caption(site, page, output):
    """Each chapter of the paper's Figures 1–3 quotes the paper's caption word for word
    and shows its regenerated figure (loaded)."""
    from nnspaces import paper

    _open(site, page, output)
    caption = " ".join(paper.CAPTIONS[PAPER_FIGURES[output]].split())
    quotes = page.locator("main article blockquote").all()
    quoted = [q for q in quotes if caption[:80] in " ".join(q.inner_text().split())]
    assert quoted, f"{output}: the paper's caption is not quoted (want {caption[:80]!r})"
    images = page.locator("main article figure img")
    assert images.count() > 0, f"{output}: no figure"
    assert images.first.evaluate("i => i.complete && i.naturalWidth > 0")
    SHOTS.mkdir(parents=True, exist_ok=True)
    quoted[0].screenshot(path=str(SHOTS / f"{output}-paper-caption.png"))
