"""The released ResNet "+training", re-enacted: a network left in training mode.

The released notebook rebuilds ResNet18, loads ``final_model_resnet`` into it and never calls
``eval()``, so everything it then computes with the ResNet runs in *training mode*, where every
BatchNorm layer normalises with the statistics of the batch in hand (NOTES §2):

1. the outputs over the training images (histograms and targets) come from batches of 32 real
   images — batch statistics; each pass also moves the running statistics (a moving average);
2. the targets are the released min/max ones built from those outputs (:func:`released_targets`);
3. the "min" start image is the class image whose output is nearest (MSE) the target, each
   candidate passed through the network as 32 copies of itself;
4. "+training" optimises a batch of 32 copies of the start image, the target broadcast against
   the batch, by plain SGD (lr 1e-4, momentum 0, 100 steps, last iterate, no clipping): the
   loss is a mean over the copies, so each copy moves by lr/32 times its image's gradient.

With 32 identical images, a BatchNorm layer whose maps are 1×1 (all of ResNet18's ``layer4`` on
28×28 inputs) sees a batch variance of zero: it outputs its shift ``β`` whatever the image, and
the network's output no longer depends on the image. :func:`reenact` runs the whole procedure on
a copy of a trained network, beside the same procedure in eval mode changed one thing at a
time: the 32 copies and the released step, then one image (a 32 times larger step, as
:func:`nnspaces.inverse.invert_classes` with ``"paper-sgd"``).

Public API
----------
- :data:`BATCH_SIZE` — the released batch (and number of copies), 32.
- :func:`released_targets` — ``T[c] = [min_c, …, max_c (at c), …, min_c]`` from outputs.
- :func:`batch_outputs` — outputs over a data set in shuffled batches, in the model's mode.
- :func:`copies_outputs` — each image's outputs when passed as ``copies`` identical copies.
- :func:`nearest_start` — the released "min" start image from such outputs; :func:`choice_range`
  — how decisive that choice is.
- :func:`near_binary_fraction` — how black-and-white images are.
- :func:`input_sgd` — the released input optimisation on one start image.
- :func:`running_stat_drift` — how far BatchNorm running statistics moved.
- :func:`reenact` → :class:`Reenactment` — the released and the corrected procedure, per class.
- :func:`kernel_condition` — Figure 2's condition number of a loaded network's convolution.

References
----------
R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image Analysis
using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73–76, arXiv:2402.00261.

Modules
-------
- ``passes`` — the passes over the data in the network's mode, targets, the "min" start,
  BatchNorm drift.
- ``sgd`` — the released input optimisation (:func:`input_sgd`).
- ``procedure`` — :func:`reenact`: both procedures on copies of the network.
- ``report`` — :class:`Reenactment`: its table, comparison table and quoted numbers.
- ``kernel`` — :func:`kernel_condition`.
- ``log`` — what the released notebook's logged ResNet run printed (its noise start).
"""

from . import log
from .kernel import kernel_condition
from .passes import (
    BATCH_SIZE,
    batch_outputs,
    choice_range,
    copies_outputs,
    near_binary_fraction,
    nearest_start,
    released_targets,
    running_stat_drift,
)
from .procedure import reenact
from .report import PROCEDURES, STARTS, Reenactment
from .sgd import SGDRun, input_sgd

__all__ = [
    "BATCH_SIZE",
    "PROCEDURES",
    "STARTS",
    "Reenactment",
    "SGDRun",
    "batch_outputs",
    "choice_range",
    "copies_outputs",
    "input_sgd",
    "kernel_condition",
    "log",
    "near_binary_fraction",
    "nearest_start",
    "reenact",
    "released_targets",
    "running_stat_drift",
]
