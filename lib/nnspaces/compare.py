"""The paper beside the book.

- :func:`caption_markdown` — a figure's caption from the paper, quoted (for ``{glue:md}``);
- :func:`numbers_table` — this run's numbers beside the paper's and the released run's, for a
  reader's table (the Figure 1 and 2 chapters; their conclusions are
  :mod:`nnspaces.verdicts.figure1` and :mod:`~nnspaces.verdicts.figure2`);
- :func:`start_agreement`, :func:`agreement_table` — Figure 3: the start image the book's rule
  chose per digit against the one the paper's caption names (the chapter's conclusions are
  :mod:`nnspaces.verdicts.figure3`).

The explorer of one inverse problem is :mod:`nnspaces.explorer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from . import paper
from .ideal import short_label
from .models import DISPLAY_NAME

# --------------------------------------------------------------------------------------
# The paper's captions and one-line comparisons
# --------------------------------------------------------------------------------------


def caption_markdown(figure: int) -> str:
    """The paper's caption of ``figure`` (1, 2 or 3), quoted, as MyST markdown.

    >>> caption_markdown(2)[:60]
    "> **The paper's Figure 2** (its caption, quoted): “The signa"
    """
    if figure not in paper.CAPTIONS:
        raise ValueError(f"the paper has Figures {sorted(paper.CAPTIONS)}, not {figure!r}")
    return f"> **The paper's Figure {figure}** (its caption, quoted): “{paper.CAPTIONS[figure]}”"


def numbers_table(rows: Mapping[str, tuple], with_paper: bool = True) -> pd.DataFrame:
    """This run's numbers beside the paper's and the released run's, formatted for readers.

    Parameters
    ----------
    rows : mapping
        Quantity (a reader's name) → ``(this run, paper, released run, spec)``; a value may be
        None (shown as ``—``); ``spec`` is a :func:`nnspaces.book.fmt` spec for the row.
    with_paper : bool
        Keep the paper's and the released run's columns (False off MNIST, where the paper has
        no number).

    Returns
    -------
    DataFrame
        Columns ``quantity``, ``this run`` [, ``paper``, ``released run``], each cell a string,
        for :func:`nnspaces.book.glue_table`.

    Examples
    --------
    >>> numbers_table({"condition number": (3.6, 7.22, 7.33, ".2f"),
    ...                "test accuracy": (0.886, None, None, ".1%")}).values.tolist()
    [['condition number', '3.60', '7.22', '7.33'], ['test accuracy', '88.6%', '—', '—']]
    >>> list(numbers_table({"rank": (10, 10, 10, "d")}, with_paper=False).columns)
    ['quantity', 'this run']
    """
    from .book import fmt

    columns = ("this run", "paper", "released run") if with_paper else ("this run",)
    out = []
    for quantity, (*values, spec) in rows.items():
        cells = [fmt(v, spec) if v is not None else "—" for v in values[: len(columns)]]
        out.append([quantity, *cells])
    return pd.DataFrame(out, columns=["quantity", *columns])


# --------------------------------------------------------------------------------------
# Figure 3: the start image per digit, the rule's against the paper's eye
# --------------------------------------------------------------------------------------


def paper_choices(
    choices: Mapping[str, Sequence[tuple[str, str, Sequence[int]]]] = paper.FIGURE3_CHOICES,
) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """The paper's Figure 3 choices keyed by (network, digit): the (start, method) pairs its
    caption names (two for ResNet18's digit 4).

    >>> paper_choices()[("resnet18", 4)]
    [('avg', 'none'), ('avg-min', 'none')]
    """
    out: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for net, groups in choices.items():
        for start, method, digits in groups:
            for d in digits:
                out.setdefault((net, int(d)), []).append((start, method))
    return out


def start_agreement(
    best: pd.DataFrame,
    choices: Mapping[str, Sequence[tuple[str, str, Sequence[int]]]] = paper.FIGURE3_CHOICES,
) -> pd.DataFrame:
    """Per network and digit: the start image the book's rule chose against the caption's.

    Parameters
    ----------
    best : pandas.DataFrame
        :func:`nnspaces.ideal.choose_best` output (columns ``network, digit, start, method``).
    choices : mapping
        The paper's choices (default :data:`nnspaces.paper.FIGURE3_CHOICES`).

    Returns
    -------
    table : pandas.DataFrame
        One row per row of ``best``: ``network, digit, paper`` (its ``start+method`` labels,
        `` or ``-joined), ``ours`` (``start+method``), ``start`` and ``method`` (ours),
        ``same_start`` (our start image, or one that led to the same image — ``best``'s column
        ``same_image`` when present — is one the caption names for that digit),
        ``same_method`` (our method is one it names) and
        ``starts_same_image`` (how many start images led to our image).

    Raises
    ------
    ValueError
        A (network, digit) of ``best`` the paper shows no image for.

    Examples
    --------
    >>> best = pd.DataFrame({"network": ["resnet18", "fcnn1"], "digit": [4, 2],
    ...                      "start": ["avg-min", "avg"], "method": ["gauss-newton", "paper-sgd"]})
    >>> start_agreement(best)[["paper", "ours", "same_start", "same_method"]].values.tolist()
    [['avg+none or avg-min+none', 'avg-min+gauss-newton', True, False], ['min+paper-sgd', 'avg+paper-sgd', False, True]]
    """
    need = {"network", "digit", "start", "method"} - set(best.columns)
    if need:
        raise ValueError(f"start_agreement needs choose_best's columns; missing {sorted(need)}")
    theirs = paper_choices(choices)
    rows = []
    for r in best.itertuples():
        key = (r.network, int(r.digit))
        if key not in theirs:
            raise ValueError(
                f"the paper's Figure 3 has no image for network {key[0]!r} digit {key[1]}"
            )
        pairs = theirs[key]
        tied = {r.start} | set(filter(None, str(getattr(r, "same_image", "") or "").split(",")))
        rows.append(
            {
                "network": r.network,
                "digit": int(r.digit),
                "paper": " or ".join(f"{s}+{m}" for s, m in pairs),
                "ours": f"{r.start}+{r.method}",
                "start": r.start,
                "method": r.method,
                "same_start": bool(tied & {s for s, _ in pairs}),
                "same_method": r.method in {m for _, m in pairs},
                "starts_same_image": len(tied),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "network",
            "digit",
            "paper",
            "ours",
            "start",
            "method",
            "same_start",
            "same_method",
            "starts_same_image",
        ],
    )


def agreement_table(table: pd.DataFrame, names: Mapping[str, str] = DISPLAY_NAME) -> pd.DataFrame:
    """:func:`start_agreement` as a narrow table: one row per digit, two columns per network
    (the caption's choice, the rule's) in short labels (:func:`nnspaces.ideal.short_label`:
    ``avg+SGD`` is avg-img+training, ``min`` the min-img alone); a ✓ marks the rule's choices
    whose start image is the caption's.

    >>> t = pd.DataFrame({"network": ["fcnn1"], "digit": [3], "start": ["min"],
    ...                   "method": ["closed-form"], "paper": ["min+paper-sgd"],
    ...                   "same_start": [True]})
    >>> agreement_table(t).values.tolist()
    [[3, 'min+SGD', 'min+CF ✓']]
    >>> list(agreement_table(t).columns)
    ['digit', '1-layer FCNN: caption', '1-layer FCNN: rule']
    """
    out = pd.DataFrame({"digit": sorted(set(table["digit"]))})
    for net, g in table.groupby("network", sort=False):
        g = g.set_index("digit")
        caption = {
            d: " or ".join(
                short_label(*p.split("+", 1)) for p in str(g.loc[d, "paper"]).split(" or ")
            )
            for d in g.index
        }
        rule = {
            d: short_label(g.loc[d, "start"], g.loc[d, "method"])
            + (" ✓" if g.loc[d, "same_start"] else "")
            for d in g.index
        }
        name = names.get(net, net)
        out[f"{name}: caption"] = out["digit"].map(caption).fillna("")
        out[f"{name}: rule"] = out["digit"].map(rule).fillna("")
    return out
