"""Command line: ``python -m nnspaces reproduce --profile default`` (also ``nnspaces …``)."""

from __future__ import annotations

import argparse
import sys

from . import reproduce as _r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nnspaces", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="execute every chapter and build the book")
    rep.add_argument("--profile", default="default", help=f"one of {_r.profile_names()}")
    rep.add_argument("--only", nargs="*", help="output stems of the chapters to run")
    rep.add_argument("--no-build", action="store_true", help="execute the notebooks only")
    rep.add_argument("--workdir", help="build there instead of in the checkout")
    rep.add_argument(
        "--jobs",
        type=int,
        default=None,
        help=f"chapters executed at once (default {_r.default_jobs()}: one per core, at most 2)",
    )
    sub.add_parser("profiles", help="list the profiles")
    args = parser.parse_args(argv)
    if args.command == "profiles":
        for name in _r.profile_names():
            print(f"{name}: {_r.profile(name)['description']}")
        return 0
    try:
        _r.reproduce(args.profile, args.only, not args.no_build, args.workdir, jobs=args.jobs)
    except (_r.ReproduceError, ValueError) as e:
        print(f"nnspaces reproduce: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
