"""action.yml: its shell steps run here with a runner's environment on the bundled sample, the
install step with a stand-in Python that records what would be installed."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from composite_runner import ActionRun, CompositeRunner, read_outputs, runner_env
from scenario_kit import REPO, SAMPLE

ACTION = REPO / "action.yml"
FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_PYTHON_LOG"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
if [ "$1 $2" = "-m gate" ]; then echo "gate 0.0.0"; fi
"""


def _action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def _cli_takes(option: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "gate", "check", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": ""},
    )
    return option in done.stdout


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout as a user would have it: traces/ and budgets/ from the bundled sample."""
    ws = tmp_path / "workspace"
    (ws / "traces").mkdir(parents=True)
    (ws / "budgets").mkdir()
    shutil.copy(SAMPLE / "sample-boot.etl", ws / "traces" / "sample-boot.etl")
    shutil.copy(SAMPLE / "budgets.yaml", ws / "budgets" / "drivers.yaml")
    shutil.copy(SAMPLE / "baseline.json", ws / "budgets" / "baseline.json")
    return ws


def _run(workspace: Path, inputs: dict[str, str]) -> tuple[ActionRun, Path]:
    temp = workspace.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    fake = temp / "fake-python"
    fake.write_text(FAKE_PYTHON, encoding="utf-8")
    fake.chmod(0o755)
    log = temp / "fake-python.log"
    env = runner_env(Path(sys.executable).parent)
    env["FAKE_PYTHON_LOG"] = str(log)
    if not _cli_takes("--html"):
        inputs = {"html": "", **inputs}  # until the CLI writes HTML reports
    runner = CompositeRunner(
        _action(),
        {"extras": "fast", **inputs},
        action_path=REPO,
        workspace=workspace,
        temp=temp,
        env=env,
        # The gate is installed already: the install step runs with a stand-in Python, and
        # the steps after it get the Python these tests run in.
        overrides={"prepare": {"python": str(fake)}, "install": {"python": sys.executable}},
    )
    return runner.run(), log


SAMPLE_INPUTS = {
    "traces": "traces/*.etl",
    "budgets": "budgets/drivers.yaml",
    "baseline": "budgets/baseline.json",
}


def test_the_action_judges_the_sample_and_ends_with_exit_code_1(workspace: Path) -> None:
    run, log = _run(workspace, SAMPLE_INPUTS)
    ran = [s.id or s.name for s in run.steps if s.ran]
    assert ran == ["prepare", "install", "gate", "report", "End with the gate's exit code"]
    final = run.steps[-1]
    assert final.exit_code == 1, final.stderr
    assert run.step("gate").exit_code == 0, "the gate's step records the code and carries on"

    reports = workspace / "gate-reports"
    document = json.loads((reports / "gate-report.json").read_text(encoding="utf-8"))
    assert document["exit_code"] == 1
    summary = document["summary"]
    assert summary["fail"] >= 1
    assert run.outputs == {
        "verdict": "fail",
        "exit-code": "1",
        "check-count": str(len(document["checks"])),
        "pass-count": str(summary["pass"]),
        "notice-count": str(summary["notice"]),
        "not-evaluated-count": str(summary["not_evaluated"]),
        "waived-count": str(summary["waived"]),
        "warn-count": str(summary["warn"]),
        "fail-count": str(summary["fail"]),
        "error-count": str(summary["error"]),
        "junit": str(reports / "gate-junit.xml"),
        "markdown": str(reports / "gate-summary.md"),
        "json": str(reports / "gate-report.json"),
        "html": str(reports / "gate-report.html") if _cli_takes("--html") else "",
        "artifact-url": "",
    }
    # The job summary is the Markdown report itself.
    markdown = (reports / "gate-summary.md").read_text(encoding="utf-8")
    assert run.step("report").summary == markdown
    assert "contosonet.sys" in markdown

    # The command line the step built, and the install it would have made.
    gate_log = run.step("gate").stdout
    assert gate_log.startswith(
        "gate check traces/sample-boot.etl -b budgets/drivers.yaml --baseline "
        "budgets/baseline.json --junit gate-reports/gate-junit.xml --markdown "
        "gate-reports/gate-summary.md --json gate-reports/gate-report.json"
    )
    calls = log.read_text(encoding="utf-8").splitlines()
    venv = workspace.parent / "runner-temp" / "driver-memory-gate" / "venv"
    assert calls == [
        f"-m venv {venv}",
        f"-m pip install --disable-pip-version-check --quiet {REPO}[fast]",
        "-m gate --version",
    ]


def test_the_reports_are_uploaded_and_the_link_waits_for_an_upload(workspace: Path) -> None:
    run, _ = _run(workspace, SAMPLE_INPUTS)
    upload = run.step("upload")
    assert upload.uses == "actions/upload-artifact@v7"
    assert upload.with_values["name"] == "driver-memory-gate-reports"
    paths = [p for p in upload.with_values["path"].splitlines() if p]
    assert paths == [v for k in ("junit", "markdown", "json", "html") if (v := run.outputs[k])]
    assert upload.with_values["if-no-files-found"] == "warn"
    link = next(s for s in run.steps if s.name == "Link the reports from the job summary")
    assert not link.ran, "no upload ran here, so there is no address to link"


def test_pip_downloads_are_cached_on_the_actions_own_pyproject(workspace: Path) -> None:
    run, _ = _run(workspace, SAMPLE_INPUTS)
    prepare = run.step("prepare")
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + b"fast").hexdigest()[:20]
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = f"driver-memory-gate-pip-Linux-X64-py{version}-"
    assert prepare.outputs["cache-prefix"] == prefix
    assert prepare.outputs["cache-key"] == prefix + digest
    cache = next(s for s in run.steps if s.uses and s.uses.startswith("actions/cache@"))
    assert cache.uses == "actions/cache@v5"
    assert cache.with_values == {
        "path": str(workspace.parent / "runner-temp" / "driver-memory-gate" / "pip-cache"),
        "key": prefix + digest,
        "restore-keys": prefix,
    }


def test_quoted_extra_arguments_reach_the_gate(workspace: Path) -> None:
    inputs = {
        **SAMPLE_INPUTS,
        "args": "--aggregate median --window '0s..45s' --allow-baseline-mismatch",
    }
    run, _ = _run(workspace, {**inputs, "json": "out dir/report.json", "markdown": ""})
    assert run.steps[-1].exit_code == 1
    document = json.loads((workspace / "out dir" / "report.json").read_text(encoding="utf-8"))
    assert (document["aggregate"], document["window"]) == ("median", "0s..45s")
    assert run.outputs["markdown"] == ""
    assert "no summary was written (exit code 1)" in run.step("report").summary


def test_a_glob_that_matches_nothing_is_exit_code_2(workspace: Path) -> None:
    run, _ = _run(workspace, {**SAMPLE_INPUTS, "traces": "traces/*.etl missing/*.etl"})
    assert run.steps[-1].exit_code == 2
    assert "::error title=driver memory gate::traces: the pattern 'missing/*.etl' matches" in (
        run.step("gate").stderr
    )
    assert run.outputs["verdict"] == "error"
    assert run.outputs["check-count"] == "0"
    assert run.outputs["json"] == ""
    assert not run.step("upload").uses, "nothing to upload: the upload step is skipped"
    assert "no summary was written (exit code 2)" in run.step("report").summary


def test_an_empty_json_input_is_refused(workspace: Path) -> None:
    run, _ = _run(workspace, {**SAMPLE_INPUTS, "json": ""})
    assert run.steps[-1].exit_code == 2
    assert "the json input cannot be empty" in run.step("gate").stdout


# --- the file itself ---------------------------------------------------------------------------


def test_scripts_take_inputs_through_the_environment_only() -> None:
    """`${{ }}` inside a script is pasted in before bash parses it: a trace name with a quote
    or `$(...)` would run as code. Every value reaches the scripts as an environment variable."""
    for step in _action()["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["name"]


def test_inputs_outputs_and_pinned_actions() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert {"traces", "budgets", "baseline", "args", "junit", "markdown", "json", "html"} <= set(
        action["inputs"]
    )
    assert [n for n, spec in action["inputs"].items() if spec.get("required")] == [
        "traces",
        "budgets",
    ]
    for name, spec in action["inputs"].items():
        assert spec["description"], name
    ids = {s.get("id") for s in action["runs"]["steps"]}
    for name, spec in action["outputs"].items():
        assert spec["description"], name
        step_id = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.[\w-]+ \}\}", spec["value"])
        assert step_id and step_id.group(1) in ids, name
    uses = [s["uses"] for s in action["runs"]["steps"] if "uses" in s]
    assert uses == ["actions/setup-python@v7", "actions/cache@v5", "actions/upload-artifact@v7"]


def test_multiline_outputs_are_read_like_the_runner_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("a=1\nb<<EOF_x\nline one\nline=two\nEOF_x\nc=x=y\n", encoding="utf-8")
    assert read_outputs(path) == {"a": "1", "b": "line one\nline=two", "c": "x=y"}
