"""Small helpers the chapter notebooks use to put computed results into the prose.

They wrap ``myst_nb.glue`` so that a glued figure is not also shown where it was made,
and a glued sentence renders without Python's quotes.
"""

from __future__ import annotations


class Text(str):
    """A string whose ``repr`` is itself, so ``{glue:text}`` shows it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure under ``name`` and close it (it is shown by ``{glue:figure}``)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


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


def glue_table(name: str, df) -> None:
    """Glue a DataFrame for a ``{glue:} name`` directive (rendered as an HTML table, no index)."""
    from IPython.display import HTML
    from myst_nb import glue

    glue(name, HTML(df.to_html(index=False, float_format=lambda v: f"{v:.4g}")), display=False)


#: Every claim made in this kernel, in order: dicts with ``key``, ``holds``, ``text``,
#: ``otherwise`` (what the reproducibility appendix lists).
CLAIMS: list[dict] = []


def claim(key: str, holds: bool, text: str, otherwise: str) -> bool:
    """Glue a conclusion that the run itself checks, for a ``{glue:md}`` directive.

    Parameters
    ----------
    key : str
        The glue key; the prose shows it with a ``{glue:md} key`` directive and
        ``:format: myst``.
    holds : bool
        The condition, evaluated on this run's numbers.
    text : str
        The sentence (MyST markdown) shown when ``holds``.
    otherwise : str
        What this run shows instead (MyST markdown), shown in a warning admonition headed
        "Not on this run" when the condition fails.

    Returns
    -------
    holds : bool
    """
    from IPython.display import Markdown
    from myst_nb import glue

    holds = bool(holds)
    md = text if holds else f":::{{admonition}} Not on this run\n:class: warning\n{otherwise}\n:::"
    CLAIMS.append({"key": key, "holds": holds, "text": text, "otherwise": otherwise})
    glue(key, Markdown(md), display=False)
    return holds
