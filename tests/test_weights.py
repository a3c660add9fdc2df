"""Bundles of trained networks: a round trip gives the same bytes; any damage is refused
before the target cache is touched."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import types
from pathlib import Path

import pytest
import torch

from nnspaces import __main__ as cli
from nnspaces import cache, data, outputs, train, weights
from nnspaces.train import TrainConfig

TINY = dict(dataset="mnist-5k", epochs=1, n_train=50, n_val=20)
SEEDS = (0, 1)


def _configs() -> list[TrainConfig]:
    return [TrainConfig("fcnn1", seed=s, **TINY) for s in SEEDS]


@pytest.fixture(scope="module")
def source(tmp_path_factory, mnist5k):
    """A cache holding two tiny trained fcnn1 runs (four checkpoints), and its bundle."""
    root = tmp_path_factory.mktemp("source")
    small = data.subsample(mnist5k, 50, 20)
    for s in SEEDS:
        train.train_or_load("fcnn1", seed=s, splits=small, cache_dir=root, progress=False, **TINY)
    bundle = root.parent / "bundle.tar"
    manifest = weights.export_bundle(bundle, _configs(), cache_dir=root)
    return root, bundle, manifest


def _listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` → SHA-256 of its bytes (empty when it does not exist)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _members(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def _write(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, blob in members:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _edit_manifest(members, edit) -> list[tuple[str, bytes]]:
    manifest = json.loads(members[0][1])
    edit(manifest)
    return [("manifest.json", json.dumps(manifest).encode())] + members[1:]


def test_manifest_records_each_checkpoint_against_the_files(source):
    root, _, manifest = source
    assert manifest["kind"] == "nnspaces-weights" and manifest["format"] == weights.FORMAT
    assert manifest["torch"] == str(torch.__version__) and manifest["created"].endswith("+00:00")
    names = {c.filename() for cfg in _configs() for c in (cfg, _twin(cfg, "best"))}
    assert {e["file"] for e in manifest["files"]} == names  # both weights of each run
    for e in manifest["files"]:
        blob = (root / "models" / e["file"]).read_bytes()
        assert e["sha256"] == hashlib.sha256(blob).hexdigest() and e["size"] == len(blob)
        ckpt = torch.load(io.BytesIO(blob), weights_only=True)
        assert e["config"] == ckpt["config"] and e["state_digest"] == ckpt["digest"]
        assert (e["model"], e["dataset"]) == ("fcnn1", "mnist-5k")


def _twin(cfg: TrainConfig, w: str) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(cfg, weights=w)


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_round_trip_gives_identical_files_that_training_then_loads(source, tmp_path, suffix):
    root, _, manifest = source
    bundle = weights.export_bundle(tmp_path / f"b{suffix}", _configs(), cache_dir=root)
    target = tmp_path / "target"
    rows = weights.import_bundle(tmp_path / f"b{suffix}", cache_dir=target)
    assert [r["status"] for r in rows] == ["installed"] * 4
    for e in bundle["files"]:
        assert (target / "models" / e["file"]).read_bytes() == (
            root / "models" / e["file"]
        ).read_bytes()
    for s in SEEDS:
        _, report = train.train_or_load("fcnn1", seed=s, cache_dir=target, progress=False, **TINY)
        assert report["cached"]
    again = weights.import_bundle(tmp_path / f"b{suffix}", cache_dir=target)
    assert [r["status"] for r in again] == ["already present"] * 4


def test_a_different_file_of_the_same_configuration_is_replaced(source, tmp_path):
    root, bundle, manifest = source
    target = tmp_path / "target"
    weights.import_bundle(bundle, cache_dir=target)
    victim = target / "models" / manifest["files"][0]["file"]
    victim.write_bytes(b"stale")
    rows = weights.import_bundle(bundle, cache_dir=target)
    assert [r["status"] for r in rows] == ["replaced"] + ["already present"] * 3
    assert victim.read_bytes() == (root / "models" / victim.name).read_bytes()


def test_export_names_a_missing_network_and_how_to_train_it(source, tmp_path):
    root, _, _ = source
    with pytest.raises(weights.BundleError, match=r"fcnn5 on mnist-5k \(seed 0.*make book"):
        weights.export_bundle(tmp_path / "b.tar", [TrainConfig("fcnn5", **TINY)], cache_dir=root)
    assert not (tmp_path / "b.tar").exists()


def test_export_of_a_cache_without_the_twins_holds_the_weights_named(source, tmp_path):
    """A cache filled from published networks holds the final weights only: those export."""
    root, _, _ = source
    finals = tmp_path / "finals"
    (finals / "models").mkdir(parents=True)
    for cfg in _configs():
        name = cfg.filename()
        (finals / "models" / name).write_bytes((root / "models" / name).read_bytes())
    manifest = weights.export_bundle(tmp_path / "f.tar", _configs(), cache_dir=finals)
    assert [e["file"] for e in manifest["files"]] == [c.filename() for c in _configs()]
    best = [_twin(c, "best") for c in _configs()]
    with pytest.raises(weights.BundleError, match=r"seed 0, best weights.*is not in the cache"):
        weights.export_bundle(tmp_path / "b.tar", best, cache_dir=finals)


def test_export_refuses_a_damaged_checkpoint_and_another_suffix(source, tmp_path):
    root, _, _ = source
    with pytest.raises(weights.BundleError, match=r"\.tar, \.tar\.gz"):
        weights.export_bundle(tmp_path / "b.zip", _configs(), cache_dir=root)
    copy = tmp_path / "copy"
    (copy / "models").mkdir(parents=True)
    for p in (root / "models").glob("*.pt"):
        (copy / "models" / p.name).write_bytes(p.read_bytes())
    bad = copy / "models" / _configs()[0].filename()
    bad.write_bytes(bad.read_bytes()[:-100])
    with pytest.raises(weights.BundleError, match="delete it and retrain"):
        weights.export_bundle(tmp_path / "b.tar", _configs(), cache_dir=copy)


def _flip_byte(members, k: int):
    """The members with one bit of member ``k``'s middle byte flipped."""
    name, blob = members[k]
    i = len(blob) // 2
    return (
        members[:k] + [(name, blob[:i] + bytes([blob[i] ^ 1]) + blob[i + 1 :])] + members[k + 1 :]
    )


def _flip_checkpoint_byte(members):
    return _flip_byte(members, 1)


def _edit_config(members):
    return _edit_manifest(members, lambda m: m["files"][0]["config"].update(epochs=2))


def _unknown_format(members):
    return _edit_manifest(members, lambda m: m.update(format=99))


def _traversal(members):
    return members + [("models/../../evil.pt", b"x")]


def _absolute(members):
    return members + [("/tmp/evil.pt", b"x")]


def _unexpected(members):
    return members + [("notes.txt", b"hello")]


def _unlisted(members):
    return members + [("models/extra.pt", members[1][1])]


def _no_manifest(members):
    return members[1:]


def _missing_member(members):
    return members[:-1]


def _renamed(members):
    (name, blob), other = members[1], members[2]
    return [members[0], (other[0], blob), (name, other[1])] + members[3:]


REFUSALS = {
    "tampered": (_flip_checkpoint_byte, "SHA-256"),
    "edited config": (_edit_config, "manifest was edited"),
    "unknown format": (_unknown_format, "another version"),
    "path traversal": (_traversal, "path traversal"),
    "absolute path": (_absolute, "path traversal"),
    "unexpected member": (_unexpected, "unexpected member"),
    "unlisted member": (_unlisted, "not in its manifest"),
    "no manifest": (_no_manifest, "no manifest.json"),
    "missing member": (_missing_member, "incomplete"),
    "swapped names": (_renamed, "SHA-256"),
}


@pytest.fixture
def target(source, tmp_path):
    """A cache already holding one run, so that 'unchanged' is checked on real contents."""
    root, _, _ = source
    t = tmp_path / "target"
    (t / "models").mkdir(parents=True)
    name = _configs()[0].filename()
    (t / "models" / name).write_bytes((root / "models" / name).read_bytes())
    return t


@pytest.mark.parametrize("case", REFUSALS)
def test_a_damaged_bundle_is_refused_and_the_cache_left_alone(source, target, tmp_path, case):
    _refused_leaving_the_cache(source[1], *REFUSALS[case], target, tmp_path)


def _refused_leaving_the_cache(bundle, damage, message, target, tmp_path) -> None:
    """``damage`` done to ``bundle``'s members is refused with ``message``, ``target`` as it was."""
    bad = _write(tmp_path / "bad.tar", damage(_members(bundle)))
    before = _listing(target)
    with pytest.raises(weights.BundleError, match=message):
        weights.import_bundle(bad, cache_dir=target)
    assert _listing(target) == before


def test_a_consistently_forged_checkpoint_is_refused(source, target, tmp_path):
    """Hashes and digests all recomputed after dropping a tensor: only the shapes give it away."""
    _, bundle, _ = source
    members = _members(bundle)
    name, blob = members[1]
    ckpt = torch.load(io.BytesIO(blob), weights_only=True)
    ckpt["state_dict"].popitem()
    ckpt["digest"] = cache.state_digest(ckpt["state_dict"])
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    forged = buf.getvalue()
    sha = hashlib.sha256(forged).hexdigest()
    entry = dict(sha256=sha, size=len(forged), state_digest=ckpt["digest"])
    members = _edit_manifest(members, lambda m: m["files"][0].update(entry))
    assert json.loads(members[0][1])["files"][0]["file"] == name.removeprefix("models/")
    bad = _write(tmp_path / "bad.tar", members[:1] + [(name, forged)] + members[2:])
    before = _listing(target)
    with pytest.raises(weights.BundleError, match="names or shapes"):
        weights.import_bundle(bad, cache_dir=target)
    assert _listing(target) == before


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_a_truncated_bundle_is_refused(source, target, tmp_path, suffix):
    root, _, _ = source
    whole = weights.export_bundle(tmp_path / f"w{suffix}", _configs(), cache_dir=root)
    blob = (tmp_path / f"w{suffix}").read_bytes()
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(blob[: len(blob) * 2 // 3])
    before = _listing(target)
    with pytest.raises(weights.BundleError, match="truncated|incomplete"):
        weights.import_bundle(bad, cache_dir=target)
    assert _listing(target) == before and whole["files"]


def test_garbage_and_a_missing_file_are_refused(tmp_path, target):
    (tmp_path / "junk.tar").write_bytes(b"not an archive at all" * 100)
    before = _listing(target)
    with pytest.raises(weights.BundleError, match="truncated or corrupt"):
        weights.import_bundle(tmp_path / "junk.tar", cache_dir=target)
    with pytest.raises(weights.BundleError, match="no bundle at"):
        weights.import_bundle(tmp_path / "absent.tar", cache_dir=target)
    assert _listing(target) == before


def test_another_model_definition_is_refused_as_another_version(
    source, target, tmp_path, monkeypatch
):
    _, bundle, _ = source
    before = _listing(target)
    real = train.definition_hash
    monkeypatch.setattr(
        train, "definition_hash", lambda name: "0" * 16 if name == "fcnn1" else real(name)
    )
    with pytest.raises(weights.BundleError, match="definition.*another version.*retrain"):
        weights.import_bundle(bundle, cache_dir=target)
    assert _listing(target) == before


def test_another_checkpoint_format_is_refused_as_another_version(source, target, monkeypatch):
    _, bundle, _ = source
    before = _listing(target)
    monkeypatch.setattr(train, "_FORMAT", train._FORMAT + 1)
    with pytest.raises(weights.BundleError, match="format.*another version"):
        weights.import_bundle(bundle, cache_dir=target)
    assert _listing(target) == before


@pytest.fixture
def fake_profile(monkeypatch):
    """``networks.configs`` answering the tiny runs for profile "tiny"."""
    try:
        from nnspaces import networks
    except ImportError:  # the module may not exist yet: stand in for it
        networks = types.ModuleType("nnspaces.networks")
        monkeypatch.setitem(sys.modules, "nnspaces.networks", networks)
    monkeypatch.setattr(
        networks, "configs", lambda p: _configs() if p == "tiny" else [], raising=False
    )


def test_command_line_exports_a_profile_and_imports_it(
    source, tmp_path, monkeypatch, capsys, fake_profile
):
    root, _, _ = source
    monkeypatch.setenv("NNSPACES_CACHE", str(root))
    assert cli.main(["weights", "export", str(tmp_path / "p.tar.gz"), "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert out.count("exported: fcnn1 on mnist-5k") == 4
    assert "4 checkpoints and 0 cached results exported" in out  # no build of "tiny" yet
    monkeypatch.setenv("NNSPACES_CACHE", str(tmp_path / "empty"))
    assert cli.main(["weights", "import", str(tmp_path / "p.tar.gz")]) == 0
    assert capsys.readouterr().out.count("installed: fcnn1") == 4
    assert cli.main(["weights", "import", str(tmp_path / "p.tar.gz")]) == 0
    assert capsys.readouterr().out.count("already present: fcnn1") == 4
    assert cli.main(["weights", "import", str(tmp_path / "nothing.tar")]) == 1
    assert capsys.readouterr().err.startswith("nnspaces weights: error: no bundle at")


# --- cached results: a profile's bundle carries what its chapters computed -----------------


def _expensive():
    return {"x": torch.linspace(0, 1, 5, dtype=torch.float64), "note": "computed"}


def _never():
    raise AssertionError("the result should have been read from the imported bundle")


@pytest.fixture
def with_results(source, tmp_path, monkeypatch, fake_profile):
    """A copy of the source cache holding one memoised result, listed in the index of
    profile "tiny" as the pipeline writes it; and the profile's bundle."""
    root = tmp_path / "with-results"
    for rel, _ in _listing(source[0]).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((source[0] / rel).read_bytes())
    monkeypatch.setenv("NNSPACES_CACHE", str(root))
    log = tmp_path / "results.jsonl"
    monkeypatch.setenv(cache.RESULT_LOG, str(log))
    cache.memo("study", {"n": 3}, _expensive)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    outputs.cached_outputs(net, torch.rand(5, 1, 2, 2, generator=torch.Generator().manual_seed(0)))
    used = [json.loads(line)["result"] for line in log.read_text().splitlines()]
    index = cache.results_index("tiny")
    index.write_text(json.dumps({"profile": "tiny", "files": used + ["results/gone/x.pt"]}))
    bundle = tmp_path / "tiny.tar"
    manifest = weights.export_bundle(bundle, profile="tiny")
    monkeypatch.delenv(cache.RESULT_LOG)
    return root, bundle, manifest, used


def test_a_profile_bundle_carries_the_results_its_chapters_used(
    with_results, tmp_path, monkeypatch
):
    root, bundle, manifest, used = with_results
    # the results the index lists and the cache holds (a memoised study, a network's stored
    # outputs); the one it no longer holds is left out
    assert [e["file"] for e in manifest["results"]] == used and len(used) == 2
    assert used[0].startswith("results/study/") and used[1].startswith("results/outputs/")
    for entry in manifest["results"]:
        assert entry["sha256"] == hashlib.sha256((root / entry["file"]).read_bytes()).hexdigest()
    fresh = tmp_path / "fresh"
    rows = weights.import_bundle(bundle, cache_dir=fresh)
    assert [r["status"] for r in rows if r.get("result")] == ["installed"] * 2

    def files(folder):
        return {k: v for k, v in _listing(folder).items() if k.endswith(".pt")}

    assert files(fresh) == files(root)
    # what the import installed is what the memo reads back: nothing is recomputed
    monkeypatch.setenv("NNSPACES_CACHE", str(fresh))
    back = cache.memo("study", {"n": 3}, _never)
    assert torch.equal(back["x"], _expensive()["x"]) and back["note"] == "computed"
    again = weights.import_bundle(bundle, cache_dir=fresh)
    assert [r["status"] for r in again if r.get("result")] == ["already present"] * 2


def _result_member(members):
    return next(i for i, (n, _) in enumerate(members) if n.startswith("results/"))


def _flip_result_byte(members):
    return _flip_byte(members, _result_member(members))


def _forged_result(members):
    """A result whose bytes and manifest agree, but under another digest's name."""
    i = _result_member(members)
    name, blob = members[i]
    forged = name.rsplit("/", 1)[0] + "/0123456789abcdef.pt"

    def edit(m):
        m["results"][0]["file"] = forged

    members = _edit_manifest(members, edit)
    return members[:i] + [(forged, blob)] + members[i + 1 :]


def _not_a_result(members):
    i = _result_member(members)
    name, _ = members[i]
    buf = io.BytesIO()
    torch.save({"weights": torch.ones(2)}, buf)
    blob = buf.getvalue()

    def edit(m):
        m["results"][0].update(sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))

    members = _edit_manifest(members, edit)
    return members[:i] + [(name, blob)] + members[i + 1 :]


def _result_outside(members):
    return _edit_manifest(members, lambda m: m["results"][0].update(file="results/../x.pt"))


def _old_layout(members):
    """A result under a layout of before the one result cache (``outputs/<digest>.pt``)."""
    return _edit_manifest(members, lambda m: m["results"][1].update(file="outputs/ab.pt"))


RESULT_REFUSALS = {
    "tampered result": (_flip_result_byte, "SHA-256"),
    "forged name": (_forged_result, "not the digest of the key"),
    "not a result": (_not_a_result, "not a cached result"),
    "result path": (_result_outside, "malformed list of results"),
    "old layout": (_old_layout, "malformed list of results"),
}


@pytest.mark.parametrize("case", RESULT_REFUSALS)
def test_a_damaged_result_is_refused_and_the_cache_left_alone(with_results, target, tmp_path, case):
    _refused_leaving_the_cache(with_results[1], *RESULT_REFUSALS[case], target, tmp_path)


# --- `reproduce --weights` (`make book WEIGHTS=…`) ------------------------------------------


def test_reproduce_imports_a_bundle_before_it_plans(source, tmp_path, monkeypatch, capsys):
    """The bundle's checkpoints are in the cache when the plan (whose fingerprints name them)
    starts; a damaged bundle stops the run before the plan, the cache as it was."""
    from nnspaces import reproduce

    _, bundle, manifest = source
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("NNSPACES_CACHE", str(fresh))
    seen = []

    class Planned(Exception):
        pass

    def plan(*args, **kwargs):
        seen.append(sorted(p.name for p in (fresh / "models").glob("*.pt")))
        raise Planned

    monkeypatch.setattr(reproduce.plan, "make_plan", plan)
    with pytest.raises(Planned):
        reproduce.reproduce("smoke", workdir=tmp_path / "w", build=False, weights=bundle)
    assert seen == [sorted(e["file"] for e in manifest["files"])]

    bad = tmp_path / "bad.tar"
    bad.write_bytes(bundle.read_bytes()[:5000])  # truncated
    before = _listing(fresh)
    argv = ["reproduce", "--profile", "smoke", "--workdir", str(tmp_path / "w")]
    assert cli.main([*argv, "--weights", str(bad)]) == 1
    assert "nnspaces reproduce: error: cannot read bundle" in capsys.readouterr().err
    assert len(seen) == 1 and _listing(fresh) == before
