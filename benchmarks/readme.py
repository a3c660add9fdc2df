"""The README's benchmark figures, written from the result file ``python -m benchmarks`` makes
(``python -m benchmarks --readme``): each generated block lies between ``<!-- bench:NAME -->``
and ``<!-- /bench:NAME -->``; :func:`update_readme` rewrites them."""

from __future__ import annotations

from nnspaces.performance import goals, headline


def _are(n: int) -> str:
    """The verb for ``n`` goals: ``'is'`` for one, else ``'are'``."""
    return "is" if n == 1 else "are"


#: The README's generated blocks.
README_BLOCKS = ("book-times", "headline", "bench-duration")


def _duration(seconds: float) -> str:
    """Seconds in words, rounded to the second: ``'3 min 48 s'``, ``'1 h 2 min'``.

    >>> _duration(228.38), _duration(2960.79), _duration(42.4), _duration(3725)
    ('3 min 48 s', '49 min 21 s', '42 s', '1 h 2 min')
    """
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {round((s % 3600) / 60)} min"


def _machine(result: dict) -> str:
    m = result["machine"]
    gpu = m.get("GPU", "")
    return f"{m.get('cpu cores', '?')} CPU cores, " + (
        "no GPU" if not gpu or gpu.startswith("none") else gpu
    )


#: The rebuild cases the README's table adds below the warm and cold builds, in its words.
README_CASES = {
    "warm_recompute": "networks cached, memoised results recomputed too (`RECOMPUTE=1`)",
    "bundle": "fresh cache filled from a weights bundle (import + build)",
    "one_chapter": "one chapter changed (it, the appendix that reads the run log, the HTML)",
    "no_change": "nothing changed (every page kept)",
}


def readme_blocks(result: dict) -> dict[str, str]:
    """The README's benchmark figures, written from a result file (see :data:`README_BLOCKS`).

    Returns
    -------
    dict
        Block name → markdown: ``book-times`` (a table of the warm and cold book builds),
        ``headline`` (the inverse maps' headline numbers and the goals met),
        ``bench-duration`` (how long the benchmark itself took).
    """
    date = result["date"].split()[0]
    b = result.get("book", {})
    bdate = b.get("date", result["date"]).split()[0]  # a kept earlier book timing has its own
    if "warm" in b:
        rows = [
            f"| `make book` (profile {b.get('profile', 'default')}, "
            f"{b['warm'].get('jobs', 1)} chapters at a time) | measured by `make bench` on "
            f"{bdate} ({_machine(result)}) |",
            "| --- | --- |",
            f"| networks cached, every chapter re-executed (warm) | {_duration(b['warm']['wall_seconds'])} |",
        ]
        if "cold" in b:
            rows.append(
                f"| empty cache (cold): trains every network the book uses | "
                f"{_duration(b['cold']['wall_seconds'])} |"
            )
        for case, what in README_CASES.items():
            if case in b:
                r = b[case]
                seconds = r.get("wall_with_import_seconds", r["wall_seconds"])
                rows.append(f"| {what} | {_duration(seconds)} |")
        times = "\n".join(rows)
    else:
        times = f"The last `make bench` ({date}) timed no book build: run `make bench` to time it."
    h = headline(result)
    rows = {
        (r["network"], r["target"], r["box"], r["method"]): r
        for r in result["inverse"] + result.get("inverse_resnet", [])
    }
    sgd5 = rows[("fcnn5", "minmax", "none", "paper-sgd")]
    rn = rows.get(("resnet18", "class-mean", "[0,1]", "gauss-newton"))
    resnet = ""
    if rn is not None:
        sec = rn["median_seconds"]
        per = f"{sec:.1f} s" if sec >= 1 else f"{1e3 * sec:.0f} ms"
        resnet = (
            f"; on ResNet18 it reaches the class-mean targets inside [0, 1] to "
            f"{rn['median_rel_error']:.1e} in {per} per digit"
        )
    g = goals(result)
    met, unmet = int(g["met"].eq(True).sum()), g.loc[g["met"].eq(False), "goal"].tolist()
    goals_text = f"Of the benchmark's {len(g)} goals, {met} {_are(met)} met" + (
        f" and {len(unmet)} {_are(len(unmet))} not ({'; '.join(unmet)}); the Performance "
        "appendix says what "
        "stands in the way."
        if unmet
        else "."
    )
    headline_text = (
        f"Headline benchmark numbers (`benchmarks/results/latest.json`, {date}, one run, one "
        f"machine): on the 1-layer network the closed-form inverse reaches the paper's min/max "
        f"targets to a median relative error of {h['cf_err']:.1e} in {h['cf_ms']:.2f} ms per "
        f"digit — {h['cf_err_ratio']:.1e} × the released procedure's error in "
        f"{h['cf_time_ratio']:.2f} × its time; on the 5-layer network Gauss–Newton reaches "
        f"{h['gn_err']:.1e} in {h['gn_ms']:.0f} ms per digit ({h['gn_err_ratio']:.1e} × the "
        f"error, {h['gn_time_ratio']:.1f} × the time of the released procedure, whose small SGD "
        f"steps leave a median error of {sgd5['median_rel_error']:.2f}){resnet}. {goals_text}"
    )
    total = result.get("seconds")
    if total is None:
        duration = f"The last run ({date}) did not record its duration."
    elif b and bdate != date:  # inverse maps re-measured; the book builds kept from before
        duration = (
            f"The last run ({date}) re-measured the inverse maps and the spectral kernels in "
            f"{_duration(total)}; the book builds in that file were timed on {bdate}."
        )
    elif "cold" in b:
        duration = (
            f"The last full run ({date}) took {_duration(total)} in all, "
            f"{_duration(b['cold']['wall_seconds'])} of it the cold book build."
        )
    else:
        duration = f"The last full run ({date}) took {_duration(total)} in all."
    return {"book-times": times, "headline": headline_text, "bench-duration": duration}


def update_readme(text: str, result: dict) -> str:
    """``text`` (the README) with every generated block rewritten from ``result``.

    Raises
    ------
    ValueError
        A block's markers are missing (the message names them).
    """
    for name, body in readme_blocks(result).items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"README has no '{start}' … '{end}' block: add the two markers")
        text = f"{text[: i + len(start)]}\n{body}\n{text[j:]}"
    return text


# --------------------------------------------------------------------------------------
# The appendix's tables for readers
# --------------------------------------------------------------------------------------
