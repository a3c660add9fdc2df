"""Reading the benchmark result file (``python -m benchmarks``) for the Performance appendix."""

from __future__ import annotations

import json
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
    cols = ["network", "target", "box", "method", "median_rel_error", "worst_rel_error",
            "median_seconds", "predicted_target", "error_ratio", "time_ratio"]  # fmt: skip
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
        "cf_err": cf["median_rel_error"], "cf_ms": 1e3 * cf["median_seconds"],
        "cf_err_ratio": cf["error_ratio"], "cf_time_ratio": cf["time_ratio"],
        "gn_err": gn["median_rel_error"], "gn_ms": 1e3 * gn["median_seconds"],
        "gn_err_ratio": gn["error_ratio"], "gn_time_ratio": gn["time_ratio"],
        "table_s": result["spectral"][0]["median_seconds"],
    }  # fmt: skip
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
    warm = result["book"]["warm"]
    cold = result["book"].get("cold", {"per_chapter_seconds": {}, "wall_seconds": float("nan")})
    steps = list(dict.fromkeys([*cold["per_chapter_seconds"], *warm["per_chapter_seconds"]]))
    rows = [{"step": s, "cold": cold["per_chapter_seconds"].get(s, float("nan")),
             "warm": warm["per_chapter_seconds"].get(s, float("nan"))} for s in steps]  # fmt: skip
    rows.append(
        {"step": "total (wall)", "cold": cold["wall_seconds"], "warm": warm["wall_seconds"]}
    )
    return pd.DataFrame(rows)


#: The goals of the benchmark issue: (what, limit) — checked by :func:`goals`.
EXACT = ("closed-form", "gauss-newton")
GOALS = {
    "closed form, 1-layer, min/max: error": 1e-10,
    "closed form, 1-layer, min/max: ms per digit": 5.0,
    "Gauss–Newton, 5-layer, min/max: error": 1e-8,
    "Gauss–Newton, 5-layer, min/max: ms per digit": 100.0,
    "class-mean in [0,1], 1-layer: best exact error": 1e-6,
    "class-mean in [0,1], 5-layer: best exact error": 1e-6,
    "exact method error / paper-sgd error": 1e-8,
    "exact method time / paper-sgd time": 0.1,
    "ResNet18 layer table: seconds": 1.0,
    "book cold: seconds": 480.0,
    "book warm: seconds": 90.0,
}


def goals(result: dict) -> pd.DataFrame:
    """Each goal of the benchmark issue beside what this result file measured.

    Returns
    -------
    pandas.DataFrame
        Columns ``goal``, ``limit``, ``measured`` (for the ratio goals: the worst over the
        exact methods and settings where the target was reached, error ≤ 1e-6), ``met``
        (True/False; None when not measured) and ``note``.
    """
    rows = {(r["network"], r["target"], r["box"], r["method"]): r for r in result["inverse"]}
    cf = rows[("fcnn1", "minmax", "none", "closed-form")]
    gn = rows[("fcnn5", "minmax", "none", "gauss-newton")]

    def best_exact(net):
        return min(r["median_rel_error"] for k, r in rows.items()
                   if k[:3] == (net, "class-mean", "[0,1]") and k[3] in EXACT)  # fmt: skip

    reached = [r for k, r in rows.items() if k[3] in EXACT and r["worst_rel_error"] <= 1e-6]
    skipped = sum(1 for k, r in rows.items() if k[3] in EXACT) - len(reached)
    ratio_note = (
        f"over {len(reached)} exact runs that reach their targets; {skipped} do not (min/max "
        "targets in [0,1]: no image reaches them, see the reachability chapter)"
    )
    measured = {
        "closed form, 1-layer, min/max: error": (cf["median_rel_error"], "median over digits"),
        "closed form, 1-layer, min/max: ms per digit": (1e3 * cf["median_seconds"], ""),
        "Gauss–Newton, 5-layer, min/max: error": (gn["median_rel_error"], "median over digits"),
        "Gauss–Newton, 5-layer, min/max: ms per digit": (1e3 * gn["median_seconds"], ""),
        "class-mean in [0,1], 1-layer: best exact error": (best_exact("fcnn1"), "median"),
        "class-mean in [0,1], 5-layer: best exact error": (best_exact("fcnn5"), "median"),
        "exact method error / paper-sgd error": (
            max((r["error_ratio"] for r in reached), default=float("nan")), ratio_note),
        "exact method time / paper-sgd time": (
            max((r["time_ratio"] for r in reached), default=float("nan")), ratio_note),
        "ResNet18 layer table: seconds": (result["spectral"][0]["median_seconds"], "unfold view"),
    }  # fmt: skip
    book = result.get("book", {})
    for key, name in (("cold", "book cold: seconds"), ("warm", "book warm: seconds")):
        if key in book:
            measured[name] = (book[key]["wall_seconds"], f"{book[key].get('jobs', 1)} job(s)")
    out = []
    for goal, limit in GOALS.items():
        value, note = measured.get(goal, (float("nan"), "not measured in this run"))
        met = None if value != value else bool(value <= limit)
        out.append({"goal": goal, "limit": limit, "measured": value, "met": met, "note": note})
    return pd.DataFrame(out)
