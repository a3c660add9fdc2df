"""Validation of the notebooks' papermill parameters.

Each notebook's first code cell (tagged ``parameters``) holds flat, commented defaults;
papermill may override them. A chapter notebook's cell names its ``profile`` and ``chapter``
(whose training recipe and networks ``profiles.yml`` declares, once) and the choices of its
own; the cell after it calls :func:`nnspaces.profiles.parameters`, which checks every name
with :func:`validate` against the notebook's declared list (``NOTEBOOKS``) and the shared
specifications (``SPECS``) — an unknown key, a wrong type, a negative count or an unknown
choice fails at once, with the parameter's name and the allowed values in the message — and
adds the recipe.
"""

from __future__ import annotations

import types

from . import train, trainlength
from .common import ParameterError, Spec
from .inverse import METHODS, START_KINDS, TARGET_KINDS
from .models import MODEL_NAMES

__all__ = [
    "NOTEBOOKS",
    "SPECS",
    "TRAIN_DEFAULTS",
    "TRAIN_PARAMS",
    "ParameterError",
    "Spec",
    "validate",
]

#: The rule of every notebook parameter (the training recipe is not one: ``TrainConfig``
#: checks it with :data:`nnspaces.train.SPECS`).
SPECS: dict[str, Spec] = {
    "chapter": Spec(str, help="the chapter's output stem in profiles.yml: its recipe and networks"),
    "max_iter": Spec(int, minimum=1, help="iterations of the iterative inverse methods"),
    "layer": Spec(str, help="dotted name of a Conv2d layer of ResNet18, e.g. 'layer1.0.conv1'"),
    "n_per_class": Spec(int, minimum=1, help="test images per class"),
    "target_kind": Spec(str, choices=TARGET_KINDS, help="how the target outputs are built"),
    "network": Spec(str, choices=MODEL_NAMES, help="the network to invert"),
    "digit": Spec(int, minimum=0, maximum=9, help="the class whose target is inverted"),
    "start": Spec(str, choices=START_KINDS, help="the start (reference) image"),
    "method": Spec(str, choices=METHODS, help="the inverse method"),
    "box": Spec(bool, help="keep every pixel in [0, 1]"),
    "live": Spec(bool, help="draw the explorer's menus and slider (JupyterLab); False in builds"),
    "profile": Spec(str, help="name of the reproduce profile that set these parameters"),
    "run_log": Spec(str, optional=True, help="the pipeline's _run.json, or None"),
    "bench_file": Spec(str, help="benchmark result JSON written by `python -m benchmarks`"),
    "max_steps": trainlength.MAX_STEPS,
}

#: The training parameters of a chapter (:func:`nnspaces.profiles.recipe`): the fields of
#: :class:`nnspaces.train.TrainConfig` a profile may set, and ``data_root``.
TRAIN_PARAMS = (
    "dataset",
    "data_root",
    "n_train",
    "n_val",
    "epochs",
    "lr",
    "momentum",
    "batch_size",
    "seed",
    "device",
)

#: Their defaults, where a profile's recipe leaves them out: :class:`nnspaces.train.TrainConfig`'s
#: but for ``data_root`` (not part of the config: None is :func:`nnspaces.data.load`'s default
#: folder) and ``device``: a chapter computes on the GPU when one is visible, where a library
#: call stays on the CPU unless asked.
_NOTEBOOKS_OWN = {"data_root": None, "device": "auto"}
TRAIN_DEFAULTS = {
    name: _NOTEBOOKS_OWN[name] if name in _NOTEBOOKS_OWN else getattr(train.TrainConfig, name)
    for name in TRAIN_PARAMS
}

_CHAPTER = ("profile", "chapter")

#: The parameters each notebook declares, by notebook stem.
NOTEBOOKS: dict[str, tuple[str, ...]] = {
    "00_intro": _CHAPTER,
    "01_models": _CHAPTER,
    "02_signal_space": _CHAPTER,
    "03_resnet_kernels": _CHAPTER + ("layer",),
    "04_information_lost": _CHAPTER + ("n_per_class",),
    "05_ideal_inputs": _CHAPTER + ("target_kind", "max_iter"),
    "06_reachability": _CHAPTER + ("max_iter",),
    "91_reproducibility": _CHAPTER + ("run_log",),
    "07_fashion": _CHAPTER,
    "08_seeds": _CHAPTER,
    "09_training_length": _CHAPTER + ("max_steps",),
    "10_released_resnet": _CHAPTER + ("max_iter",),
    "14_explore": _CHAPTER
    + ("network", "digit", "target_kind", "start", "method", "box", "max_iter", "live"),
    "92_performance": ("bench_file",),
}

_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def _user_names(namespace: dict) -> dict:
    return {
        k: v
        for k, v in namespace.items()
        if not k.startswith("_")
        and k not in _IPYTHON_NAMES
        and not isinstance(v, types.ModuleType | types.FunctionType | type)
    }


def validate(namespace: dict, notebook: str | tuple[str, ...]) -> dict:
    """Check a notebook's parameters and return them as a dict.

    Parameters
    ----------
    namespace : dict
        The notebook's ``globals()`` right after the parameters (and papermill's injected
        parameters) cell.
    notebook : str or tuple of str
        The notebook's stem, a key of ``NOTEBOOKS``, or the parameter names themselves.

    Returns
    -------
    params : dict
        Name → value, every declared parameter present.

    Raises
    ------
    ParameterError
        Unknown name (with the allowed names), missing name, wrong type, value outside
        its range or choices.

    Examples
    --------
    >>> validate({"layer": "layer1.0.conv1", "max_iter": 2}, ("layer", "max_iter"))
    {'layer': 'layer1.0.conv1', 'max_iter': 2}
    >>> validate({"max_iter": "ten"}, ("max_iter",))
    Traceback (most recent call last):
    ...
    nnspaces.common.ParameterError: parameter 'max_iter' must be int, got str 'ten' (iterations of the iterative inverse methods)
    """
    if isinstance(notebook, tuple):
        declared, notebook = notebook, "<given names>"
    elif notebook in NOTEBOOKS:
        declared = NOTEBOOKS[notebook]
    else:
        raise ParameterError(f"no parameter list for notebook {notebook!r} in NOTEBOOKS")
    given = _user_names(namespace)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for notebook {notebook!r}: "
            f"allowed are {', '.join(declared)}"
            + (
                "; the training recipe (dataset, epochs, seeds …) is the profile's, in "
                "nnspaces/profiles.yml: choose a profile or edit its recipe there"
                if set(unknown) & {*TRAIN_PARAMS, "seeds", "models"}
                else ""
            )
        )
    missing = [k for k in declared if k not in given]
    if missing:
        raise ParameterError(f"notebook {notebook!r} is missing parameter(s) {missing}")
    for k in declared:
        SPECS[k].check(k, given[k])
    return {k: given[k] for k in declared}
