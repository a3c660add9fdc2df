import warnings
from pathlib import Path

import pytest
import torch

from nnspaces import data, train

TINY = dict(dataset="mnist-5k", epochs=2, n_train=200, progress=False)


@pytest.fixture(scope="module")
def small(mnist5k):
    return data.subsample(mnist5k, 200)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_weights_different_seed_different(tmp_path, small):
    a, ra = train.train_or_load("fcnn5", splits=small, cache_dir=tmp_path / "a", **TINY)
    b, _ = train.train_or_load("fcnn5", splits=small, cache_dir=tmp_path / "b", **TINY)
    c, _ = train.train_or_load("fcnn5", splits=small, cache_dir=tmp_path / "c", seed=1, **TINY)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert not a.training and not ra["cached"]


@pytest.mark.parametrize("weights", train.WEIGHTS)
def test_report_records_the_run_and_keeps_the_chosen_epoch(tmp_path, small, weights):
    model, r = train.train_or_load(
        "fcnn1",
        splits=small,
        cache_dir=tmp_path,
        epochs=3,
        n_train=200,
        dataset="mnist-5k",
        progress=False,
        weights=weights,
    )
    assert [h["epoch"] for h in r["history"]] == [1, 2, 3]
    best = min(r["history"], key=lambda h: h["val_loss"])
    kept = r["history"][-1] if weights == "final" else best
    assert r["weights"] == weights and r["epoch"] == kept["epoch"]
    assert r["best_epoch"] == best["epoch"] and r["val_acc"] == kept["val_acc"]
    assert r["scores"]["final"]["epoch"] == 3 and r["scores"]["best"]["epoch"] == best["epoch"]
    assert r["dataset"]["sizes"] == {"train": 200, "val": 500, "test": 1000}
    # The kept weights give the recorded validation loss (independent forward pass).
    with torch.no_grad():
        out = model(small.X_val)
        loss = float(torch.nn.functional.cross_entropy(out, small.y_val))
        acc = float((out.argmax(1) == small.y_val).double().mean())
    assert loss == pytest.approx(kept["val_loss"], rel=1e-5)
    assert acc == pytest.approx(kept["val_acc"])
    with torch.no_grad():
        test_acc = float((model(small.X_test).argmax(1) == small.y_test).double().mean())
    assert test_acc == pytest.approx(r["test_acc"])
    assert r["scores"][weights]["test_acc"] == r["test_acc"]


def test_one_training_caches_both_weight_choices_under_their_own_keys(tmp_path, small):
    final, rf = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    best, rb = train.train_or_load(
        "fcnn1", splits=small, cache_dir=tmp_path, weights="best", **TINY
    )
    assert not rf["cached"] and rb["cached"]  # the second choice came from the same run
    assert rf["path"] != rb["path"] and rf["scores"] == rb["scores"]
    assert len(list((tmp_path / "models").glob("*.pt"))) == 2
    # the two files hold the weights of the epochs they name
    if rf["epoch"] != rb["epoch"]:
        assert not torch.equal(final[1].weight, best[1].weight)
    with pytest.raises(
        ValueError, match="'weights' = 'last' is not allowed: choose one of 'final'"
    ):
        train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, weights="last", **TINY)


def test_cache_hit_is_identical_and_does_not_train(tmp_path, small, monkeypatch):
    a, _ = train.train_or_load("fcnn5", splits=small, cache_dir=tmp_path, **TINY)

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(train, "_fit", no_training)
    b, rb = train.train_or_load("fcnn5", splits=small, cache_dir=tmp_path, **TINY)
    assert rb["cached"]
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def _checkpoint(tmp_path, small):
    model, r = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    return _weights(model), r["path"]


def _reload(tmp_path, small):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        model, r = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    return _weights(model), r, [str(x.message) for x in w]


def test_truncated_checkpoint_is_retrained_with_a_warning(tmp_path, small):
    w0, path = _checkpoint(tmp_path, small)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])
    w1, r, msgs = _reload(tmp_path, small)
    assert not r["cached"] and any("cannot be read" in m for m in msgs)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # retrained, same seed → same weights
    assert train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)[1]["cached"]


def test_flipped_weight_bytes_are_detected(tmp_path, small):
    w0, path = _checkpoint(tmp_path, small)
    raw = bytearray(open(path, "rb").read())
    # Flip bytes inside the stored weight tensor (the 784×10 float32 block is the largest).
    needle = w0["1.weight"].numpy().tobytes()[:64]
    at = bytes(raw).find(needle)
    assert at > 0
    raw[at + 8 : at + 12] = bytes(b ^ 0xFF for b in raw[at + 8 : at + 12])
    open(path, "wb").write(bytes(raw))
    w1, r, msgs = _reload(tmp_path, small)
    assert not r["cached"] and any("SHA-256" in m or "cannot be read" in m for m in msgs)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


def test_a_checkpoint_of_another_configuration_under_the_right_name_is_refused(tmp_path, small):
    _, path = _checkpoint(tmp_path, small)
    other, _ = train.train_or_load(
        "fcnn1",
        splits=small,
        cache_dir=tmp_path / "o",
        seed=5,
        dataset="mnist-5k",
        epochs=2,
        n_train=200,
        progress=False,
    )
    import shutil

    shutil.copy(next((tmp_path / "o" / "models").glob("*.pt")), path)
    _, r, msgs = _reload(tmp_path, small)
    assert not r["cached"] and any("another configuration" in m for m in msgs)


def test_a_changed_model_definition_misses_the_cache(tmp_path, small, monkeypatch):
    _checkpoint(tmp_path, small)
    monkeypatch.setattr(train, "definition_hash", lambda name: "changed")
    _, r = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    assert not r["cached"]


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"epochs": "ten"}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"lr": float("nan")}, "lr"),
        ({"dataset": "cifar"}, "mnist-5k"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_configuration_is_refused_by_name(kw, match, tmp_path):
    args = dict(TINY, **kw)
    with pytest.raises(ValueError, match=match):
        train.train_or_load("fcnn1", cache_dir=tmp_path, **args)


# Python as on a platform without fcntl (Windows): `import fcntl` raises ImportError.
NO_FCNTL = (
    "import sys, warnings; sys.modules['fcntl'] = None;"
    "warnings.simplefilter('ignore');"  # filelock: 'only soft file lock is available'
    "import filelock; assert filelock.FileLock is filelock.SoftFileLock, filelock.FileLock;"
)


@pytest.mark.parametrize("prelude", ["", NO_FCNTL], ids=["fcntl", "no-fcntl"])
def test_two_processes_training_one_configuration_share_one_intact_checkpoint(tmp_path, prelude):
    import subprocess
    import sys

    code = (
        f"{prelude}from nnspaces import train;"
        "m, r = train.train_or_load('fcnn1', epochs=2, n_train=200, progress=False,"
        f" cache_dir={str(tmp_path)!r}); print(r['cached'])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # The lock makes the second wait for the first and load its checkpoint.
    assert sorted(o[-1] for o in outs) == ["False", "True"]
    files = list((tmp_path / "models").glob("*.pt"))
    assert len(files) == 2 and not list((tmp_path / "models").glob("*.tmp"))  # final + best
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unreadable file would warn
        _, r = train.train_or_load(
            "fcnn1", epochs=2, n_train=200, progress=False, cache_dir=tmp_path
        )
    assert r["cached"]


# --- the cache key and the checkpoint format stay those of the networks already trained ---


def test_cache_keys_and_file_names_are_unchanged(monkeypatch):
    """Golden values, computed by the code that trained the cached networks (format 2)."""
    monkeypatch.setattr(train, "definition_hash", lambda name: "fixed")
    default = train.TrainConfig("fcnn5")
    assert default.filename() == "fcnn5-mnist-5k-s0-4e6b5892dabc924e.pt"
    assert default.key() == {
        "model": "fcnn5",
        "dataset": "mnist-5k",
        "epochs": 20,
        "lr": 0.001,
        "momentum": 0.9,
        "batch_size": 32,
        "seed": 0,
        "n_train": None,
        "device": "cpu",
        "weights": "final",
        "definition": "fixed",
        "format": 2,
    }
    other = train.TrainConfig(
        "fcnn5", "mnist", epochs=1, seed=3, n_train=300, n_val=100, weights="best"
    )
    # a subset is now exactly n images (data.stratified_subset): its key says so, and the
    # networks trained on the rounded subsets (c80be6f7d4b545f1 here) are retrained
    assert other.filename() == "fcnn5-mnist-s3-39cafb40d95a6b8f.pt"
    assert other.key()["n_val"] == 100 and other.key()["subset"] == 2 and train._FORMAT == 2
    assert "subset" not in default.key()


def test_a_checkpoint_saved_by_path_as_before_is_loaded(tmp_path, small):
    """Checkpoints written with ``torch.save(entry, path)`` (before ``cache.save``) still load."""
    from nnspaces import cache

    model, r = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    path = tmp_path / "models" / Path(r["path"]).name
    entry = torch.load(path, weights_only=True)
    assert set(entry) == {"config", "state_dict", "digest", "report"}
    assert entry["digest"] == cache.state_digest(model.state_dict())
    torch.save(entry, path)  # by path, not through a file object
    again, r2 = train.train_or_load("fcnn1", splits=small, cache_dir=tmp_path, **TINY)
    assert r2["cached"] and torch.equal(again[1].weight, model[1].weight)


def test_the_config_checks_every_field_by_its_rule():
    from nnspaces import params

    with pytest.raises(params.ParameterError, match="'momentum' = 1.5 must be ≤ 1.0"):
        train.TrainConfig("fcnn1", momentum=1.5)
    with pytest.raises(params.ParameterError, match="'n_train' = 5 must be ≥ 10"):
        train.TrainConfig("fcnn1", n_train=5)
    assert train.TrainConfig("fcnn1", device="auto").device == train.resolve_device("auto")


def test_the_definition_hash_of_an_own_builder_is_kept_on_disk(cache_dir, monkeypatch):
    from nnspaces import models

    train._stored_definition_hash.cache_clear()
    h = train.definition_hash("fcnn5")
    assert h == models.definition_hash("fcnn5")  # what building it gives
    (stored,) = (cache_dir / "definitions").glob("fcnn5-*.txt")
    assert stored.read_text() == h
    # read back without building the model; a damaged file is recomputed and rewritten
    train._stored_definition_hash.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(models, "definition_hash", lambda name: pytest.fail("rebuilt"))
        assert train.definition_hash("fcnn5") == h
    stored.write_text("garbage")
    train._stored_definition_hash.cache_clear()
    assert train.definition_hash("fcnn5") == h and stored.read_text() == h
    # a builder swapped in is hashed, never stored
    monkeypatch.setitem(models._BUILDERS, "fcnn1", lambda: models._fcnn((784, 12)))
    assert train.definition_hash("fcnn1") == models.definition_hash("fcnn1")
    assert not list((cache_dir / "definitions").glob("fcnn1-*.txt"))
    train._stored_definition_hash.cache_clear()


@pytest.mark.parametrize(
    "cfg",
    [
        train.TrainConfig("fcnn1"),
        train.TrainConfig("fcnn5", "fashion-mnist", n_train=3500, n_val=500, weights="best"),
    ],
)
def test_a_configuration_is_rebuilt_from_its_key(cfg):
    """What a bundle does with a checkpoint's recorded key: the derived entries (definition,
    format, subset rule) are left out, and the rebuilt configuration makes the same key."""
    fields = train.TrainConfig.fields_of(cfg.key())
    assert not {"definition", "format", "subset"} & set(fields)
    assert train.TrainConfig(**fields) == cfg and train.TrainConfig(**fields).key() == cfg.key()
