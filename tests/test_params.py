"""Notebook parameters: the library check, and the same check through papermill itself."""

from pathlib import Path

import papermill as pm
import pytest

from nnspaces import params, profiles, reproduce

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_valid_parameters_pass_and_come_back():
    ns = {"layer": "layer1.0.conv1", "max_iter": 3, "network": "fcnn5", "In": [], "_": None}
    assert params.validate(ns, ("layer", "max_iter", "network")) == {
        "layer": "layer1.0.conv1",
        "max_iter": 3,
        "network": "fcnn5",
    }


@pytest.mark.parametrize(
    "ns, match",
    [
        ({"max_iter": "ten"}, "'max_iter' must be int, got str"),
        ({"max_iter": -2}, "'max_iter' = -2 must be ≥ 1"),
        ({"max_iter": True}, "'max_iter' must be int"),
        ({"network": "vgg"}, "'network' = 'vgg' is not allowed: choose one of 'fcnn1'"),
        ({"max_iter": 1, "typo": 3}, "unknown parameter.*'typo'.*allowed are"),
        ({"max_iter": 1, "epochs": 3}, "unknown parameter.*'epochs'.*recipe.*profiles.yml"),
    ],
)
def test_bad_parameters_fail_with_the_name_and_the_allowed_values(ns, match):
    names = tuple(k for k in ns if k not in ("typo", "epochs"))
    with pytest.raises(params.ParameterError, match=match):
        params.validate(ns, names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_declares_exactly_its_registered_parameters(path):
    declared = list(pm.inspect_notebook(str(path)))
    assert path.stem in params.NOTEBOOKS, f"{path.stem} missing from params.NOTEBOOKS"
    assert declared == list(params.NOTEBOOKS[path.stem])
    src = path.read_text()
    assert f'profiles.parameters(globals(), \\"{path.stem}\\")' in src


def test_every_chapter_of_the_profiles_is_a_notebook_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for c in reproduce.chapters():
        assert (ROOT / "notebooks" / f"{c.notebook}.ipynb").is_file()
        assert f"book/chapters/{c.output}" in toc
    for name in reproduce.profile_names():
        for key, value in (reproduce.profile(name).get("parameters") or {}).items():
            params.SPECS[key].check(key, value)
        for c in reproduce.chapters():  # what papermill will pass is declared and valid
            for key, value in reproduce.notebook_parameters(c, name, ROOT / "x.json").items():
                assert key in params.NOTEBOOKS[c.notebook], (c.output, key)
                params.SPECS[key].check(key, value)
            profiles.chapter_configs(c, name)  # TrainConfig checks the recipe's every field
    outputs = [c.output for c in reproduce.chapters()]
    assert len(outputs) == len(set(outputs)), "two chapters write the same executed copy"


@pytest.mark.parametrize(
    "override, match, error",
    [
        ({"max_iter": "ten"}, "'max_iter' must be int", "ParameterError"),
        ({"epochs": 3}, "unknown parameter.*'epochs'.*profiles.yml", "ParameterError"),
        ({"chapter": "02_signal_space"}, "runs notebook '02_signal_space', not", "ParameterError"),
        ({"chapter": "99_nothing"}, "unknown chapter '99_nothing': choose one of", "ProfileError"),
        ({"profile": "tiny"}, "unknown profile 'tiny': choose one of smoke", "ProfileError"),
    ],
)
def test_papermill_run_fails_at_once_naming_the_parameter(override, match, error, tmp_path):
    nb = ROOT / "notebooks" / "05_ideal_inputs.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match=match) as e:
        pm.execute_notebook(
            str(nb),
            str(tmp_path / "out.ipynb"),
            parameters=override,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    assert e.value.ename == error


# --- one source for the training defaults ---------------------------------------------------


def _cell_defaults(path):
    import ast

    return {k: ast.literal_eval(v["default"]) for k, v in pm.inspect_notebook(str(path)).items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_parameters_cell_holds_a_training_parameter(path):
    """The recipe is declared once, in profiles.yml: a chapter's cell names its profile and
    its own entry there, and each default obeys its rule."""
    cell = _cell_defaults(path)
    assert not set(cell) & {*params.TRAIN_PARAMS, "seeds", "models"}
    if "chapter" in cell:
        assert (cell["profile"], cell["chapter"]) == ("default", path.stem)
    for k, v in cell.items():
        params.SPECS[k].check(k, v)


def test_a_chapter_reads_back_its_recipe_and_networks():
    """``P`` holds the profile's recipe for the chapter's first data set; a notebook that
    loads an undeclared network is refused before anything loads."""
    from nnspaces import notebook

    P = profiles.parameters(
        {"profile": "smoke", "chapter": "12_fashion_signal_space"}, "02_signal_space"
    )
    smoke = profiles.profile("smoke")
    assert (P["dataset"], P["n_train"], P["n_val"]) == (
        "fashion-mnist",
        smoke["fashion"]["n_train"],
        smoke["fashion"]["n_val"],
    )
    assert P["epochs"] == smoke["recipe"]["epochs"] and P["models"] == ["fcnn1"]
    seeds = profiles.parameters({"profile": "default", "chapter": "08_seeds"}, "08_seeds")
    assert seeds["seeds"] == profiles.profile("default")["recipe"]["seeds"]
    with pytest.raises(params.ParameterError, match="fcnn5.*does not declare.*fcnn1 on fashion"):
        notebook.trained_models(P, ["fcnn5"])


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
