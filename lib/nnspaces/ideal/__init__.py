"""Ideal input images (the paper's Figure 3) and which outputs an image can reach.

Public API
----------
- :func:`run_grid` — every network × digit × start image × method, as a table.
- :func:`choose_best` — the automatic per-digit choice that replaces the paper's choice by eye.
- :func:`grid_verdicts` — the facts the Figure 3 chapter states about its grid, computed.
- :func:`paper_recipe` — Figure 3 as the paper's caption describes it (its start image and
  procedure per digit, run as released); :func:`caption_choices`, :func:`class_spread`,
  :func:`rule_vs_recipe`, :func:`released_log_change` — its choices, the distances it is
  read against, and the released log's loss change counted as the log counts it.
- :func:`reachability` — per digit: is the target reached by an image inside the box?
- :func:`summarize_grid`, :func:`choice_summary`, :func:`loss_decrease`, :func:`reach_summary`,
  :func:`pixel_range`, :func:`target_comparison`, :func:`closest_output_errors` — the tables
  and numbers the chapters quote;
  :func:`per_network`, :func:`reach_keys` — those numbers keyed for glue, one key for every
  network of the book; :func:`reach_table`, :func:`nearness_table` — the reachability
  chapter's tables with human headers.
- :func:`short_label` — ``start+method`` in short names (:data:`METHOD_ABBREV`);
  :func:`method_table` — a per-method summary as a row per network (:data:`METHOD_LABELS`).
- Constants: :data:`GRID_METHODS`, :data:`TIE_TOL`, :data:`UNCLIPPED`, :data:`EXACT_METHODS`,
  :data:`COLUMNS` (the grid's table), :data:`TABLE_COLUMNS` (those a chapter shows),
  :data:`RECIPE_COLUMNS` (:func:`paper_recipe`'s table).

Modules
-------
- ``grid`` — the grid (:func:`run_grid`), its choice rule (:func:`choose_best`), its verdicts
  and constants, :func:`short_label`.
- ``recipe`` — the caption's Figure 3, run as released.
- ``reach`` — reachability of the targets inside the box, its summary and glue keys.
- ``tables`` — the grid's summary tables (:func:`method_table`), target comparisons and
  :func:`per_network` keys.
"""

from .grid import (
    COLUMNS,
    EXACT_METHODS,
    GRID_METHODS,
    METHOD_ABBREV,
    TABLE_COLUMNS,
    TIE_TOL,
    UNCLIPPED,
    choose_best,
    grid_verdicts,
    run_grid,
    short_label,
)
from .reach import (
    TARGET_NAME,
    nearness_table,
    pixel_range,
    reach_keys,
    reach_summary,
    reach_table,
    reachability,
    text_keys,
)
from .recipe import (
    RECIPE_COLUMNS,
    caption_choices,
    class_spread,
    paper_recipe,
    released_log_change,
    rule_vs_recipe,
)
from .tables import (
    METHOD_LABELS,
    choice_summary,
    closest_output_errors,
    loss_decrease,
    method_table,
    per_network,
    summarize_grid,
    target_comparison,
)

__all__ = [
    "COLUMNS",
    "EXACT_METHODS",
    "GRID_METHODS",
    "METHOD_ABBREV",
    "METHOD_LABELS",
    "RECIPE_COLUMNS",
    "TABLE_COLUMNS",
    "TARGET_NAME",
    "TIE_TOL",
    "UNCLIPPED",
    "caption_choices",
    "class_spread",
    "choice_summary",
    "choose_best",
    "closest_output_errors",
    "grid_verdicts",
    "loss_decrease",
    "nearness_table",
    "per_network",
    "method_table",
    "paper_recipe",
    "pixel_range",
    "reach_keys",
    "reach_summary",
    "reach_table",
    "reachability",
    "released_log_change",
    "rule_vs_recipe",
    "run_grid",
    "short_label",
    "summarize_grid",
    "target_comparison",
    "text_keys",
]
