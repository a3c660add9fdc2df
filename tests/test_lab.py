"""The live explorer in JupyterLab, as a reader uses it: Debian's Chromium, driven by Playwright.

Starts JupyterLab on a loopback port with a token, in a temporary copy of the source
notebooks (the explorer's parameters set to the smoke profile's; its network trained into a
fresh cache by one papermill run), opens ``14_explore.ipynb``, runs all cells, moves the digit
slider and checks that the figure the widget shows is redrawn for the new digit; then shuts
the server down.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nnspaces import pdf, profiles

ROOT = Path(__file__).resolve().parents[1]
try:  # the PDF edition's Chromium and flags: one place for both
    CHROMIUM = pdf.chromium()
except pdf.PdfError:
    CHROMIUM = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="LAB TEST SKIPPED: no Chromium on this machine. Install it with "
        "`apt-get install chromium` to check the explorer's widgets in JupyterLab.",
    ),
]

#: How long JupyterLab may take to start, and a notebook to run, on a small shared machine.
START_S, RUN_S = 120, 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def explorer_copy(folder: Path) -> Path:
    """The source notebooks copied into ``folder``, the explorer's parameters cell set to the
    smoke profile's, with its widgets on (papermill's injected cell, not run)."""
    import papermill

    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".*"))
    chapter = next(c for c in profiles.chapters() if c.output == "14_explore")
    path = folder / "14_explore.ipynb"
    parameters = {**profiles.notebook_parameters(chapter, "smoke"), "live": True}
    papermill.execute_notebook(path, path, parameters=parameters, prepare_only=True)
    return path


class Lab:
    """A JupyterLab server on 127.0.0.1 with a token, serving ``folder``; stop() ends it."""

    def __init__(self, folder: Path, cache: Path, state: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = dict(
            os.environ,
            NNSPACES_CACHE=str(cache),
            JUPYTER_CONFIG_DIR=str(state / "config"),
            JUPYTER_RUNTIME_DIR=str(state / "runtime"),
            JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
            OMP_NUM_THREADS="1",
        )
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={folder}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={state / 'settings'}",
            f"--LabApp.workspaces_dir={state / 'workspaces'}",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        state.mkdir(parents=True, exist_ok=True)
        self.log = (state / "lab.log").open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_S
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"JupyterLab did not start: {(state / 'lab.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # JupyterLab shuts its kernels down on SIGTERM
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _figure_src(page) -> str:
    """The ``src`` of the image the explorer widget shows ("" while it is redrawn)."""
    img = page.locator(".widget-interact .jp-OutputArea-output img")
    return img.first.get_attribute("src") if img.count() else ""


def _accept_kernel_dialog(page, wait_ms: int = 15_000) -> None:
    """Choose the preferred kernel if JupyterLab asks which one ("Select Kernel")."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=wait_ms)
    except PlaywrightTimeout:
        pass


def run_explorer(url: str, token: str, shots: Path) -> dict:
    """Open the explorer in Chromium, run all cells, move the digit slider to 7.

    Returns
    -------
    dict
        ``before`` and ``after``: the figure's ``src``; ``text``: the notebook's rendered
        outputs as text. Screenshots ``lab-before.png`` and ``lab-after.png`` go to ``shots``.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=pdf.CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/lab/tree/14_explore.ipynb?token={token}", timeout=START_S * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=START_S * 1000)
            _accept_kernel_dialog(page)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=START_S * 1000
            )
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
            _accept_kernel_dialog(page)
            page.wait_for_selector(
                ".widget-interact .jp-OutputArea-output img", timeout=RUN_S * 1000
            )
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=RUN_S * 1000
            )
            before = _figure_src(page)
            page.locator(".widget-interact").scroll_into_view_if_needed()
            page.screenshot(path=shots / "lab-before.png")
            readout = page.locator(".widget-interact .widget-readout").first
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("7")
            page.keyboard.press("Enter")
            page.wait_for_function(
                """old => {
                    const img = document.querySelector(
                        ".widget-interact .jp-OutputArea-output img");
                    return img && img.src && img.src !== old;
                }""",
                arg=before,
                timeout=RUN_S * 1000,
            )
            after = _figure_src(page)
            page.screenshot(path=shots / "lab-after.png")
            text = page.locator(".jp-Notebook").inner_text()
            digit = readout.inner_text()
        finally:
            browser.close()
    return {"before": before, "after": after, "text": text, "digit": digit}


def train_explorer_network(notebook: Path, cache: Path, out: Path) -> None:
    """Run the prepared explorer once with papermill, as the book does: it trains its network
    (the smoke profile's 1-layer FCNN: 300 images, one epoch, a second) into ``cache``."""
    env = dict(os.environ, NNSPACES_CACHE=str(cache), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(out), "--log-level", "WARNING"]
    proc = subprocess.run(
        cmd, cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=RUN_S
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the notebooks, its explorer's network in a fresh cache.

    The network is trained here, not taken from the session's smoke book: the explorer
    needs one network of a second's training, and a smoke book of every chapter would tie
    this test to all of them."""
    explorer = explorer_copy(tmp_path / "notebooks")
    cache = tmp_path / "cache"
    train_explorer_network(explorer, cache, tmp_path / "executed.ipynb")
    server = Lab(explorer.parent, cache, tmp_path / "lab")
    yield server
    server.stop()


def test_the_explorer_redraws_its_figure_when_the_digit_changes(lab, tmp_path):
    seen = run_explorer(lab.url, lab.token, tmp_path)
    assert seen["before"].startswith("data:image/png") and seen["digit"] == "7"
    assert seen["after"].startswith("data:image/png") and seen["after"] != seen["before"]
    assert "<function" not in seen["text"]  # no stray repr of the widget's callback
    assert "Verdict(holds=" in seen["text"]  # the Lab reader's line under the figure
