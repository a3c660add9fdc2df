"""The seeds chapter's condition (nnspaces.verdicts.seeds): Holm-adjusted, against seed_spread."""

from __future__ import annotations

import pandas as pd
import pytest

from nnspaces import summary
from nnspaces.verdicts import seeds


def _spread(cond, acc, n=5):
    table = pd.DataFrame(
        {"seed": range(n), "cond_fcnn1": cond[:n], "val_acc_fcnn1": acc[:n], "acc_fcnn1": acc[:n]}
    )
    return summary.seed_spread(table)


def test_familywise_error_of_five_at_95():
    assert seeds.familywise_error(0.95, 5) == pytest.approx(1 - 0.95**5)
    assert seeds.familywise_error(0.95, 1) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        seeds.familywise_error(95, 5)


def test_consistent_with_seeds_reads_the_holm_adjusted_p():
    sp = _spread([7.0, 7.2, 7.4, 7.1, 7.3], [0.80, 0.81, 0.82, 0.80, 0.81])
    assert seeds.consistent_with_seeds(sp, "cond_fcnn1")
    v = seeds.consistent_with_seeds(sp, "val_acc_fcnn1")
    assert not v and "Holm-adjusted p" in v.reason
    assert sp.loc["val_acc_fcnn1", "p (Holm)"] < seeds.ALPHA


def test_the_threshold_edge_and_the_adjustment():
    # one quantity inside its own 95 % interval (p = 0.03 > ... no: p < 0.05), yet after
    # adjustment over the family it may still hold; the edge: p (Holm) == alpha holds
    sp = pd.DataFrame(
        {
            "paper": [1.0, 2.0],
            "n": [5, 5],
            "mean": [1.0, 2.0],
            "std": [0.1, 0.1],
            "p (Holm)": [0.05, 0.0499],
        },
        index=["a", "b"],
    )
    assert seeds.consistent_with_seeds(sp, "a")
    assert not seeds.consistent_with_seeds(sp, "b")
    assert seeds.consistent_with_seeds(sp, "b", alpha=0.04)


def test_nothing_to_compare_does_not_hold():
    sp = _spread([7.0, 7.2, 7.4], [0.80, 0.81, 0.82], n=3)
    v = seeds.consistent_with_seeds(sp, "cond_resnet")
    assert not v and "not computed" in v.reason
    v = seeds.consistent_with_seeds(sp, "acc_fcnn1")  # test accuracy: no paper value
    assert not v and "no value" in v.reason
    one = _spread([7.0], [0.8], n=1)
    v = seeds.consistent_with_seeds(one, "cond_fcnn1")
    assert not v and "no spread" in v.reason
