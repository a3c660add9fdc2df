"""The two data sets side by side for readers (nnspaces.summary.datasets.datasets_table)."""

from __future__ import annotations

import pandas as pd

from nnspaces.summary.datasets import datasets_table


def test_datasets_table_names_orders_and_formats_every_row():
    t = pd.DataFrame(
        {
            "digits": {"reached_minmax_fcnn1": 0.0, "acc_fcnn1": 0.886, "cond_fcnn1": 3.6089},
            "clothing": {"reached_minmax_fcnn1": 10.0, "acc_fcnn1": 0.79, "cond_fcnn1": 4.1},
        }
    )
    shown = datasets_table(t)
    assert list(shown.columns) == ["quantity", "digits", "clothing"]
    assert shown.values.tolist() == [
        ["1-layer FCNN test accuracy", "88.6%", "79.0%"],
        ["1-layer FCNN condition number (Figure 1)", "3.61", "4.10"],
        ["1-layer FCNN: min/max targets reached in [0, 1]", "0 of 10", "10 of 10"],
    ]


def test_an_unknown_quantity_keeps_its_key_and_comes_last():
    t = pd.DataFrame({"a": {"new_thing": 1.5, "acc_fcnn5": 0.9}})
    assert datasets_table(t)["quantity"].tolist() == ["5-layer FCNN test accuracy", "new_thing"]
