"""Summaries the chapters quote: results at a glance, the spread over seeds, the Figure 2
layer at initialisation, and two data sets side by side.

Modules
-------
headline   figure_spaces, headline_numbers, results_table, TOLERANCE — every number the paper
           reports beside this run's
seeds      seed_study, t_intervals, seed_spread, paper_comparison, position, spectrum_spread,
           PAPER_VALUE, QUANTITY — the spread over training seeds, with t intervals
init       init_condition_numbers, init_claims — the Figure 2 condition number over random
           initialisations
datasets   compare_datasets — the headline numbers on MNIST and Fashion-MNIST
"""

from .datasets import compare_datasets
from .headline import TOLERANCE, figure_spaces, headline_numbers, results_table
from .init import init_claims, init_condition_numbers
from .seeds import (
    PAPER_VALUE,
    QUANTITY,
    paper_comparison,
    position,
    seed_spread,
    seed_study,
    spectrum_spread,
    t_intervals,
)

__all__ = [
    "PAPER_VALUE",
    "QUANTITY",
    "TOLERANCE",
    "compare_datasets",
    "figure_spaces",
    "headline_numbers",
    "init_claims",
    "init_condition_numbers",
    "paper_comparison",
    "position",
    "results_table",
    "seed_spread",
    "seed_study",
    "spectrum_spread",
    "t_intervals",
]
