"""nnspaces.reproduce.execute: chapters run in threads of one process, each kernel given its
environment (threads, logs, fork server) explicitly; nothing passes through ``os.environ``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import nbformat
import pytest

from nnspaces import cache, forked_kernels
from nnspaces.profiles import Chapter
from nnspaces.reproduce import execute

PROBE = f"""
import json, os
print(json.dumps({{
    "threads": os.environ.get("OMP_NUM_THREADS"),
    "results": os.environ.get({cache.RESULT_LOG!r}),
    "cwd": os.getcwd(),
    "pid": os.getpid(),
}}))
"""


def _root(tmp_path: Path, *names: str) -> Path:
    """A checkout with a ``notebooks/`` folder holding one probe notebook per name."""
    (tmp_path / "notebooks").mkdir()
    for name in names:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(PROBE)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": "python"}
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    return tmp_path


def _seen(staging: Path, output: str) -> dict:
    nb = json.loads((staging / f"{output}.ipynb").read_text())
    return json.loads("".join(nb["cells"][0]["outputs"][0]["text"]))


@pytest.mark.parametrize("fork", [False, True], ids=["from-scratch", "forked"])
def test_two_chapters_at_once_each_see_their_own_environment(tmp_path, monkeypatch, fork):
    """Two chapters in two threads, with different thread counts: each kernel has its own
    threads, logs and working folder, and this process's environment is left as it was."""
    if fork and not forked_kernels.enabled():
        pytest.skip("needs fork and Unix sockets")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    root = _root(tmp_path, "a", "b")
    staging = tmp_path / "staging"
    staging.mkdir()
    before = dict(os.environ)
    with forked_kernels.Server() as srv:
        sock = srv.socket() if fork else None
        threads = [
            threading.Thread(
                target=execute.execute,
                args=(Chapter(name, f"out_{name}"), {}, root, staging, n, sock),
            )
            for name, n in (("a", 1), ("b", 3))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    a, b = _seen(staging, "out_a"), _seen(staging, "out_b")
    assert (a["threads"], b["threads"]) == ("1", "3")
    assert b["results"] == str(staging / "out_b.results.jsonl")
    assert a["cwd"] == b["cwd"] == str(root / "notebooks")
    assert a["pid"] != b["pid"] and os.getpid() not in (a["pid"], b["pid"])
    assert dict(os.environ) == before
