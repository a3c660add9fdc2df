"""The conditions behind the Figure 1 chapter: the single-layer network's signal spaces.

Each function takes numbers the chapter has computed and returns a
:class:`~nnspaces.verdicts.Verdict`; the sentences live in the chapter's markdown.
"""

from __future__ import annotations

import math

from . import Verdict

#: "Most" of an image's energy: more than this share in the null space.
MOST = 0.5
#: A reproduced condition number "matches" the paper's within this relative difference
#: (the book's one tolerance for condition numbers, :data:`nnspaces.summary.TOLERANCE`).
CONDITION_TOL = 0.05


def relative_difference(ours: float, theirs: float) -> float:
    """``(ours - theirs) / |theirs|``: how far a reproduced number is from the paper's.

    >>> round(relative_difference(7.0, 7.22), 4)
    -0.0305
    """
    if not (math.isfinite(ours) and math.isfinite(theirs)) or theirs == 0:
        raise ValueError(f"need finite numbers and a non-zero reference, got {ours!r}, {theirs!r}")
    return (ours - theirs) / abs(theirs)


def condition_matches(ours: float, theirs: float, rel_tol: float = CONDITION_TOL) -> Verdict:
    """The reproduced condition number lies within ``rel_tol`` of the paper's.

    Parameters
    ----------
    ours, theirs : float
        This run's condition number and the paper's.
    rel_tol : float
        Largest relative difference still called a match (default 5 %).

    Examples
    --------
    >>> condition_matches(7.3, 7.22)
    Verdict(holds=True, reason='7.30 against the paper’s 7.22: +1.1 % (tolerance ±5 %)')
    >>> bool(condition_matches(3.6, 7.22))
    False
    """
    d = relative_difference(ours, theirs)
    return Verdict(
        abs(d) <= rel_tol + 1e-12,  # the edge counts (round-off of the ratio)
        f"{ours:.2f} against the paper’s {theirs:g}: {100 * d:+.1f} % "
        f"(tolerance ±{100 * rel_tol:g} %)",
    )


def same_dimensions(rank: int, null_dim: int, paper_rank: int, n: int = 784) -> Verdict:
    """The signal (row) space has the paper's dimension and the null space the rest.

    Parameters
    ----------
    rank, null_dim : int
        Dimensions of the row space and the null space of this run's ``W`` (m, n).
    paper_rank : int
        The paper's signal-space dimension (Figure 1 shows ten directions).
    n : int
        Number of pixels (columns of ``W``).

    >>> same_dimensions(10, 774, 10).holds, same_dimensions(9, 775, 10).holds
    (True, False)
    """
    if rank + null_dim != n:
        raise ValueError(f"rank {rank} + null dimension {null_dim} must be n = {n}")
    return Verdict(
        rank == paper_rank,
        f"signal space {rank}, null space {null_dim}; the paper's {paper_rank} and "
        f"{n - paper_rank}",
    )


def most_invisible(share: float, threshold: float = MOST) -> Verdict:
    """Most of a test image's energy lies in the null space of ``W`` (``share > threshold``).

    Parameters
    ----------
    share : float
        Mean over the test images (and classes) of ‖(I − W⁺W)x‖² / ‖x‖².
    threshold : float

    >>> most_invisible(0.56)
    Verdict(holds=True, reason='56 % of the energy in the null space (threshold 50 %)')
    """
    if not math.isfinite(share) or not 0 <= share <= 1:
        raise ValueError(f"share must be a fraction in [0, 1], got {share!r}")
    return Verdict(
        share > threshold,
        f"{100 * share:.0f} % of the energy in the null space (threshold {100 * threshold:g} %)",
    )
