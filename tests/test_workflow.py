"""CI runs the same make targets a person runs, and .ci/run calls the README's test command."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _steps():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    return wf, [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_workflow_calls_the_make_targets_of_the_readme():
    wf, steps = _steps()
    runs = [s.get("run", "") for s in steps]
    assert any(r.strip() == "make test" for r in runs)
    assert any(r.startswith("make book PROFILE=default") for r in runs)
    assert any("PROFILE=" in r and "paper" in r for r in runs)  # the nightly / manual job
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    # push and pull request trigger it; a schedule and a manual trigger run the paper profile
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(triggers)


def test_workflow_deploys_pages_from_main_and_uploads_artefacts():
    wf, steps = _steps()
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert "refs/heads/main" in wf["jobs"]["deploy"]["if"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert "environment.yml" in cache["with"]["key"] and "pyproject.toml" in cache["with"]["key"]


def test_ci_entry_point_runs_make_test():
    text = (ROOT / ".ci" / "run").read_text()
    assert "make test" in text and "chromium" in text


def _make_test_recipe():
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_test_lints_formats_checks_the_layers_then_tests():
    assert _make_test_recipe() == [
        "$(BIN)/ruff check .",
        "$(BIN)/ruff format --check .",
        "$(BIN)/lint-imports",
        "$(BIN)/python -m pytest",
    ]


def test_pre_commit_runs_the_checks_of_make_test():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: (repo, h) for repo in config["repos"] for h in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "nbstripout", "lint-imports"} <= set(hooks)
    ruff_pin = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("ruff==")
    )
    assert hooks["ruff-check"][0]["rev"] == f"v{ruff_pin}"
    for name in ("ruff-check", "ruff-format"):
        assert "jupyter" in hooks[name][1]["types_or"]  # the notebooks too, as `ruff .` does
    assert hooks["lint-imports"][1]["entry"] == "lint-imports"


def test_source_notebooks_are_committed_without_outputs():
    """What nbstripout keeps true: no outputs and no execution counts in notebooks/."""
    import json

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], (path.name, i)
                assert cell["execution_count"] is None, (path.name, i)
