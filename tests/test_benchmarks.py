"""The benchmark entry point runs (quick mode) and reports what the book's appendix reads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark_writes_a_complete_result_file(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, NNSPACES_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--epochs", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] and r["machine"]["cpu cores"]
    rows = {(x["network"], x["target"], x["box"], x["method"]): x for x in r["inverse"]}
    # every method of every setting was measured on all 10 digits, with paper-sgd as reference
    assert len(rows) == 2 * 2 * 2 * 4 - 4  # fcnn5 has no closed form
    for (net, target, box, _method), row in rows.items():
        assert row["digits"] == 10
        ref = rows[(net, target, box, "paper-sgd")]
        assert row["error_ratio"] == pytest.approx(
            row["median_rel_error"] / ref["median_rel_error"]
        )
        assert 0 <= row["predicted_target"] <= 1
        if box == "[0,1]" and _method != "paper-sgd":  # the released procedure never clips
            assert row["in_box"] == 1.0  # every other method returns a valid image with the box
    # class-mean targets are reachable by construction: the exact methods get there
    assert rows[("fcnn1", "class-mean", "none", "closed-form")]["worst_rel_error"] < 1e-8
    assert rows[("fcnn5", "class-mean", "[0,1]", "gauss-newton")]["median_rel_error"] < 1e-6
    assert {k["kernel"].split("(")[0] for k in r["spectral"]} == {"layer_table", "layer_spaces"}
    assert "wrote" in proc.stderr and "median_rel_error" in proc.stdout
