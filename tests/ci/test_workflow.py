"""The project's own workflow tests what users run: the action from this checkout on the sample,
the package as the index would receive it, and the oldest and newest supported Pythons."""

from __future__ import annotations

import yaml
from scenario_kit import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def _jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]


def test_the_action_runs_from_this_checkout_on_the_sample() -> None:
    steps = _jobs()["action"]["steps"]
    gate = next(s for s in steps if s.get("uses") == "./")
    for key in ("traces", "budgets", "baseline"):
        assert (REPO / gate["with"][key]).is_file(), gate["with"][key]
    check = steps[steps.index(gate) + 1]["run"]
    assert 'test "$EXIT_CODE" = 1' in check  # the sample fails by design
    assert 'test -s "$HTML"' in check


def test_the_package_is_built_and_checked_as_the_index_would() -> None:
    runs = [s.get("run", "") for s in _jobs()["package"]["steps"]]
    assert "python -m build" in runs
    assert any(r.startswith("python -m twine check --strict") for r in runs)


def test_both_pdb_readers_are_tested() -> None:
    install = next(
        s["run"] for s in _jobs()["test"]["steps"] if s.get("name") == "Install with test extras"
    )
    assert '".[test,symbols]"' in install  # symbolic off Windows, DbgHelp on it


def test_tests_run_on_the_oldest_and_newest_python_on_linux_and_windows() -> None:
    matrix = _jobs()["test"]["strategy"]["matrix"]
    assert matrix["python"] == ["3.10", "3.13"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest"}
