"""Small pieces every layer shares: the eval-mode context, and the rule a parameter obeys.

- :func:`eval_mode` — a model in eval mode for a ``with`` block, every submodule's own
  mode restored afterwards (``nnspaces.inverse.frozen`` also freezes the parameters).
- :class:`Spec` — what one parameter may hold; :meth:`Spec.check` is the only place a
  parameter is validated. :class:`ParameterError` is what it raises. The data sets' rules
  live in :mod:`nnspaces.data`, the training recipe's in :mod:`nnspaces.train`, the
  notebooks' own in :mod:`nnspaces.params`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode; on exit (even on error) give every submodule its own
    ``training`` flag back.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train()
    >>> net[0].eval()  # doctest: +ELLIPSIS
    Linear(...)
    >>> with eval_mode(net) as m:
    ...     print(m.training, m[1].training)
    False False
    >>> net.training, net[0].training, net[1].training
    (True, False, True)
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


class ParameterError(ValueError):
    """A parameter is unknown, ill-typed or out of range; the message names it."""


@dataclass(frozen=True)
class Spec:
    """What one parameter may hold: a type, optional choices and bounds, or None.

    Attributes
    ----------
    kind : type or tuple of types
        ``float`` accepts an ``int`` too; ``bool`` is never an ``int`` here.
    choices : tuple, optional
        The allowed values.
    minimum, maximum : float, optional
        Inclusive bounds (NaN is outside every bound).
    optional : bool
        None allowed.
    items : tuple, optional
        For a list: the allowed items (at least one item).
    item_type : type, optional
        For a list: the type of every item (non-negative, distinct, at least one).
    help : str
        What the parameter means, quoted in the messages.
    """

    kind: type | tuple[type, ...]
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    items: tuple | None = None
    item_type: type | None = None
    help: str = ""

    def check(self, name: str, value) -> None:
        """Raise :class:`ParameterError` naming ``name`` unless ``value`` obeys this rule.

        Examples
        --------
        >>> Spec(int, minimum=1, help="training epochs").check("epochs", 0)
        Traceback (most recent call last):
        ...
        nnspaces.common.ParameterError: parameter 'epochs' = 0 must be ≥ 1
        """
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
            ok = all(
                isinstance(v, self.item_type) and not isinstance(v, bool) and v >= 0 for v in value
            )
            if not ok or len(set(value)) != len(value) or len(value) == 0:
                raise ParameterError(
                    f"parameter {name!r} = {value!r} must be a non-empty list of distinct "
                    f"non-negative {self.item_type.__name__}s ({self.help})"
                )
        if self.minimum is not None and not value >= self.minimum:  # NaN fails too
            raise ParameterError(f"parameter {name!r} = {value!r} must be ≥ {self.minimum}")
        if self.maximum is not None and not value <= self.maximum:
            raise ParameterError(f"parameter {name!r} = {value!r} must be ≤ {self.maximum}")
