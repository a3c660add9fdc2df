"""Memoised results travel between machines: one computed under any thread count is found,
bit for bit, by a build with another (nnspaces.cache.memo + nnspaces.weights bundles).

A bundle exported on a 4-core runner (kernels with 2 threads) must be read by a 2-core
laptop (kernels with 1 thread) without recomputing anything: :func:`nnspaces.cache.memo`
computes with :data:`nnspaces.cache.MEMO_THREADS` threads whatever its caller has, and keys
no thread count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from nnspaces import cache, networks, weights

#: A computation whose bits depend on the thread count: a sum of 4M float32 numbers is split
#: into one partial sum per thread, and the partial sums round differently.
_DATA = "x = torch.randn(2**22, generator=torch.Generator().manual_seed(0))  # (4M,)"

#: The exporting build's chapter: torch with 2 threads, as a kernel of a 4-core run with two
#: chapters at a time has them; the memoised sum, and the same sum outside the memo.
_EXPORTER = f"""
import json, torch
from nnspaces import cache
torch.set_num_threads(2)
{_DATA}
seen = []
def compute():
    seen.append(torch.get_num_threads())
    return x.sum()
value = cache.memo("portable", {{"x": x}}, compute)
print(json.dumps({{"seen": seen, "after": torch.get_num_threads(),
                  "memo": value.item(), "free": x.sum().item()}}))
"""


def test_a_result_exported_under_two_threads_is_read_under_one(tmp_path, monkeypatch):
    source, fresh, log = tmp_path / "source", tmp_path / "fresh", tmp_path / "results.jsonl"
    env = dict(
        os.environ, NNSPACES_CACHE=str(source), OMP_NUM_THREADS="2", NNSPACES_RESULT_LOG=str(log)
    )
    env.pop(cache.RECOMPUTE, None)
    proc = subprocess.run(
        [sys.executable, "-c", _EXPORTER], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    # computed once, with the memo's threads; the caller's two threads back afterwards
    assert made["seen"] == [cache.MEMO_THREADS] and made["after"] == 2
    # the computation is thread-sensitive (else this test could not fail): two threads
    # outside the memo round otherwise than the memo's one
    assert made["free"] != made["memo"]

    # the exporting build's index lists the result its chapter used; a profile of no networks
    used = [json.loads(line)["result"] for line in log.read_text().splitlines()]
    assert len(used) == 1 and used[0].startswith("results/portable/")
    monkeypatch.setenv("NNSPACES_CACHE", str(source))
    cache.results_index("portable").write_text(json.dumps({"profile": "portable", "files": used}))
    real = networks.configs
    monkeypatch.setattr(networks, "configs", lambda p: [] if p == "portable" else real(p))
    bundle = tmp_path / "portable.tar"
    manifest = weights.export_bundle(bundle, profile="portable")
    assert [e["file"] for e in manifest["results"]] == used

    # another machine: a fresh cache, the bundle imported, kernels with one thread
    rows = weights.import_bundle(bundle, cache_dir=fresh)
    assert [r["status"] for r in rows] == ["installed"]
    monkeypatch.setenv("NNSPACES_CACHE", str(fresh))
    exec(_DATA, namespace := {"torch": torch})
    x = namespace["x"]
    calls = []

    def compute():
        calls.append(1)
        return x.sum()

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        back = cache.memo("portable", {"x": x}, compute)
    finally:
        torch.set_num_threads(before)
    assert calls == []  # a hit: nothing recomputed
    assert back.item() == made["memo"]
    # and it is what this machine computes with the memo's threads, bit for bit
    with cache.fixed_threads():
        assert torch.equal(back, x.sum())
