"""The conditions behind the book's conclusions.

A chapter states a run-dependent conclusion in a markdown cell, inside a ``{verdict}``
directive (:mod:`nnspaces.sphinxext`); the condition that decides whether the page shows it
is a function here, of numbers the chapter has already computed, that returns a
:class:`Verdict`. The chapter glues it with :func:`nnspaces.book.glue_verdict`. Each
function has a unit test (``tests/test_verdicts*.py``); one module per topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import REAL_SHARE, discarding_layers, mean_share

__all__ = ["REAL_SHARE", "Verdict", "discarding_layers", "mean_share"]


@dataclass(frozen=True)
class Verdict:
    """Whether a conclusion holds on this run, and the numbers that decide it.

    Parameters
    ----------
    holds : bool
        The condition evaluated on the run's numbers.
    reason : str
        One short phrase with those numbers (``"56 % of the energy in the null space,
        threshold 50 %"``): the reproducibility appendix lists it beside the conclusion.

    Examples
    --------
    >>> v = Verdict(0.56 > 0.5, "56 % of the energy in the null space (threshold 50 %)")
    >>> bool(v), v.reason
    (True, '56 % of the energy in the null space (threshold 50 %)')
    """

    holds: bool
    reason: str

    def __post_init__(self):
        if self.holds is None or isinstance(self.holds, str):
            raise ValueError(f"Verdict.holds must be a truth value, got {self.holds!r}")
        try:
            holds = bool(self.holds)
        except (ValueError, RuntimeError) as e:  # arrays and tensors of several values
            raise ValueError(f"Verdict.holds must be a single truth value ({e})") from None
        object.__setattr__(self, "holds", holds)
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("Verdict.reason must be a non-empty string")

    def __bool__(self) -> bool:
        return self.holds
