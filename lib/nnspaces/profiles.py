"""The reproduction's profiles and chapters, as ``profiles.yml`` in the package defines them.

- :func:`profile_names`, :func:`profile` — the profiles (``smoke``, ``default``, ``paper``): a
  description, the training recipe, the Fashion-MNIST sizes and shared notebook parameters.
- :func:`chapters`, :func:`chapter` — the chapters in execution order: source notebook,
  output stem, title, parameters of their own and the networks they load.
- :func:`recipe` — one chapter's training parameters under one profile (declared once, in
  the profile); :func:`chapter_configs` — the networks it loads, as ``TrainConfig``.
- :func:`notebook_parameters` — what papermill passes one chapter; :func:`parameters` — what
  a notebook's cell receives back as ``P`` (its own parameters checked, the recipe added).
- :func:`needed_datasets` — the data sets a profile's chapters read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .models import MODEL_NAMES
from .params import NOTEBOOKS, TRAIN_DEFAULTS, ParameterError, validate
from .train import TrainConfig

_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "weights"}
_DATA = ("main", "fashion")


class ProfileError(ValueError):
    """A profile or chapter the profiles file does not define; the message lists the choices."""


@dataclass(frozen=True)
class Chapter:
    """One executed chapter: source notebook, output stem, title, parameters of its own and
    the networks it loads.

    A notebook may appear several times (e.g. once per data set), each with its own output
    stem, ``title`` (replaces the notebook's first heading) and ``parameters``;
    ``profile_parameters`` holds per-profile values that override both the profile's and
    the chapter's. ``networks`` (``models``, ``seeds``, ``data``) declares the networks it
    loads, ``profile_networks`` per-profile changes to it (:func:`chapter_configs`).
    """

    notebook: str
    output: str
    parameters: dict = field(default_factory=dict)
    title: str | None = None
    profile_parameters: dict = field(default_factory=dict)
    networks: dict = field(default_factory=dict)
    profile_networks: dict = field(default_factory=dict)


def load_config() -> dict:
    """The profiles file (``nnspaces/profiles.yml``) as a dict."""
    text = resources.files("nnspaces").joinpath("profiles.yml").read_text()
    return yaml.safe_load(text)


def profile_names() -> list[str]:
    return list(load_config()["profiles"])


def profile(name: str) -> dict:
    """A profile's ``description``, ``recipe``, ``fashion`` sizes and ``parameters``;
    ``ProfileError`` naming the choices."""
    profiles = load_config()["profiles"]
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}: choose one of {', '.join(profiles)}")
    return profiles[name]


def chapters() -> list[Chapter]:
    """The chapters in execution order, as ``profiles.yml`` lists them."""
    keys = [f.name for f in dataclasses.fields(Chapter)]
    return [
        Chapter(**{k: c[k] for k in keys if c.get(k) is not None})
        for c in load_config()["chapters"]
    ]


def chapter(output: str) -> Chapter:
    """The chapter whose output stem is ``output``; ``ProfileError`` naming the choices."""
    found = {c.output: c for c in chapters()}
    if output not in found:
        raise ProfileError(f"unknown chapter {output!r}: choose one of {', '.join(found)}")
    return found[output]


def profile_recipe(profile_name: str) -> dict:
    """A profile's training recipe as ``profiles.yml`` declares it, with
    ``params.TRAIN_DEFAULTS`` where it says nothing: ``params.TRAIN_PARAMS`` and ``seeds``
    (a list, its first the ``seed`` of every chapter that trains one network per model)."""
    base = {**TRAIN_DEFAULTS, **(profile(profile_name).get("recipe") or {})}
    base["seeds"] = list(base.get("seeds") or [base["seed"]])
    base["seed"] = base["seeds"][0]
    return base


def _data(profile_name: str, which: str) -> dict:
    """What data set ``which`` (``main`` or ``fashion``) changes in a profile's recipe."""
    fashion = profile(profile_name).get("fashion") or {}
    return {} if which == "main" else {"dataset": "fashion-mnist", "data_root": None, **fashion}


def recipe(c: Chapter, profile_name: str) -> dict:
    """The training parameters of chapter ``c`` under a profile: ``params.TRAIN_PARAMS``
    (its first data set's: Fashion-MNIST at the profile's ``fashion`` sizes for a chapter
    on clothing, ``seed`` the profile's first seed); a chapter that loads networks also gets
    ``models``, one that trains every seed ``seeds``, and one that compares both data sets
    ``fashion_n_train`` and ``fashion_n_val``."""
    base = profile_recipe(profile_name)
    seeds = base.pop("seeds")
    spec = _networks(c, profile_name)
    if spec.get("seeds") == "all":
        base["seeds"] = seeds
    data = spec.get("data", ["main"])
    base.update(_data(profile_name, data[0]))
    if "fashion" in data[1:]:
        fashion = _data(profile_name, "fashion")
        base.update(fashion_n_train=fashion.get("n_train"), fashion_n_val=fashion.get("n_val"))
    if spec:
        base["models"] = list(spec["models"])
    return base


def _networks(c: Chapter, profile_name: str) -> dict:
    spec = {**c.networks, **(c.profile_networks.get(profile_name) or {})}
    if not spec:
        return {}
    bad = [m for m in spec.get("models", ()) if m not in MODEL_NAMES]
    bad += [d for d in spec.get("data", ()) if d not in _DATA]
    if not spec.get("models") or bad or spec.get("seeds", "all") != "all":
        raise ProfileError(
            f"chapter {c.output!r}: networks {spec} in profiles.yml: 'models' lists some of "
            f"{', '.join(MODEL_NAMES)}; 'seeds' is 'all' or absent; 'data' lists main and/or "
            f"fashion{f' (not {bad})' if bad else ''}"
        )
    return spec


def chapter_configs(c: Chapter, profile_name: str) -> list[TrainConfig]:
    """The networks chapter ``c`` loads under a profile, as its ``networks`` entry in
    ``profiles.yml`` declares them (none without one).

    Returns
    -------
    list of TrainConfig
        ``weights="final"``, in the order data sets × models × seeds.
    """
    spec = _networks(c, profile_name)
    if not spec:
        return []
    p = recipe(c, profile_name)
    seeds = p.get("seeds", [p["seed"]])
    out = []
    for d in spec.get("data", ["main"]):
        kw = {k: v for k, v in {**p, **_data(profile_name, d)}.items() if k in _FIELDS}
        out += [TrainConfig(m, **{**kw, "seed": s}) for m in spec["models"] for s in seeds]
    return out


def notebook_parameters(c: Chapter, profile_name: str, run_log: Path | None = None) -> dict:
    """The parameters papermill passes: ``profile`` and ``chapter`` (the notebook reads its
    recipe and networks back with them: :func:`parameters`), the profile's ``parameters``
    that the notebook declares, the chapter's own, and ``run_log`` (the pipeline's
    ``_run.json``) to a notebook that declares it."""
    declared = NOTEBOOKS.get(c.notebook)
    if declared is None:
        raise ProfileError(f"notebook {c.notebook!r} has no entry in params.NOTEBOOKS")
    shared = {
        k: v for k, v in (profile(profile_name).get("parameters") or {}).items() if k in declared
    }
    if "profile" in declared:
        shared["profile"] = profile_name
    if "chapter" in declared:
        shared["chapter"] = c.output
    if "run_log" in declared and run_log is not None:
        shared["run_log"] = str(run_log)
    return {**shared, **c.parameters, **(c.profile_parameters.get(profile_name) or {})}


def parameters(namespace: dict, notebook: str) -> dict:
    """A notebook's ``P``: its parameters checked (:func:`nnspaces.params.validate`), and for
    one that declares ``chapter`` that chapter's :func:`recipe` under ``profile`` added.

    Raises
    ------
    ParameterError
        A parameter that breaks its rule; a ``chapter`` that is not ``notebook``'s.
    ProfileError
        An unknown profile or chapter (the message lists the choices).

    Examples
    --------
    >>> P = parameters({"profile": "default", "chapter": "02_signal_space"}, "02_signal_space")
    >>> P["dataset"], P["epochs"], P["seed"], P["models"]
    ('mnist-5k', 20, 0, ['fcnn1'])
    """
    own = validate(namespace, notebook)
    if "chapter" not in own:
        return own
    c = chapter(own["chapter"])
    if c.notebook != notebook:
        raise ParameterError(
            f"chapter {c.output!r} runs notebook {c.notebook!r}, not {notebook!r}: set "
            f"'chapter' to one of {[x.output for x in chapters() if x.notebook == notebook]}"
        )
    return {**recipe(c, own["profile"]), **own}


def needed_datasets(profile_name: str, todo: list[Chapter] | None = None) -> dict[str, object]:
    """The data sets the chapters ``todo`` (default: all) read under a profile.

    Returns
    -------
    datasets : dict name → root
        Each data set's ``data_root`` (None: the default location).
    """
    out: dict[str, object] = {}
    for c in chapters() if todo is None else todo:
        if "chapter" not in NOTEBOOKS.get(c.notebook, ()):
            continue
        p = recipe(c, profile_name)
        out.setdefault(p["dataset"], p["data_root"])
        if "fashion" in _networks(c, profile_name).get("data", ()):
            out.setdefault("fashion-mnist", None)
    return out
