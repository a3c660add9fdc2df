"""nnspaces.reproduce: profiles, chapters, parameters, the run log, and the checks made before
anything runs (the pipeline itself, end to end: tests/test_pipeline.py)."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from nnspaces import params, reproduce

ROOT = Path(__file__).resolve().parents[1]


def test_profiles_and_an_unknown_name():
    assert {"smoke", "default", "paper"} <= set(reproduce.profile_names())
    assert reproduce.profile("smoke")["recipe"]["epochs"] == 1
    with pytest.raises(ValueError, match="unknown profile 'tiny': choose one of smoke"):
        reproduce.profile("tiny")


def test_a_chapter_gets_the_profile_parameters_it_declares_and_its_own():
    chapter = reproduce.Chapter(
        "04_information_lost",
        "04_copy",
        parameters={"n_per_class": 3},
        profile_parameters={"smoke": {"n_per_class": 4}},
    )
    p = reproduce.notebook_parameters(chapter, "default", Path("x.json"))
    assert set(p) <= set(params.NOTEBOOKS["04_information_lost"])
    assert p == {"profile": "default", "chapter": "04_copy", "n_per_class": 3}  # its own wins
    assert reproduce.notebook_parameters(chapter, "smoke")["n_per_class"] == 4  # per profile
    other = reproduce.Chapter("05_ideal_inputs", "05")  # the profile's, but not declared there
    assert "n_per_class" not in reproduce.notebook_parameters(other, "smoke")
    run_log = reproduce.notebook_parameters(
        reproduce.Chapter("91_reproducibility", "91"), "smoke", Path("x.json")
    )
    assert run_log["run_log"] == "x.json" and run_log["profile"] == "smoke"
    with pytest.raises(reproduce.ProfileError, match="no entry in params.NOTEBOOKS"):
        reproduce.notebook_parameters(reproduce.Chapter("99_new", "99"), "smoke")


def test_needed_datasets_name_each_data_set_once():
    assert reproduce.needed_datasets("smoke") == {"mnist-5k": None, "fashion-mnist": None}
    assert "mnist" in reproduce.needed_datasets("paper")


def test_jobs_and_threads_share_the_cores():
    cores = os.cpu_count() or 1
    assert 1 <= reproduce.default_jobs() <= 2
    assert reproduce.kernel_threads(1) == cores
    assert reproduce.kernel_threads(cores + 5) == 1


def test_the_run_log_is_written_whole(tmp_path):
    path = tmp_path / "_run.json"
    reproduce.plan.write_json(path, {"seconds": {"00_intro": 1.5}, "profile": "smoke"})
    assert json.loads(path.read_text()) == {"seconds": {"00_intro": 1.5}, "profile": "smoke"}
    assert [p.name for p in tmp_path.iterdir()] == ["_run.json"]  # no temporary left


def test_a_repeated_chapter_gets_its_own_title_and_labels(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Old title\ntext"),
        nbformat.v4.new_markdown_cell("```{glue:figure} f\n:name: fig-a\n\ncap\n```"),
    ]
    path = tmp_path / "copy.ipynb"
    nbformat.write(nb, path)
    chapter = reproduce.Chapter("02_signal_space", "12_copy", title="New title")
    reproduce.finalise.personalise(path, chapter)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == "# New title\ntext"
    assert ":name: 12_copy-fig-a" in cells[1].source and ":name: fig-a" not in cells[1].source


def test_a_repeated_chapter_refers_to_its_own_figures_and_sections(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# T\nsee {numref}`fig-a`, {ref}`here <sec-b>`, {ref}`sec-b`"
        ),
        nbformat.v4.new_markdown_cell("```{glue:figure} f\n:name: fig-a\n\ncap\n```"),
        nbformat.v4.new_markdown_cell("(sec-b)=\n## B\n{numref}`fig-other` {ref}`sec-other`"),
    ]
    path = tmp_path / "copy.ipynb"
    nbformat.write(nb, path)
    reproduce.finalise.personalise(path, reproduce.Chapter("01_models", "11_copy"))
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == (
        "# T\nsee {numref}`11_copy-fig-a`, {ref}`here <11_copy-sec-b>`, {ref}`11_copy-sec-b`"
    )
    assert cells[2].source == "(11_copy-sec-b)=\n## B\n{numref}`fig-other` {ref}`sec-other`"


def test_book_order_follows_the_toc_and_holds_every_chapter():
    order = reproduce.book_order()
    assert order[0] == "00_intro" and sorted(order) == sorted(
        c.output for c in reproduce.chapters()
    )
    assert order.index("05_ideal_inputs") < order.index("04_information_lost")  # as in the toc


def test_bad_jobs_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="jobs must be a positive int"):
        reproduce.reproduce("smoke", workdir=tmp_path, jobs=0, build=False)
    assert not list((tmp_path / "book" / "chapters").glob("*.ipynb"))


def _lpt_makespan(durations: list[float], jobs: int = 2) -> float:
    """Wall time of running ``durations`` in that order on ``jobs`` workers, each task
    starting when a worker frees (as ``_run_parallel`` does)."""
    free = [0.0] * jobs
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free)


def test_longest_first_starts_the_timed_chapters_longest_first_then_the_rest_in_order():
    todo = [reproduce.Chapter(n, n) for n in ("a", "b", "c", "d", "e")]
    seconds = {"a": 2.0, "b": 30.0, "d": 9.5, "zz": 100.0, "c": "n/a"}
    order = [c.output for c in reproduce.longest_first(todo, seconds)]
    assert order == ["b", "d", "a", "c", "e"]  # untimed (c, e) keep their listed order
    assert reproduce.longest_first(todo, {}) == todo
    # the point of it: the long chapter listed last no longer runs alone at the end
    times = {"a": 6.0, "b": 6.0, "c": 6.0, "d": 6.0, "e": 30.0}
    listed = _lpt_makespan([times[c.output] for c in todo])
    lpt = _lpt_makespan([times[c.output] for c in reproduce.longest_first(todo, times)])
    assert (listed, lpt) == (42.0, 30.0)


def test_the_profile_lists_the_longest_chapter_of_a_cold_build_first():
    order = [c.output for c in reproduce.chapters()]
    assert order[0] == "10_released_resnet" and order[-1] == "91_reproducibility"
