"""Ideal input images (the paper's Figure 3) and which outputs an image can reach.

Public API
----------
- :func:`run_grid` — every network × digit × start image × method, as a table.
- :func:`choose_best` — the automatic per-digit choice that replaces the paper's choice by eye.
- :func:`grid_verdicts` — the facts the Figure 3 chapter states about its grid, computed.
- :func:`reachability` — per digit: is the target reached by an image inside the box?
- :func:`summarize_grid`, :func:`choice_summary`, :func:`loss_decrease`, :func:`reach_summary`,
  :func:`pixel_range`, :func:`target_comparison`, :func:`closest_output_errors` — the tables
  and numbers the chapters quote;
  :func:`per_network`, :func:`reach_keys` — those numbers keyed for glue, one key for every
  network of the book; :func:`reach_table`, :func:`nearness_table` — the reachability
  chapter's tables with human headers.
- Constants: :data:`GRID_METHODS`, :data:`TIE_TOL`, :data:`UNCLIPPED`, :data:`EXACT_METHODS`,
  :data:`COLUMNS` (the grid's table), :data:`TABLE_COLUMNS` (those a chapter shows).

Modules
-------
- ``grid`` — the grid (:func:`run_grid`), its choice rule (:func:`choose_best`), its verdicts
  and constants.
- ``reach`` — reachability of the targets inside the box, its summary and glue keys.
- ``tables`` — the grid's summary tables, target comparisons and :func:`per_network` keys.
"""

from .grid import (
    COLUMNS,
    EXACT_METHODS,
    GRID_METHODS,
    TABLE_COLUMNS,
    TIE_TOL,
    UNCLIPPED,
    choose_best,
    grid_verdicts,
    run_grid,
)
from .reach import (
    TARGET_NAME,
    nearness_table,
    pixel_range,
    reach_keys,
    reach_summary,
    reach_table,
    reachability,
)
from .tables import (
    choice_summary,
    closest_output_errors,
    loss_decrease,
    per_network,
    summarize_grid,
    target_comparison,
)

__all__ = [
    "COLUMNS",
    "EXACT_METHODS",
    "GRID_METHODS",
    "TABLE_COLUMNS",
    "TARGET_NAME",
    "TIE_TOL",
    "UNCLIPPED",
    "choice_summary",
    "choose_best",
    "closest_output_errors",
    "grid_verdicts",
    "loss_decrease",
    "nearness_table",
    "per_network",
    "pixel_range",
    "reach_keys",
    "reach_summary",
    "reach_table",
    "reachability",
    "run_grid",
    "summarize_grid",
    "target_comparison",
]
