"""Interrupted builds leave the previous results intact; reruns reproduce the same numbers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _start(work: Path, cache: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "nnspaces",
        "reproduce",
        "--profile",
        "smoke",
        "--workdir",
        str(work),
        *extra,
    ]
    env = dict(os.environ, NNSPACES_CACHE=str(cache))
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _kill_when(proc: subprocess.Popen, marker: str, sig: int, timeout: float = 300) -> str:
    seen, t0 = [], time.time()
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            time.sleep(2.0)  # let it get properly under way
            os.killpg(proc.pid, sig)
            proc.wait(30)
            return "".join(seen)
        assert time.time() - t0 < timeout, "".join(seen)
    raise AssertionError(f"the run ended before {marker!r}:\n{''.join(seen)}")


@pytest.fixture
def built_copy(smoke_book, tmp_path):
    """A private copy of the smoke build (executed notebooks + HTML) to interrupt."""
    work = tmp_path / "work"
    shutil.copytree(smoke_book, work, ignore=shutil.ignore_patterns("cache"), symlinks=True)
    return work, smoke_book / "cache"


@pytest.mark.slow
@pytest.mark.parametrize(
    "marker, sig",
    [("papermill", signal.SIGKILL), ("jupyter-book build", signal.SIGTERM)],
    ids=["kill-while-executing", "term-while-building"],
)
def test_an_interrupted_run_leaves_the_previous_book_and_a_rerun_completes(built_copy, marker, sig):
    work, cache = built_copy
    chapters, html = work / "book" / "chapters", work / "_build" / "html"
    before_nb, before_html = _digest(chapters), _digest(html)
    log = _kill_when(_start(work, cache, "--force"), marker, sig)  # unchanged: forced to run
    assert _digest(html) == before_html, log
    if marker == "papermill":  # killed mid-notebook: the executed copies are untouched
        assert _digest(chapters) == before_nb, log
    else:  # killed while rendering: the chapters had finished, so they are new and whole
        for nb in chapters.glob("*.ipynb"):
            cells = json.loads(nb.read_text())["cells"]
            assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code")
    first = json.loads((chapters / "_run.json").read_text())["seconds"]
    proc = _start(work, cache, "--force", "--only", next(iter(first)))
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert (html / "index.html").is_file() and not list((work / "_build").glob(".staging-*"))


def _glued(nb_path: Path) -> tuple[dict, dict]:
    """The glued values (text) and figures (decoded pixels) of an executed notebook."""
    import base64
    import io

    import matplotlib.image as mpimg

    nb = json.loads(nb_path.read_text())
    values, figures = {}, {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            key = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if key is None:
                continue
            prefix = out["metadata"]["scrapbook"].get("mime_prefix", "")
            data = {k.removeprefix(prefix): v for k, v in out["data"].items()}
            if "image/png" in data:
                png = base64.b64decode(data["image/png"])
                figures[key] = mpimg.imread(io.BytesIO(png), format="png")
            else:
                values[key] = data.get("text/plain")
    return values, figures


#: Glued values of the models chapter that say how the run went (cache hits, load seconds).
RUN_STATE = ("n_cached", "slowest_load")


@pytest.mark.slow
def test_a_rerun_from_an_empty_cache_gives_identical_numbers_and_figures(
    smoke_book, tmp_path, monkeypatch
):
    """The models chapter again, from scratch: same glued numbers, same figure pixels."""
    from nnspaces import reproduce

    chapter = next(c for c in reproduce.chapters() if c.output == "01_models")
    params = reproduce.notebook_parameters(chapter, "smoke")
    out = tmp_path / "again.ipynb"
    monkeypatch.setenv("NNSPACES_CACHE", str(tmp_path / "empty-cache"))
    # the same threads as the pipeline's kernels had: results may depend on the thread count
    threads = reproduce.kernel_threads(reproduce.default_jobs())
    monkeypatch.setenv("OMP_NUM_THREADS", str(threads))
    pm.execute_notebook(
        str(ROOT / "notebooks" / f"{chapter.notebook}.ipynb"),
        str(out),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(ROOT / "notebooks"),
    )
    v1, f1 = _glued(smoke_book / "book" / "chapters" / f"{chapter.output}.ipynb")
    v2, f2 = _glued(out)
    assert v1 and f1, "the chapter glued nothing"
    # what the cache held and how long loading took describe the run, not its results: the
    # pipeline's copy found networks another chapter had trained; this one trained them
    v1, v2 = ({k: x for k, x in v.items() if k not in RUN_STATE} for v in (v1, v2))
    assert v1 == v2
    assert f1.keys() == f2.keys()
    for key in f1:
        np.testing.assert_array_equal(f1[key], f2[key], err_msg=key)


def test_missing_data_stops_the_run_before_any_chapter(tmp_path, monkeypatch, cache_dir):
    """Fashion-MNIST absent (no Debian package, no network): the run stops at once, naming
    the data set and the fix, and executes nothing."""
    import urllib.request

    from nnspaces import reproduce
    from nnspaces.data import sources

    def offline(*args, **kwargs):
        raise OSError("simulated: no network")

    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "not-installed")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert "fashion-mnist" in reproduce.needed_datasets("smoke")
    lines = []
    t0 = time.perf_counter()
    with pytest.raises(reproduce.ReproduceError) as e:
        reproduce.reproduce("smoke", workdir=tmp_path / "work", log=lines.append)
    msg = str(e.value)
    assert "fashion-mnist" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "Nothing was run" in msg and not any("papermill" in line for line in lines)
    assert not list((tmp_path / "work" / "book").rglob("*.ipynb"))
    print(f"stopped after {time.perf_counter() - t0:.1f} s")
