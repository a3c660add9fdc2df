"""nnspaces.compare: the paper's captions and numbers beside ours and Figure 3's start-image
agreement, checked against direct counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnspaces import compare, paper


def _paper_best(pick=0) -> pd.DataFrame:
    """A choose_best-like table holding, per network and digit, the paper's ``pick``-th choice."""
    rows = [
        {"network": net, "digit": d, "start": pairs[min(pick, len(pairs) - 1)][0],
         "method": pairs[min(pick, len(pairs) - 1)][1]}
        for (net, d), pairs in compare.paper_choices().items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_caption_is_quoted_from_the_paper_constants():
    for k, text in paper.CAPTIONS.items():
        md = compare.caption_markdown(k)
        assert md.startswith(f"> **The paper's Figure {k}**") and text in md
    with pytest.raises(ValueError, match="Figures"):
        compare.caption_markdown(4)


def test_paper_choices_name_every_digit_of_every_network():
    ch = compare.paper_choices()
    assert sorted(ch) == sorted((n, d) for n in paper.FIGURE3_CHOICES for d in range(10))
    # one choice per digit, but ResNet18's 4, which the caption names twice
    assert {k: len(v) for k, v in ch.items() if len(v) != 1} == {("resnet18", 4): 2}


def test_the_paper_own_choices_agree_with_themselves_everywhere():
    for pick in (0, 1):
        t = compare.start_agreement(_paper_best(pick))
        assert len(t) == 30 and t["same_start"].all() and t["same_method"].all()
    assert (t.groupby("network")["same_start"].sum() == 10).all()


def test_start_agreement_counts_as_a_direct_comparison():
    rng = np.random.default_rng(0)
    best = _paper_best()
    best["start"] = rng.choice(["avg", "min", "avg-min", "noise"], size=len(best))
    best["method"] = "gauss-newton"
    t = compare.start_agreement(best)
    ch = compare.paper_choices()
    expected = [
        s in {p for p, _ in ch[(n, d)]} for n, d, s in zip(best.network, best.digit, best.start)
    ]
    assert t["same_start"].tolist() == expected and not t["same_method"].any()
    assert t["ours"].str.endswith("+gauss-newton").all()
    assert (t["start"] == best["start"]).all() and (t["method"] == "gauss-newton").all()
    # only the networks run are compared
    sub = compare.start_agreement(best[best.network == "fcnn1"])
    assert len(sub) == 10 and sub["same_start"].tolist() == expected[:10]


def test_a_start_that_led_to_the_same_image_counts_as_the_paper_start():
    """When several start images end at the chosen image (choose_best's ``same_image``), the
    paper's start is picked if it is one of them, and the line says how often that happened."""
    best = _paper_best()
    paper_starts = compare.paper_choices()
    best["method"] = "closed-form"
    best["start"] = "noise"  # never the paper's start below: other starts lead to our image
    others = [
        ",".join(sorted({p for p, _ in paper_starts[(n, d)]} | {"noise"}))
        for n, d in zip(best.network, best.digit)
    ]
    best["same_image"] = others
    t = compare.start_agreement(best)
    assert t["same_start"].all() and (t["starts_same_image"] >= 2).all()
    best["same_image"] = "noise"  # only itself: back to the direct comparison
    t = compare.start_agreement(best)
    direct = [
        "noise" in {p for p, _ in paper_starts[(n, d)]} for n, d in zip(best.network, best.digit)
    ]
    assert t["same_start"].tolist() == direct and (t["starts_same_image"] == 1).all()


def test_start_agreement_refuses_what_the_paper_does_not_show():
    with pytest.raises(ValueError, match="missing"):
        compare.start_agreement(pd.DataFrame({"network": ["fcnn1"], "digit": [0]}))
    bad = pd.DataFrame({"network": ["vgg"], "digit": [0], "start": ["avg"], "method": ["none"]})
    with pytest.raises(ValueError, match="no image for network 'vgg'"):
        compare.start_agreement(bad)


def test_the_agreement_table_is_one_row_per_digit_and_narrow():
    t = compare.start_agreement(_paper_best())
    table = compare.agreement_table(t).set_index("digit")
    assert table.shape == (10, 6)  # 3 networks × (caption, rule)
    assert table.loc[2, "1-layer FCNN: caption"] == "min+SGD"
    assert table.loc[2, "1-layer FCNN: rule"] == "min+SGD ✓"
    assert table.loc[4, "ResNet18: caption"] == "avg or avg-min"
    assert table.loc[4, "ResNet18: rule"] == "avg ✓"
    t.loc[t.network == "fcnn5", "same_start"] = False
    table = compare.agreement_table(t).set_index("digit")
    assert not table["5-layer FCNN: rule"].str.contains("✓").any()


def test_numbers_table_formats_each_row_and_drops_the_paper_off_mnist():
    rows = {
        "condition number": (3.6089, 7.22, 7.33, ".2f"),
        "validation accuracy": (0.8861, 0.92, 0.9168, ".1%"),
        "test accuracy": (0.88, None, None, ".1%"),
    }
    t = compare.numbers_table(rows)
    assert list(t.columns) == ["quantity", "this run", "paper", "released run"]
    assert t.values.tolist() == [
        ["condition number", "3.61", "7.22", "7.33"],
        ["validation accuracy", "88.6%", "92.0%", "91.7%"],
        ["test accuracy", "88.0%", "—", "—"],
    ]
    off = compare.numbers_table(rows, with_paper=False)
    assert list(off.columns) == ["quantity", "this run"] and off.shape == (3, 2)
