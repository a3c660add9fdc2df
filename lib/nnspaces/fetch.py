"""Published trained networks: the registry of their files, and checked downloads into the cache.

CI publishes each profile's trained networks as release assets of the repository
(``python -m nnspaces weights publish``, :func:`nnspaces.weights.publish`): one
single-network bundle per network, holding the weights the chapters load (the final
epoch's: the best epoch's scores come with them, in the checkpoint's training report), and
one bundle of the results the profile's chapters memoised. ``registry.json``, installed with
the package, pins every file: per profile a base URL, and per file its name, SHA-256, size
and what it holds (a network id, or ``"results"``). With no files in it, nothing is fetched.

- :func:`fetch` — the pipeline's networks stage: each network of a list that the cache lacks
  and the registry lists, then the profile's results; what it could not fetch (server
  unreachable, a file refused) is reported and left to training.
- :func:`fetch_network` — one network; :func:`nnspaces.train.train_or_load` calls it before
  training a network the registry lists, so a chapter run on Colab or Binder fetches too.
- :func:`download` — one file with pooch (progress bar, short connection timeout), kept only
  when its SHA-256 is the pinned one.
- the registry (:mod:`nnspaces.registry`: :func:`read_registry`, :func:`write_registry`,
  :func:`locate`, :func:`locate_url`), whose names are also this module's.

A download goes to a temporary folder outside the cache and must match the registry's
SHA-256, then pass every check of :func:`nnspaces.bundle.install`, before anything enters the
cache: a refused file leaves the cache as it was.

Environment: ``NNSPACES_WEIGHTS_URL`` replaces every profile's base URL (a mirror, a test's
loopback server); ``NNSPACES_REGISTRY`` names another registry file (a test's, a benchmark's).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import bundle, cache
from .registry import (  # noqa: F401  (the registry's names, also read from here)
    HEX,
    NAME,
    REGISTRY,
    REGISTRY_ENV,
    REGISTRY_FORMAT,
    URL_ENV,
    RegistryError,
    empty_registry,
    locate,
    locate_url,
    read_registry,
    registry_path,
    results_file,
    write_registry,
)

#: Seconds to connect, and to wait between two reads: a server that cannot be reached is
#: reported after at most the first, and nothing more is asked of it in this process.
TIMEOUT = (10.0, 20.0)
#: Seconds during which a server that could not be reached is not asked again.
RETRY_AFTER = 300.0

#: Server (scheme://host:port) → time.monotonic() when it could not be reached.
_DOWN: dict[str, float] = {}


class FetchError(bundle.BundleError):
    """A published file could not be downloaded, or was refused; ``unreachable`` is True when
    its server could not be reached at all."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


# --- downloads ------------------------------------------------------------------------------


def check_sha256(sha256: str) -> str:
    """``sha256`` in lower case once it is 64 hex digits; ``ValueError`` saying so otherwise."""
    if not isinstance(sha256, str) or not HEX.fullmatch(sha256.lower()):
        raise ValueError(f"SHA-256 {sha256!r} is not 64 hexadecimal digits")
    return sha256.lower()


def download(url: str, sha256: str, folder: str | Path, progress: bool = True) -> Path:
    """Download ``url`` into ``folder`` with pooch; kept only when its SHA-256 is ``sha256``.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` URL (redirects are followed).
    sha256 : str
        The pinned SHA-256, 64 hex digits.
    folder : path
        Where the file goes: pooch streams it into a temporary file there, checks the digest,
        then renames it (a mismatching or broken download leaves nothing).
    progress : bool
        A tqdm bar (bytes, rate, time left).

    Returns
    -------
    Path
        The downloaded file, named as the URL's last part.

    Raises
    ------
    FetchError
        Server unreachable (``unreachable=True``: refused, timed out, no name resolution),
        an HTTP error, a download broken off, or a digest that differs (truncated, tampered
        or replaced file).
    """
    import pooch
    import requests

    sha256 = check_sha256(sha256)
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"{url} is not an http:// or https:// URL")
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not NAME.fullmatch(name):
        raise FetchError(f"{url}: {name!r} is not the name of a weights bundle (.tar, .tar.gz)")
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # our own lines say what is fetched
    try:
        got = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=name,
            path=folder,
            downloader=pooch.HTTPDownloader(
                progressbar=progress, timeout=TIMEOUT, chunk_size=2**16
            ),
        )
    except ValueError as e:  # pooch: the downloaded file's hash is not the known one
        raise FetchError(
            f"{url} was refused: its SHA-256 is not the pinned {sha256[:16]}… (a truncated, "
            "tampered or replaced file); nothing was installed, the cache is as it was"
        ) from e
    except requests.HTTPError as e:
        raise FetchError(f"{url}: {e} (is the file published there?)") from e
    except (requests.ConnectionError, requests.Timeout) as e:
        raise FetchError(
            f"cannot reach {_server(url)} ({type(e).__name__}: {_first_line(e)})",
            unreachable=True,
        ) from e
    except requests.RequestException as e:  # e.g. the body broke off mid-way
        raise FetchError(
            f"{url}: the download broke off ({type(e).__name__}: {_first_line(e)}); nothing "
            "was installed"
        ) from e
    finally:
        logger.setLevel(level)
    return Path(got)


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0][:200] if str(e) else ""


def _fetch_file(url: str, entry: dict, cache_dir, config_of, progress: bool) -> list[dict]:
    """Download one published bundle into a temporary folder, then install it with every
    check of :func:`nnspaces.bundle.install`; the rows it returns."""
    server = _server(url)
    if time.monotonic() - _DOWN.get(server, -RETRY_AFTER) < RETRY_AFTER:
        raise FetchError(f"{server} could not be reached a moment ago", unreachable=True)
    with tempfile.TemporaryDirectory(prefix="nnspaces-fetch-") as tmp:
        try:
            path = download(url, entry["sha256"], tmp, progress)
        except FetchError as e:
            if e.unreachable:
                _DOWN[server] = time.monotonic()
            raise
        return bundle.install(path, cache_dir, config_of)


def _asked_for(cfg):
    """A ``config_of`` for :func:`nnspaces.bundle.install` that accepts only ``cfg``'s training
    run (its final or best weights), with this library's key."""

    def config_of(entry: dict, manifest: dict):
        try:
            twin = dataclasses.replace(cfg, weights=entry["weights"])
        except (TypeError, ValueError):
            twin = None
        if twin is None or twin.key() != entry["config"]:
            raise bundle.BundleError(
                f"bundle member {entry['file']} is not the network asked for "
                f"({cfg.filename()}): the published file and the registry disagree, or the "
                "file was made by another version; " + bundle.other_version(manifest)
            )
        return twin

    return config_of


# --- what the pipeline and train_or_load call -----------------------------------------------


def fetch_network(
    cfg,
    cache_dir: str | Path | None = None,
    log=None,
    progress: bool = True,
    registry: dict | None = None,
) -> str | None:
    """Fetch one network the registry lists into the cache; never raises for a failed fetch.

    Parameters
    ----------
    cfg : nnspaces.train.TrainConfig
        The network; its checkpoint's file name is looked up in the registry.
    cache_dir : path, optional
        The cache (default :func:`nnspaces.cache.root`).
    log : callable, optional
        Receives one line: what was fetched, or why not (default: printed to stderr).
    progress : bool
        The download's progress bar.
    registry : dict, optional
        A registry already read (default :func:`read_registry`).

    Returns
    -------
    str or None
        None when the registry does not list the network (nothing was asked of any server);
        ``"fetched"``; ``"unreachable"``; or ``"refused"`` (the message says why). After
        anything but ``"fetched"`` the caller trains.
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    found = locate(cfg.filename(), registry)
    if found is None:
        return None
    url, entry = found
    t0 = time.monotonic()
    try:
        _fetch_file(url, entry, cache_dir, _asked_for(cfg), progress)
    except FetchError as e:
        log(f"[fetch] {entry['holds']}: {e}; training it instead")
        return "unreachable" if e.unreachable else "refused"
    except bundle.BundleError as e:
        log(f"[fetch] {entry['holds']}: {url} refused ({e}); the cache is as it was; training it")
        return "refused"
    if not (Path(cache_dir or cache.root()) / "models" / cfg.filename()).is_file():
        log(f"[fetch] {entry['holds']}: {url} does not hold {cfg.filename()}; training it")
        return "refused"
    log(
        f"[fetch] {entry['holds']}: fetched {entry['name']} ({megabytes(entry['size'])}, "
        f"{time.monotonic() - t0:.1f} s), checked and installed"
    )
    return "fetched"


def fetch(
    cfgs,
    profile: str | None = None,
    cache_dir: str | Path | None = None,
    log=print,
    progress: bool = True,
    registry: dict | None = None,
) -> dict:
    """Fetch every network of ``cfgs`` the cache lacks and the registry lists, then the
    profile's published results; report what could not be fetched, which the caller trains.

    Parameters
    ----------
    cfgs : list of nnspaces.train.TrainConfig
        The networks the run needs (:func:`nnspaces.networks.configs`).
    profile : str, optional
        Whose published results to fetch too, when the cache holds no index of that
        profile's results (:func:`nnspaces.cache.results_index`: no build of it yet) and the
        registry lists them; so a build from the published files computes nothing heavy.
    cache_dir : path, optional
        The cache (default :func:`nnspaces.cache.root`).
    log : callable
        Receives one line per file fetched or refused, and one if the server is unreachable.
    progress : bool
        A progress bar per download.
    registry : dict, optional
        A registry already read (default :func:`read_registry`).

    Returns
    -------
    dict
        ``networks``: network id → ``"fetched"``, ``"refused"`` or ``"unreachable"`` (only
        those the registry lists and the cache lacked); ``results``: the same for the
        profile's results file, or None; ``bytes`` downloaded and installed; ``seconds``.
    """
    reg = read_registry() if registry is None else registry
    t0 = time.monotonic()
    root = Path(cache_dir or cache.root())
    out: dict = {"networks": {}, "results": None, "bytes": 0}
    down = False  # once the server is unreachable, the rest is trained without asking again
    for cfg in cfgs:
        found = locate(cfg.filename(), reg)
        if found is None or (root / "models" / cfg.filename()).is_file():
            continue
        status = "unreachable" if down else fetch_network(cfg, cache_dir, log, progress, reg)
        down = status == "unreachable"
        out["networks"][found[1]["holds"]] = status
        out["bytes"] += found[1]["size"] if status == "fetched" else 0
    results = results_file(profile, reg) if profile is not None else None
    index = root / cache.results_index(profile).relative_to(cache.root()) if results else None
    if results is not None and not index.is_file():
        fetched = "unreachable" if down else _fetch_results(*results, cache_dir, log, progress)
        out["results"] = fetched
        out["bytes"] += results[1]["size"] if fetched == "fetched" else 0
    out["seconds"] = round(time.monotonic() - t0, 1)
    done = [k for k, v in out["networks"].items() if v == "fetched"]
    if out["networks"] or out["results"]:
        log(
            f"[fetch] {len(done)} of {len(out['networks'])} published network(s) fetched"
            + (", and the profile's results" if out["results"] == "fetched" else "")
            + f" ({megabytes(out['bytes'])} in {out['seconds']:.1f} s)"
            + ("; the others are trained" if len(done) < len(out["networks"]) else "")
        )
    return out


def _fetch_results(url: str, entry: dict, cache_dir, log, progress: bool) -> str:
    """Fetch a profile's results bundle (no checkpoints: any in it are refused)."""

    def no_networks(entry: dict, manifest: dict):
        raise bundle.BundleError(f"a results file holds a network ({entry['file']})")

    t0 = time.monotonic()
    try:
        rows = _fetch_file(url, entry, cache_dir, no_networks, progress)
    except FetchError as e:
        log(f"[fetch] results: {e}; the chapters compute them instead")
        return "unreachable" if e.unreachable else "refused"
    except bundle.BundleError as e:
        log(f"[fetch] results: {url} refused ({e}); the cache is as it was")
        return "refused"
    log(
        f"[fetch] results: fetched {entry['name']} ({len(rows)} cached results, "
        f"{megabytes(entry['size'])}, {time.monotonic() - t0:.1f} s), checked and installed"
    )
    return "fetched"


def megabytes(n: int) -> str:
    """``"44.8 MB"``: a size in bytes as the log prints it (decimal megabytes).

    >>> megabytes(44_800_000), megabytes(31_500)
    ('44.8 MB', '0.03 MB')
    """
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e6:.2f} MB"
