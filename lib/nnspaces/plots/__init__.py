"""Figures of the book. Every function returns a ``matplotlib.figure.Figure`` and draws
nothing it did not compute from its arguments."""

from .grid import image_grid
from .models import output_histograms, training_curves

__all__ = ["image_grid", "output_histograms", "training_curves"]
