"""nnspaces.paper: the paper's numbers hang together, and the verdict's wording."""

import math
import re

import pytest

from nnspaces import paper


def test_verdict_wording_and_tolerance():
    assert paper.verdict(7.22, 7.22) == "matches (+0.0 %)"
    assert paper.verdict(7.22 * 1.087, 7.22) == "8.7 % higher"
    assert paper.verdict(7.22 * 0.922, 7.22) == "7.8 % lower"  # no "lower by −2 %"
    assert paper.verdict(7.22 * 0.97, 7.22) == "matches (\u22123.0 %)"  # a true minus sign
    assert paper.verdict(7.22 * 1.049, 7.22) == "matches (+4.9 %)"
    assert paper.verdict(7.22 * 1.051, 7.22) == "5.1 % higher"
    for dataset in paper.DATASETS:
        assert paper.verdict(7.3, 7.22, dataset=dataset).startswith("matches")
    assert paper.verdict(7.3, 7.22, dataset="fashion-mnist") == (
        "no paper value (the paper used MNIST)"
    )


def test_accuracy_verdict_in_points():
    assert paper.accuracy_verdict(0.886, 0.92) == "3.4 points lower"
    assert paper.accuracy_verdict(0.93, 0.92) == "matches (+1.0 points)"
    assert paper.accuracy_verdict(0.915, 0.92) == "matches (\u22120.5 points)"
    assert paper.accuracy_verdict(0.95, 0.92, tol_points=2) == "3.0 points higher"
    assert paper.accuracy_verdict(0.9, 0.92, dataset="fashion-mnist").startswith("no paper")


def test_the_paper_measured_on_mnist_the_subset_is_the_books():
    assert paper.DATASET == "mnist" and paper.DATASET in paper.DATASETS


def test_the_released_run_is_consistent_with_itself_and_the_paper():
    run = paper.RELEASED_RUN
    # the printed condition number is the ratio of the printed singular values (3 digits)
    assert run["fcnn1_sigma_max"] / run["fcnn1_sigma_min"] == pytest.approx(
        run["fcnn1_condition"], abs=0.01
    )
    # the paper's figures round the released run's numbers
    assert math.isclose(run["resnet_layer_condition"], paper.CONDITION_RESNET_LAYER, abs_tol=0.01)
    for name, acc in paper.ACCURACY.items():
        assert abs(run[f"{name}_val_acc"] - acc) < 0.01, name
    for lo, hi in paper.RELEASED_SGD_LOSS_CHANGE.values():
        assert lo <= hi


def test_the_figure_2_layer_is_a_resnet18_convolution():
    from nnspaces import models, spaces

    conv = spaces.conv_layer(models.build("resnet18"), paper.RESNET_LAYER)
    assert tuple(conv.weight.shape) == (64, 64, 3, 3)  # the 4096 × 9 kernels view


def test_the_captions_state_the_numbers_the_book_compares_with():
    assert set(paper.CAPTIONS) == {1, 2, 3}
    assert f"condition number is {paper.CONDITION_FCNN1}" in paper.CAPTION_FIGURE1
    last = re.search(r"\\sigma_(\d+) v_\1\$", paper.CAPTION_FIGURE1)  # the last σ_i v_i shown
    assert int(last.group(1)) + 1 == paper.SIGNAL_DIM_FCNN1
    assert f"{paper.CONDITION_RESNET_LAYER} condition number" in paper.CAPTION_FIGURE2
    assert f"({100 * paper.ACCURACY['resnet18']:.0f}% accuracy" in paper.CAPTION_FIGURE2
    accs = re.findall(r"\((\d+)% accuracy\)", paper.CAPTION_FIGURE3)
    assert [int(a) / 100 for a in accs] == list(paper.ACCURACY.values())


def test_the_figure_3_choices_are_the_captions():
    # an independent reading of the caption: each "row: ...", each "<start>-img[+training]
    # for <digits>" in it
    names = {"avg": "avg", "min": "min", "avg-min": "avg-min"}
    rows = re.split(r"(?:Top|Middle|Bottom) row: ", paper.CAPTION_FIGURE3)[1:]
    parsed = {}
    for net, row in zip(paper.FIGURE3_CHOICES, rows):
        groups = re.findall(r"([a-z-]+)-img(\+training)? for ([\d, and]+)", row)
        parsed[net] = tuple(
            (
                names[start],
                "paper-sgd" if training else "none",
                tuple(int(d) for d in re.findall(r"\d", digits)),
            )
            for start, training, digits in groups
        )
    assert parsed == paper.FIGURE3_CHOICES
