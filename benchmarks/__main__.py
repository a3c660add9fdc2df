"""python -m benchmarks [--quick] [--out FILE]: measure, print a table, write JSON.

A full run (no ``--quick``, the default ``--out``) also rewrites the README's benchmark
figures from the new file; ``python -m benchmarks --readme`` rewrites them from the committed
file without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from nnspaces import environment, performance, profiles

from . import book, inverse, readme, spectral, training

DEFAULT_OUT = Path(__file__).parent / "results" / "latest.json"
README = Path(__file__).resolve().parents[1] / "README.md"
#: The networks of the default profile's models chapter (its recipe, from profiles.yml), on the CPU.
PARAMS = {**profiles.recipe(profiles.chapter("01_models"), "default"), "device": "cpu"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="under two minutes: FCNNs and spectra only (no ResNet inverse, no book build)",
    )
    ap.add_argument(
        "--book",
        choices=("cold", "warm", "none"),
        default="cold",
        help="cold: build from an empty cache, then warm (default; ~40 min of ResNet18 training "
        "on 2 cores); warm: one warm build on your cache; none: skip",
    )
    ap.add_argument("--no-book", action="store_true", help="same as --book none")
    ap.add_argument("--jobs", type=int, default=None, help="chapters at once in the book build")
    ap.add_argument("--out", type=Path, default=None, help=f"JSON file (default {DEFAULT_OUT})")
    ap.add_argument("--epochs", type=int, default=PARAMS["epochs"], help="of the cached networks")
    ap.add_argument(
        "--readme",
        action="store_true",
        help=f"only rewrite README.md's benchmark figures from {DEFAULT_OUT.name} (no measuring)",
    )
    args = ap.parse_args(argv)
    if args.readme:
        return _write_readme(performance.load_results(args.out or DEFAULT_OUT))
    params = dict(PARAMS, epochs=args.epochs)
    out = args.out or (DEFAULT_OUT.with_name("quick.json") if args.quick else DEFAULT_OUT)
    inverse.set_threads(1)
    t0 = time.perf_counter()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "quick": args.quick,
        "machine": {**environment.machine(), "processor": platform.processor()},
        "params": params,
    }
    result["inverse"] = inverse.run(params)
    if not args.quick:
        result["inverse_resnet"] = inverse.run_resnet(params)
    result["spectral"] = spectral.run(repeats=3 if args.quick else 7)
    if not args.quick:
        result["training_floor"] = training.run(params["dataset"])
    if not (args.quick or args.no_book or args.book == "none"):
        result["book"] = book.run("default", cold=args.book == "cold", jobs=args.jobs)
    result["seconds"] = time.perf_counter() - t0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(pd.DataFrame(result["inverse"]).to_string(float_format=lambda v: f"{v:.3g}"))
        print(pd.DataFrame(result["spectral"]).to_string())
        if "book" in result:
            b = result["book"]
            cold = f"cold {b['cold']['wall_seconds']:.0f} s, " if "cold" in b else ""
            print(
                f"book ({b['profile']}, {b['warm']['jobs']} chapter(s) at a time): {cold}"
                f"warm {b['warm']['wall_seconds']:.0f} s (kernels not forked: "
                f"{b['warm_plain']['wall_seconds']:.0f} s), peak {b['peak_rss_mb']:.0f} MB"
            )
    print(f"wrote {out} in {result['seconds']:.0f} s", file=sys.stderr)
    if out == DEFAULT_OUT and not args.quick:
        _write_readme(result)
    return 0


def _write_readme(result: dict) -> int:
    """Rewrite the README's generated blocks (:func:`benchmarks.readme.update_readme`)."""
    text = README.read_text()
    new = readme.update_readme(text, result)
    if new != text:
        tmp = README.with_suffix(".tmp")
        tmp.write_text(new)
        os.replace(tmp, README)
    print(
        f"{README}: benchmark figures {'rewritten' if new != text else 'already current'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
