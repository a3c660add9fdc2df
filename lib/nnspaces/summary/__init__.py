"""Summaries the chapters quote: results at a glance, the spread over seeds, the Figure 2
layer at initialisation, and two data sets side by side.

Modules
-------
headline   figure_spaces, headline_numbers, results_table, results_display, accuracies,
           initial_condition_fcnn1,
           TOLERANCE — every number the paper reports beside this run's
seeds      seed_study, t_intervals, prediction_p_value, holm, seed_spread, position,
           spread_display, spectrum_spread, PAPER_VALUE, QUANTITY — the spread over training seeds, with t
           intervals and Holm-adjusted p-values
initial    init_condition_numbers, init_numbers — the Figure 2 condition number over random
           initialisations
datasets   compare_datasets — the headline numbers on MNIST and Fashion-MNIST
"""

from .datasets import compare_datasets
from .headline import (
    TOLERANCE,
    accuracies,
    figure_spaces,
    headline_numbers,
    initial_condition_fcnn1,
    results_display,
    results_table,
)
from .initial import init_condition_numbers, init_numbers
from .seeds import (
    PAPER_VALUE,
    QUANTITY,
    holm,
    position,
    prediction_p_value,
    seed_spread,
    seed_study,
    spectrum_spread,
    spread_display,
    t_intervals,
)

__all__ = [
    "PAPER_VALUE",
    "QUANTITY",
    "TOLERANCE",
    "accuracies",
    "compare_datasets",
    "figure_spaces",
    "headline_numbers",
    "holm",
    "initial_condition_fcnn1",
    "init_condition_numbers",
    "init_numbers",
    "position",
    "prediction_p_value",
    "results_display",
    "results_table",
    "seed_spread",
    "seed_study",
    "spectrum_spread",
    "spread_display",
    "t_intervals",
]
