"""pages: the source's tags stand (only papermill's injected cell is hidden), the one-line
provenance banner after the title's first paragraph, stray outputs found and failing the
pipeline, and a real Jupyter Book build (warnings are errors) of a decorated page."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnspaces import pages

GLUE = "application/papermill.record/"
REPO = "https://github.com/someone/nnspaces-book"
PNG = (  # a 1×1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TITLE = (
    "# A chapter\n\n"
    "The finding: {glue:text}`share:.0%` of the energy is invisible.\n"
    "It holds on this run.\n\n"
    "**Overview.** What it shows.\n\n"
    "## Claims\n\nOne.\n"
)


def _info(**over) -> dict:
    info = dict(
        output="12_fashion_signal_space",
        notebook="02_signal_space",
        profile="smoke",
        parameters={
            "dataset": "fashion-mnist",
            "n_train": 300,
            "seeds": [0, 1],
            "run_log": "/tmp/somewhere/book/chapters/_run.json",
            "layers": [f"layer{i}.0.conv1" for i in range(12)],
        },
        seconds=83.4,
        commit="abc1234-dirty",
        date="2026-12-02T06:51:07.123456+00:00",
        version="0.1.0",
        repository=REPO + "/",
        branch="gh-pages-src",
    )
    return {**info, **over}


def _glue(name: str, text: str):
    return nbformat.v4.new_output(
        "display_data",
        data={GLUE + "text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": GLUE}},
    )


def _result(text: str, **more):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text, **more})


def _code(source: str, outputs=(), tags=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    if tags:
        cell.metadata.tags = list(tags)
    return cell


def _notebook(path: Path, title: str = TITLE, extra=()) -> Path:
    """A chapter as papermill leaves it: title, parameters (tagged in the source),
    papermill's injected cell, code cells tagged by their author."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    md = nbformat.v4.new_markdown_cell
    heading = md("## Parameters\n\nPapermill overrides these defaults.")
    heading.metadata.tags = ["remove-cell"]
    nb.cells = [
        md(title),
        heading,
        _code(
            'dataset = "mnist-5k"  # which digits\nseed = 7\nn_train = None',
            tags=["parameters", "remove-cell"],
        ),
        _code('dataset = "fashion-mnist"', tags=["injected-parameters"]),
        _code("import nnspaces", tags=["remove-input"]),
        _code(
            "book.glue_text(...)",
            [_glue("data_description", "Fashion: 300 training")],
            tags=["remove-input"],
        ),
        _code("df", [_result("   a\n0  1", **{"text/html": "<table/>"})], tags=["hide-input"]),
        *extra,
        md("## Results\n\nProse."),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def decorated(tmp_path):
    path = _notebook(tmp_path / "12_fashion_signal_space.ipynb")
    pages.decorate(path, _info())
    return nbformat.read(path, as_version=4)


def _tags(nb, source_start: str) -> list:
    (cell,) = [c for c in nb.cells if c.source.startswith(source_start)]
    return cell.metadata.get("tags", [])


def _banners(nb) -> list:
    return [c for c in nb.cells if c.source.startswith(":::{dropdown} Made by this book's run")]


# --- tags: the source decides; only papermill's injected cell is the pipeline's ----------


def test_only_papermills_injected_cell_is_hidden_by_the_pipeline(tmp_path, decorated):
    assert _tags(decorated, 'dataset = "fashion-mnist"') == ["injected-parameters", "remove-cell"]
    source = nbformat.read(_notebook(tmp_path / "source.ipynb"), as_version=4)
    for cell in source.cells:  # every other cell keeps exactly the tags its author gave
        if "injected-parameters" not in cell.metadata.get("tags", []):
            assert _tags(decorated, cell.source[:20]) == cell.metadata.get("tags", [])


# --- the banner: one line after the title's first paragraph, details behind a toggle -----


def test_the_banner_follows_the_titles_first_paragraph(decorated):
    cells = decorated.cells
    assert cells[0].source == (
        "# A chapter\n\n"
        "The finding: {glue:text}`share:.0%` of the energy is invisible.\nIt holds on this run.\n"
    )
    assert cells[1] is _banners(decorated)[0]
    assert cells[2].source == "**Overview.** What it shows.\n\n## Claims\n\nOne.\n"
    assert cells[2].id == f"{cells[0].id}-rest"


def test_the_banner_is_one_line_with_the_details_in_its_body(decorated):
    md = _banners(decorated)[0].source
    lines = md.splitlines()
    assert lines[0] == (
        ":::{dropdown} Made by this book's run · profile smoke · fashion-mnist · "
        "commit abc1234-dirty · 2026-12-02 · details"
    )
    assert lines[1] == ":class-container: provenance" and lines[-1] == ":::"
    assert "- **Data** Fashion: 300 training" in md  # the glued description wins
    assert "- **Seeds** 0, 1" in md  # the injected list wins over the default seed = 7
    assert f"[`abc1234-dirty`]({REPO}/commit/abc1234) with uncommitted changes" in md
    assert "- **Run** 2026-12-02 06:51 UTC" in md
    assert "- **nnspaces** `0.1.0`" in md
    assert "- **Chapter time** 1 min 23 s" in md
    assert (
        f"[the executed notebook]({REPO}/blob/gh-pages-src/book/chapters/"
        "12_fashion_signal_space.ipynb)" in md
    )
    assert f"[its source]({REPO}/blob/gh-pages-src/notebooks/02_signal_space.ipynb)" in md


def test_a_verdict_block_as_the_first_paragraph_stays_whole(tmp_path):
    title = (
        "(chap-x)=\n# A chapter\n\n"
        "::::{verdict} most_invisible\nMost is invisible.\n\n"
        "```text\n\n## not a heading\n```\n\n"
        ":::{otherwise}\nLittle is.\n:::\n::::\n\n"
        "**Overview.** More.\n"
    )
    path = _notebook(tmp_path / "x.ipynb", title)
    pages.decorate(path, _info())
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == title[: title.index("\n\n**Overview")] + "\n"
    assert cells[1].source.startswith(":::{dropdown}")
    assert cells[2].source == "**Overview.** More.\n"


def test_a_first_paragraph_ending_in_a_colon_keeps_its_list(tmp_path):
    title = (
        "# A chapter\n\nThis build matches 1 of 5 numbers:\n\n"
        "- one matches;\n\n- ::::{verdict} k\n  holds\n\n  :::{otherwise}\n  not\n  :::\n  ::::\n"
        "- three\n  continued\n\nThe paper's accuracies are validation accuracies.\n"
    )
    path = _notebook(tmp_path / "x.ipynb", title)
    pages.decorate(path, _info())
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == title[: title.index("\n\nThe paper's")] + "\n"
    assert cells[1].source.startswith(":::{dropdown}")
    assert cells[2].source == "The paper's accuracies are validation accuracies.\n"


@pytest.mark.parametrize(
    ("title", "next_cell", "want"),
    [  # the title cell holds only its heading: the next cell's first paragraph, if any
        ("# A chapter\n", "The finding.\n\nMore.", ["#", "The finding.\n", "B", "More."]),
        ("# A chapter\n", "## A section\n\nText.", ["#", "B", "## A section\n\nText."]),
        ("# A chapter\n\nThe finding.", "## A section", ["#", "B", "## A section"]),
    ],
)
def test_where_the_banner_goes_when_the_title_cell_is_short(tmp_path, title, next_cell, want):
    path = _notebook(tmp_path / "x.ipynb", title)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(next_cell))
    nbformat.write(nb, path)
    pages.decorate(path, _info())
    nb = nbformat.read(path, as_version=4)
    got = ["B" if c in _banners(nb) else c.source for c in nb.cells[: len(want)]]
    assert got == [title if w == "#" else w for w in want]


def test_the_run_with_line_is_short(decorated):
    (line,) = [ln for ln in _banners(decorated)[0].source.splitlines() if "Run with" in ln]
    assert line.startswith("- **Run with** `dataset=fashion-mnist, n_train=300, ")
    assert "seeds=[0, 1]" in line
    assert "run_log=_run.json" in line and "/tmp/somewhere" not in line  # a path by its name
    assert (
        "layers=[layer0.0.conv1, layer1.0.conv1, layer2.0.conv1, …, layer11.0.conv1] (12 items)`"
        in line
    )
    assert len(line) < 250


def test_without_glue_or_seeds_the_parameters_and_defaults_speak(tmp_path):
    path = _notebook(tmp_path / "x.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "glue_text" not in c.source]
    nbformat.write(nb, path)
    pages.decorate(path, _info(parameters={"n_train": 300}, commit=None, seconds=4.25))
    md = _banners(nbformat.read(path, as_version=4))[0].source
    assert "profile smoke · mnist-5k · commit not recorded · 2026-12-02" in md.splitlines()[0]
    assert "- **Data** mnist-5k" in md and "- **Seed** 7" in md  # from the parameters cell
    assert "- **Commit** not recorded" in md
    assert "- **Chapter time** 4.2 s" in md
    assert "- **Run with** `n_train=300`" in md


def test_glued_text_is_escaped_for_markdown():
    md = pages.banner(_info(), glued={"data_description": "a *b* `c` $d$ {e}"})
    assert r"- **Data** a \*b\* \`c\` \$d\$ \{e\}" in md


def test_decorating_twice_gives_the_same_notebook_with_one_banner(tmp_path):
    path = _notebook(tmp_path / "x.ipynb")
    pages.decorate(path, _info())
    once = path.read_text()
    pages.decorate(path, _info())
    assert path.read_text() == once
    assert len(_banners(nbformat.read(path, as_version=4))) == 1
    pages.decorate(path, _info(profile="default"))  # a new run replaces the banner
    (banner,) = _banners(nbformat.read(path, as_version=4))
    assert "profile default" in banner.source


def test_the_notebook_is_replaced_atomically(tmp_path, monkeypatch):
    path = _notebook(tmp_path / "x.ipynb")
    before = path.read_text()
    replaced = []
    real = os.replace

    def spy(src, dst):
        replaced.append((Path(src).parent, Path(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    pages.decorate(path, _info())
    assert replaced == [(tmp_path, path)]  # written beside it, then renamed over it

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    path.write_text(before)
    with pytest.raises(OSError, match="disk full"):
        pages.decorate(path, _info())
    assert path.read_text() == before  # the old notebook stands
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ipynb"]  # no temporary left


def test_bad_input_is_refused_with_the_reason(tmp_path):
    path = _notebook(tmp_path / "x.ipynb")
    info = _info()
    del info["branch"], info["seconds"]
    with pytest.raises(KeyError, match=r"\['seconds', 'branch'\]"):
        pages.decorate(path, info)
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[1:]
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no '# title'"):
        pages.decorate(path, _info())


# --- stray outputs ------------------------------------------------------------------------

STRAY = [
    _result("True"),
    _result("False\n"),
    _result("None"),
    _result("<nnspaces.spaces.Spaces at 0x7f3a2c1b9d50>"),
    _result("<function nnspaces.compare.interactive.<locals>.show(digit)>"),
    _result("[<matplotlib.lines.Line2D at 0x7f00aa>]"),
    _result("<Figure size 1050x600 with 4 Axes>"),
    nbformat.v4.new_output(
        "display_data", data={"text/plain": "<Figure size 640x480 with 0 Axes>"}
    ),
    _result("<Axes: title={'center': 'x'}>"),
    _result("Text(0.5, 1.0, 'Signal space')"),
    nbformat.v4.new_output("stream", name="stdout", text="True\n"),
    _result("{'min_text_px': 16.7, 'width_px': 880}"),  # any value left as the last expression
    _result("0.5"),
]
SHOWN_AS_MEANT = [
    _glue("share", "0.56"),  # glue: the page shows it where the prose places it
    _result("<Figure size 640x480 with 1 Axes>", **{"image/png": PNG}),  # the image shows
    _result("   a\n0  1", **{"text/html": "<table/>"}),  # the table shows
    nbformat.v4.new_output("display_data", data={"text/plain": "0.5"}),  # display(0.5)
    nbformat.v4.new_output("stream", name="stdout", text="'True'\n"),  # print(repr("True"))
    nbformat.v4.new_output("stream", name="stdout", text="Trained in 3 s: True to the paper\n"),
    nbformat.v4.new_output("stream", name="stderr", text="None\n"),  # the book drops stderr
]


@pytest.mark.parametrize("out", STRAY, ids=lambda o: str(o.get("data", o.get("text")))[:40])
def test_a_stray_output_is_found_with_its_cell_and_text(out):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# T"),
        _code("x = 1", tags=["parameters", "remove-cell"]),
        _code("x = 2", tags=["injected-parameters"]),  # not in the source: not counted
        _code("book.glue_verdict('k', v)\n", [out], tags=["remove-input"]),
    ]
    (line,) = pages.stray_outputs(nb)
    text = " ".join(str(out.get("data", {}).get("text/plain", out.get("text"))).split())
    assert line == f"cell 2 (id {nb.cells[3].id!r}), book.glue_verdict('k', v): {text!r}"


@pytest.mark.parametrize(
    "out", SHOWN_AS_MEANT, ids=lambda o: str(o.get("data", o.get("text")))[:40]
)
def test_outputs_meant_to_show_are_not_stray(out):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), _code("f()", [out])]
    assert pages.stray_outputs(nb) == []


def test_a_hidden_output_is_not_stray_but_a_collapsed_one_is():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _code("a()", [_result("True")], tags=["remove-output"]),
        _code("b()", [_result("True")], tags=["remove-cell"]),
        _code("c()", [_result("None")], tags=["hide-output"]),  # one click shows it
    ]
    assert pages.stray_outputs(nb) == [f"cell 2 (id {nb.cells[2].id!r}), c(): 'None'"]


def test_a_long_stray_output_is_cut_in_the_message():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_code("f()", [_result("<function " + "x" * 200 + ">")])]
    (line,) = pages.stray_outputs(nb)
    assert line.endswith("xxx…'") and len(line) < 140


def test_the_pipeline_fails_a_chapter_with_a_stray_output(tmp_path, monkeypatch, cache_dir):
    """The chapter with a stray output is not moved into place; the other one is; the run
    stops before the build with a message naming the chapter, the cell and the text."""
    from nnspaces import networks, reproduce

    todo = [c for c in reproduce.chapters() if c.output in ("01_models", "02_signal_space")]
    assert len(todo) == 2 and all(c.output == c.notebook for c in todo)
    fps = {c.output: "0" * 16 for c in todo}
    run = {"seconds": {}}
    monkeypatch.setattr(
        reproduce.plan,
        "make_plan",
        lambda root, work, *a: reproduce.Plan(
            root,
            work,
            "smoke",
            1,
            True,
            todo,
            run,
            {c.output: {} for c in todo},
            fps,
            {c: ["test"] for c in fps},
        ),
    )
    monkeypatch.setattr(reproduce.prepare, "stale", lambda *a, **k: (fps, {}))
    monkeypatch.setattr(reproduce.prepare._data, "check", lambda *a, **k: None)
    monkeypatch.setattr(networks, "configs", lambda *a, **k: [])
    monkeypatch.setattr(networks, "train_all", lambda *a, **k: {})
    monkeypatch.setattr(reproduce.finalise.fingerprint, "write", lambda *a, **k: None)

    class NoServer:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self):
            return None

        def close(self):
            pass

    monkeypatch.setattr(reproduce.execute, "KernelServer", NoServer)

    def execute(chapter, params, root, staging, threads, server, started=None):
        bad = chapter.output == "02_signal_space"
        extra = [_code("book.glue_verdict('k', v)", [_result("True")])] if bad else []
        _notebook(staging / f"{chapter.output}.ipynb", extra=extra)
        return 1.0

    monkeypatch.setattr(reproduce.execute, "execute", execute)
    work = tmp_path / "w"
    for d in ("book/chapters", "book/.staging"):
        (work / d).mkdir(parents=True)
    lines = []
    with pytest.raises(reproduce.ReproduceError) as err:
        reproduce.reproduce("smoke", workdir=work, jobs=1, log=lines.append, bars=False)
    message = str(err.value)
    assert "chapter 02_signal_space: cell 6 (id " in message, message
    assert "book.glue_verdict('k', v): 'True'" in message
    assert "01_models" not in message
    assert (work / "book" / "chapters" / "01_models.ipynb").is_file()  # decorated, in place
    assert not (work / "book" / "chapters" / "02_signal_space.ipynb").exists()
    assert (work / "book" / ".staging" / "02_signal_space.ipynb").is_file()
    assert any("02_signal_space: FAILED, stray output" in line for line in lines)
    assert not (work / "_build").exists()  # no book built


# --- a real build -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_decorated_page_builds_with_warnings_as_errors(tmp_path):
    """A two-page book with the project's own _config.yml sphinx section and CSS: the
    banner (a closed dropdown under the first paragraph), the toggles and the figure
    numbers render; nothing warns."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    figure = (
        "\n\n```{figure} fig.png\n:name: fig-x\n:figclass: full-width\n\n"
        "**Figure 2 of the paper, regenerated.** Prose.\n```\n"
    )
    shows = _code(
        "plot()",
        [nbformat.v4.new_output("display_data", data={"image/png": PNG})],
        tags=["hide-input"],
    )
    share = _code("book.glue_values(share=...)", [_glue("share", "0.56")], tags=["remove-input"])
    path = _notebook(
        tmp_path / "12_fashion_signal_space.ipynb", TITLE + figure, extra=[share, shows]
    )
    (tmp_path / "fig.png").write_bytes(base64.b64decode(PNG))
    pages.decorate(path, _info())
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Intro\n\nHello.")]),
        tmp_path / "intro.ipynb",
    )
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: 12_fashion_signal_space\n"
    )
    sphinx = yaml.safe_load((root / "_config.yml").read_text())["sphinx"]
    sphinx["config"]["html_static_path"] = ["static"]
    for drop in ("mathjax_path", "bibtex_reference_style"):
        sphinx["config"].pop(drop, None)
    sphinx.pop("extra_extensions", None)  # no {verdict} on this page
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "nnspaces.css").write_text(
        (root / "book" / "_static" / "nnspaces.css").read_text()
    )
    config = {
        "title": "t",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["dollarmath", "colon_fence"]},
        "sphinx": sphinx,
    }
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "12_fashion_signal_space.html").read_text()
    assert '<details class="sd-sphinx-override sd-dropdown sd-card sd-mb-3 provenance">' in html
    assert 'The finding: <span class="pasted-text">56%</span> of the energy' in html
    assert html.index("It holds on this run") < html.index("Made by this book")
    assert html.index("Made by this book") < html.index("What it shows")
    assert f'href="{REPO}/blob/gh-pages-src/book/chapters/12_fashion_signal_space.ipynb"' in html
    assert "Papermill overrides" not in html and "seed = 7" not in html
    assert 'dataset = "fashion-mnist"' not in html and "import nnspaces" not in html
    assert html.count('class="cell tag_hide-input') == 2  # df, plot
    assert '<figure class="full-width align-default" id="fig-x">' in html
    assert '<span class="caption-number">Book figure 1 </span>' in html
    assert 'href="_static/nnspaces.css' in html
    assert "{dropdown}" not in html and ":class-container:" not in html
