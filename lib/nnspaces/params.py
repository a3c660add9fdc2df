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
from dataclasses import dataclass

from .data import DATASET_NAMES
from .inverse import TARGET_KINDS
from .models import MODEL_NAMES


class ParameterError(ValueError):
    """A notebook parameter is unknown, ill-typed or out of range."""


@dataclass(frozen=True)
class Spec:
    """What one parameter may hold: a type, optional choices and bounds, or None."""

    kind: type | tuple[type, ...]
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False  # None allowed
    items: tuple | None = None  # for list parameters: allowed items
    item_type: type | None = None  # for list parameters: the type of every item (≥ 0, distinct)
    help: str = ""

    def check(self, name: str, value) -> None:
        if value is None:
            if self.optional:
                return
            raise ParameterError(f"parameter {name!r} must not be None ({self.help})")
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        ok_type = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok_type = True
        if not ok_type:
            names = " or ".join(k.__name__ for k in kinds) + (" or None" if self.optional else "")
            raise ParameterError(
                f"parameter {name!r} must be {names}, got {type(value).__name__} {value!r} "
                f"({self.help})"
            )
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter {name!r} = {value!r} is not allowed: choose one of "
                f"{', '.join(map(repr, self.choices))}"
            )
        if self.items is not None:
            bad = [v for v in value if v not in self.items]
            if bad or len(value) == 0:
                raise ParameterError(
                    f"parameter {name!r} = {value!r}: each item must be one of "
                    f"{', '.join(map(repr, self.items))} (and at least one)"
                )
        if self.item_type is not None:
            ok = all(isinstance(v, self.item_type) and not isinstance(v, bool) and v >= 0
                     for v in value)  # fmt: skip
            if not ok or len(set(value)) != len(value) or len(value) == 0:
                raise ParameterError(
                    f"parameter {name!r} = {value!r} must be a non-empty list of distinct "
                    f"non-negative {self.item_type.__name__}s ({self.help})"
                )
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"parameter {name!r} = {value!r} must be ≥ {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"parameter {name!r} = {value!r} must be ≤ {self.maximum}")


SPECS: dict[str, Spec] = {
    "dataset": Spec(str, choices=DATASET_NAMES, help="which images"),
    "data_root": Spec(str, optional=True, help="folder in torchvision's layout, or None"),
    "n_train": Spec(int, minimum=10, optional=True, help="training images kept, None = all"),
    "n_val": Spec(int, minimum=10, optional=True, help="validation images kept, None = all"),
    "epochs": Spec(int, minimum=1, help="training epochs"),
    "lr": Spec(float, minimum=0.0, help="SGD learning rate"),
    "momentum": Spec(float, minimum=0.0, maximum=1.0, help="SGD momentum"),
    "batch_size": Spec(int, minimum=1, help="mini-batch size"),
    "seed": Spec(int, minimum=0, help="training seed"),
    "seeds": Spec(list, item_type=int, help="training seeds"),
    "fashion_n_train": Spec(int, minimum=10, optional=True, help="Fashion-MNIST training images"),
    "fashion_n_val": Spec(int, minimum=10, optional=True, help="Fashion-MNIST validation images"),
    "device": Spec(str, choices=("auto", "cpu", "cuda"), help="where to compute"),
    "models": Spec(list, items=MODEL_NAMES, help="networks to show"),
    "max_iter": Spec(int, minimum=1, help="iterations of the iterative inverse methods"),
    "layer": Spec(str, help="dotted name of a Conv2d layer of ResNet18, e.g. 'layer1.0.conv1'"),
    "n_per_class": Spec(int, minimum=1, help="test images per class"),
    "target_kind": Spec(str, choices=TARGET_KINDS, help="how the target outputs are built"),
    "profile": Spec(str, help="name of the reproduce profile that set these parameters"),
    "run_log": Spec(str, optional=True, help="the pipeline's _run.json, or None"),
    "bench_file": Spec(str, help="benchmark result JSON written by `python -m benchmarks`"),
    "max_steps": Spec(int, minimum=1, optional=True, help="SGD steps of a curve; None = paper's"),
}

#: The parameters that determine the trained networks (``train.trained_models`` reads them).
TRAIN_PARAMS = ("dataset", "data_root", "n_train", "n_val", "epochs", "lr", "momentum",
                "batch_size", "seed", "device")  # fmt: skip

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
    nnspaces.params.ParameterError: parameter 'epochs' must be int, got str 'ten' (training epochs)
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
