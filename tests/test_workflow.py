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
