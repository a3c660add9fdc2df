"""Shared fixtures: real data loaded once, a private cache for every test module (and a fresh
one per test that asks), two threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import torch
from hypothesis import settings

matplotlib.use("Agg")
torch.set_num_threads(2)

# A run of the tests passes or fails by the code, not by luck: the property tests draw the
# same examples on every run (`make test`, `make test-all`, CI). `make fuzz` draws new ones
# (`--hypothesis-profile=explore`); a case it finds becomes an @example of its test.
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("fixed")

#: Fixtures that make a test slow by construction: a book build, a Jupyter kernel, a browser.
_SLOW_FIXTURES = {"smoke_book"}
#: Modules whose every test starts Jupyter kernels or a browser.
_SLOW_MODULES = {
    "test_forked_kernels",
    "test_reproduce_execute",
    "test_lab",
    "test_pdf",
    "test_browser",
}


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` every test that builds the smoke book, starts kernels or a browser.

    ``make test`` deselects them (``-m "not slow and not browser"``); ``make test-all`` runs
    everything. A marker set here cannot be forgotten on a new test that uses the smoke book.
    """
    for item in items:
        module = getattr(item, "module", None)  # a doctest item has none
        module = module.__name__.rsplit(".", 1)[-1] if module else ""
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or module in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist5k():
    from nnspaces import data

    return data.load("mnist-5k")


@pytest.fixture(scope="module")
def one_thread():
    """One BLAS thread: on a small shared machine, more threads stall LAPACK (seconds, not ms)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="module")
def module_cache(tmp_path_factory):
    """Every test module's cache (``NNSPACES_CACHE``): fresh, never the user's; set before the
    module-scoped fixtures of ``tests/*_problems.py``, so what they memoise lands in it."""
    with pytest.MonkeyPatch.context() as mp:
        d = tmp_path_factory.mktemp("cache")
        mp.setenv("NNSPACES_CACHE", str(d))
        yield d


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache for one test (nothing memoised by another), also exported as
    ``NNSPACES_CACHE`` for subprocesses; created on first use."""
    d = tmp_path / "cache"
    monkeypatch.setenv("NNSPACES_CACHE", str(d))
    return d


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """The smoke profile reproduced once per session in a temporary folder (not the checkout).

    ``NNSPACES_SMOKE_BOOK=<folder>`` tests an earlier build there instead (a ``--workdir``
    of ``python -m nnspaces reproduce``, holding ``book/chapters`` and ``_build/html``).
    """
    earlier = os.environ.get("NNSPACES_SMOKE_BOOK")
    if earlier:
        return Path(earlier).resolve()
    work = tmp_path_factory.mktemp("smoke")
    env = dict(os.environ, NNSPACES_CACHE=str(work / "cache"))
    cmd = [
        sys.executable,
        "-m",
        "nnspaces",
        "reproduce",
        "--profile",
        "smoke",
        "--workdir",
        str(work),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work
