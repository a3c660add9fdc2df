"""The rerun verdict: all identical, one differs, none trained."""

import pandas as pd

from nnspaces.verdicts.reproducibility import rerun_identical


def test_all_identical_holds_and_one_difference_fails():
    df = pd.DataFrame({"model": ["fcnn5", "resnet18"], "identical": [True, True]})
    assert rerun_identical(df).holds
    df.loc[1, "identical"] = False
    v = rerun_identical(df)
    assert not v.holds and v.reason.endswith("1 of 2 networks; resnet18 differ")


def test_no_rerun_is_no_evidence():
    v = rerun_identical(pd.DataFrame({"model": [], "identical": []}))
    assert not v.holds and v.reason == "no network was trained twice"
