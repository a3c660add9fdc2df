"""Command line: ``python -m nnspaces reproduce --profile default`` (also ``nnspaces …``).

``python -m nnspaces released-resnet PATH`` loads a ResNet18 state_dict such as the released
repository's ``models/final_model_resnet`` and prints Figure 2's condition number.
"""

from __future__ import annotations

import argparse
import sys

from . import reproduce as _r


def main(argv: list[str] | None = None) -> int:
    from . import __version__

    parser = argparse.ArgumentParser(prog="nnspaces", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nnspaces {__version__}")
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
    rep.add_argument(
        "--force", action="store_true", help="re-execute every chapter, changed or not"
    )
    rep.add_argument(
        "--weights",
        metavar="FILE|URL|none",
        help="import this weights bundle (`weights export`; a URL: its SHA-256 from the "
        "registry) into the cache first; `none`: fetch no published network, train what is "
        "missing (default: fetch those the registry lists)",
    )
    sub.add_parser("profiles", help="list the profiles")
    nets = sub.add_parser("networks", help="list the networks a profile trains (cached or not)")
    nets.add_argument("--profile", default="default", help=f"one of {_r.profile_names()}")
    nets.add_argument("--json", action="store_true", help="a JSON list (for a CI matrix)")
    tr = sub.add_parser("train", help="train (or find cached) the networks a profile needs")
    tr.add_argument("--profile", default="default", help=f"one of {_r.profile_names()}")
    tr.add_argument("--only", nargs="*", help="network ids (see `networks`) to train")
    tr.add_argument("--jobs", type=int, default=None, help="networks trained at once")
    rr = sub.add_parser(
        "released-resnet",
        help="load a ResNet18 state_dict (e.g. the released models/final_model_resnet) and print "
        "Figure 2's condition number",
    )
    rr.add_argument("path", help="the state_dict file")
    rr.add_argument("--layer", default=None, help="dotted name of a Conv2d (Figure 2's by default)")
    _add_weights_parser(sub)
    _add_publish_parsers(sub)
    args = parser.parse_args(argv)
    if args.command in ("publish", "pdf"):
        return _publish_or_pdf(args)
    if args.command == "weights":
        return _weights(args)
    if args.command == "released-resnet":
        return _released_resnet(args.path, args.layer)
    if args.command in ("networks", "train"):
        return _networks(args)
    if args.command == "profiles":
        for name in _r.profile_names():
            print(f"{name}: {_r.profile(name)['description']}")
        return 0
    try:
        _r.reproduce(
            args.profile,
            args.only,
            not args.no_build,
            args.workdir,
            jobs=args.jobs,
            force=args.force,
            weights=args.weights,
        )
    except (_r.ReproduceError, ValueError) as e:
        print(f"nnspaces reproduce: error: {e}", file=sys.stderr)
        return 1
    return 0


def _networks(args) -> int:
    """``networks``: list a profile's networks; ``train``: train those the cache lacks."""
    import json

    from . import networks

    try:
        if args.command == "networks":
            rows = networks.describe(args.profile)
            if args.json:
                print(json.dumps(rows))
            for r in [] if args.json else rows:
                state = "cached" if r["cached"] else f"to train (~{r['estimated_seconds']} s CPU)"
                print(f"{r['id']}: {r['model']} on {r['dataset']}, seed {r['seed']} — {state}")
            return 0
        cfgs = networks.configs(args.profile)
        if args.only:
            cfgs = networks.select(cfgs, args.only)
        networks.train_all(cfgs, args.jobs or _r.default_jobs())
    except (ValueError, RuntimeError) as e:  # unknown name; DataError: data missing
        print(f"nnspaces {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


def _released_resnet(path: str, layer: str | None) -> int:
    from . import models, paper, released

    layer = layer or paper.RESNET_LAYER
    try:
        info = released.kernel_condition(models.load_state_dict_file(path, "resnet18"), layer)
    except (OSError, ValueError) as e:
        print(f"nnspaces released-resnet: error: {e}", file=sys.stderr)
        return 1
    m, n = info["matrix_shape"]
    print(f"{path}: ResNet18 weights loaded")
    kh, kw = info["weight_shape"][2:]
    print(
        f"{layer}: weight {info['weight_shape']} as a ({m}, {n}) matrix, one row per {kh}×{kw} kernel"
    )
    print("singular values: " + " ".join(f"{s:.4f}" for s in info["S"].tolist()))
    print(
        f"condition number σ1/σ{n} = {info['condition']:.4f} (paper: "
        f"{paper.CONDITION_RESNET_LAYER}; the released notebook printed "
        f"{paper.RELEASED_RUN['resnet_layer_condition']})"
    )
    return 0


def _add_weights_parser(sub) -> None:
    """``weights export FILE``, ``weights import FILE|URL [--sha256 HEX]`` and ``weights
    publish OUTDIR --profile P [--tag T]``: portable bundles and the published networks."""
    w = sub.add_parser(
        "weights", help="export, import or publish trained networks (verified bundles)"
    )
    act = w.add_subparsers(dest="action", required=True)
    ex = act.add_parser("export", help="write the cached networks of a profile into FILE")
    ex.add_argument("file", help="the bundle to write: .tar or .tar.gz")
    ex.add_argument("--profile", default="default", help="whose networks (default: default)")
    ex.add_argument("--only", nargs="*", help="network ids (see `networks`) to export")
    im = act.add_parser(
        "import",
        help="check a bundle (a file, or an http(s) URL downloaded first), then install its "
        "networks into the cache; a refused file leaves the cache as it was",
    )
    im.add_argument("file", help="a bundle file, or its http:// or https:// URL")
    im.add_argument(
        "--sha256",
        metavar="HEX",
        help="the file's SHA-256: anything else is refused (required for a URL the "
        "registry does not list)",
    )
    pub = act.add_parser(
        "publish",
        help="write a profile's networks (one bundle each, the weights the chapters load) and "
        "its memoised results into OUTDIR, and pin their SHA-256 and sizes in "
        "lib/nnspaces/registry.json; CI uploads OUTDIR's files as assets of the release TAG",
        description="Run after `make book PROFILE=P` (every network cached). Writes "
        "OUTDIR/<network id>.tar per network and OUTDIR/results-P.tar, and records each "
        "file (name, SHA-256, size, what it holds) under profile P in the registry, with the "
        "base URL <repository.url of _config.yml>/releases/download/TAG/. Upload every file "
        "of OUTDIR as an asset of release TAG (e.g. `gh release upload TAG OUTDIR/*`) and "
        "commit the registry: `make book` on a fresh clone then fetches them.",
    )
    pub.add_argument("outdir", help="the folder to write the files into (created)")
    pub.add_argument("--profile", default="default", help="whose networks (default: default)")
    pub.add_argument(
        "--tag", help="the release tag the files are uploaded to (default weights-P-VERSION)"
    )


def _weights(args) -> int:
    """``weights export``: a profile's networks into one file; ``weights import``: check it,
    then install it into the cache; ``weights publish``: the release assets and the
    registry. 1 with the reason on stderr on any error."""
    from . import weights

    if args.action == "publish":
        return _publish_weights(args)
    try:
        if args.action == "export" and args.only:
            from . import networks

            chosen = networks.select(networks.configs(args.profile), args.only)
            manifest = weights.export_bundle(args.file, configs=chosen)
            rows = [dict(e, status="exported") for e in manifest["files"]]
        elif args.action == "export":
            manifest = weights.export_bundle(args.file, profile=args.profile)
            rows = [dict(e, status="exported") for e in manifest["files"]]
        else:
            rows = weights.import_bundle(args.file, sha256=args.sha256)
    except (OSError, ValueError) as e:  # BundleError (FetchError too) is a ValueError
        print(f"nnspaces weights: error: {e}", file=sys.stderr)
        return 1
    if args.action == "export":
        rows += [dict(e, status="exported", result=True) for e in manifest["results"]]
    nets = [r for r in rows if not r.get("result")]
    for r in nets:
        network = f"{r['model']} on {r['dataset']}, seed {r['seed']}, {r['weights']} weights"
        print(f"{r['status']}: {network} ({r['file']})")
    results = [r for r in rows if r.get("result")]
    print(f"{args.file}: {len(nets)} checkpoints and {len(results)} cached results {args.action}ed")
    return 0


def _publish_weights(args) -> int:
    """``weights publish OUTDIR --profile P [--tag T]``: one line per file, then the total."""
    from . import __version__, fetch, publish, weights

    tag = args.tag or f"weights-{args.profile}-{__version__}"
    try:
        base = f"{publish.repository().url.rstrip('/')}/releases/download/{tag}/"
        entry = weights.publish(args.outdir, args.profile, base, tag)
    except (OSError, ValueError, publish.PublishError, _r.ReproduceError) as e:
        print(f"nnspaces weights: error: {e}", file=sys.stderr)
        return 1
    for f in entry["files"]:
        print(f"{f['name']}: {fetch.megabytes(f['size'])}, sha256 {f['sha256']} ({f['holds']})")
    total = sum(f["size"] for f in entry["files"])
    print(
        f"{len(entry['files'])} files, {fetch.megabytes(total)} in all, in {args.outdir}; "
        f"pinned in {fetch.registry_path()} for {base}"
    )
    return 0


def _add_publish_parsers(sub) -> None:
    """``publish DEST`` (the published branch's tree) and ``pdf`` (the PDF edition)."""
    pub = sub.add_parser(
        "publish", help="assemble the published branch: tracked files at HEAD + executed chapters"
    )
    pub.add_argument("dest", help="a new (or empty) folder to assemble the tree in")
    pub.add_argument("--workdir", help="the build whose book/chapters/*.ipynb to publish")
    pub.add_argument(
        "--commit",
        metavar="MESSAGE",
        help="also record the tree as a commit whose parent is HEAD and print its hash",
    )
    pdf = sub.add_parser("pdf", help="print the built HTML to one PDF (_build/pdf/book.pdf)")
    pdf.add_argument("--workdir", help="the build whose _build/html to print")
    pdf.add_argument("--out", help="the PDF to write (default <workdir>/_build/pdf/book.pdf)")


def _publish_or_pdf(args) -> int:
    from . import pdf, publish

    try:
        work = _r.repo_root() if args.workdir is None else args.workdir
        if args.command == "pdf":
            out = args.out or f"{work}/_build/pdf/book.pdf"
            pdf.build_pdf(f"{work}/_build/html", out)
            return 0
        tree = publish.publish_tree(work, args.dest)
        print(f"published tree in {tree}", file=sys.stderr)
        if args.commit:
            print(publish.commit_tree(tree, args.commit))
    except (publish.PublishError, pdf.PdfError, _r.ReproduceError) as e:
        print(f"nnspaces {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
