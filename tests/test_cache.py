"""nnspaces.cache: the folder, atomic writes, checked reads, digests and the lock."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import warnings

import pytest
import torch

from nnspaces import cache


def test_root_is_the_environment_variable_or_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSPACES_CACHE", str(tmp_path / "c"))
    assert cache.root() == tmp_path / "c"
    monkeypatch.delenv("NNSPACES_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.root() == tmp_path / ".cache" / "nnspaces"


def test_atomic_write_creates_the_folder_and_a_readable_file(tmp_path):
    path = cache.atomic_write(tmp_path / "a" / "b.bin", lambda f: f.write(b"\x00\x01"))
    assert path.read_bytes() == b"\x00\x01"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["b.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("old")

    def half(f):
        f.write(b"ne")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        cache.atomic_write(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_and_load_round_trip_and_a_bad_file_is_reported(tmp_path):
    path = tmp_path / "t.pt"
    t = torch.arange(5.0)
    cache.save({"t": t}, path)
    back = cache.load(path, lambda obj: None, "thing", "redoing")
    assert torch.equal(back["t"], t)
    with pytest.warns(UserWarning, match=r"ignoring thing .*t\.pt: it is odd; redoing"):
        assert cache.load(path, lambda obj: "it is odd", "thing", "redoing") is None
    path.write_bytes(path.read_bytes()[:20])  # truncated
    with pytest.warns(UserWarning, match="it cannot be read"):
        assert cache.load(path, lambda obj: None, "thing", "redoing") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no file: no warning
        assert cache.load(tmp_path / "absent.pt", lambda obj: None, "thing", "redoing") is None


def test_a_value_comes_back_only_under_its_own_key(tmp_path):
    path = tmp_path / "v.pt"
    cache.save_value(path, {"n": 3}, [1.0, 2.0, 3.0])
    assert cache.load_value(path, {"n": 3}) == [1.0, 2.0, 3.0]
    with pytest.warns(UserWarning, match="made under another configuration; recomputing"):
        assert cache.load_value(path, {"n": 4}) is None
    with pytest.warns(UserWarning, match="not what it should hold"):
        assert cache.load_value(path, {"n": 3}, check=lambda v: len(v) == 4) is None


def test_load_value_warns_at_its_caller(tmp_path):
    path = tmp_path / "v.pt"
    cache.save_value(path, {"n": 1}, 1)
    with pytest.warns(UserWarning) as record:
        cache.load_value(path, {"n": 2})
    assert record[0].filename == __file__


def test_key_digest_is_the_hash_of_the_sorted_json():
    key = {"model": "fcnn1", "lr": 0.001, "steps": [1, 2]}
    reference = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    assert cache.key_digest(key) == reference
    assert cache.key_digest(dict(reversed(key.items()))) == reference


def test_state_digest_is_unchanged_and_sees_names_dtypes_shapes_and_bits():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    b = torch.tensor([1, 2], dtype=torch.int64)
    # the value the checkpoints already in the cache were written with
    golden = "e43867cc7e54758deef007f1fa02b915124c32b2f3ca3bd2f49fff696e1aa9d3"
    assert cache.state_digest({"w": w, "b": b}) == golden
    assert cache.state_digest({"b": b, "w": w}) == golden  # order of the dict does not matter
    assert cache.state_digest({"w": w.reshape(3, 2), "b": b}) != golden
    assert cache.state_digest({"w": w.double(), "b": b}) != golden
    assert cache.state_digest({"v": w, "b": b}) != golden
    flipped = w.clone()
    flipped.view(torch.int32)[0, 0] ^= 1  # one bit of one number
    assert cache.state_digest({"w": flipped, "b": b}) != golden


def test_the_lock_makes_a_second_process_wait(tmp_path):
    lock = tmp_path / "x.lock"
    code = (
        "import time; from nnspaces import cache\n"
        f"with cache.lock({str(lock)!r}):\n"
        "    print('held', flush=True); time.sleep(1.0); released = time.time()\n"
        "print(released, flush=True)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with cache.lock(lock):
            acquired = time.time()
        released = float(holder.stdout.readline())
    finally:
        holder.communicate(timeout=60)
    assert acquired >= released
