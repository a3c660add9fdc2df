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
        "dataset": "mnist", "epochs": 3, "lr": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    "ns, match",
    [({"epochs": "ten"}, "'epochs' must be int, got str"),
     ({"epochs": -2}, "'epochs' = -2 must be ≥ 1"),
     ({"epochs": True}, "'epochs' must be int"),
     ({"dataset": "cifar"}, "'dataset' = 'cifar' is not allowed: choose one of 'mnist-5k'"),
     ({"models": ["fcnn1", "vgg"]}, "'models'.*'fcnn1', 'fcnn5', 'resnet18'"),
     ({"n_train": None, "epochs": 1, "typo": 3}, "unknown parameter.*'typo'.*allowed are")],
)  # fmt: skip
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


def test_a_repeated_chapter_gets_its_own_title_and_labels(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Old title\ntext"),
                nbformat.v4.new_markdown_cell("```{glue:figure} f\n:name: fig-a\n\ncap\n```")]  # fmt: skip
    path = tmp_path / "copy.ipynb"
    nbformat.write(nb, path)
    chapter = reproduce.Chapter("02_signal_space", "12_copy", title="New title")
    reproduce._personalise(path, chapter)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == "# New title\ntext"
    assert ":name: 12_copy-fig-a" in cells[1].source and ":name: fig-a" not in cells[1].source


@pytest.mark.parametrize(
    "override, match",
    [({"epochs": "ten"}, "'epochs' must be int"),
     ({"n_train": -5}, "'n_train' = -5 must be"),
     ({"dataset": "svhn"}, "'dataset' = 'svhn' is not allowed"),
     ({"models": ["alexnet"]}, "'models'"),
     ({"learning_rate": 0.1}, "unknown parameter.*'learning_rate'")],
)  # fmt: skip
def test_papermill_run_fails_at_once_naming_the_parameter(override, match, tmp_path):
    nb = ROOT / "notebooks" / "01_models.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match=match) as e:
        pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), parameters=override,
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))  # fmt: skip
    assert e.value.ename == "ParameterError"
