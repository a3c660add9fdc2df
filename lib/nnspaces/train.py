"""Training with the paper's recipe, cached on disk under a key of the full configuration.

The recipe (released code): cross-entropy, SGD (lr 1e-3, momentum 0.9), batch 32,
20 epochs. The released helper writes a checkpoint whenever the validation loss improves but
never reloads it: its accuracies and figures come from the final epoch's weights. So does this
book by default (``weights="final"``); ``weights="best"`` selects the lowest-validation-loss
epoch instead. One training run writes both, each under its own cache key.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import time
from importlib import metadata
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from . import cache, fetch, models
from . import data as _data
from .common import Spec
from .outputs import collect_outputs

_FORMAT = 2  # bump when the checkpoint layout changes (2: final and best weights)

#: Which epoch's weights a trained network keeps: the released code's final epoch, or the
#: epoch of lowest validation loss.
WEIGHTS = ("final", "best")

#: Where the computation runs: ``"auto"`` is the GPU when one is visible (:func:`resolve_device`).
DEVICES = ("auto", "cpu", "cuda")

#: The rule of every field of :class:`TrainConfig` but ``model``: the config checks itself
#: with these, so a profile's recipe in ``profiles.yml`` is checked by them too.
SPECS: dict[str, Spec] = {
    "dataset": _data.DATASET,
    "epochs": Spec(int, minimum=1, help="training epochs"),
    "lr": Spec(float, minimum=0.0, help="SGD learning rate"),
    "momentum": Spec(float, minimum=0.0, maximum=1.0, help="SGD momentum"),
    "batch_size": Spec(int, minimum=1, help="mini-batch size"),
    "seed": Spec(int, minimum=0, help="training seed"),
    "n_train": _data.SUBSET,
    "n_val": _data.SUBSET,
    "device": Spec(str, choices=DEVICES, help="where to compute"),
    "weights": Spec(str, choices=WEIGHTS, help="which epoch's weights to keep"),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained network; its hash is the cache key.

    The field defaults are the paper's recipe and the defaults of :func:`train_or_load` (and
    ``nnspaces.params.TRAIN_DEFAULTS``, where a profile's recipe leaves a field out). A field
    outside its rule in :data:`SPECS` raises :class:`nnspaces.common.ParameterError`;
    ``device="auto"`` is resolved to the device it means, which is what the key holds.
    """

    model: str
    dataset: str = "mnist-5k"
    epochs: int = 20
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 32
    seed: int = 0
    n_train: int | None = None  # stratified subset of the training split; None = all
    n_val: int | None = None  # stratified subset of the validation split; None = all
    device: str = "cpu"  # "cpu" or "cuda" ("auto" resolved): results differ, so part of the key
    weights: str = "final"  # "final" (the released code's) or "best" (lowest validation loss)

    def __post_init__(self):
        models.check_name(self.model)
        for name, spec in SPECS.items():
            spec.check(name, getattr(self, name))
        object.__setattr__(self, "device", resolve_device(self.device))

    def key(self) -> dict:
        """The configuration plus the model definition's hash and the checkpoint format."""
        d = dataclasses.asdict(self)
        if d["n_val"] is None:  # absent when unused: keys made before the field stay valid
            del d["n_val"]
        if self.n_train is not None or self.n_val is not None:
            # subsets of exactly n images (data.stratified_subset); absent when unused, so
            # networks trained on whole splits keep their keys
            d["subset"] = 2
        d["definition"] = definition_hash(self.model)
        d["format"] = _FORMAT
        return d

    @classmethod
    def fields_of(cls, key: dict) -> dict:
        """The fields of the configuration a :meth:`key` was made from: the key less what
        :meth:`key` derives (the definition's hash, the formats of checkpoint and subset)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in key.items() if k in names}

    def filename(self) -> str:
        """``<model>-<dataset>-s<seed>-<16 hex digits of the key's hash>.pt``."""
        return f"{self.model}-{self.dataset}-s{self.seed}-{cache.key_digest(self.key())}.pt"


def definition_hash(name: str) -> str:
    """:func:`nnspaces.models.definition_hash`, kept on disk for the models' own builders.

    The pipeline only names checkpoints; building a ResNet18 to hash its definition would
    import torchvision (seconds). So the hash is stored in ``<cache>/definitions/`` under
    everything the definition depends on: the name, the versions of torch and torchvision
    and the bytes of ``models.py``. A builder swapped in (a test) is hashed, never stored.
    """
    if not models.own_builder(name):
        return models.definition_hash(name)
    return _stored_definition_hash(name)


@functools.cache
def _stored_definition_hash(name: str) -> str:
    versions = []
    for dist in ("torch", "torchvision"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} absent")
    source = hashlib.sha256(Path(models.__file__).read_bytes()).hexdigest()
    key = hashlib.sha256(f"{name}|{'|'.join(versions)}|{source}".encode()).hexdigest()[:16]
    path = cache.root() / "definitions" / f"{name}-{key}.txt"
    try:
        stored = path.read_text().strip()
        if len(stored) == 16 and all(c in "0123456789abcdef" for c in stored):
            return stored
    except OSError:
        pass
    value = models.definition_hash(name)
    cache.atomic_write(path, lambda f: f.write(value.encode()))
    return value


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; others pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA GPU is visible: use device='cpu' or 'auto'")
    return device


def _load_checkpoint(path: Path, cfg: TrainConfig) -> dict | None:
    """The checkpoint at ``path`` if it is intact and made by ``cfg``, else None (warned)."""

    def problem(ckpt) -> str | None:
        if not isinstance(ckpt, dict) or ckpt.get("config") != cfg.key():
            return "it was made by another configuration"
        if cache.state_digest(ckpt["state_dict"]) != ckpt.get("digest"):
            return "its weights do not match their recorded SHA-256 (corrupted bytes)"
        return None

    return cache.load(path, problem, "cached checkpoint", "retraining", stacklevel=3)


def _evaluate(model: nn.Module, X, y) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on images ``X`` (N, 1, 28, 28), labels ``y``."""
    Z = collect_outputs(model, X)  # (N, 10) raw outputs, on the CPU
    return float(nn.functional.cross_entropy(Z, y)), float((Z.argmax(1) == y).double().mean())


def _fit(
    cfg: TrainConfig, splits: _data.Splits, progress: bool, on_epoch=None
) -> tuple[dict, dict]:
    """Train once; return the final and the best-validation weights and their reports, both
    keyed by ``WEIGHTS`` (the test set is scored for each). ``on_epoch(row)`` receives each
    epoch's history row as it ends."""
    torch.manual_seed(cfg.seed)
    model = models.build(cfg.model).to(cfg.device)
    g = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(
        TensorDataset(splits.X_train, splits.y_train),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=g,
    )
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    history, best, best_loss = [], None, float("inf")
    t0 = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.model}", disable=not progress)
    for epoch in bar:
        model.train()
        total, correct, n = 0.0, 0, 0
        for xb, yb in loader:
            xb, yb = xb.to(cfg.device), yb.to(cfg.device)
            out = model(xb)
            loss = nn.functional.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            n += len(yb)
        val_loss, val_acc = _evaluate(model, splits.X_val, splits.y_val)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / n,
                "train_acc": correct / n,
                "val_loss": val_loss,
                "val_acc": val_acc,
            }
        )
        if val_loss < best_loss:
            best_loss, best = val_loss, copy.deepcopy(model.state_dict())
        bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
        if on_epoch is not None:
            on_epoch(history[-1])
    final = copy.deepcopy(model.state_dict())
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    states = {"final": final, "best": best}
    scores = {}
    for which, epoch in (("final", cfg.epochs), ("best", best_epoch)):
        model.load_state_dict(states[which])
        test_loss, test_acc = _evaluate(model, splits.X_test, splits.y_test)
        scores[which] = {
            "epoch": epoch,
            "val_loss": history[epoch - 1]["val_loss"],
            "val_acc": history[epoch - 1]["val_acc"],
            "test_loss": test_loss,
            "test_acc": test_acc,
        }
    common = {
        "history": history,
        "best_epoch": best_epoch,
        "scores": scores,
        "train_seconds": time.perf_counter() - t0,
        "dataset": {"name": splits.name, "source": splits.source, "sizes": splits.sizes},
        "torch": str(torch.__version__),
    }
    reports = {}
    for which in WEIGHTS:
        s = scores[which]
        reports[which] = dict(
            common,
            weights=which,
            epoch=s["epoch"],
            val_acc=s["val_acc"],
            test_loss=s["test_loss"],
            test_acc=s["test_acc"],
        )
    return states, reports


def train_or_load(
    model_name: str,
    dataset: str = TrainConfig.dataset,
    epochs: int = TrainConfig.epochs,
    lr: float = TrainConfig.lr,
    momentum: float = TrainConfig.momentum,
    batch_size: int = TrainConfig.batch_size,
    seed: int = TrainConfig.seed,
    n_train: int | None = TrainConfig.n_train,
    n_val: int | None = TrainConfig.n_val,
    device: str = TrainConfig.device,
    weights: str = TrainConfig.weights,
    cache_dir: str | Path | None = None,
    splits: _data.Splits | None = None,
    progress: bool = True,
    on_epoch=None,
    published: bool = True,
) -> tuple[nn.Module, dict]:
    """Train a network with the paper's recipe, or load it from the cache.

    Parameters
    ----------
    model_name : {"fcnn1", "fcnn5", "resnet18"}
    dataset : {"mnist-5k", "mnist", "fashion-mnist"}
    epochs, lr, momentum, batch_size : the SGD recipe (defaults: the released code's).
        Every default is :class:`TrainConfig`'s, and every value is checked by its rule in
        :data:`SPECS` (a :class:`nnspaces.common.ParameterError` names a bad one).
    seed : int
        Seeds the initial weights and the order of the mini-batches. The data split has
        its own fixed seed (0), so seeds vary the training, not the data.
    n_train : int, optional
        Train on a stratified subset of this many training images.
    n_val : int, optional
        Choose the checkpoint on a stratified subset of this many validation images.
    device : {"cpu", "cuda", "auto"}
    weights : {"final", "best"}
        Keep the final epoch's weights (the released code's, default) or those of the epoch
        with the lowest validation loss. One training run caches both.
    cache_dir : path, optional
        Folder of the checkpoints (default :func:`nnspaces.cache.root`: ``$NNSPACES_CACHE`` or
        ``~/.cache/nnspaces``).
    splits : Splits, optional
        Already loaded data (must be ``dataset``'s); loaded here otherwise.
    progress : bool
        Show a tqdm bar over epochs.
    on_epoch : callable, optional
        Called with each epoch's history row (``epoch``, losses, accuracies) when training.
    published : bool
        Fetch the network first when the cache lacks it and the registry of published
        networks lists it (see Notes); False trains it (the pipeline's training stage, which
        has tried the fetch already).

    Returns
    -------
    model : torch.nn.Module
        The ``weights`` chosen, in eval mode, on ``device``.
    report : dict
        ``history`` (per-epoch train/val loss and accuracy), ``weights``, ``epoch`` (of the
        weights kept), ``best_epoch``, ``val_acc`` and ``test_acc`` (of the weights kept),
        ``scores`` (``{"final": …, "best": …}``: epoch, val_loss, val_acc, test_loss, test_acc
        of each choice), ``train_seconds`` (of the original training), ``dataset`` (name,
        source, sizes), ``config``, ``cached`` (True when loaded), ``load_seconds``, ``path``.

    Notes
    -----
    The checkpoint is written atomically (temporary file + rename) under a name hashed
    from the full configuration and the model definition, and holds a SHA-256 of its
    weights; it is read with ``weights_only=True``. A truncated, corrupted or foreign file
    is reported with a warning and retrained. A file lock keeps two processes from
    training the same configuration at once. On the shared cache (no ``cache_dir``), a
    missing checkpoint that the registry of published networks lists is fetched first
    (:func:`nnspaces.fetch.fetch_network`: SHA-256 and every bundle check before it enters
    the cache); a call with a ``cache_dir`` of its own trains, as it asks.
    """
    cfg = TrainConfig(
        model_name, dataset, epochs, lr, momentum, batch_size, seed, n_train, n_val, device, weights
    )
    folder = Path(cache_dir or cache.root()) / "models"
    paths = {w: folder / dataclasses.replace(cfg, weights=w).filename() for w in WEIGHTS}
    path = paths[cfg.weights]
    t0 = time.perf_counter()
    if published and cache_dir is None and not path.is_file():
        # a network CI published (registry.json): downloaded, checked and installed, so that
        # a notebook run outside the pipeline (Colab, Binder) does not train it; anything
        # else (not listed, offline, a refused file) is trained below
        fetch.fetch_network(cfg, progress=progress)
    # one lock per training run (both weight choices): one process trains, the other waits
    with cache.lock(paths["final"].with_suffix(".lock")):
        ckpt = _load_checkpoint(path, cfg)
        if ckpt is None:
            if splits is None:
                splits = _data.load(dataset)
            elif splits.name != dataset:
                raise ValueError(f"splits hold {splits.name!r}, not dataset={dataset!r}")
            splits = _data.subsample(splits, n_train, n_val, seed=0)
            states, reports = _fit(cfg, splits, progress, on_epoch)
            for w in WEIGHTS:  # one run gives both: each under its own key
                state = {k: v.detach().cpu() for k, v in states[w].items()}
                entry = {
                    "config": dataclasses.replace(cfg, weights=w).key(),
                    "state_dict": state,
                    "digest": cache.state_digest(state),
                    "report": reports[w],
                }
                cache.save(entry, paths[w])
                if w == cfg.weights:
                    ckpt = entry
            cached = False
        else:
            cached = True
    model = models.build(model_name)
    model.load_state_dict(ckpt["state_dict"])
    model.to(cfg.device).eval()
    report = dict(
        ckpt["report"],
        config=dataclasses.asdict(cfg),
        cached=cached,
        load_seconds=time.perf_counter() - t0,
        path=str(path),
    )
    return model, report
