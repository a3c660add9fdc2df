"""Stage 5, the HTML: Jupyter Book renders the executed chapters into a staging folder, which
then replaces ``_build/html`` (skipped when nothing the HTML is made of changed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import yaml

from .. import cache, fingerprint
from ..layout import launch_ref
from .plan import Plan, ReproduceError, write_json


def build_html(plan: Plan, provenance: dict, log) -> None:
    """Render the book unless the HTML is up to date (no chapter ran, nothing forced, the
    same inputs as the last build's); its seconds and inputs go to the run log. The launch
    buttons open the build's own tag (:func:`nnspaces.layout.launch_ref`)."""
    work, run = plan.work, plan.run
    html = work / "_build" / "html" / "index.html"
    unchanged = run.get("build_inputs") == inputs_digest(work, plan.final)
    if not plan.run_now and not plan.force and unchanged and html.is_file():
        log(f"[reproduce] HTML up to date in {html.parent} (nothing it is made of changed)")
        return
    log("[reproduce] jupyter-book build (warnings are errors)")
    ref = launch_ref(provenance["branch"], provenance["commit"])
    run["seconds"]["build"] = round(_jupyter_book(work, ref), 2)
    run["build_inputs"] = inputs_digest(work, plan.final)
    write_json(plan.run_file, run)
    log(f"[reproduce] HTML in {html.parent} ({run['seconds']['build']:.1f} s)")


def _jupyter_book(root: Path, ref: str | None = None) -> float:
    """Build the book into a staging folder, then swap it in as ``_build/html``; its seconds.
    With ``ref`` the launch buttons open that git ref."""
    import time

    install_mathjax(root)
    build = root / "_build"
    html = build / "html"
    # Leftovers of a killed run: staging trees are junk; a parked old HTML is restored if
    # the kill fell between the two renames of the swap below.
    for old in sorted(build.glob(".old-*")):
        if not html.exists():
            old.rename(html)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for junk in build.glob(".staging-*"):
        shutil.rmtree(junk, ignore_errors=True)
    staging = build / f".staging-{os.getpid()}"
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "--path-output", str(staging), "-W", "-n", "--keep-going"]
    if ref is not None:  # the buttons open the build's own tag, as its banners' links do
        cmd += ["--config", str(_config_with_ref(root, ref, staging))]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReproduceError(
            f"jupyter-book build failed (exit {proc.returncode}); the previous _build/html "
            f"is untouched. Last output:\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    old = build / f".old-{os.getpid()}"
    if html.exists():
        html.rename(old)
    (staging / "_build" / "html").rename(html)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return time.perf_counter() - t0


def install_mathjax(work: Path) -> None:
    """Copy MathJax 3 (from the ``django-static-mathjax`` wheel) into ``book/_static``.

    The book then renders its mathematics with no CDN: offline, in CI's browser test, and
    on any mirror of the HTML.
    """
    es5 = resources.files("mathjax").joinpath("static", "mathjax", "es5")
    dest = work / "book" / "_static" / "mathjax"
    if (dest / "tex-chtml.js").is_file():
        return
    tmp = dest.with_name(f".mathjax-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "output" / "chtml" / "fonts").mkdir(parents=True)
    (tmp / "input" / "tex").mkdir(parents=True)
    shutil.copy2(str(es5.joinpath("tex-chtml.js")), tmp / "tex-chtml.js")
    for sub in (("output", "chtml", "fonts", "woff-v2"), ("input", "tex", "extensions")):
        shutil.copytree(str(es5.joinpath(*sub)), tmp.joinpath(*sub))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def _config_with_ref(root: Path, ref: str, folder: Path) -> Path:
    """``root``'s ``_config.yml`` with ``repository.branch`` set to ``ref``, written in
    ``folder``: Jupyter Book makes the launch buttons' URLs from that key."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    config.setdefault("repository", {})["branch"] = ref
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return cache.atomic_write(folder / "_config.yml", lambda f: f.write(text.encode()))


def inputs_digest(work: Path, final: Path) -> str:
    """What the HTML is made of: executed copies, prose, bibliography, config, styles."""
    files = [work / "_config.yml", work / "_toc.yml"]
    files += sorted(
        p
        for p in (work / "book").rglob("*")
        if p.is_file() and ".staging" not in p.parts and p.suffix not in (".json", ".jsonl")
    )  # the run log and the fingerprints are not pages
    return fingerprint.digest(
        [(p.relative_to(work).as_posix(), fingerprint.file_stat(p)) for p in files if p.is_file()]
    )
