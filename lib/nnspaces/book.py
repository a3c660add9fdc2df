"""Small helpers the chapter notebooks use to put computed results into the prose.

They wrap ``myst_nb.glue`` so that a glued figure is not also shown where it was made (and
is checked for legible text first), a glued sentence renders without Python's quotes, and a
table reads like a paper's (:func:`fmt`, :func:`table_html`). :func:`glue_verdict` glues
whether a conclusion, written in the markdown inside a ``{verdict}`` block
(:mod:`nnspaces.sphinxext`), holds on this run and why (:mod:`nnspaces.claims` reads every
chapter's verdicts back for the reproducibility appendix).
"""

from __future__ import annotations

import re

import pandas as pd


class Text(str):
    """A string whose ``repr`` is itself, so ``{glue:text}`` shows it without quotes."""

    def __repr__(self) -> str:
        return str(self)


#: Width of the text column at a 1280 px window, in CSS px (sphinx-book-theme 1.1.2: the
#: article is 752 px, less its padding).
COLUMN_PX = 688
#: The smallest text a figure may show at :data:`COLUMN_PX`, in CSS px.
MIN_TEXT_PX = 9.0
#: Resolution of the glued PNGs: a 7-inch figure is 1 050 px, sharp at 1.4× zoom.
FIGURE_DPI = 150
#: Where a glued figure's PNG output keeps its record (output metadata).
FIGURE_METADATA = "nnspaces_figure"


def smallest_text_px(fig, dpi: float = FIGURE_DPI) -> tuple[float, float]:
    """The smallest visible text of a figure and the figure's width, in pixels of its PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A drawn figure (``fig.canvas.draw()`` is called).
    dpi : float
        The resolution it will be saved at.

    Returns
    -------
    text_px : float
        Height of the smallest font of any visible, non-empty text (ticks, labels, titles,
        legends, annotations), ``points / 72 * dpi``; ``inf`` when there is none.
    width_px : float
        Width of the figure's tight bounding box (``savefig(..., bbox_inches="tight")``
        adds ``pad_inches`` on each side).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(4, 2))
    >>> _ = ax.set_title("t", fontsize=12); _ = ax.tick_params(labelsize=6)
    >>> text_px, width_px = smallest_text_px(fig, dpi=100)
    >>> round(text_px, 2)
    8.33
    >>> plt.close(fig)
    """
    from matplotlib.text import Text as MplText

    fig.canvas.draw()
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(MplText)
        if t.get_visible() and t.get_text().strip() and _drawn(t)
    ]
    bbox = fig.get_tightbbox(fig.canvas.get_renderer())
    return (min(sizes) / 72 * dpi if sizes else float("inf")), bbox.width * dpi


def _drawn(text) -> bool:
    """Whether a text artist lies in a visible axes (hidden tick labels of shared axes do not)."""
    ax = text.axes
    return ax is None or ax.get_visible()


def figure_png(fig, dpi: float = FIGURE_DPI) -> tuple[bytes, dict]:
    """The PNG bytes of a figure and its record (smallest text, width; both in PNG pixels)."""
    import io

    text_px, width_px = smallest_text_px(fig, dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    png = buf.getvalue()
    width = int.from_bytes(png[16:20], "big")  # the IHDR width: what the browser sees
    shown = min(1.0, COLUMN_PX / width)  # an image wider than the column is scaled down
    record = {"min_text_px": text_px, "width_px": width, "min_text_css_px": text_px * shown}
    return png, record


class _Png:
    def __init__(self, png: bytes, record: dict):
        self.png, self.record = png, record

    def _repr_mimebundle_(self, include=None, exclude=None):
        import base64

        data = {"image/png": base64.b64encode(self.png).decode(), "text/plain": "<Figure>"}
        return data, {"image/png": {FIGURE_METADATA: self.record}}


def glue_figure(name: str, fig, *, min_text_px: float = MIN_TEXT_PX) -> None:
    """Glue a matplotlib figure as a PNG for ``{glue:figure} name`` and close it.

    The figure is saved at :data:`FIGURE_DPI` and checked for legibility first: its smallest
    text, shown in the text column (:data:`COLUMN_PX` wide at a 1280 px window, an image
    wider than that scaled down), must be at least ``min_text_px`` CSS pixels. The record
    (smallest text in PNG and in CSS pixels, PNG width) goes into the output's metadata, from
    which the browser test checks the rendered page.

    Returns nothing, so a cell that ends with it shows nothing (:func:`figure_png` gives
    the record).

    Raises
    ------
    ValueError
        The smallest text would be below ``min_text_px`` on the page: make the figure
        narrower (at most 7 inches) or its fonts larger.
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    png, record = figure_png(fig)
    plt.close(fig)
    if record["min_text_css_px"] < min_text_px:
        raise ValueError(
            f"figure {name!r}: its smallest text is {record['min_text_css_px']:.1f} px in the "
            f"{COLUMN_PX} px column (at least {min_text_px} px wanted): make the figure "
            "narrower (at most 7 inches wide) or its smallest fonts larger"
        )
    glue(name, _Png(png, record), display=False)


def glue_text(name: str, text: str) -> None:
    """Glue a sentence or word for ``{glue:text}`name``` (rendered without quotes)."""
    from myst_nb import glue

    glue(name, Text(text), display=False)


def glue_values(prefix: str = "", **values) -> None:
    """Glue several numbers at once: ``glue_values("acc_", fcnn1=0.9)`` → key ``acc_fcnn1``.

    NumPy and torch scalars are glued as plain Python numbers, so that a format spec in
    ``{glue:text}`key:.2f``` can parse them.
    """
    from myst_nb import glue

    for key, value in values.items():
        if hasattr(value, "item"):  # numpy / torch scalars: glue the plain Python number
            value = value.item()
        glue(f"{prefix}{key}", value, display=False)


def fmt(value, spec: str = "") -> str:
    """One number as the book prints it: Python's format ``spec`` (thousands with ``,``),
    a true minus sign, ``sci`` as ``1.2 × 10⁻¹⁶``, ``—`` for a missing value.

    Parameters
    ----------
    value : number, str or None
        A number (Python, NumPy or torch scalar); strings pass through.
    spec : str
        A format spec (``".3g"``, ``",d"``, ``".1%"``, ``"+.1f"``), or ``"sci"`` /
        ``"sci3"`` for scientific notation with 2 / 3 significant digits. ``""``: integers
        with ``,``, other numbers to 4 significant digits.

    Examples
    --------
    >>> fmt(3500), fmt(-0.0123, ".2%"), fmt(1.234e-16, "sci"), fmt(float("nan")), fmt(None)
    ('3,500', '−1.23%', '1.2 × 10⁻¹⁶', '—', '—')
    >>> fmt(7.0, ",d"), fmt(0.000123), fmt(2.0)
    ('7', '0.000123', '2')
    """
    import math

    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "—"
    if spec.startswith("sci"):
        if value == 0:
            return "0"
        digits = int(spec[3:] or 2)
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        sup = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
        text = mantissa if int(exponent) == 0 else f"{mantissa} × 10{sup}"
    elif spec.endswith("d") and isinstance(value, float):
        text = format(round(value), spec)
    elif spec:
        text = format(value, spec)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int) or float(value).is_integer():
        text = format(int(value), ",d")
    else:
        text = format(value, ".4g")
    return text.replace("-", "−")


def table_html(
    df,
    formats: dict | None = None,
    *,
    headers: dict | None = None,
    numeric: set | None = None,
    links: dict | None = None,
) -> str:
    """A DataFrame as the book's HTML table: human headers, each column in its format, no
    index, numbers right-aligned, ``—`` for missing values.

    Parameters
    ----------
    df : DataFrame
        Its index is dropped (make a meaningful index a column first).
    formats : dict, optional
        Column → spec of :func:`fmt` (columns not listed: :func:`fmt`'s default; strings
        as they are).
    headers : dict, optional
        Column → header shown (columns not listed keep their name).
    numeric : set, optional
        Columns to right-align; default: every column whose values are all numbers.
    links : dict, optional
        Column → the column holding each row's link target (a relative URL; that column is
        not shown): the cell becomes a link, unless its target is empty.

    Returns
    -------
    str
        ``<table class="nnspaces-table">…</table>``.
    """
    import html

    formats, headers, links = formats or {}, headers or {}, links or {}
    shown = [c for c in df.columns if c not in links.values()]
    if numeric is None:
        numeric = {c for c in shown if pd.api.types.is_numeric_dtype(df[c])}
    head = "".join(
        f'<th class="{"num" if c in numeric else "text"}">{html.escape(str(headers.get(c, c)))}</th>'
        for c in shown
    )
    rows = []
    for row in df.to_dict("records"):
        cells = ""
        for c in shown:
            text = html.escape(fmt(row[c], formats.get(c, "")))
            href = row[links[c]] if c in links else ""
            if href:
                text = f'<a href="{html.escape(href)}">{text}</a>'
            cells += f'<td class="{"num" if c in numeric else "text"}">{text}</td>'
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="nnspaces-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def glue_table(
    name: str,
    df,
    formats: dict | None = None,
    *,
    headers: dict | None = None,
    numeric: set | None = None,
    links: dict | None = None,
) -> None:
    """Glue a DataFrame as the book's table (:func:`table_html`) for a ``{glue:} name``
    directive; the directive's surrounding ``{table}`` or caption gives its number."""
    from IPython.display import HTML
    from myst_nb import glue

    html = table_html(df, formats, headers=headers, numeric=numeric, links=links)
    glue(name, HTML(html), display=False)


def glue_markdown(name: str, markdown: str) -> None:
    """Glue MyST markdown (a list, a table, a paragraph with roles) for a ``{glue:md}``
    directive with ``:format: myst``."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(markdown), display=False)


def listing(items, code: bool = False) -> str:
    """Items in a sentence: ``a``, ``a and b``, ``a, b and c`` (each in backticks when
    ``code``); ``none`` when empty.

    >>> listing(["fc", "layer2.0.conv1"], code=True)
    '`fc` and `layer2.0.conv1`'
    >>> listing([1, 2, 3])
    '1, 2 and 3'
    """
    words = [f"`{i}`" if code else str(i) for i in items]
    if not words:
        return "none"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


#: Where a verdict's glue output keeps its record (the output metadata of its text/plain).
CLAIM_METADATA = "nnspaces_claim"

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

#: Every verdict glued in this kernel, in order: dicts with ``key``, ``holds``, ``reason``
#: and ``kind`` (what the reproducibility appendix lists). A verdict glued again under the
#: same key (a cell run twice) replaces the earlier one.
CLAIMS: list[dict] = []


class _Truth:
    """A glued boolean (``text/plain`` ``True``/``False``) carrying its record as metadata."""

    def __init__(self, holds: bool, record: dict):
        self.holds, self.record = holds, record

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self.holds)}, {"text/plain": {CLAIM_METADATA: self.record}}


def glue_verdict(key: str, verdict) -> None:
    """Glue a conclusion's verdict for the ``{verdict} key`` block of the markdown.

    The sentence itself is written in markdown inside a ``{verdict}`` directive
    (:mod:`nnspaces.sphinxext`); this glues only whether it holds on this run and why, and
    records both for the reproducibility appendix (:func:`nnspaces.claims.collect_claims`). Returns nothing,
    so a cell ending with it shows nothing.

    Parameters
    ----------
    key : str
        The glue key (a letter, then letters, digits, ``_`` or ``-``).
    verdict : nnspaces.verdicts.Verdict
        From a condition function of :mod:`nnspaces.verdicts` (holds, reason).

    Raises
    ------
    ValueError
        A malformed key.
    TypeError
        ``verdict`` is not a :class:`~nnspaces.verdicts.Verdict` (a bare bool has no reason).
    """
    from myst_nb import glue

    from .verdicts import Verdict

    _check_key(key)
    if not isinstance(verdict, Verdict):
        raise TypeError(
            f"glue_verdict({key!r}): pass a verdicts.Verdict (holds and reason), "
            f"got {type(verdict).__name__}"
        )
    record = {"key": key, "holds": verdict.holds, "reason": verdict.reason, "kind": "verdict"}
    CLAIMS[:] = [c for c in CLAIMS if c["key"] != key]
    CLAIMS.append(record)
    glue(key, _Truth(verdict.holds, record), display=False)


def glue_flag(key: str, value: bool) -> None:
    """Glue a plain boolean for a ``{when} key`` block (prose that depends on the run's data
    set or profile, not a conclusion: nothing is recorded and nothing warns).

    Raises
    ------
    ValueError
        A malformed key, or a ``value`` that is not a bool.
    """
    from myst_nb import glue

    _check_key(key)
    if not isinstance(value, bool):
        raise ValueError(f"glue_flag({key!r}): value must be a bool, got {value!r}")
    glue(key, value, display=False)


def _check_key(key) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            f"glue key {key!r}: use a letter, then letters, digits, '_' or '-' (it is a glue "
            "key and a CSS class)"
        )
