"""The three networks of the paper, built exactly as the released code builds them.

``build(name)`` returns a fresh, randomly initialised ``torch.nn.Module`` that maps
images ``(N, 1, 28, 28)`` to raw outputs ``(N, 10)`` (no softmax).

- ``"fcnn1"``: Flatten → Linear(784, 10) → SELU.
- ``"fcnn5"``: Flatten → Linear(784, 256) SELU Linear(256, 256) SELU Linear(256, 128) SELU
  Linear(128, 32) SELU Linear(32, 10) (no activation after the last layer).
- ``"resnet18"``: torchvision's ``resnet18(num_classes=10)`` with ``conv1`` replaced by
  ``Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)``.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path

import torch
from torch import nn

from .common import eval_mode

MODEL_NAMES = ("fcnn1", "fcnn5", "resnet18")

#: Human-readable names used in figures and tables.
DISPLAY_NAME = {"fcnn1": "1-layer FCNN", "fcnn5": "5-layer FCNN", "resnet18": "ResNet18"}


def _fcnn(widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        last = i == len(widths) - 2
        if not last or len(widths) == 2:  # the 1-layer net keeps its SELU
            layers.append(nn.SELU())
    return nn.Sequential(*layers)


def _resnet18() -> nn.Module:
    from torchvision.models import resnet18

    model = resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


_BUILDERS = {
    "fcnn1": lambda: _fcnn((784, 10)),
    "fcnn5": lambda: _fcnn((784, 256, 256, 128, 32, 10)),
    "resnet18": _resnet18,
}
_OWN_BUILDERS = dict(_BUILDERS)  # a builder swapped in (a test) is hashed, never stored


def check_name(name: object) -> str:
    """Return ``name`` if it names a model, else raise a ``ValueError`` listing the choices."""
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(
            f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)} "
            "(nnspaces.models.MODEL_NAMES)"
        )
    return name


def build(name: str) -> nn.Module:
    """Build a freshly initialised network.

    Parameters
    ----------
    name : {"fcnn1", "fcnn5", "resnet18"}

    Returns
    -------
    model : torch.nn.Module
        Maps ``(N, 1, 28, 28)`` float images to ``(N, 10)`` raw outputs. Initialisation
        uses the global torch RNG: seed it (``torch.manual_seed``) for reproducible weights.

    Examples
    --------
    >>> import torch
    >>> build("fcnn1")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    return _BUILDERS[check_name(name)]()


def definition_hash(name: str) -> str:
    """A short hash of a model's definition (module tree and parameter shapes).

    Part of every checkpoint's cache key, so that changing an architecture invalidates
    the checkpoints trained with the old one. Computed once per builder function (it builds
    the model); :func:`nnspaces.train.definition_hash` keeps it on disk for the pipeline.
    """
    return _definition_hash(_BUILDERS[check_name(name)])


def own_builder(name: str) -> bool:
    """Whether ``name`` is built by this module's own builder (not one swapped in, e.g. by a
    test): then its definition depends only on this file and the torch and torchvision
    versions."""
    return _BUILDERS[check_name(name)] is _OWN_BUILDERS.get(name)


@functools.cache
def _definition_hash(builder) -> str:
    model = builder()
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    text = repr(model) + repr(shapes)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs of every ``Linear`` and ``Conv2d`` layer, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def device_of(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (CPU for a parameterless model)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def collect_outputs(model: nn.Module, X: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Pass every image through ``model`` in eval mode and return the raw outputs.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, 1, 28, 28)`` to ``(B, K)``. Its train/eval mode is restored afterwards.
    X : (N, 1, 28, 28) Tensor
        Images, on any device (moved batch by batch to the model's device).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    Z : (N, K) Tensor
        Pre-softmax outputs, on the CPU, in the model's dtype (kept on disk by
        :func:`nnspaces.outputs.cached_outputs`).
    """
    if X.ndim != 4:
        raise ValueError(f"X must be (N, C, H, W), got shape {tuple(X.shape)}")
    device = device_of(model)
    with eval_mode(model):
        parts = [
            model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)
        ]
    return torch.cat(parts) if parts else torch.empty(0, 0)


#: Key prefixes a saved state_dict may carry around the network's own keys: ``"model."`` (the
#: released notebook saved a wrapper module holding the ResNet as ``self.model``) and
#: ``"module."`` (``nn.DataParallel``).
STATE_DICT_PREFIXES = ("model.", "module.")


def _read_state_dict(path) -> dict:
    """``torch.load(path, weights_only=True)`` with errors that say what the file is instead."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no state_dict file at {path}: give the path of the downloaded file (e.g. the "
            "released repository's models/final_model_resnet)"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        raise ValueError(_unreadable(path, e)) from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # a checkpoint that wraps its state_dict (as nnspaces.train's)
    if not isinstance(obj, dict) or not obj:
        raise ValueError(
            f"{path} holds a {type(obj).__name__}, not a state_dict (a non-empty dict of parameter "
            "name → tensor): save one with torch.save(model.state_dict(), path)"
        )
    bad = [k for k, v in obj.items() if not (isinstance(k, str) and torch.is_tensor(v))]
    if bad:
        raise ValueError(
            f"{path} is a dict but not a state_dict: {len(bad)} entr(ies) are not name → tensor, "
            f"e.g. {bad[:3]!r}"
        )
    return obj


def _unreadable(path, error: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, and what to do about it."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"version https://git-lfs"):
        return (
            f"{path} is a Git LFS pointer, not the weights: download the file itself "
            "(`git lfs pull`, or the repository's raw download link)"
        )
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # a zip archive (torch.save) or a pickle
        return f"{path} is not a file written by torch.save (neither a zip archive nor a pickle)"
    if isinstance(error, pickle.UnpicklingError):
        lines = [ln.strip() for ln in str(error).splitlines() if "Unsupported global" in ln]
        why = lines[0] if lines else str(error).splitlines()[0][:160]
        return (
            f"{path} is not a plain state_dict: torch.load(weights_only=True) refused it ({why}). "
            "If it is a whole pickled model from a source you trust, load it yourself and save "
            "its weights: torch.save(model.state_dict(), path)"
        )
    return (
        f"{path} cannot be read ({type(error).__name__}: {str(error)[:160]}): the file looks "
        "truncated or corrupted; download it again"
    )


def _strip_prefix(state: dict, expected: set[str]) -> dict:
    """Drop a prefix of :data:`STATE_DICT_PREFIXES` carried by every key, when that makes the
    keys the expected ones (or brings them closer)."""
    for prefix in STATE_DICT_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            stripped = {k[len(prefix) :]: v for k, v in state.items()}
            if len(set(stripped) & expected) > len(set(state) & expected):
                return _strip_prefix(stripped, expected)
    return state


def _few(keys, n: int = 5) -> str:
    keys = sorted(keys)
    more = f" … and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_state_dict_file(path, name: str = "resnet18") -> nn.Module:
    """Build one of the paper's networks and load a saved state_dict into it.

    Parameters
    ----------
    path : str or Path
        A file written by ``torch.save(model.state_dict(), path)``, e.g. the released
        repository's ``models/final_model_resnet`` (torchvision ``resnet18(num_classes=10)`` with
        a one-channel ``conv1``). Read with ``torch.load(weights_only=True)``: no code in the file
        is executed.
    name : {"fcnn1", "fcnn5", "resnet18"}
        The network the weights belong to.

    Returns
    -------
    model : torch.nn.Module
        On the CPU, in eval mode (the released notebook never called ``eval()``: NOTES §2).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a readable ``torch.save`` file, holds a pickled object other than a
        state_dict (e.g. a whole model), has missing or unexpected keys (a few listed) or tensors
        of the wrong shape (each listed with both shapes). Every message says what to do.

    Notes
    -----
    Keys may carry a ``"model."`` or ``"module."`` prefix (a wrapper module, ``nn.DataParallel``);
    it is removed when every key has it. A dict holding the state_dict under ``"state_dict"`` is
    unwrapped. Tensors are cast to the network's dtype by ``load_state_dict``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = build("fcnn1")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save(net.state_dict(), path)
    >>> torch.equal(load_state_dict_file(path, "fcnn1")[1].weight, net[1].weight)
    True
    """
    model = build(name)
    expected = model.state_dict()
    state = _strip_prefix(_read_state_dict(path), set(expected))
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({_few(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_few(unexpected)})")
        raise ValueError(
            f"{path} does not hold the weights of {name!r}: keys {'; '.join(parts)}. Is it the "
            f"state_dict of another network? Choose name= one of {', '.join(MODEL_NAMES)}"
        )
    wrong = [
        f"{k}: file {tuple(state[k].shape)}, {name} {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if wrong:
        hint = ""
        if name == "resnet18" and any(w.startswith("conv1.weight") for w in wrong):
            hint = (
                " (conv1 must be Conv2d(1, 64, 7, 2, 3) for 1-channel 28×28 digits; torchvision's "
                "ImageNet ResNet18 has 3 input channels and 1000 outputs)"
            )
        raise ValueError(
            f"{path}: {len(wrong)} tensor(s) have the wrong shape for {name!r}{hint}: "
            + "; ".join(wrong[:5])
            + (f" … and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        )
    model.load_state_dict(state)
    return model.eval()
