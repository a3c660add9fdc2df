"""Published networks: `weights publish` pins each file in the registry; a fetch from a loopback
HTTP server installs exactly the published bytes, refuses a tampered, truncated or broken-off
download with the cache as it was, and says within 30 s when the server is down, so that the
build trains instead."""

from __future__ import annotations

import hashlib
import json
import socket
import tarfile
import time
from pathlib import Path

import pytest
from benchmarks.fetch import _Quiet, serving
from test_weights import (  # noqa: F401  (fixtures reused: source, fake_profile, with_results)
    SEEDS,
    TINY,
    _configs,
    _listing,
    fake_profile,
    source,
    with_results,
)

from nnspaces import __main__ as cli
from nnspaces import cache, data, fetch, networks, profiles, train, weights

BASE = "https://example.invalid/releases/download/t/"  # never asked: tests serve on loopback


class _BrokenOff(_Quiet):
    """Announces each file's full length, sends half of it, and closes the connection."""

    def do_GET(self):
        blob = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob[: len(blob) // 2])
        self.wfile.flush()
        self.close_connection = True


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch):
    """No server remembered as unreachable from another test."""
    monkeypatch.setattr(fetch, "_DOWN", {})


@pytest.fixture
def published(source, tmp_path, monkeypatch, fake_profile):  # noqa: F811
    """Profile "tiny" (two tiny fcnn1 runs) published from the source cache into ``served/``
    with its own registry (``NNSPACES_REGISTRY``); an empty shared cache (``NNSPACES_CACHE``)."""
    root, _, _ = source
    out, registry = tmp_path / "served", tmp_path / "registry.json"
    entry = weights.publish(out, "tiny", BASE, "t", cache_dir=root, registry=registry)
    monkeypatch.setenv(fetch.REGISTRY_ENV, str(registry))
    monkeypatch.setenv("NNSPACES_CACHE", str(tmp_path / "fresh"))
    return root, out, registry, entry


def _no_training(monkeypatch):
    def fit(*args, **kwargs):
        raise AssertionError("trained, where the published network should have been fetched")

    monkeypatch.setattr(train, "_fit", fit)


# --- publish and the registry ----------------------------------------------------------------


def test_publish_writes_one_bundle_per_network_with_final_weights_and_pins_it(published):
    root, out, registry, entry = published
    ids = [networks.network_id(c) for c in _configs()]
    assert [f["name"] for f in entry["files"]] == [f"{i}.tar" for i in ids]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{i}.tar" for i in ids)
    for f, cfg in zip(entry["files"], _configs()):
        blob = (out / f["name"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(blob).hexdigest() and f["size"] == len(blob)
        assert f["holds"] == networks.network_id(cfg) and f["checkpoints"] == [cfg.filename()]
        with tarfile.open(out / f["name"]) as tar:  # the final weights only, as cached
            manifest = json.loads(tar.extractfile("manifest.json").read())
            member = tar.extractfile(f"models/{cfg.filename()}").read()
        assert [e["weights"] for e in manifest["files"]] == ["final"]
        assert member == (root / "models" / cfg.filename()).read_bytes()
    assert fetch.read_registry(registry)["profiles"] == {"tiny": entry}
    assert entry["url"] == BASE and entry["tag"] == "t"


def test_publish_keeps_the_other_profiles_and_the_package_registry_is_empty(published, tmp_path):
    root, out, registry, entry = published
    reg = fetch.read_registry(registry)
    reg["profiles"]["other"] = dict(entry, url="https://mirror.invalid/")
    fetch.write_registry(reg, registry)
    again = weights.publish(
        tmp_path / "again", "tiny", BASE, "t2", cache_dir=root, registry=registry
    )
    profiles = fetch.read_registry(registry)["profiles"]
    assert profiles["tiny"] == again and profiles["other"]["url"] == "https://mirror.invalid/"
    # what the package ships until CI fills it: nothing, so everything trains as before
    assert fetch.read_registry(fetch.REGISTRY) == fetch.empty_registry()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r.update(format=7), "not a registry of format 1"),
        (lambda r: r["profiles"]["tiny"].update(url="ftp://x/"), "is not http"),
        (lambda r: r["profiles"]["tiny"]["files"][0].update(sha256="abc"), "bad name or SHA"),
        (lambda r: r["profiles"]["tiny"]["files"][0].pop("checkpoints"), "lists no checkpoints"),
    ],
)
def test_a_malformed_registry_is_refused_with_the_fix(published, edit, message):
    _, _, registry, _ = published
    reg = json.loads(registry.read_text())
    edit(reg)
    registry.write_text(json.dumps(reg))
    with pytest.raises(fetch.RegistryError, match=f"{message}.*restore it"):
        fetch.read_registry(registry)
    with pytest.raises(fetch.RegistryError, match="malformed"):
        fetch.write_registry(reg, registry.with_name("other.json"))


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_installs_the_published_bytes_and_a_later_load_finds_them(
    published, tmp_path, monkeypatch
):
    root, out, _, entry = published
    fresh = tmp_path / "fresh"
    lines = []
    with serving(out) as url:
        monkeypatch.setenv(fetch.URL_ENV, url)
        got = fetch.fetch(_configs(), "tiny", log=lines.append, progress=False)
        assert got["networks"] == {networks.network_id(c): "fetched" for c in _configs()}
        assert got["bytes"] == sum(f["size"] for f in entry["files"]) and got["results"] is None
        assert fetch.fetch(_configs(), "tiny", log=lines.append, progress=False)["bytes"] == 0
    assert sum("fetched" in line and "checked and installed" in line for line in lines) == 2
    assert {p.name for p in (fresh / "models").glob("*.pt")} == {c.filename() for c in _configs()}
    for cfg in _configs():
        path = fresh / "models" / cfg.filename()
        assert path.read_bytes() == (root / "models" / cfg.filename()).read_bytes()
        assert networks.is_cached(cfg)
    _no_training(monkeypatch)
    for s in SEEDS:
        _, report = train.train_or_load("fcnn1", seed=s, progress=False, **TINY)
        assert report["cached"] and report["scores"]["best"]["epoch"] >= 1


def test_train_or_load_fetches_a_listed_network_before_training(
    published, tmp_path, monkeypatch, capsys
):
    """What a chapter run from Colab or Binder does: no pipeline, the same checks."""
    root, out, _, _ = published
    _no_training(monkeypatch)
    with serving(out) as url:
        monkeypatch.setenv(fetch.URL_ENV, url)
        with pytest.raises(AssertionError, match="trained"):  # the training stage's call
            train.train_or_load("fcnn1", seed=1, progress=False, published=False, **TINY)
        assert capsys.readouterr().err == ""
        net, report = train.train_or_load("fcnn1", seed=1, progress=False, **TINY)
    assert report["cached"] and "fetched fcnn1-mnist-5k-s1-n50.tar" in capsys.readouterr().err
    cfg = _configs()[1]
    assert (tmp_path / "fresh" / "models" / cfg.filename()).read_bytes() == (
        root / "models" / cfg.filename()
    ).read_bytes()


def _flip_middle_byte(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 1
    path.write_bytes(bytes(blob))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


DAMAGE = {
    "tampered": (_flip_middle_byte, _Quiet, "refused: its SHA-256 is not the pinned"),
    "truncated": (_truncate, _Quiet, "refused: its SHA-256 is not the pinned"),
    "broken off": (None, _BrokenOff, "the download broke off"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_download_is_refused_and_the_cache_left_alone(
    published, tmp_path, monkeypatch, capsys, mnist5k, case
):
    root, out, _, entry = published
    damage, handler, message = DAMAGE[case]
    fresh = tmp_path / "fresh"
    keep = fresh / "models" / "kept.pt"  # the cache already holds something
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"an earlier file")
    if damage is not None:
        damage(out / entry["files"][0]["name"])
    before = _listing(fresh)
    lines = []
    with serving(out, handler) as url:
        monkeypatch.setenv(fetch.URL_ENV, url)
        got = fetch.fetch(_configs()[:1], "tiny", log=lines.append, progress=False)
        assert got["networks"] == {networks.network_id(_configs()[0]): "refused"}
        assert _listing(fresh) == before
        assert len(lines) == 2 and message in lines[0] and "training it instead" in lines[0]
        # and a notebook's call trains it here instead
        small = data.subsample(mnist5k, 50, 20)
        _, report = train.train_or_load("fcnn1", seed=0, splits=small, progress=False, **TINY)
    assert not report["cached"] and message in capsys.readouterr().err


def test_a_server_that_is_down_is_reported_within_30_s_and_the_networks_are_trained(
    published, tmp_path, monkeypatch, capsys, mnist5k
):
    monkeypatch.setenv(fetch.URL_ENV, f"http://127.0.0.1:{_closed_port()}/")
    lines = []
    t0 = time.monotonic()
    got = fetch.fetch(_configs(), "tiny", log=lines.append, progress=False)
    seconds = time.monotonic() - t0
    assert seconds < 30
    assert set(got["networks"].values()) == {"unreachable"} and len(got["networks"]) == 2
    assert sum("cannot reach http://127.0.0.1:" in line for line in lines) == 1  # asked once
    assert "0 of 2 published network(s) fetched" in lines[-1] and "trained" in lines[-1]
    assert _listing(tmp_path / "fresh") == {}
    # the fallback: training, after one message
    monkeypatch.setattr(fetch, "_DOWN", {})
    small = data.subsample(mnist5k, 50, 20)
    t0 = time.monotonic()
    _, report = train.train_or_load("fcnn1", seed=0, splits=small, progress=False, **TINY)
    assert not report["cached"] and time.monotonic() - t0 < 30
    assert "cannot reach" in capsys.readouterr().err


def test_an_empty_registry_asks_no_server(tmp_path, monkeypatch, capsys, mnist5k, cache_dir):
    registry = tmp_path / "registry.json"
    fetch.write_registry(fetch.empty_registry(), registry)
    monkeypatch.setenv(fetch.REGISTRY_ENV, str(registry))
    monkeypatch.setenv(fetch.URL_ENV, f"http://127.0.0.1:{_closed_port()}/")
    lines = []
    got = fetch.fetch(_configs(), "tiny", log=lines.append, progress=False)
    assert got["networks"] == {} and got["results"] is None and lines == []
    small = data.subsample(mnist5k, 50, 20)
    _, report = train.train_or_load("fcnn1", seed=0, splits=small, progress=False, **TINY)
    assert not report["cached"] and capsys.readouterr().err == ""


def test_a_profiles_results_are_fetched_with_its_networks(
    with_results,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """The results bundle: a build from the published files computes nothing heavy."""
    root, _, _, used = with_results
    out, registry = tmp_path / "served", tmp_path / "registry.json"
    entry = weights.publish(out, "tiny", BASE, "t", cache_dir=root, registry=registry)
    assert entry["files"][-1]["holds"] == "results" and entry["files"][-1]["results"] == 2
    fresh = tmp_path / "fresh-results"
    monkeypatch.setenv(fetch.REGISTRY_ENV, str(registry))
    monkeypatch.setenv("NNSPACES_CACHE", str(fresh))
    lines = []
    with serving(out) as url:
        monkeypatch.setenv(fetch.URL_ENV, url)
        got = fetch.fetch(_configs(), "tiny", log=lines.append, progress=False)
    assert got["results"] == "fetched" and "2 cached results" in "".join(lines)
    for rel in used:
        assert (fresh / rel).read_bytes() == (root / rel).read_bytes()

    def never():
        raise AssertionError("recomputed, where the published result should have been read")

    assert cache.memo("study", {"n": 3}, never)["note"] == "computed"


# --- `weights import URL --sha256 HEX` -----------------------------------------------------------


def test_import_of_a_url_checks_the_digest_given_or_pinned(
    published, tmp_path, monkeypatch, capsys
):
    _, out, _, entry = published
    fresh = tmp_path / "fresh"
    f0, f1 = entry["files"]
    with serving(out) as url:
        bad = "0" * 64
        assert cli.main(["weights", "import", url + f0["name"], "--sha256", bad]) == 1
        err = capsys.readouterr().err
        assert "nnspaces weights: error:" in err and "refused" in err and bad[:16] in err
        assert _listing(fresh) == {}
        assert cli.main(["weights", "import", url + f0["name"], "--sha256", "xyz"]) == 1
        assert "not 64 hexadecimal digits" in capsys.readouterr().err
        # not in the registry (the registry names another base URL): the digest is required
        assert cli.main(["weights", "import", url + f0["name"]]) == 1
        assert "give its SHA-256 (`--sha256 HEX`" in capsys.readouterr().err
        assert cli.main(["weights", "import", url + f0["name"], "--sha256", f0["sha256"]]) == 0
        assert "installed: fcnn1 on mnist-5k, seed 0, final weights" in capsys.readouterr().out
        # the registry's digest, for a URL it lists
        monkeypatch.setenv(fetch.URL_ENV, url)
        assert cli.main(["weights", "import", url + f1["name"]]) == 0
        assert "installed: fcnn1 on mnist-5k, seed 1" in capsys.readouterr().out
    assert {p.name for p in (fresh / "models").glob("*.pt")} == {c.filename() for c in _configs()}
    # a local file with a digest that is not its own is refused too
    before = _listing(fresh)
    assert cli.main(["weights", "import", str(out / f0["name"]), "--sha256", f1["sha256"]]) == 1
    assert "not the" in capsys.readouterr().err and _listing(fresh) == before


# --- the reproduce pipeline: fetch before training, unless --weights none ------------------------


class _Planned(Exception):
    pass


class _NoKernels:
    """Stands in for the pipeline's fork server (no chapter runs here)."""

    def __init__(self, *args, **kwargs):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("flag, fetched", [([], True), (["--weights", "none"], False)])
def test_the_networks_stage_fetches_before_training_unless_weights_none(
    tmp_path, monkeypatch, flag, fetched, cache_dir
):
    from nnspaces import reproduce

    chapter = next(c for c in reproduce.chapters() if profiles.chapter_configs(c, "smoke"))
    calls = []
    monkeypatch.setattr(reproduce.execute, "KernelServer", _NoKernels)
    why = {chapter.output: ["test"]}
    monkeypatch.setattr(
        reproduce.plan,
        "make_plan",
        lambda root, work, *a: reproduce.Plan(
            root, work, "smoke", 1, False, [chapter], {"seconds": {}}, {}, {}, why
        ),
    )
    monkeypatch.setattr(reproduce.prepare._data, "check", lambda *a, **k: None)
    monkeypatch.setattr(fetch, "fetch", lambda cfgs, profile, **k: calls.append(("fetch", profile)))

    def train_all(cfgs, *a, **k):
        calls.append(("train", len(cfgs)))
        raise _Planned

    monkeypatch.setattr(networks, "train_all", train_all)
    argv = ["reproduce", "--profile", "smoke", "--workdir", str(tmp_path / "w"), *flag]
    with pytest.raises(_Planned):
        cli.main(argv)
    n = len(profiles.chapter_configs(chapter, "smoke"))
    assert calls == ([("fetch", "smoke")] if fetched else []) + [("train", n)]
