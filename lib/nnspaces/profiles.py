"""The reproduction's profiles and chapters, as ``profiles.yml`` in the package defines them.

- :func:`profile_names`, :func:`profile` — the profiles (``smoke``, ``default``, ``paper``): a
  description and the parameters every chapter notebook may take.
- :func:`chapters` — the chapters in execution order: source notebook, output stem, title,
  parameters of their own.
- :func:`notebook_parameters` — what papermill passes one chapter under one profile.
- :func:`needed_datasets` — the data sets a profile's chapters read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .params import NOTEBOOKS


class ProfileError(ValueError):
    """A profile or chapter the profiles file does not define; the message lists the choices."""


@dataclass(frozen=True)
class Chapter:
    """One executed chapter: source notebook, output stem, title and parameters of its own.

    A notebook may appear several times (e.g. once per data set), each with its own output
    stem, ``title`` (replaces the notebook's first heading) and ``parameters``;
    ``profile_parameters`` holds per-profile values that override both the profile's and
    the chapter's (e.g. a training subset that differs between ``smoke`` and ``default``).
    """

    notebook: str
    output: str
    parameters: dict = field(default_factory=dict)
    title: str | None = None
    profile_parameters: dict = field(default_factory=dict)


def load_config() -> dict:
    """The profiles file (``nnspaces/profiles.yml``) as a dict."""
    text = resources.files("nnspaces").joinpath("profiles.yml").read_text()
    return yaml.safe_load(text)


def profile_names() -> list[str]:
    return list(load_config()["profiles"])


def profile(name: str) -> dict:
    """A profile's ``description`` and ``parameters``; ``ValueError`` naming the choices."""
    profiles = load_config()["profiles"]
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}: choose one of {', '.join(profiles)}")
    return profiles[name]


def chapters() -> list[Chapter]:
    """The chapters in execution order, as ``profiles.yml`` lists them."""
    return [
        Chapter(
            c["notebook"],
            c["output"],
            c.get("parameters") or {},
            c.get("title"),
            c.get("profile_parameters") or {},
        )
        for c in load_config()["chapters"]
    ]


def notebook_parameters(chapter: Chapter, profile_name: str, run_log: Path | None = None) -> dict:
    """The parameters papermill passes: the profile's that the notebook declares, plus its own.

    A notebook that declares ``profile`` receives the profile's name, and one that declares
    ``run_log`` the path of the pipeline's ``_run.json`` (timings of the chapters so far).
    """
    declared = NOTEBOOKS.get(chapter.notebook)
    if declared is None:
        raise ProfileError(f"notebook {chapter.notebook!r} has no entry in params.NOTEBOOKS")
    shared = {k: v for k, v in profile(profile_name)["parameters"].items() if k in declared}
    if "profile" in declared:
        shared["profile"] = profile_name
    if "run_log" in declared and run_log is not None:
        shared["run_log"] = str(run_log)
    own = chapter.profile_parameters.get(profile_name) or {}
    return {**shared, **chapter.parameters, **own}


def needed_datasets(profile_name: str, todo: list[Chapter] | None = None) -> dict[str, object]:
    """The data sets the chapters ``todo`` (default: all) read under a profile.

    Returns
    -------
    datasets : dict name → root
        Each data set's ``data_root`` parameter (None: the default location).
    """
    out: dict[str, object] = {}
    for c in chapters() if todo is None else todo:
        p = notebook_parameters(c, profile_name)
        out.setdefault(p.get("dataset", "mnist-5k"), p.get("data_root"))
        if "fashion_n_train" in p:  # the comparison chapter reads Fashion-MNIST too
            out.setdefault("fashion-mnist", None)
    return out
