"""Kernels forked from a warm process (nnspaces.forked_kernels): they run a notebook as a kernel
started from scratch does, each in a process of its own with nothing of another chapter."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from nnspaces import forked_kernels as kernels

pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="needs fork and Unix sockets")

PROBE = """
import json, os, random, sys
import nnspaces.paper
print(json.dumps({
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "cwd": os.getcwd(),
    "probe": os.environ.get("NNSPACES_PROBE"),
    "torch_before": torch_before,
    "mark": getattr(nnspaces.paper, "_test_mark", None),
    "random": random.random(),
    "path": sys.path,
}))
nnspaces.paper._test_mark = "set by an earlier notebook"
"""


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _run(src: Path, out: Path, cwd: Path, sock: str | None, monkeypatch) -> dict:
    """Execute ``src`` (through the fork server at ``sock``; a plain kernel for None) and
    read the JSON line the probe printed."""
    monkeypatch.setenv("NNSPACES_PROBE", out.stem)
    if sock is not None:
        monkeypatch.setenv(kernels.SOCKET, sock)
    else:
        monkeypatch.delenv(kernels.SOCKET, raising=False)
    pm.execute_notebook(
        str(src),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(cwd),
        kernel_manager_class=kernels.kernel_manager_class(),  # as the pipeline runs them
    )
    nb = json.loads(out.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"  # readers see the usual kernel
    text = "".join("".join(o.get("text", "")) for o in nb["cells"][-1]["outputs"])
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server():
    with kernels.Server() as srv:
        sock = srv.socket()
        assert sock is not None, "the fork server did not come up"
        yield srv, sock


def test_forked_kernels_run_notebooks_each_in_a_fresh_process(server, tmp_path, monkeypatch):
    srv, sock = server
    src = _notebook(
        tmp_path / "probe.ipynb", "import sys\ntorch_before = 'torch' in sys.modules", PROBE
    )
    work = tmp_path / "work"
    work.mkdir()
    a = _run(src, tmp_path / "a.ipynb", work, sock, monkeypatch)
    b = _run(src, tmp_path / "b.ipynb", work, sock, monkeypatch)
    for r, name in ((a, "a"), (b, "b")):
        assert r["torch_before"] is True  # imported once, by the server
        assert r["ppid"] == srv.proc.pid and r["pid"] != srv.proc.pid  # forked from it
        assert r["cwd"] == str(work) and r["probe"] == name  # the launcher's folder and env
    assert a["pid"] != b["pid"]
    assert b["mark"] is None  # what the first notebook did to a module is not in the second
    assert a["random"] != b["random"]  # Python's generator reseeded, as in a new process
    # the same module search path as a kernel started from scratch in the same folder
    plain = tmp_path / "plain.ipynb"
    assert _run(src, plain, work, None, monkeypatch)["path"] == a["path"]


def test_without_a_server_the_launcher_starts_an_ordinary_kernel(tmp_path, monkeypatch):
    src = _notebook(
        tmp_path / "probe.ipynb", "import sys\ntorch_before = 'torch' in sys.modules", PROBE
    )
    r = _run(src, tmp_path / "c.ipynb", tmp_path, str(tmp_path / "no-server.sock"), monkeypatch)
    assert r["torch_before"] is False and r["probe"] == "c"


def test_an_error_in_a_forked_kernel_is_reported_as_usual(server, tmp_path, monkeypatch):
    _, sock = server
    src = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('from the notebook')")
    with pytest.raises(pm.PapermillExecutionError, match="from the notebook"):
        _run(src, tmp_path / "bad-out.ipynb", tmp_path, sock, monkeypatch)


def test_closing_the_server_stops_it_and_removes_its_socket():
    with kernels.Server() as srv:
        assert srv.socket(wait=False) is None  # still importing torch: don't wait for it
        sock = srv.socket()
        assert sock is not None and os.path.exists(sock)
        proc = srv.proc
    assert proc.poll() is not None and not os.path.exists(sock)


def test_forked_kernels_can_be_turned_off(monkeypatch):
    monkeypatch.setenv(kernels.ENABLE, "0")
    assert not kernels.enabled()
    with kernels.Server() as srv:
        assert srv.proc is None and srv.socket() is None


# --- a quiet terminal: no transport warning, no interrupt before a shutdown ----------------


def test_kernels_print_nothing_to_the_terminal(server, tmp_path, monkeypatch, capfd):
    _, sock = server
    src = _notebook(
        tmp_path / "probe.ipynb", "import sys\ntorch_before = 'torch' in sys.modules", PROBE
    )
    capfd.readouterr()
    for i, via in enumerate([sock, None] * 2):  # forked, and started from scratch
        _run(src, tmp_path / f"q{i}.ipynb", tmp_path, via, monkeypatch)
    err = capfd.readouterr().err
    assert "[IPKernelApp]" not in err, err  # no TCP warning, no KeyboardInterrupt error


def test_two_kernels_at_once_run_quietly_each_its_own_notebook(tmp_path, capfd):
    """As the pipeline runs two chapters at a time: encrypted sockets, no crossed messages."""
    import concurrent.futures as cf

    src = _notebook(tmp_path / "pid.ipynb", "import os, time\ntime.sleep(1)\nprint(os.getpid())")

    def run(i: int) -> str:
        out = tmp_path / f"pid{i}.ipynb"
        pm.execute_notebook(
            str(src),
            str(out),
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=kernels.kernel_manager_class(fork=False),
        )
        return "".join(json.loads(out.read_text())["cells"][0]["outputs"][0]["text"])

    capfd.readouterr()
    with cf.ThreadPoolExecutor(2) as pool:
        pids = list(pool.map(run, range(4)))
    assert len(set(pids)) == 4  # four kernels, each ran its notebook to the end
    assert "[IPKernelApp]" not in capfd.readouterr().err


def test_the_manager_encrypts_and_does_not_interrupt_to_shut_down(tmp_path):
    km = kernels.kernel_manager_class(fork=False)(kernel_name="python3")
    sent = []
    real = km._async_signal_kernel

    async def spy(signum):
        sent.append(signum)
        await real(signum)

    km._async_signal_kernel = spy

    async def life():
        await km.start_kernel(cwd=str(tmp_path))
        try:
            info = km.get_connection_info()
            await km._async_interrupt_kernel()  # an interrupt asked for is still sent
        finally:
            await km.shutdown_kernel()
        return info

    info = asyncio.run(life())
    assert info["transport"] == "tcp"
    if kernels.curve_possible():  # the kernel's key is the manager's: CurveZMQ on every socket
        assert km.transport_encryption == "required" and km.curve_publickey is not None
    assert sent == [signal.SIGINT]  # the one asked for; none before the shutdown
