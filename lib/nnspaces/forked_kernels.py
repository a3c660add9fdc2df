"""Notebook kernels forked from a warm process: the chapters skip Python's start-up imports.

Every chapter runs in a fresh Jupyter kernel (papermill), which spends seconds importing
torch, matplotlib, pandas and this library before the first line of the notebook does any
work: about a third of a warm book build on two cores. A *fork server* imports them once;
each kernel is then a ``fork()`` of it, with nothing of another chapter in it:

- :class:`Server` — starts the fork server (``python -m nnspaces.forked_kernels serve SOCKET``),
  which imports :data:`PRELOAD`; :meth:`Server.socket` waits until it is ready; leaving the
  ``with`` block stops it (and any kernel still running);
- :func:`kernel_manager_class` — the jupyter_client kernel manager papermill is given
  (``kernel_manager_class=``): it starts ``python -m nnspaces.forked_kernels launch
  CONNECTION_FILE`` instead of ``python -m ipykernel_launcher -f CONNECTION_FILE``. The
  notebook's kernelspec (``python3``) is unchanged. It also keeps the build's terminal
  quiet: the kernels' TCP sockets are encrypted with CurveZMQ keys the manager provisions
  (``transport_encryption``), so ipykernel has no "running over TCP without encryption"
  warning to print, and a kernel is not interrupted before its shutdown (papermill shuts down
  an idle kernel; the interrupt only raced the kernel's last message and printed
  ``ERROR | KeyboardInterrupt caught in kernel``).

The launcher is the kernel process jupyter_client sees: it hands its stdin, stdout and
stderr, working folder and environment to the server, which forks a child that becomes an
IPython kernel on that connection file; the launcher forwards signals to the child and
exits with its exit status. When the server cannot be reached the launcher becomes an
ordinary kernel (``exec`` of ``ipykernel_launcher``), so a kernel always starts.

What a forked kernel shares with its siblings is only what importing :data:`PRELOAD` did:
the server computes nothing, starts no thread and opens no ZeroMQ context before forking.
Each child takes the environment and working folder of its launcher and reseeds Python's
and NumPy's global random generators from the OS, as a new process would. Settings read
when a module is imported (the thread count of torch, matplotlib's backend) are the
server's: :class:`Server` starts it with the environment the kernels would have had.
``NNSPACES_FORK_KERNELS=0`` turns the mechanism off (every kernel starts from scratch).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Environment variable naming the fork server's socket, read by the launcher.
SOCKET = "NNSPACES_KERNEL_SERVER"
#: Environment variable: ``0`` turns forked kernels off.
ENABLE = "NNSPACES_FORK_KERNELS"
#: What the server imports before it forks kernels: what every chapter imports first.
PRELOAD = ("ipykernel.kernelapp", "numpy", "pandas", "torch", "torchvision", "matplotlib.pyplot")
PRELOAD += ("nnspaces.book", "nnspaces.compare", "nnspaces.notebook", "nnspaces.plots")
PRELOAD += ("nnspaces.spaces", "nnspaces.inverse", "nnspaces.summary", "nnspaces.verdicts")
#: How long :meth:`Server.socket` waits for the server's imports before giving up (seconds).
READY_TIMEOUT = 120.0
_INLINE = "module://matplotlib_inline.backend_inline"  # ipykernel's default backend
_SCRIPT_PATH: str | None = None  # the server's sys.path[0]


def enabled() -> bool:
    """Whether forked kernels are on (``$NNSPACES_FORK_KERNELS`` is not ``0``) on this system
    (``fork`` and Unix sockets: not on Windows)."""
    return os.environ.get(ENABLE, "1") != "0" and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")


# --- the pipeline's side ---------------------------------------------------------------


class Server:
    """A fork server, started at once and waited for only when its socket is first asked for
    (its imports overlap with whatever the caller does meanwhile).

    Parameters
    ----------
    env : dict, optional
        The environment of the server, hence of every module it imports (default: this
        process's). Give what the kernels would have had, e.g. ``OMP_NUM_THREADS``.

    Use as a context manager (or call :meth:`close`): on exit the server stops and any kernel
    still running is killed.
    """

    def __init__(self, env: dict | None = None):
        self.proc = None
        self._socket: str | None = None
        self._waited = False
        self.seconds: float | None = None  # how long the imports took (once ready)
        if not enabled():
            return
        env = dict(os.environ if env is None else env)
        env.setdefault("MPLBACKEND", _INLINE)  # what ipykernel sets before any import
        self._tmp = tempfile.TemporaryDirectory(prefix="nnspaces-kernels-")
        self._path = str(Path(self._tmp.name) / "server.sock")
        self._t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nnspaces.forked_kernels", "serve", self._path],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )

    def socket(self, wait: bool = True) -> str | None:
        """The socket path for :data:`SOCKET` once the server is ready; None when forked
        kernels are off, the server did not come up, or (``wait=False``) it is not ready yet:
        a kernel then starts from scratch, which beats waiting for the imports when a run
        has few chapters."""
        if self.proc is not None and not self._waited:
            ready = _wait_ready(self.proc, READY_TIMEOUT if wait else 0.0)
            if ready or wait or self.proc.poll() is not None:
                self._waited = True
            if ready:
                self._socket, self.seconds = self._path, time.perf_counter() - self._t0
        return self._socket

    def close(self) -> None:
        """Stop the server (its kernels with it) and remove its socket."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._tmp.cleanup()
        self.proc = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _wait_ready(proc: subprocess.Popen, timeout: float) -> bool:
    """Whether the server printed ``ready`` (its imports done, its socket listening) within
    ``timeout`` seconds (0: only if it already has)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.0, deadline - time.monotonic())
        if not sel.select(timeout=left):
            break
        line = proc.stdout.readline()
        if not line:  # exited
            break
        if line.strip() == "ready":
            return True
    return False


_MANAGERS: dict[bool, type] = {}


def curve_possible() -> bool:
    """Whether ZeroMQ here can encrypt the kernels' sockets (CurveZMQ: libzmq built with
    libsodium, as pyzmq's wheels are)."""
    import zmq

    return bool(zmq.has("curve"))


def kernel_manager_class(fork: bool | None = None):
    """The kernel manager papermill is given (``kernel_manager_class=``): an
    ``AsyncKernelManager``, as nbclient uses, that keeps the terminal quiet (the module's
    docstring says how); with ``fork`` (default :func:`enabled`) it starts :func:`launch`
    instead of ``ipykernel_launcher``. Created on first use."""
    fork = enabled() if fork is None else fork
    if fork not in _MANAGERS:
        from jupyter_client.manager import AsyncKernelManager
        from traitlets import default

        class QuietKernelManager(AsyncKernelManager):
            """Encrypted sockets where possible; no interrupt before a shutdown."""

            @default("transport_encryption")
            def _transport_encryption_default(self):
                # CurveZMQ keys the manager makes and writes in the connection file, also for
                # a kernelspec that does not declare it (ipykernel reads them)
                return "required" if curve_possible() else "disabled"

            async def _async_interrupt_kernel(self):
                if not self.shutting_down:  # set by shutdown_kernel before it interrupts
                    await super()._async_interrupt_kernel()

        class ForkedKernelManager(QuietKernelManager):
            """Starts the kernel through the fork server named by ``$NNSPACES_KERNEL_SERVER``."""

            def format_kernel_cmd(self, extra_arguments=None):
                connection = os.path.realpath(self.connection_file)
                return [sys.executable, "-m", "nnspaces.forked_kernels", "launch", connection]

        _MANAGERS[fork] = ForkedKernelManager if fork else QuietKernelManager
    return _MANAGERS[fork]


# --- the launcher: the process jupyter_client starts ------------------------------------


def launch(connection_file: str) -> int:
    """Have the fork server start a kernel on ``connection_file``; wait for it; its status.

    Falls back to an ordinary kernel (replacing this process) when no server answers.
    """
    path = os.environ.get(SOCKET)
    conn = None
    if path:
        try:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(path)
            request = {"connection_file": connection_file, "cwd": os.getcwd()}
            request["env"] = dict(os.environ)
            socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        except OSError:
            conn = None
    reader = conn.makefile("r") if conn is not None else None
    first = reader.readline() if reader is not None else ""
    if not first:  # no server, or it refused: an ordinary kernel, replacing this process
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
        os.execv(sys.executable, argv)
    pid = json.loads(first)["pid"]

    def forward(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(s, forward)
    line = reader.readline()  # {"exit": status} once the kernel has ended
    return json.loads(line)["exit"] if line else 1


# --- the server --------------------------------------------------------------------------


def serve(path: str) -> None:
    """Import :data:`PRELOAD`, listen on the Unix socket ``path`` and fork a kernel per
    request, until terminated (then every kernel still running is killed)."""
    import importlib

    global _SCRIPT_PATH
    _SCRIPT_PATH = sys.path[0] if sys.path else None  # what `python -m` put first
    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    kernels: dict[int, socket.socket] = {}  # pid → its launcher's connection
    parent = os.getppid()
    print("ready", flush=True)
    while not stop and os.getppid() == parent:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "listen":
                conn, _ = listener.accept()
                pid = _fork_kernel(conn, listener, kernels)
                if pid:
                    kernels[pid] = conn
                    sel.register(conn, selectors.EVENT_READ, pid)
            elif key.data == "wake":
                os.read(wake_r, 4096)
            else:  # a launcher hung up (killed) while its kernel runs: end the kernel
                if not key.fileobj.recv(1):
                    sel.unregister(key.fileobj)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(key.data, signal.SIGKILL)
        _reap(kernels, sel)
    for pid in kernels:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    sys.stdout.flush()
    os._exit(0)  # skip tearing down torch and friends: nothing is left to save


def _reap(kernels: dict, sel) -> None:
    """Tell each launcher whose kernel has ended its exit status, and forget it."""
    while kernels:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kernels.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(conn)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
                conn.sendall(b"\n")
            conn.close()


def _fork_kernel(conn: socket.socket, listener: socket.socket, kernels: dict) -> int | None:
    """Read one request from ``conn`` and fork its kernel; the child's pid (None: refused)."""
    try:
        msg, fds, _, _ = socket.recv_fds(conn, 2**20, 3)
        request = json.loads(msg)
        if len(fds) != 3:
            raise ValueError("expected stdin, stdout and stderr")
    except (OSError, ValueError) as e:
        print(f"nnspaces.forked_kernels: refused a request ({e})", file=sys.stderr, flush=True)
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:  # the kernel
        listener.close()
        conn.close()
        for other in kernels.values():
            other.close()
        _become_kernel(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return pid


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take the launcher's files, folder and environment, and run an
    IPython kernel on its connection file; exit with the kernel's status."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_DFL if s != signal.SIGINT else signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)
        sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _reseed()
        # as ipykernel_launcher: the launching folder off sys.path (IPython adds the cwd)
        if sys.path and sys.path[0] == _SCRIPT_PATH:
            del sys.path[0]
        # the parent a kernel polls (it exits when that process is gone) is the server here;
        # ipykernel read JPY_PARENT_PID when the server imported it, so it is given here
        argv = ["-f", request["connection_file"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = ["ipykernel_launcher", *argv]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _reseed() -> None:
    """Fresh OS entropy for the global random generators a new process would seed itself."""
    import random

    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed()


def main(argv: list[str] | None = None) -> int:
    """``serve SOCKET`` or ``launch CONNECTION_FILE``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "serve":
        serve(args[1])
        return 0
    if len(args) == 2 and args[0] == "launch":
        return launch(args[1])
    print("usage: python -m nnspaces.forked_kernels serve SOCKET | launch CONNECTION_FILE")
    return 2


if __name__ == "__main__":
    sys.exit(main())
