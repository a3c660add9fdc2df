"""Notebook parameters: the library check, and the same check through papermill itself."""

from pathlib import Path

import papermill as pm
import pytest

from nnspaces import params, reproduce

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_valid_parameters_pass_and_come_back():
    ns = {"dataset": "mnist", "epochs": 3, "lr": 1, "In": [], "_": None}
    assert params.validate(ns, ("dataset", "epochs", "lr")) == {
        "dataset": "mnist",
        "epochs": 3,
        "lr": 1,
    }


@pytest.mark.parametrize(
    "ns, match",
    [
        ({"epochs": "ten"}, "'epochs' must be int, got str"),
        ({"epochs": -2}, "'epochs' = -2 must be ≥ 1"),
        ({"epochs": True}, "'epochs' must be int"),
        ({"dataset": "cifar"}, "'dataset' = 'cifar' is not allowed: choose one of 'mnist-5k'"),
        ({"models": ["fcnn1", "vgg"]}, "'models'.*'fcnn1', 'fcnn5', 'resnet18'"),
        ({"n_train": None, "epochs": 1, "typo": 3}, "unknown parameter.*'typo'.*allowed are"),
    ],
)
def test_bad_parameters_fail_with_the_name_and_the_allowed_values(ns, match):
    names = tuple(k for k in ns if k != "typo")
    with pytest.raises(params.ParameterError, match=match):
        params.validate(ns, names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_declares_exactly_its_registered_parameters(path):
    declared = list(pm.inspect_notebook(str(path)))
    assert path.stem in params.NOTEBOOKS, f"{path.stem} missing from params.NOTEBOOKS"
    assert declared == list(params.NOTEBOOKS[path.stem])
    src = path.read_text()
    assert f'validate(globals(), \\"{path.stem}\\")' in src


def test_every_chapter_of_the_profiles_is_a_notebook_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for c in reproduce.chapters():
        assert (ROOT / "notebooks" / f"{c.notebook}.ipynb").is_file()
        assert f"book/chapters/{c.output}" in toc
    for name in reproduce.profile_names():
        for key, value in reproduce.profile(name)["parameters"].items():
            params.SPECS[key].check(key, value)
        for c in reproduce.chapters():  # what papermill will pass is declared and valid
            for key, value in reproduce.notebook_parameters(c, name, ROOT / "x.json").items():
                assert key in params.NOTEBOOKS[c.notebook], (c.output, key)
                params.SPECS[key].check(key, value)
    outputs = [c.output for c in reproduce.chapters()]
    assert len(outputs) == len(set(outputs)), "two chapters write the same executed copy"


@pytest.mark.parametrize(
    "override, match",
    [
        ({"epochs": "ten"}, "'epochs' must be int"),
        ({"n_train": -5}, "'n_train' = -5 must be"),
        ({"dataset": "svhn"}, "'dataset' = 'svhn' is not allowed"),
        ({"models": ["alexnet"]}, "'models'"),
        ({"learning_rate": 0.1}, "unknown parameter.*'learning_rate'"),
    ],
)
def test_papermill_run_fails_at_once_naming_the_parameter(override, match, tmp_path):
    nb = ROOT / "notebooks" / "01_models.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match=match) as e:
        pm.execute_notebook(
            str(nb),
            str(tmp_path / "out.ipynb"),
            parameters=override,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    assert e.value.ename == "ParameterError"


# --- one source for the training defaults ---------------------------------------------------


def _cell_defaults(path):
    import ast

    return {k: ast.literal_eval(v["default"]) for k, v in pm.inspect_notebook(str(path)).items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_parameters_cell_holds_the_training_defaults(path):
    cell = _cell_defaults(path)
    trains = {k: v for k, v in cell.items() if k in params.TRAIN_PARAMS}
    if trains:  # a notebook that trains declares them all, with the one set of defaults
        assert trains == params.TRAIN_DEFAULTS
    for k, v in cell.items():  # and every default obeys its own rule
        params.SPECS[k].check(k, v)


def test_the_training_defaults_are_the_configs_and_train_or_load_repeats_none():
    import dataclasses
    import inspect

    from nnspaces import train, trainlength

    config = {f.name: f.default for f in dataclasses.fields(train.TrainConfig) if f.name != "model"}
    own = {"data_root": None, "device": "auto"}  # the notebooks' two of their own
    assert {k: v for k, v in params.TRAIN_DEFAULTS.items() if k not in own} == {
        k: config[k] for k in params.TRAIN_PARAMS if k not in own
    }
    assert {k: params.TRAIN_DEFAULTS[k] for k in own} == own
    for fn in (train.train_or_load, trainlength.training_curve):
        for name, p in inspect.signature(fn).parameters.items():
            if name in config:
                assert p.default == config[name], (fn.__name__, name)
