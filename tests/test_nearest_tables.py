"""Tests of nnspaces.nearest.tables: the per-digit table, the per-network summary and its
glue keys."""

from __future__ import annotations

import math

import pytest
from nearest_problems import small_run_data

from nnspaces import nearest


@pytest.fixture(scope="module")
def small_run():
    return small_run_data()


def test_table_summary_and_keys(small_run):
    _, _, _, gn, ref = small_run
    df = nearest.table(gn, ref, network="fcnn5")
    assert len(df) == 3 and (df["gained"] > 0).all()
    assert df["distance"].tolist() == [r.distance for r in ref]
    summary = nearest.summarize(df)
    row = summary.loc["fcnn5"]
    assert row["nearer"] == 3 and row["digits"] == 3
    assert row["kinked"] == int((df["kinks"] > 0).sum())
    assert row["gained_min"] == pytest.approx(df["gained"].min())
    keys = nearest.summary_keys(summary)
    assert keys["near_nearer_fcnn5"] == 3 and math.isnan(keys["near_nearer_fcnn1"])
    with pytest.raises(ValueError, match="2 Gauss–Newton results but 3"):
        nearest.table(gn[:2], ref)
