"""The numbers the paper reports, and what its released code printed, in one place.

Chapters compare against these; the prose quotes them by gluing them from here.
"""

from __future__ import annotations

#: Test accuracy the paper reports for each network (Figure 3 caption), as a fraction.
ACCURACY = {"fcnn1": 0.92, "fcnn5": 0.97, "resnet18": 0.99}

#: Condition number σ_max/σ_min of the 1-layer FCNN's weight matrix W (10×784), Figure 1.
CONDITION_FCNN1 = 7.22

#: Condition number of ResNet18 ``layer1[0].conv1`` in the kernels view (4096×9), Figure 2.
CONDITION_RESNET_LAYER = 1.07

#: Training images of the released code (60 000 MNIST training images split 50 000 / 10 000).
TRAIN_IMAGES = 50_000

#: The ResNet18 layer of Figure 2.
RESNET_LAYER = "layer1.0.conv1"

#: What the released notebook's own run printed (validation accuracy, condition numbers).
RELEASED_RUN = {
    "fcnn1_val_acc": 0.9168,
    "fcnn1_condition": 7.33,
    "fcnn1_sigma_max": 4.507,
    "fcnn1_sigma_min": 0.615,
    "fcnn5_val_acc": 0.9677,
    "resnet18_val_acc": 0.9922,
    "resnet_layer_condition": 1.069,
}

#: The released "+training" log (NOTES §2): relative change of the loss over its 100 SGD steps,
#: (smallest, largest) over the ten digits; negative = the loss fell. ResNet18's rose (it ran
#: in training mode).
RELEASED_SGD_LOSS_CHANGE = {
    "fcnn1": (-0.035, -0.017),
    "fcnn5": (-0.017, -0.004),
    "resnet18": (0.02, 0.07),
}


#: The data sets on which the paper's numbers were measured (MNIST and its subset).
DATASETS = ("mnist", "mnist-5k")


def verdict(ours: float, paper: float, rel_tol: float = 0.05, dataset: str = "mnist") -> str:
    """One line comparing a reproduced number with the paper's.

    Parameters
    ----------
    ours, paper : float
    rel_tol : float
        Relative difference still called a match.
    dataset : str
        The data ``ours`` was measured on; off MNIST there is nothing to compare with.

    Examples
    --------
    >>> verdict(7.3, 7.22)
    'matches (+1.1 %)'
    >>> verdict(0.80, 0.92)
    'lower by 13.0 %'
    >>> verdict(3.0, 7.22, dataset="fashion-mnist")
    'no paper value (the paper used MNIST)'
    """
    if dataset not in DATASETS:
        return "no paper value (the paper used MNIST)"
    diff = (ours - paper) / abs(paper)
    if abs(diff) <= rel_tol:
        return f"matches ({100 * diff:+.1f} %)"
    return f"{'higher' if diff > 0 else 'lower'} by {100 * abs(diff):.1f} %"
