"""requirements.txt and environment.yml pin the same set; what nnspaces.environment records
(versions, machine, timings) and says about the data split and about reruns."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nnspaces import data, environment, notebook
from nnspaces.data import sources

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


def _lock() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: normalised name → (version, its sha256 hashes), each marker's entry
    (a universal lock may pin a package once per Python or platform)."""
    entries, current = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if m := re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", line):
            current = entries.setdefault(_norm(m[1]), [])
            current.append((m[2], []))
        elif m := re.search(r"--hash=sha256:([0-9a-f]{64})", line):
            current[-1][1].append(m[1])
    return entries


def test_the_lock_pins_every_requirement_and_hashes_every_package():
    lock = _lock()
    for name, version in _requirements().items():
        assert name in lock, f"{name} is not in requirements.lock: run `make lock`"
        versions = {v for v, _ in lock[name]}
        assert versions == {version}, (
            f"requirements.txt pins {name}=={version}, requirements.lock {sorted(versions)}: "
            "run `make lock`"
        )
    assert len(lock) > 2 * len(_requirements())  # the dependencies of the pins too
    for name, pins in lock.items():
        for version, hashes in pins:
            assert hashes, f"{name}=={version} has no hash in requirements.lock"


def test_make_install_installs_the_lock_with_hashes_and_make_lock_writes_it():
    make = (ROOT / "Makefile").read_text()
    stamp = make[make.index("$(STAMP): ") :].split("\n\n")[0]
    assert stamp.startswith("$(STAMP): requirements.lock pyproject.toml")
    assert "pip install --require-hashes -r requirements.lock" in stamp
    assert "pip install --no-deps --no-build-isolation -e ." in stamp  # the locked setuptools
    lock = make[make.index("\nlock:") :].split("\n\n")[0]
    assert "uv pip compile" in lock and "--generate-hashes" in lock
    assert "requirements.txt -o requirements.lock" in lock
    header = (ROOT / "requirements.lock").read_text().splitlines()[:2]
    assert header[1].strip("# ") == "make lock"  # how to compile it again, in its header
    assert {"uv", "setuptools"} <= set(_requirements())


def test_environment_record(tmp_path):
    v = environment.package_versions(("torch", "surely-not-a-package"))
    assert str(torch.__version__).startswith(v.loc[0, "version"].split("+")[0])
    assert v.loc[1, "version"] == "not installed"
    assert environment.machine()["cpu cores"].isdigit()
    log = tmp_path / "_run.json"
    log.write_text('{"seconds": {"01_models": 3.5}}')
    assert environment.timings(log).to_dict("records") == [{"chapter": "01_models", "seconds": 3.5}]
    assert environment.timings(None).empty
    assert environment.parallel_jobs(log) == 1  # a log from before parallel runs
    log.write_text('{"seconds": {}, "jobs": 2}')
    assert environment.parallel_jobs(log) == 2 and environment.parallel_jobs(None) == 1


# --- what the reproducibility appendix says about the data split and reruns ---------------


def test_the_mnist5k_split_sentence_states_what_load_does(mnist5k):
    text = environment.split_method("mnist-5k")
    assert "3,500 / 500 / 1,000" in text and "stratified: 350 / 50 / 100" in text
    assert "seeded with 0" in text and "not stratified" not in text
    for split, per_class in (("train", 350), ("val", 50), ("test", 100)):
        counts = np.bincount(getattr(mnist5k, f"y_{split}").numpy(), minlength=10)
        assert (counts == per_class).all(), split
    # the appendix describes the split notebook.load_splits makes: data.load's seed 0
    again = notebook.load_splits({"dataset": "mnist-5k"})
    assert torch.equal(again.y_val, mnist5k.y_val)


def test_the_torchvision_split_sentence_states_what_load_does(monkeypatch, tmp_path):
    """Full MNIST / Fashion-MNIST: one seeded permutation of the 60 000 training images holds
    out 10 000; the test images are the official ones. A fake torchvision class stands in."""

    class Fake:
        def __init__(self, root, train, download):
            n = 60000 if train else 10000
            self.data = torch.zeros(n, 28, 28, dtype=torch.uint8)
            # labels = indices, so the split's indices can be read back; classes are index % 10
            self.targets = torch.arange(n)

    s = sources._torchvision_splits(Fake, tmp_path, "mnist", "fake", 0, data.DIGITS)
    text = environment.split_method("mnist")
    held_out = torch.randperm(60000, generator=torch.Generator().manual_seed(0))[:10000]
    assert torch.equal(s.y_val, held_out.sort().values)
    assert s.sizes == {"train": 50000, "val": 10000, "test": 10000}
    assert "60,000 official MNIST" in text and "seeded with 0" in text
    assert "10,000 of them are held out" in text and "other 50,000" in text
    assert "not stratified" in text and "official 10,000" in text
    # not stratified indeed: the classes (index % 10) do not fall 1 000 each into validation
    assert not (np.bincount(s.y_val.numpy() % 10) == 1000).all()
    assert "Fashion-MNIST" in environment.split_method("fashion-mnist")


def test_the_split_sentence_names_a_subset_only_when_one_is_cut():
    assert "300 training images is kept, stratified" in environment.split_method(
        "mnist-5k", n_train=300
    )
    both = environment.split_method("mnist", n_train=3500, n_val=500)
    assert "3,500 training images and 500 validation images is kept" in both
    assert "kept" not in environment.split_method("mnist-5k", n_train=3500)  # the whole split
    with pytest.raises(ValueError, match="'dataset' = 'cifar' is not allowed"):
        environment.split_method("cifar")


def test_rerun_digests_trains_twice_from_empty_caches(cache_dir):
    params = {
        "dataset": "mnist-5k",
        "data_root": None,
        "lr": 1e-3,
        "momentum": 0.9,
        "batch_size": 32,
        "seed": 3,
        "device": "cpu",
    }
    r = environment.rerun_digests(params, models=("fcnn1",), n=40)
    assert list(r.columns) == ["model", "first", "second", "identical"]
    assert r.loc[0, "identical"] and r.loc[0, "first"] == r.loc[0, "second"]
    assert len(r.loc[0, "first"]) == 16
    assert not cache_dir.exists() or not list(cache_dir.rglob("*.pt"))  # the cache is untouched


def test_the_version_is_written_once_and_cited_as_it_is():

    import nnspaces

    root = Path(__file__).resolve().parents[1]
    assert 'dynamic = ["version"]' in (root / "pyproject.toml").read_text()
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert str(citation["version"]) == nnspaces.__version__
    out = subprocess.run(
        [sys.executable, "-m", "nnspaces", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"nnspaces {nnspaces.__version__}"


# --- outside a checkout: the commands that need the book's files say so, with the fix ----------


def _installed_copy(tmp_path: Path) -> Path:
    """The package as a wheel installs it: ``nnspaces/`` alone in a folder, no checkout around."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "lib" / "nnspaces", site / "nnspaces")
    return site


@pytest.mark.parametrize(
    "args", [["reproduce", "--profile", "smoke"], ["publish", "DEST"], ["pdf"]], ids=" ".join
)
def test_commands_outside_a_checkout_say_what_is_missing_and_the_fix(tmp_path, args):
    site = _installed_copy(tmp_path)
    args = [str(tmp_path / "dest") if a == "DEST" else a for a in args]
    env = dict(os.environ, PYTHONPATH=str(site), NNSPACES_CACHE=str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-m", "nnspaces", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith(f"nnspaces {args[0]}: error: no _config.yml or notebooks in ")
    assert "clone the book's repository with git" in out.stderr and "make book" in out.stderr
    assert not (tmp_path / "dest").exists() and not (tmp_path / "cache").exists()


def test_publish_outside_git_says_the_tree_comes_from_a_commit(tmp_path):
    """A copy of the book without .git (a downloaded archive): git's reason, then the fix."""
    from nnspaces import publish

    (tmp_path / "_config.yml").write_text("title: a copy\n")
    with pytest.raises(publish.PublishError) as e:
        publish._git_archive(tmp_path, tmp_path / "out")
    assert "not a git repository" in str(e.value)
    assert "run this in a git clone of the book's repository" in str(e.value)


def test_reproduce_without_the_source_notebooks_names_them_and_runs_nothing(tmp_path):
    from nnspaces import reproduce

    root, work = tmp_path / "checkout", tmp_path / "work"
    (root / "notebooks").mkdir(parents=True)
    stems = sorted({f"{c.notebook}.ipynb" for c in reproduce.chapters()})
    (root / "notebooks" / stems[0]).write_text("{}")
    with pytest.raises(reproduce.ReproduceError) as e:
        reproduce.plan.make_plan(root, work, None, "smoke", False, 1, print)
    assert f"lacks the source notebooks {stems[1:]}" in str(e.value)
    assert "git checkout -- notebooks" in str(e.value) and "Nothing was run" in str(e.value)
    assert not work.exists()
