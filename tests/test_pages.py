"""decorate: the tags that hide parameters and code, the provenance banner, and a real
Jupyter Book build (warnings are errors) of a decorated page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnspaces import pages

GLUE = "application/papermill.record/"
REPO = "https://github.com/someone/nnspaces-book"


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


def _code(source: str, outputs=(), tags=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    if tags:
        cell.metadata.tags = list(tags)
    return cell


def _notebook(path: Path) -> Path:
    """A chapter as papermill leaves it: title, parameters, injected cell, code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    md = nbformat.v4.new_markdown_cell
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    nb.cells = [
        md("# A chapter\n\n**Overview.** What it shows."),
        md("## Parameters\n\nPapermill overrides these defaults."),
        _code(
            'dataset = "mnist-5k"  # which digits\nseed = 7\nn_train = None', tags=["parameters"]
        ),
        _code('dataset = "fashion-mnist"', tags=["injected-parameters"]),
        _code("import nnspaces"),  # shows nothing
        _code("x = 1", [nbformat.v4.new_output("stream", name="stderr", text="warn")]),
        _code("book.glue_text(...)", [_glue("data_description", "Fashion: 300 training")]),
        _code("plot()", [figure]),
        _code("print(1)", [nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
        _code("df", [nbformat.v4.new_output("execute_result", data={"text/html": "<table/>"})]),
        _code("secret()", [figure], tags=["remove-input"]),
        _code("shown()", [figure], tags=["hide-output"]),
        _code("quiet()", [figure], tags=["remove-output"]),
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
    return [c for c in nb.cells if "{admonition} How this page was made" in c.source]


def test_the_parameters_and_their_heading_leave_the_page(decorated):
    assert "remove-cell" in _tags(decorated, 'dataset = "mnist-5k"')
    assert "remove-cell" in _tags(decorated, 'dataset = "fashion-mnist"')
    assert _tags(decorated, "## Parameters") == ["remove-cell"]
    assert _tags(decorated, "## Results") == []


def test_code_that_shows_something_hides_behind_a_toggle_and_the_rest_leaves(decorated):
    for shows in ("plot()", "print(1)", "df"):
        assert _tags(decorated, shows) == ["hide-input"], shows
    # nothing visible: no output, stderr only (the book drops it), glue only, remove-output
    for quiet in ("import nnspaces", "x = 1", "book.glue_text", "quiet()"):
        assert "remove-input" in _tags(decorated, quiet), quiet
        assert "hide-input" not in _tags(decorated, quiet), quiet
    # the author's own choices stand
    assert _tags(decorated, "secret()") == ["remove-input"]
    assert _tags(decorated, "shown()") == ["hide-output", "hide-input"]  # output hidden: code too


def test_the_banner_follows_the_title_and_says_how_the_page_was_made(decorated):
    (banner,) = _banners(decorated)
    assert decorated.cells[0].source.startswith("# A chapter")
    assert decorated.cells[1] is banner
    md = banner.source
    assert md.startswith("````{admonition} How this page was made\n:class: provenance\n")
    assert md.rstrip().endswith("````")
    assert "**Profile** `smoke`" in md
    assert "**Data** Fashion: 300 training" in md  # the glued description wins
    assert "**Seeds** 0, 1" in md  # the injected list wins over the default seed = 7
    assert f"[`abc1234-dirty`]({REPO}/commit/abc1234) with uncommitted changes" in md
    assert "**Run** 2026-12-02 06:51 UTC" in md
    assert "**nnspaces** `0.1.0`" in md
    assert "**Chapter time** 1 min 23 s" in md
    assert (
        f"[the executed notebook]({REPO}/blob/gh-pages-src/book/chapters/"
        "12_fashion_signal_space.ipynb)" in md
    )
    assert f"[its source]({REPO}/blob/gh-pages-src/notebooks/02_signal_space.ipynb)" in md


def test_a_title_cell_with_sections_is_split_so_the_banner_sits_under_the_overview(tmp_path):
    path = _notebook(tmp_path / "x.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\n```text\n## not a heading\n```\n\n## Claims\n\nOne.\n\n## More\n"
    nbformat.write(nb, path)
    pages.decorate(path, _info())
    once = path.read_text()
    pages.decorate(path, _info())
    assert path.read_text() == once
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source.startswith("# A chapter") and "## not a heading" in cells[0].source
    assert "## Claims" not in cells[0].source
    assert cells[1].source.startswith("````{admonition} How this page was made")
    assert cells[2].source == "## Claims\n\nOne.\n\n## More\n"


def test_the_run_with_line_is_short(decorated):
    (line,) = [ln for ln in _banners(decorated)[0].source.splitlines() if "run with" in ln]
    assert line.startswith("This page was run with: `dataset=fashion-mnist, n_train=300, ")
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
    assert "**Data** mnist-5k" in md and "**Seed** 7" in md  # from the parameters cell
    assert "**Commit** not recorded" in md
    assert "**Chapter time** 4.2 s" in md
    assert "run with: `n_train=300`" in md


def test_glued_text_is_escaped_for_markdown():
    md = pages.banner(_info(), glued={"data_description": "a *b* `c` $d$ {e}"})
    assert r"**Data** a \*b\* \`c\` \$d\$ \{e\}" in md


def test_decorating_twice_gives_the_same_notebook_with_one_banner(tmp_path):
    path = _notebook(tmp_path / "x.ipynb")
    pages.decorate(path, _info())
    once = path.read_text()
    pages.decorate(path, _info())
    assert path.read_text() == once
    assert len(_banners(nbformat.read(path, as_version=4))) == 1
    pages.decorate(path, _info(profile="default"))  # a new run replaces the banner
    (banner,) = _banners(nbformat.read(path, as_version=4))
    assert "**Profile** `default`" in banner.source


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


@pytest.mark.slow
def test_a_decorated_page_builds_with_warnings_as_errors(tmp_path):
    """A two-page book with the project's own _config.yml sphinx section and CSS: the
    banner, the toggles and the figure numbers render; nothing warns."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    path = _notebook(tmp_path / "12_fashion_signal_space.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.source not in ("shown()", "quiet()")]
    nb.cells[-1].source += (
        "\n\n```{figure} fig.png\n:name: fig-x\n:figclass: full-width\n\n"
        "**Figure 2 of the paper, regenerated.** Prose.\n```\n"
    )
    # real outputs a page can show (a PNG, not a repr)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    import base64

    (tmp_path / "fig.png").write_bytes(base64.b64decode(png))
    for c in nb.cells:
        if c.source == "plot()":
            c.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    nbformat.write(nb, path)
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
    assert 'class="provenance admonition"' in html
    assert "How this page was made" in html and "<code class" in html
    assert f'href="{REPO}/blob/gh-pages-src/book/chapters/12_fashion_signal_space.ipynb"' in html
    assert "Papermill overrides" not in html and "mnist-5k" not in html
    assert "seed = 7" not in html and "import nnspaces" not in html
    assert html.count('class="cell tag_hide-input') == 3  # plot, print, df
    assert '<figure class="full-width align-default" id="fig-x">' in html
    assert '<span class="caption-number">Book figure 1 </span>' in html
    assert (tmp_path / "_build" / "html" / "_static" / "nnspaces.css").is_file()
    assert 'href="_static/nnspaces.css' in html
    assert "{admonition}" not in html and ":class:" not in html
