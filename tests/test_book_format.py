"""Numbers, tables and figures as a reader sees them: book.fmt, book.table_html and the
legibility check of book.glue_figure."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnspaces import book


@pytest.mark.parametrize(
    "value, spec, text",
    [
        (1.234e-16, "sci", "1.2 × 10⁻¹⁶"),
        (-3.0e5, "sci3", "−3.00 × 10⁵"),
        (0.0, "sci", "0"),
        (4.2, "sci", "4.2"),
        (3500, "", "3,500"),
        (3500.0, ",d", "3,500"),
        (10.0, "", "10"),
        (np.float32(0.5), ".1%", "50.0%"),
        (-0.034, "+.1f", "−0.0"),
        (np.nan, ".3f", "—"),
        (None, "", "—"),
        (True, "", "yes"),
        ("fcnn1", ".3f", "fcnn1"),
    ],
)
def test_fmt(value, spec, text):
    assert book.fmt(value, spec) == text


def test_a_table_for_readers():
    df = pd.DataFrame(
        {"net": ["fcnn1", "resnet18"], "err": [1e-16, np.nan], "n": [10.0, 3500.0]},
        index=[7, 8],
    )
    html = book.table_html(df, {"err": "sci"}, headers={"net": "network", "err": "error"})
    assert html.startswith('<table class="nnspaces-table">')
    assert '<th class="text">network</th>' in html and '<th class="num">error</th>' in html
    assert "1.0 × 10⁻¹⁶" in html and "0.000" not in html and "—" in html
    assert ">3,500<" in html and ">10<" in html and "10.000000" not in html
    assert ">7<" not in html  # no index
    for bad in ("NaN", "nan", "None"):
        assert bad not in html


def _png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_smallest_text_is_the_smallest_font_in_png_pixels():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.set_title("title", fontsize=12)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("x", fontsize=9)
    text_px, width_px = book.smallest_text_px(fig, dpi=100)
    png, record = book.figure_png(fig, dpi=100)
    plt.close(fig)
    assert text_px == pytest.approx(7 / 72 * 100)
    # the record's width is the PNG's own (independent reader: PIL): the tight bounding
    # box plus savefig's padding of 0.1 in on each side
    assert record["width_px"] == _png_size(png)[0]
    assert abs(width_px + 2 * 0.1 * 100 - record["width_px"]) <= 2


def test_hidden_and_empty_text_does_not_count():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.set_title("")
    ax.text(0.5, 0.5, "tiny", fontsize=2).set_visible(False)
    ax.tick_params(labelsize=10)
    text_px, _ = book.smallest_text_px(fig, dpi=72)
    plt.close(fig)
    assert text_px == pytest.approx(10)


def test_a_figure_too_small_to_read_is_refused_and_a_legible_one_glued(monkeypatch):
    import myst_nb.ext.glue as g

    shown = []
    monkeypatch.setattr(g, "ipy_display", lambda bundle, raw, metadata: shown.append(metadata))
    wide, ax = plt.subplots(figsize=(14, 2))  # 14 in shown in a 688-px column
    ax.tick_params(labelsize=8)
    with pytest.raises(ValueError, match="smallest text is .* px"):
        book.glue_figure("wide", wide)
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.tick_params(labelsize=9)
    assert book.glue_figure("ok", fig) is None  # a cell ending with it shows nothing
    (meta,) = shown
    record = meta["image/png"][book.FIGURE_METADATA]
    assert record["min_text_css_px"] >= book.MIN_TEXT_PX
    assert record["min_text_css_px"] == pytest.approx(
        record["min_text_px"] * min(1, book.COLUMN_PX / record["width_px"])
    )
    assert plt.get_fignums() == []  # both closed
