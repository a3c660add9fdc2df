"""requirements.txt and environment.yml pin the same set."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for p in dep["pip"]:
                if "==" in p:
                    name, version = p.split("==")
                    pins[_norm(name)] = version
        elif "=" in dep and not dep.startswith("python="):
            name, version = dep.split("=")
            pins[_norm(name)] = version
    return pins


def test_requirements_and_environment_pin_the_same_versions():
    assert _requirements() == _environment()


def test_the_pins_include_the_required_stack():
    pins = _requirements()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["jupyter-book"].startswith("1.")
    for name in ("papermill", "myst-nb", "matplotlib", "numpy", "mlxtend", "tqdm", "jupyterlab"):
        assert name in pins, name
