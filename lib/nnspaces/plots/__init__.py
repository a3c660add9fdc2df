"""Figures of the book. Every function returns a ``matplotlib.figure.Figure`` and draws
nothing it did not compute from its arguments."""

from . import (
    certificate,  # noqa: F401  (κ and distance per step of nearest.refine)
    released,  # noqa: F401  (figures of the re-enacted released ResNet procedure)
    trainlength,  # noqa: F401  (condition number against SGD steps and training images)
)
from .grid import image_grid
from .models import output_histograms, training_curves
from .spaces import (
    kernel_signal_figure,
    null_energy_plot,
    signal_space_figure,
    singular_value_plot,
)
from .stats import distribution_plot, interval_plot  # noqa: F401

__all__ = [
    "image_grid",
    "kernel_signal_figure",
    "null_energy_plot",
    "output_histograms",
    "signal_space_figure",
    "singular_value_plot",
    "training_curves",
]
