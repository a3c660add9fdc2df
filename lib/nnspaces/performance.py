"""Reading the benchmark result file (``python -m benchmarks``) for the Performance appendix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd


def load_results(path: str | Path) -> dict:
    """The JSON written by ``python -m benchmarks``; a clear error if absent or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no benchmark results at {path}: run `make bench` (or `python -m benchmarks`) "
            "from the repository root to create them"
        )
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}): rerun `make bench`") from None
    if "inverse" not in result or "machine" not in result:
        raise ValueError(f"{path} is not a benchmark result file (no 'inverse'/'machine' keys)")
    return result


def inverse_table(result: dict) -> pd.DataFrame:
    """Per network, target, box and method: median/worst error, time, ratios to paper-sgd."""
    df = pd.DataFrame(result["inverse"] + result.get("inverse_resnet", []))
    cols = ["network", "target", "box", "method", "median_rel_error", "worst_rel_error"]
    cols += ["median_seconds", "predicted_target", "error_ratio", "time_ratio"]
    return df[[c for c in cols if c in df.columns]]


def headline(result: dict) -> dict[str, float]:
    """The numbers the README and the appendix quote, from the benchmark's own rows.

    Returns
    -------
    dict
        ``cf_err``/``cf_ms``: closed form on the 1-layer net (minmax, no box), median relative
        error and milliseconds per digit; ``gn_err``/``gn_ms``: Gauss–Newton on the 5-layer
        net, same setting; ``cf_err_ratio``/``cf_time_ratio`` and ``gn_*``: against paper-sgd;
        ``table_s``: seconds of the ResNet18 layer table (unfold view); ``cold_s``, ``warm_s``,
        ``peak_mb``, ``jobs``: the book build (NaN when the run measured none).
    """
    rows = {(r["network"], r["target"], r["box"], r["method"]): r for r in result["inverse"]}
    cf = rows[("fcnn1", "minmax", "none", "closed-form")]
    gn = rows[("fcnn5", "minmax", "none", "gauss-newton")]
    out = {
        "cf_err": cf["median_rel_error"],
        "cf_ms": 1e3 * cf["median_seconds"],
        "cf_err_ratio": cf["error_ratio"],
        "cf_time_ratio": cf["time_ratio"],
        "gn_err": gn["median_rel_error"],
        "gn_ms": 1e3 * gn["median_seconds"],
        "gn_err_ratio": gn["error_ratio"],
        "gn_time_ratio": gn["time_ratio"],
        "table_s": result["spectral"][0]["median_seconds"],
    }
    b = result.get("book", {})
    nan = float("nan")
    out["cold_s"] = b["cold"]["wall_seconds"] if "cold" in b else nan
    out["warm_s"] = b["warm"]["wall_seconds"] if "warm" in b else nan
    out["peak_mb"] = b.get("peak_rss_mb", nan)
    out["jobs"] = b["warm"].get("jobs", 1) if "warm" in b else nan
    return out


def book_modes(result: dict) -> str:
    """Which book builds the result file measured, in words (for the appendix's prose)."""
    b = result.get("book", {})
    if "cold" in b:
        return "both builds, cold and warm"
    if "warm" in b:
        return (
            "the warm build only (--book warm): the cold build was not measured in this run, "
            "so its column is empty"
        )
    return "no book build (--quick or --book none)"


def book_table(result: dict) -> pd.DataFrame:
    """Seconds per chapter of the cold and the warm build (empty if the run had no book;
    the cold column is NaN when only a warm build was measured)."""
    if "book" not in result:
        return pd.DataFrame(columns=["step", "cold", "warm"])
    nan = float("nan")
    warm = result["book"]["warm"]
    cold = result["book"].get("cold", {"per_chapter_seconds": {}, "wall_seconds": nan})
    c, w = cold["per_chapter_seconds"], warm["per_chapter_seconds"]
    steps = dict.fromkeys([*c, *w])
    rows = [{"step": s, "cold": c.get(s, nan), "warm": w.get(s, nan)} for s in steps]
    rows.append(
        {"step": "total (wall)", "cold": cold["wall_seconds"], "warm": warm["wall_seconds"]}
    )
    return pd.DataFrame(rows)


#: The book-build cases of ``benchmarks/book.py``, in the order a person meets them.
BOOK_CASES = {
    "cold": "empty cache: trains every network, runs every chapter",
    "warm_recompute": "networks cached, every chapter re-executed and recomputed",
    "warm": "networks cached, every chapter re-executed, memoised results read back",
    "bundle": "fresh cache filled from a weights bundle, then a full build",
    "one_chapter": "one chapter changed: it, the appendix reading the run log, the HTML",
    "no_change": "nothing changed: every page kept",
}


def book_cases(result: dict) -> pd.DataFrame:
    """One row per measured book-build case: ``case``, ``what``, ``seconds`` (wall),
    ``chapters run``, ``training seconds`` (the stage before the chapters)."""
    b = result.get("book", {})
    rows = []
    for case, what in BOOK_CASES.items():
        if case not in b:
            continue
        r = b[case]
        ran = r.get("chapters_run")
        rows.append(
            {
                "case": case,
                "what": what,
                "seconds": r.get("wall_with_import_seconds", r["wall_seconds"]),
                "chapters run": len(ran) if ran is not None else float("nan"),
                "training seconds": (r.get("training") or {}).get("seconds", 0.0),
            }
        )
    return pd.DataFrame(
        rows, columns=["case", "what", "seconds", "chapters run", "training seconds"]
    )


def training_table(result: dict, case: str = "cold") -> pd.DataFrame:
    """Seconds of training per network in one book-build case (``cold`` by default):
    ``network``, ``seconds`` (NaN for a cache hit), longest first."""
    nets = ((result.get("book", {}).get(case) or {}).get("training") or {}).get("networks", {})
    rows = [
        {"network": k, "seconds": v if isinstance(v, int | float) else float("nan")}
        for k, v in nets.items()
    ]
    return pd.DataFrame(rows, columns=["network", "seconds"]).sort_values(
        "seconds", ascending=False, na_position="last"
    )


def training_floor(result: dict) -> pd.DataFrame:
    """What training alone must cost a build from an empty cache, beside what it cost.

    From ``result["training_floor"]`` (``benchmarks/training.py``: one ResNet18 epoch alone
    and two at once) and the ``cold`` book case: one row per ``quantity`` with its
    ``seconds``. The floor is ⌈N / 2⌉ × epochs × the two-at-once epoch for the N ResNet18s
    the cold build trained, two at a time (the FCNNs take seconds); empty when the run
    measured neither.
    """
    floor = result.get("training_floor")
    rows = []
    if floor:
        alone = f"ResNet18 epoch ({floor['images']:,} images), alone"
        two = "ResNet18 epoch, two at once (each)"
        rows.append({"quantity": alone, "seconds": floor["alone"]})
        rows.append({"quantity": two, "seconds": floor["two_at_once"]})
    cold = result.get("book", {}).get("cold")
    if floor and cold:
        nets = (cold.get("training") or {}).get("networks", {})
        n = sum(1 for k, v in nets.items() if k.startswith("resnet18") and v != "cached")
        epochs = result["params"]["epochs"]
        rows.append(
            {
                "quantity": f"training floor: ⌈{n} ResNet18s / 2 cores⌉ × {epochs} epochs × "
                "the two-at-once epoch",
                "seconds": -(-n // 2) * epochs * floor["two_at_once"],
            }
        )
    if cold:
        train_s = (cold.get("training") or {}).get("seconds", 0.0)
        rows += [
            {"quantity": "cold build: training stage", "seconds": train_s},
            {
                "quantity": "cold build: chapters and HTML",
                "seconds": cold["wall_seconds"] - train_s,
            },
            {"quantity": "cold build: wall", "seconds": cold["wall_seconds"]},
        ]
    return pd.DataFrame(rows, columns=["quantity", "seconds"])


#: The goals of the benchmark issue: (what, limit) — checked by :func:`goals`.
EXACT = ("closed-form", "gauss-newton")

#: An exact method reached its target when its worst relative error over the digits is at
#: most this (the ratio goals count only those runs).
REACHED = 1e-6
RACE = "exact method: time to paper-sgd's error / paper-sgd's time"
GOALS = {
    "closed form, 1-layer, min/max: error": 1e-10,
    "closed form, 1-layer, min/max: ms per digit": 5.0,
    "closed form, 1-layer, min/max in [0,1]: ms per digit": 10.0,
    "Gauss–Newton, 5-layer, min/max: error": 1e-8,
    "Gauss–Newton, 5-layer, min/max: ms per digit": 100.0,
    "Gauss–Newton, 5-layer, min/max in [0,1]: ms per digit": 100.0,
    "class-mean in [0,1], 1-layer: best exact error": 1e-6,
    "class-mean in [0,1], 5-layer: best exact error": 1e-6,
    "exact method error / paper-sgd error": 1e-8,
    RACE: 1.0,
    "ResNet18 layer table: seconds": 1.0,
    "book cold: seconds": 900.0,
    "book warm: seconds": 90.0,
    "book, nothing changed: seconds": 15.0,
    "book, one chapter changed: seconds beyond its chapters'": 15.0,
    "book from a weights bundle: seconds beyond a warm one": 10.0,
}


def goals(result: dict) -> pd.DataFrame:
    """Each goal of the benchmark issue beside what this result file measured.

    Returns
    -------
    pandas.DataFrame
        Columns ``goal``, ``limit``, ``measured`` (for the error ratio: the worst over the
        exact methods and settings where the target was reached, error ≤ :data:`REACHED`),
        ``met`` (True/False; None when not measured) and ``note``.

    Notes
    -----
    The time goal against paper-sgd (:data:`RACE`) is a race, not a ratio of run times (which
    a method that stops early would win): the time an exact method takes to reach the error
    paper-sgd ends with after its 100 steps, over paper-sgd's time, worst over every exact
    run; the note says in how many runs paper-sgd ever reaches the exact method's error.
    """
    rows = {(r["network"], r["target"], r["box"], r["method"]): r for r in result["inverse"]}
    cf = rows[("fcnn1", "minmax", "none", "closed-form")]
    gn = rows[("fcnn5", "minmax", "none", "gauss-newton")]
    nan = float("nan")

    def ms(key):
        r = rows.get(key)
        return (nan, "not measured in this run") if r is None else (1e3 * r["median_seconds"], "")

    def best_exact(net):
        return min(
            r["median_rel_error"]
            for k, r in rows.items()
            if k[:3] == (net, "class-mean", "[0,1]") and k[3] in EXACT
        )

    reached = [r for k, r in rows.items() if k[3] in EXACT and r["worst_rel_error"] <= REACHED]
    skipped = sum(1 for k, r in rows.items() if k[3] in EXACT) - len(reached)
    ratio_note = (
        f"over {len(reached)} exact runs that reach their targets; {skipped} do not (min/max "
        "targets in [0,1]: no image reaches them, see the reachability chapter)"
    )
    measured = {
        "closed form, 1-layer, min/max: error": (cf["median_rel_error"], "median over digits"),
        "closed form, 1-layer, min/max: ms per digit": (1e3 * cf["median_seconds"], ""),
        "closed form, 1-layer, min/max in [0,1]: ms per digit": ms(
            ("fcnn1", "minmax", "[0,1]", "closed-form")
        ),
        "Gauss–Newton, 5-layer, min/max: error": (gn["median_rel_error"], "median over digits"),
        "Gauss–Newton, 5-layer, min/max: ms per digit": (1e3 * gn["median_seconds"], ""),
        "Gauss–Newton, 5-layer, min/max in [0,1]: ms per digit": ms(
            ("fcnn5", "minmax", "[0,1]", "gauss-newton")
        ),
        "class-mean in [0,1], 1-layer: best exact error": (best_exact("fcnn1"), "median"),
        "class-mean in [0,1], 5-layer: best exact error": (best_exact("fcnn5"), "median"),
        "exact method error / paper-sgd error": (
            max((r["error_ratio"] for r in reached), default=nan),
            ratio_note,
        ),
        RACE: _race(rows),
        "ResNet18 layer table: seconds": (result["spectral"][0]["median_seconds"], "unfold view"),
    }
    book = result.get("book", {})
    for key, name in (("cold", "book cold: seconds"), ("warm", "book warm: seconds")):
        if key in book:
            measured[name] = (book[key]["wall_seconds"], f"{book[key].get('jobs', 1)} job(s)")
    if "warm_recompute" in book and "warm" in book:
        note = measured["book warm: seconds"][1]
        measured["book warm: seconds"] = (
            book["warm"]["wall_seconds"],
            f"{note}; memoised results read back "
            f"({book['warm_recompute']['wall_seconds']:.0f} s with NNSPACES_RECOMPUTE=1)",
        )
    if "no_change" in book:
        measured["book, nothing changed: seconds"] = (book["no_change"]["wall_seconds"], "")
    if "one_chapter" in book:
        one = book["one_chapter"]
        measured["book, one chapter changed: seconds beyond its chapters'"] = (
            one["overhead_seconds"],
            f"{one['edited']} changed; also ran, as it reads the run log: "
            + ", ".join(c for c in one["chapters_run"] if c != one["edited"]),
        )
    if "bundle" in book and "warm" in book:
        extra = book["bundle"]["wall_with_import_seconds"] - book["warm"]["wall_seconds"]
        measured["book from a weights bundle: seconds beyond a warm one"] = (
            extra,
            f"import {book['bundle']['import_seconds']:.0f} s of a "
            f"{book['bundle']['bundle_mb']:.0f} MB bundle (networks and the memoised results "
            "of the exporting build), into a fresh cache",
        )
    out = []
    for goal, limit in GOALS.items():
        value, note = measured.get(goal, (nan, "not measured in this run"))
        met = None if value != value else bool(value <= limit)
        out.append({"goal": goal, "limit": limit, "measured": value, "met": met, "note": note})
    return pd.DataFrame(out)


def _race(rows: dict) -> tuple[float, str]:
    """``(worst ratio, note)`` of the :data:`RACE` goal over the exact runs that carry it."""
    ratios, never, runs = [], 0, 0
    for k, r in rows.items():
        if k[3] not in EXACT or "seconds_to_sgd_error" not in r:
            continue
        sgd = rows[(*k[:3], "paper-sgd")]
        t = r["seconds_to_sgd_error"]
        ratios.append(float("inf") if t is None else t / sgd["median_seconds"])
        never += r["sgd_seconds_to_error"] is None
        runs += 1
    if not runs:
        return float("nan"), "not measured in this run (no race columns)"
    return max(ratios), (
        f"worst of {runs} exact runs; paper-sgd never reaches the exact method's error in "
        f"{never} of them"
    )


#: How a target kind and a box read in a table.
_TARGET = {"minmax": "min/max", "class-mean": "class mean"}
_BOX = {"none": "", "[0,1]": " in [0, 1]"}


def setting_name(target: str, box: str) -> str:
    """A target kind and a box in words.

    >>> setting_name("minmax", "[0,1]"), setting_name("class-mean", "none")
    ('min/max in [0, 1]', 'class mean')
    """
    return _TARGET.get(target, target) + _BOX.get(box, f" {box}")


def inverse_readers(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`inverse_table` for readers: ``network`` (its display name), ``setting`` (target
    and box in words), ``method``, the numbers of :func:`inverse_table` and ``ms`` (median
    milliseconds per digit)."""
    from .models import DISPLAY_NAME

    out = table.copy()
    out.insert(1, "setting", [setting_name(t, b) for t, b in zip(out["target"], out["box"])])
    out["network"] = out["network"].map(lambda n: DISPLAY_NAME.get(n, n))
    out["ms"] = 1e3 * out["median_seconds"]
    return out.drop(columns=["target", "box"])


_RUN = re.compile(r"^(?P<net>[a-z0-9]+)-(?P<data>.+)-s(?P<seed>\d+)(?:-n(?P<n>\d+))?$")


def network_run(key: str) -> str:
    """A trained network's cache key in words.

    >>> network_run("resnet18-fashion-mnist-s0-n3500"), network_run("fcnn1-mnist-5k-s2")
    ('ResNet18, fashion-mnist (3,500 images), seed 0', '1-layer FCNN, mnist-5k, seed 2')
    """
    from .models import DISPLAY_NAME

    m = _RUN.match(key)
    if m is None:
        return key
    images = f" ({int(m['n']):,} images)" if m["n"] else ""
    return f"{DISPLAY_NAME.get(m['net'], m['net'])}, {m['data']}{images}, seed {m['seed']}"


def goals_readers(goals_df: pd.DataFrame, fmt) -> pd.DataFrame:
    """:func:`goals` for readers: ``goal``, ``limit`` and ``measured`` as text (errors in
    scientific notation, times to 4 significant digits) and ``met`` as ✓, ✗ or —.

    Parameters
    ----------
    goals_df : DataFrame
        From :func:`goals`.
    fmt : callable
        ``fmt(value, spec) -> str``, the book's number format (``nnspaces.book.fmt``).
    """
    spec = ["sci" if "error" in g else ".4g" for g in goals_df["goal"]]
    return pd.DataFrame(
        {
            "goal": goals_df["goal"],
            "limit": [fmt(v, s) for v, s in zip(goals_df["limit"], spec)],
            "measured": [fmt(v, s) for v, s in zip(goals_df["measured"], spec)],
            "met": ["—" if m is None else "✓" if m else "✗" for m in goals_df["met"]],
        }
    )
