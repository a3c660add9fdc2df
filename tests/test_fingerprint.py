"""nnspaces.fingerprint: what makes a chapter re-execute."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from nnspaces import fingerprint, networks, profiles

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _chapter(output: str) -> profiles.Chapter:
    return next(c for c in profiles.chapters() if c.output == output)


def _fp(c, profile="smoke", **over):
    params = {**profiles.notebook_parameters(c, profile), **over}
    return fingerprint.chapter(c, profile, params, NOTEBOOKS)


def test_same_inputs_same_fingerprint_and_each_input_is_seen(cache_dir):
    c = _chapter("02_signal_space")
    fp = _fp(c)
    assert fp == _fp(c)
    assert fingerprint.changes(fp, _fp(c, epochs=2)) == ["parameters"]
    assert fingerprint.changes(fp, _fp(c, "default")) == ["profile", "parameters", "checkpoints"]
    assert fingerprint.changes(None, fp) == ["no executed copy"]
    # the checkpoints it loads: missing, then present, then replaced
    assert set(fp["checkpoints"].values()) == {"missing"}
    cfg = profiles.chapter_configs(c, "smoke")[0]
    for w in ("final", "best"):
        p = networks.checkpoint_path(dataclasses.replace(cfg, weights=w))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"weights")
    present = _fp(c)
    assert fingerprint.changes(fp, present) == ["checkpoints"]
    p.write_bytes(b"other weights")
    os.utime(p, ns=(1, 1))
    assert fingerprint.changes(present, _fp(c)) == ["checkpoints"]


def test_a_file_named_by_a_parameter_is_part_of_it(tmp_path):
    c = _chapter("92_performance")
    bench = tmp_path / "latest.json"
    bench.write_text("{}")
    fp = _fp(c, bench_file=str(bench))
    bench.write_text('{"new": 1}')
    assert fingerprint.changes(fp, _fp(c, bench_file=str(bench))) == ["files"]


def test_library_digest_follows_the_sources(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(fingerprint, "_PACKAGE_DIR", tmp_path)
    before = fingerprint.library_digest()
    (tmp_path / "a.py").write_text("x = 2\n")
    assert fingerprint.library_digest() != before
    (tmp_path / "notes.txt").write_text("not code")
    assert fingerprint.library_digest() == fingerprint.library_digest()


def test_stored_copy_round_trips_and_a_corrupted_one_means_run(tmp_path):
    c = _chapter("02_signal_space")
    fp = _fp(c)
    fingerprint.write(tmp_path, c.output, fp)
    assert fingerprint.read(tmp_path, c.output) == fp
    fingerprint.path_for(tmp_path, c.output).write_text('{"notebook": ')  # truncated
    assert fingerprint.read(tmp_path, c.output) is None
    assert fingerprint.read(tmp_path, "never_ran") is None
