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

import hashlib

import torch
from torch import nn

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
    the checkpoints trained with the old one.
    """
    model = build(name)
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    text = repr(model) + repr(shapes)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs of every ``Linear`` and ``Conv2d`` layer, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def device_of(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (CPU for a parameterless model)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
