"""A fresh clone's ``make book`` from the published networks, served on loopback, timed.

``python -m benchmarks.fetch [--profile default] [--source-cache DIR] [--jobs N]``

1. ``weights publish``: the profile's networks and memoised results, from a cache where the
   profile is built (default ``$NNSPACES_CACHE`` or ``~/.cache/nnspaces``; only read), into a
   temporary folder, pinned in a temporary registry (``NNSPACES_REGISTRY``): the package's
   ``registry.json`` is not touched.
2. That folder served by an HTTP server on 127.0.0.1, in a thread.
3. ``python -m nnspaces reproduce --profile P`` in a temporary work folder with an empty cache
   and ``NNSPACES_WEIGHTS_URL`` pointing at the server: what ``make book`` does on a fresh
   clone once CI has published — fetch, check, install, then execute and build.

It prints the build's wall time, what was fetched (files, MB) and what was trained (nothing,
when every network was published), and returns them as a dict. The smoke profile needs a
smoke build in the source cache first (``NNSPACES_CACHE=DIR python -m nnspaces reproduce
--profile smoke --workdir …``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from nnspaces import cache, fetch, weights


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder: Path, handler=_Quiet):
    """``folder`` served on 127.0.0.1 by a thread (``handler``: a quiet file server, or a
    test's misbehaving one); its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def run(profile: str = "default", source_cache: str | Path | None = None, jobs=None) -> dict:
    """Publish ``profile`` from ``source_cache``, serve it, build it from an empty cache.

    Returns
    -------
    dict
        ``profile``; ``files`` and ``megabytes`` published; ``wall_seconds`` of the build
        (fetch, checks, chapters, HTML); ``fetch`` (the run log's record of the fetch:
        statuses, bytes, seconds); ``trained`` (network ids the build trained: none when
        every network came from the published files).
    """
    source = Path(source_cache) if source_cache is not None else cache.root()
    with tempfile.TemporaryDirectory(prefix="nnspaces-fetch-bench-") as tmp:
        tmp = Path(tmp)
        registry = tmp / "registry.json"
        base = "https://example.invalid/releases/download/benchmark/"  # replaced below
        entry = weights.publish(tmp / "served", profile, base, "benchmark", source, registry)
        size = sum(f["size"] for f in entry["files"])
        print(
            f"[bench] published {len(entry['files'])} files, {fetch.megabytes(size)}",
            file=sys.stderr,
        )
        work = tmp / "work"
        args = ["reproduce", "--profile", profile, "--workdir", str(work)]
        args += [] if jobs is None else ["--jobs", str(jobs)]
        with serving(tmp / "served") as url:
            env = dict(
                os.environ,
                NNSPACES_CACHE=str(tmp / "fresh-cache"),
                NNSPACES_REGISTRY=str(registry),
                NNSPACES_WEIGHTS_URL=url,
            )
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "nnspaces", *args], env=env)
            wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"nnspaces reproduce --profile {profile} failed")
        run_log = json.loads((work / "book" / "chapters" / "_run.json").read_text())
    networks = run_log.get("training", {}).get("networks", {})
    return {
        "profile": profile,
        "files": len(entry["files"]),
        "megabytes": size / 1e6,
        "wall_seconds": wall,
        "fetch": run_log.get("fetched"),
        "trained": sorted(k for k, v in networks.items() if v != "cached"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fetch", description=__doc__)
    ap.add_argument("--profile", default="default", help="the profile to publish and build")
    ap.add_argument(
        "--source-cache", help="the cache the profile is built in (default: the reader's)"
    )
    ap.add_argument("--jobs", type=int, help="chapters at once (the pipeline's default)")
    args = ap.parse_args(argv)
    r = run(args.profile, args.source_cache, args.jobs)
    minutes, seconds = divmod(round(r["wall_seconds"]), 60)
    print(json.dumps(r, indent=1))
    print(
        f"fresh cache, {r['files']} published files ({r['megabytes']:.1f} MB) on loopback: "
        f"`reproduce --profile {r['profile']}` took {minutes} min {seconds} s; "
        f"trained {len(r['trained'])} network(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
