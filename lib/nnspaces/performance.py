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
        ``table_s``: seconds of the ResNet18 layer table (unfold view).
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
    if "book" in result:
        out["cold_s"] = result["book"]["cold"]["wall_seconds"]
        out["warm_s"] = result["book"]["warm"]["wall_seconds"]
        out["peak_mb"] = result["book"]["peak_rss_mb"]
    return out


def book_table(result: dict) -> pd.DataFrame:
    """Seconds per chapter of the cold and the warm build (empty if the run had no book)."""
    if "book" not in result:
        return pd.DataFrame(columns=["step", "cold", "warm"])
    cold, warm = result["book"]["cold"], result["book"]["warm"]
    steps = list(cold["per_chapter_seconds"])
    rows = [{"step": s, "cold": cold["per_chapter_seconds"][s],
             "warm": warm["per_chapter_seconds"].get(s)} for s in steps]  # fmt: skip
    rows.append(
        {"step": "total (wall)", "cold": cold["wall_seconds"], "warm": warm["wall_seconds"]}
    )
    return pd.DataFrame(rows)
