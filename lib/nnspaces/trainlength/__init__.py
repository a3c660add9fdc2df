"""How a layer's condition number and the test accuracy evolve with the number of SGD steps.

The book's default profile trains on 3 500 images for 20 epochs: ``ceil(3500/32)·20 = 2 200``
SGD steps of batch 32. The paper trained on 50 000 images for 20 epochs:
``ceil(50000/32)·20 = 31 260`` steps (:data:`PAPER_STEPS`). :func:`training_curve` trains a
network with the paper's recipe (the same initial weights, mini-batch order and optimiser as
:func:`nnspaces.train.train_or_load`) on the given images for up to that many steps, and
records at log-spaced step counts the condition number of its first weight matrix and its
test accuracy. The curve is cached on disk.

Both step counts differ from the paper's in two ways at once: the number of SGD steps and the
number of distinct images. :func:`size_curves` adds the other axis: the same number of steps
on training sets of several sizes (:func:`data_sizes`), several runs per size, and
:func:`size_effect` fits the change per doubling of the images, beside
:func:`steps_effect`'s change per doubling of the steps.

Modules
-------
- ``curve`` — one training run's curve (:func:`training_curve`) and what is read off it.
- ``sizes`` — the data-size axis (:func:`size_curves`) and its fitted effects.
"""

from .curve import (
    COLUMNS,
    MAX_STEPS,
    PAPER_STEPS,
    at_step,
    record_steps,
    rows_at,
    same_run_pairs,
    steps_effect,
    steps_for,
    training_curve,
)
from .sizes import (
    REPLICATES,
    data_sizes,
    size_curves,
    size_effect,
    size_table,
    steps_effect_runs,
)

__all__ = [
    "COLUMNS",
    "MAX_STEPS",
    "PAPER_STEPS",
    "REPLICATES",
    "at_step",
    "data_sizes",
    "record_steps",
    "rows_at",
    "same_run_pairs",
    "size_curves",
    "size_effect",
    "size_table",
    "steps_effect",
    "steps_effect_runs",
    "steps_for",
    "training_curve",
]
