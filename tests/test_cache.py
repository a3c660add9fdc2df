"""nnspaces.cache: the folder, atomic writes, checked reads, digests and the lock."""

from __future__ import annotations

import hashlib
import json
import math
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


# --- memo: a deterministic result kept under its inputs and its code -----------------------


@pytest.fixture
def counted():
    """A computation that counts its calls and returns tensors, floats and strings."""
    calls = []

    def compute():
        calls.append(1)
        x = torch.linspace(0, 1, 7, dtype=torch.float64) ** 0.5
        return {"x": x, "sum": float(x.sum()), "rows": [("a", 1.0 / 3.0)], "nan": float("nan")}

    return compute, calls


def _same(a, b):
    assert a.keys() == b.keys()
    assert torch.equal(a["x"], b["x"]) and a["x"].dtype == b["x"].dtype
    assert a["sum"] == b["sum"] and a["rows"] == b["rows"]
    assert math.isnan(a["nan"]) and math.isnan(b["nan"])


def test_memo_computes_once_and_reads_back_the_same_bits(cache_dir, counted):
    compute, calls = counted
    key = {"w": torch.ones(3), "lr": 0.1, "dtype": torch.float32, "box": (0, 1)}
    first = cache.memo("thing", key, compute)
    second = cache.memo("thing", dict(key), compute)
    assert len(calls) == 1
    _same(first, second)
    files = list((cache_dir / "results" / "thing").glob("*.pt"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o644


def test_memo_recomputes_for_other_inputs(cache_dir, counted):
    compute, calls = counted
    w = torch.ones(3)
    net = torch.nn.Linear(2, 1)
    cache.memo("thing", {"w": w, "net": net}, compute)
    flipped = w.clone()
    flipped.view(torch.int32)[0] ^= 1  # one bit of one weight
    cache.memo("thing", {"w": flipped, "net": net}, compute)
    assert len(calls) == 2
    with torch.no_grad():
        net.bias.add_(1.0)
    cache.memo("thing", {"w": w, "net": net}, compute)
    assert len(calls) == 3
    cache.memo("thing", {"w": w, "net": net.train(False)}, compute)  # another mode
    assert len(calls) == 4
    cache.memo("other", {"w": w, "net": net}, compute)  # another name
    assert len(calls) == 5


def test_memo_recomputes_when_the_code_changes(cache_dir, counted, tmp_path):
    compute, calls = counted
    src = tmp_path / "pkg" / "mod.py"
    src.parent.mkdir()
    src.write_text("x = 1\n")
    cache.memo("thing", {}, compute, sources=[src.parent])
    cache.memo("thing", {}, compute, sources=[src.parent])
    assert len(calls) == 1
    src.write_text("x = 2\n")
    cache.memo("thing", {}, compute, sources=[src.parent])
    assert len(calls) == 2


def test_the_recompute_variable_bypasses_the_memo_and_stores_again(cache_dir, counted, monkeypatch):
    compute, calls = counted
    cache.memo("thing", {"n": 1}, compute)
    monkeypatch.setenv("NNSPACES_RECOMPUTE", "1")
    assert cache.recompute()
    cache.memo("thing", {"n": 1}, compute)
    cache.memo("thing", {"n": 1}, compute)
    assert len(calls) == 3
    monkeypatch.setenv("NNSPACES_RECOMPUTE", "0")
    assert not cache.recompute()
    cache.memo("thing", {"n": 1}, compute)
    assert len(calls) == 3


def test_a_corrupted_memo_is_reported_and_recomputed(cache_dir, counted):
    compute, calls = counted
    first = cache.memo("thing", {"n": 1}, compute)
    (path,) = (cache_dir / "results" / "thing").glob("*.pt")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(
        UserWarning, match=r"ignoring memoised thing .*cannot be read .*; recomputing"
    ):
        again = cache.memo("thing", {"n": 1}, compute)
    assert len(calls) == 2
    _same(first, again)
    cache.memo("thing", {"n": 1}, compute)  # repaired: read back
    assert len(calls) == 2


def test_a_memo_that_does_not_decode_is_reported_and_recomputed(cache_dir, counted):
    compute, calls = counted
    cache.memo("thing", {"n": 1}, compute)

    def bad(state):
        raise KeyError("field")

    with pytest.warns(UserWarning, match="does not decode .*KeyError.*; recomputing") as record:
        cache.memo("thing", {"n": 1}, compute, decode=bad)
    assert len(calls) == 2 and record[0].filename == __file__  # at memo's caller


def test_a_memo_file_holding_another_key_is_reported_at_the_caller(cache_dir, counted):
    compute, calls = counted
    cache.memo("thing", {"n": 1}, compute)
    (path,) = (cache_dir / "results" / "thing").glob("*.pt")
    obj = torch.load(path, weights_only=True)
    cache.save({"key": dict(obj["key"], key={"n": 2}), "value": obj["value"]}, path)
    with pytest.warns(UserWarning, match="made under another configuration; recomputing") as w:
        cache.memo("thing", {"n": 1}, compute)
    assert len(calls) == 2 and w[0].filename == __file__
    cache.memo("thing", {"n": 1}, compute)  # rewritten under its own key
    assert len(calls) == 2


def test_memo_stores_dataclasses_through_encode_and_decode(cache_dir):
    from dataclasses import dataclass, field

    @dataclass
    class Result:
        image: torch.Tensor
        error: float
        history: list = field(default_factory=list)
        note: str | None = None

    made = []

    def compute():
        made.append(1)
        return [Result(torch.randn(2, 3, dtype=torch.float64), 1 / 7, [0.5, 0.25])]

    def encode(rs):
        return [cache.dataclass_state(r) for r in rs]

    def decode(state):
        return [Result(**d) for d in state]

    a = cache.memo("dc", {}, compute, encode=encode, decode=decode)
    b = cache.memo("dc", {}, compute, encode=encode, decode=decode)
    assert len(made) == 1 and isinstance(b[0], Result)
    assert torch.equal(a[0].image, b[0].image) and a[0].error == b[0].error
    assert a[0].history == b[0].history and b[0].note is None


def test_key_of_refuses_what_it_cannot_key():
    with pytest.raises(TypeError, match="cannot key a cached result on a object"):
        cache.key_of({"x": object()})
    assert cache.key_of(torch.zeros(2)) != cache.key_of(torch.zeros(2, dtype=torch.float64))


def test_source_digest_reads_every_file_of_a_package(tmp_path):
    import nnspaces.released as released

    d1 = cache.source_digest(released)
    assert d1 == cache.source_digest(released.__file__.rsplit("/", 1)[0])
    assert d1 != cache.source_digest(released.procedure)  # one module is not the package
    f = tmp_path / "a.py"
    f.write_text("1")
    d2 = cache.source_digest(f)
    f.write_text("2")
    assert cache.source_digest(f) != d2


def test_memo_records_each_result_it_reads_or_computes_in_the_result_log(
    cache_dir, counted, tmp_path, monkeypatch
):
    compute, _ = counted
    log = tmp_path / "results.jsonl"
    monkeypatch.setenv(cache.RESULT_LOG, str(log))
    cache.memo("thing", {"a": 1}, compute)  # computed
    cache.memo("thing", {"a": 1}, compute)  # read back
    (stored,) = (cache_dir / "results" / "thing").glob("*.pt")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"result": f"results/thing/{stored.name}"}] * 2
    # a file outside the shared cache (a private folder) is not recorded
    cache.record_result(tmp_path / "elsewhere" / "x.pt")
    assert len(log.read_text().splitlines()) == 2


# --- memo: threads fixed, not keyed ----------------------------------------------------------


def _pools() -> set[int]:
    """The thread counts of every BLAS and OpenMP pool loaded in this process."""
    import threadpoolctl

    return {p["num_threads"] for p in threadpoolctl.threadpool_info()}


def test_fixed_threads_sets_torch_and_the_native_pools_and_restores_them():
    before, pools = torch.get_num_threads(), _pools()
    with cache.fixed_threads(1):
        assert torch.get_num_threads() == 1 and _pools() <= {1}
    assert torch.get_num_threads() == before and _pools() == pools
    with pytest.raises(RuntimeError), cache.fixed_threads(1):
        raise RuntimeError  # an error inside restores them too
    assert torch.get_num_threads() == before
    for bad in (0, 1.0, True, "1"):
        with pytest.raises(ValueError, match="positive int"), cache.fixed_threads(bad):
            pass


def test_memo_computes_with_fixed_threads_and_keys_no_thread_count(cache_dir):
    seen = []

    def compute():
        seen.append((torch.get_num_threads(), _pools()))
        return torch.ones(2)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        cache.memo("pinned", {"n": 1}, compute)
        assert torch.get_num_threads() == 2  # the caller's count is back
        torch.set_num_threads(1)
        cache.memo("pinned", {"n": 1}, compute)  # read back under another count
    finally:
        torch.set_num_threads(before)
    assert seen == [(cache.MEMO_THREADS, {cache.MEMO_THREADS})]
    (path,) = (cache_dir / "results" / "pinned").glob("*.pt")
    key = torch.load(path, weights_only=True)["key"]
    assert "threads" not in key and key["memo"] == cache.MEMO_FORMAT == 2
    assert path.stem == cache.key_digest(key)
