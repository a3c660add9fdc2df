"""Validation of the notebooks' papermill parameters.

Each notebook's first code cell (tagged ``parameters``) holds flat, commented defaults;
papermill may override them. The cell after it calls :func:`validate` with the
notebook's ``globals()``: every name the parameters define is checked against the
notebook's declared list (``NOTEBOOKS``) and the shared specifications (``SPECS``), so an
unknown key, a wrong type, a negative count or an unknown choice fails at once, with
the parameter's name and the allowed values in the message.
"""

from __future__ import annotations

import types

from . import data, train, trainlength
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

#: The rule of every notebook parameter. The training recipe's come from
#: :data:`nnspaces.train.SPECS` (``TrainConfig`` checks itself with the same objects), the
#: data sets' from :mod:`nnspaces.data`; the rest are the notebooks' own.
SPECS: dict[str, Spec] = {
    **train.SPECS,
    "data_root": Spec(str, optional=True, help="folder in torchvision's layout, or None"),
    "seeds": Spec(list, item_type=int, help="training seeds"),
    "fashion_n_train": data.SUBSET,
    "fashion_n_val": data.SUBSET,
    "models": Spec(list, items=MODEL_NAMES, help="networks to show"),
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

#: The parameters that determine the trained networks (``notebook.trained_models`` reads them).
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

#: Their defaults in every notebook's parameters cell (a test reads the cells): those of
#: :class:`nnspaces.train.TrainConfig`, but for ``data_root`` (not part of the config: None is
#: :func:`nnspaces.data.load`'s default folder) and ``device``: a notebook computes on the GPU
#: when one is visible, where a library call stays on the CPU unless asked.
_NOTEBOOKS_OWN = {"data_root": None, "device": "auto"}
TRAIN_DEFAULTS = {
    name: _NOTEBOOKS_OWN[name] if name in _NOTEBOOKS_OWN else getattr(train.TrainConfig, name)
    for name in TRAIN_PARAMS
}

#: The parameters each notebook declares, by notebook stem.
NOTEBOOKS: dict[str, tuple[str, ...]] = {
    "00_intro": TRAIN_PARAMS + ("profile",),
    "01_models": TRAIN_PARAMS + ("models",),
    "02_signal_space": TRAIN_PARAMS,
    "03_resnet_kernels": TRAIN_PARAMS + ("layer",),
    "04_information_lost": TRAIN_PARAMS + ("n_per_class",),
    "05_ideal_inputs": TRAIN_PARAMS + ("models", "target_kind", "max_iter"),
    "06_reachability": TRAIN_PARAMS + ("models", "max_iter"),
    "91_reproducibility": TRAIN_PARAMS + ("profile", "run_log"),
    "07_fashion": TRAIN_PARAMS + ("fashion_n_train", "fashion_n_val"),
    "08_seeds": TRAIN_PARAMS + ("models", "seeds"),
    "09_training_length": TRAIN_PARAMS + ("max_steps",),
    "10_released_resnet": TRAIN_PARAMS + ("max_iter",),
    "14_explore": TRAIN_PARAMS
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
    >>> validate({"dataset": "mnist-5k", "epochs": 2}, ("dataset", "epochs"))
    {'dataset': 'mnist-5k', 'epochs': 2}
    >>> validate({"epochs": "ten"}, ("epochs",))
    Traceback (most recent call last):
    ...
    nnspaces.common.ParameterError: parameter 'epochs' must be int, got str 'ten' (training epochs)
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
        )
    missing = [k for k in declared if k not in given]
    if missing:
        raise ParameterError(f"notebook {notebook!r} is missing parameter(s) {missing}")
    for k in declared:
        SPECS[k].check(k, given[k])
    return {k: given[k] for k in declared}
