"""The Azure Pipelines, GitLab CI and Jenkins templates: each has its CI system's shape, and its
shell script, run here on the bundled sample, ends with the gate's exit code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from composite_runner import runner_env
from scenario_kit import REPO, SAMPLE

CI = REPO / "ci"
AZURE = CI / "azure" / "gate.yml"
GITLAB = CI / "gitlab" / "gate.gitlab-ci.yml"
JENKINS = CI / "jenkins" / "Jenkinsfile"

# Stands in for the Python the templates install the gate with: pip and venv are recorded,
# everything else runs in the Python of these tests (where the gate is installed already).
FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1 $2" = "-m pip" ]; then printf '%s\\n' "$*" >> "$FAKE_LOG"; exit 0; fi
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && echo true > "$3/bin/activate"; exit 0; fi
exec {python} "$@"
"""


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _gate_takes(option: str) -> bool:
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
    ws = tmp_path / "workspace"
    (ws / "traces").mkdir(parents=True)
    (ws / "budgets").mkdir()
    shutil.copy(SAMPLE / "sample-boot.etl", ws / "traces" / "sample-boot.etl")
    shutil.copy(SAMPLE / "budgets.yaml", ws / "budgets" / "drivers.yaml")
    shutil.copy(SAMPLE / "baseline.json", ws / "budgets" / "baseline.json")
    return ws


def _run_script(script: str, workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`script` in bash, with a PATH where python/python3 are the stand-in and `gate` is the
    gate these tests run."""
    python_dir = Path(sys.executable).parent
    if shutil.which("gate", path=str(python_dir)) is None:
        pytest.skip(f"no `gate` command beside {sys.executable}: the project is not installed")
    fake_bin = workspace.parent / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        fake = fake_bin / name
        fake.write_text(FAKE_PYTHON.format(python=sys.executable), encoding="utf-8")
        fake.chmod(0o755)
    full_env = runner_env(python_dir)
    full_env["PATH"] = f"{fake_bin}:{full_env['PATH']}"
    full_env["FAKE_LOG"] = str(workspace.parent / "pip.log")
    full_env.update(env)
    path = workspace.parent / "script.sh"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=workspace,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# --- Azure Pipelines ---------------------------------------------------------------------------


def _azure_substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*parameters\.(\w+)\s*\}\}", lambda m: values[m.group(1)], text)


def _azure_steps(values: dict[str, str]) -> list[dict[str, Any]]:
    """The template's steps with its parameters substituted and its `${{ if }}` resolved."""
    steps = []
    for step in _yaml(AZURE)["steps"]:
        (key, value), *_ = step.items()
        if key.startswith("${{ if"):
            if values["pythonVersion"]:
                steps.extend(value)
            continue
        steps.append(step)
    return yaml.safe_load(_azure_substitute(yaml.safe_dump(steps), values))


def _azure_values(**given: str) -> dict[str, str]:
    parameters = _yaml(AZURE)["parameters"]
    values = {p["name"]: str(p.get("default", "")) for p in parameters}
    values.update(given)
    return values


def test_azure_template_is_a_parameters_and_steps_template() -> None:
    template = _yaml(AZURE)
    assert set(template) == {"parameters", "steps"}
    names = [p["name"] for p in template["parameters"]]
    assert names[:4] == ["traces", "budgets", "baseline", "extraArgs"]
    required = [p["name"] for p in template["parameters"] if "default" not in p]
    assert required == ["traces", "budgets"]
    used = set(re.findall(r"parameters\.(\w+)", AZURE.read_text(encoding="utf-8")))
    assert used <= set(names), used - set(names)


def test_azure_publishes_junit_strictly_and_keeps_every_report() -> None:
    steps = _azure_steps(_azure_values(traces="t/*.etl", budgets="b.yaml"))
    assert steps[0]["task"] == "UsePythonVersion@0"
    tasks = {s["task"]: s for s in steps if "task" in s}
    publish = tasks["PublishTestResults@2"]
    assert publish["condition"] == "succeededOrFailed()"
    assert publish["inputs"] == {
        "testResultsFormat": "JUnit",
        "testResultsFiles": "$(Build.ArtifactStagingDirectory)/driver-memory-gate/gate-junit.xml",
        "testRunTitle": "Driver memory gate",
        "failTaskOnMissingResultsFile": True,
        "publishRunAttachments": True,
    }
    artifact = tasks["PublishPipelineArtifact@1"]
    assert artifact["condition"] == "succeededOrFailed()"
    assert artifact["inputs"] == {
        "targetPath": "$(Build.ArtifactStagingDirectory)/driver-memory-gate",
        "artifact": "driver-memory-gate-reports",
    }
    scripts = [s for s in steps if "bash" in s]
    assert len(scripts) == 2
    assert "condition" not in scripts[0], "the gate step itself fails the job"
    assert scripts[1]["condition"] == "succeededOrFailed()"
    assert "##vso[task.addattachment type=Distributedtask.Core.Summary;name=" in scripts[1]["bash"]
    no_python = _azure_steps(_azure_values(traces="t", budgets="b", pythonVersion=""))
    assert "task" not in no_python[0] or no_python[0]["task"] != "UsePythonVersion@0"


def test_azure_scripts_take_parameters_through_the_environment() -> None:
    for step in _yaml(AZURE)["steps"]:
        if "bash" in step:
            assert "${{" not in step["bash"], step["displayName"]


def test_azure_gate_step_runs_the_sample_and_fails_with_exit_code_1(workspace: Path) -> None:
    reports = workspace / "reports"
    values = _azure_values(
        traces="traces/*.etl",
        budgets="budgets/drivers.yaml",
        baseline="budgets/baseline.json",
        extraArgs="--aggregate max",
        reportsDirectory=str(reports),
    )
    gate_step = next(s for s in _azure_steps(values) if "bash" in s)
    done = _run_script(gate_step["bash"], workspace, {**gate_step["env"], "TF_BUILD": "True"})
    assert done.returncode == 1, done.stderr
    for name in ("gate-junit.xml", "gate-summary.md", "gate-report.json", "gate-report.html"):
        assert (reports / name).is_file(), name
    # The summary attached to the run names the HTML report kept beside it in the artifact.
    summary = (reports / "gate-summary.md").read_text(encoding="utf-8")
    assert "Boot timelines and stack views: `gate-report.html`" in summary
    if _gate_takes("--annotations"):
        # Inside Azure Pipelines (TF_BUILD) the gate writes its own logging commands.
        assert "##vso[task.logissue type=error;" in done.stdout
    log = (workspace.parent / "pip.log").read_text(encoding="utf-8")
    assert log == "-m pip install --disable-pip-version-check --quiet driver-memory-gate\n"


def test_azure_summary_step_attaches_the_report_with_a_link_to_the_artifacts(
    workspace: Path,
) -> None:
    reports = workspace / "reports"
    reports.mkdir()
    (reports / "gate-summary.md").write_text("## Driver memory gate\n\nFAIL\n", encoding="utf-8")
    values = _azure_values(traces="t", budgets="b", reportsDirectory=str(reports))
    attach = [s for s in _azure_steps(values) if "bash" in s][1]
    agent_temp = workspace.parent / "agent-temp"
    agent_temp.mkdir()
    env = {
        **attach["env"],
        "AGENT_TEMPDIRECTORY": str(agent_temp),
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
        "SYSTEM_TEAMPROJECTID": "0f1e2d3c",
        "BUILD_BUILDID": "42",
    }
    done = _run_script(attach["bash"], workspace, env)
    assert done.returncode == 0, done.stderr
    page = agent_temp / "driver-memory-gate-summary.md"
    assert done.stdout == (
        "##vso[task.addattachment type=Distributedtask.Core.Summary;name=Driver memory gate]"
        f"{page}\n"
    )
    assert page.read_text(encoding="utf-8") == (
        "## Driver memory gate\n\nFAIL\n\n[HTML report and all reports: artifact "
        "driver-memory-gate-reports](https://dev.azure.com/contoso/0f1e2d3c/_build/results?"
        "buildId=42&view=artifacts&type=publishedArtifacts)\n"
    )
    (reports / "gate-summary.md").unlink()
    done = _run_script(attach["bash"], workspace, env)
    assert done.returncode == 0
    assert "addattachment" not in done.stdout


# --- GitLab CI ---------------------------------------------------------------------------------


def test_gitlab_snippet_is_one_job_with_junit_and_an_exposed_html_report() -> None:
    document = _yaml(GITLAB)
    assert list(document) == ["driver-memory-gate"]
    job = document["driver-memory-gate"]
    assert isinstance(job["script"], list) and job["script"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"] == {"junit": "gate-reports/gate-junit.xml"}
    assert artifacts["expose_as"] == "Driver memory gate"
    assert "gate-reports/gate-report.html" in artifacts["paths"]
    for path in artifacts["paths"]:
        # What expose_as accepts: literal paths, no globs, no variables, no leading ./
        assert not re.search(r"[*?$]|^\./", path), path
    assert {"GATE_TRACES", "GATE_BUDGETS", "GATE_BASELINE", "GATE_ARGS"} <= set(job["variables"])


def test_gitlab_script_runs_the_sample_and_fails_with_exit_code_1(workspace: Path) -> None:
    job = _yaml(GITLAB)["driver-memory-gate"]
    env = {k: str(v) for k, v in job["variables"].items() if k != "PIP_CACHE_DIR"}
    env.update(GATE_BASELINE="budgets/baseline.json", CI_JOB_URL="https://gitlab.example/j/7")
    done = _run_script("\n".join(job["script"]), workspace, env)
    assert done.returncode == 1, done.stderr
    assert (
        "HTML report, once the job ends: https://gitlab.example/j/7/artifacts/file/"
        "gate-reports/gate-report.html"
    ) in done.stdout
    for path in job["artifacts"]["paths"]:
        assert (workspace / path).is_file(), path


# --- Jenkins -----------------------------------------------------------------------------------


def _jenkins() -> str:
    return JENKINS.read_text(encoding="utf-8")


def test_jenkinsfile_publishes_junit_strictly_and_archives_the_reports() -> None:
    text = _jenkins()
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    assert re.search(r"\bpipeline\s*\{", code)
    assert re.search(r"post\s*\{\s*always\s*\{", code)
    assert re.search(
        r"junit testResults: 'gate-reports/gate-junit.xml', allowEmptyResults: false", code
    )
    assert re.search(
        r"archiveArtifacts artifacts: 'gate-reports/\*\*', allowEmptyArchive: false", code
    )
    assert "gate-reports/gate-report.html" in code
    assert code.count("{") == code.count("}")


def test_jenkins_sh_step_runs_the_sample_and_fails_with_exit_code_1(workspace: Path) -> None:
    text = _jenkins()
    script = re.search(r"sh '''\n(.*?)'''", text, re.S)
    assert script
    env = dict(re.findall(r"^\s+(GATE_\w+) = '([^']*)'", text, re.M))
    assert set(env) == {"GATE_TRACES", "GATE_BUDGETS", "GATE_BASELINE", "GATE_ARGS", "GATE_PACKAGE"}
    tmp = workspace.parent / "workspace@tmp"
    done = _run_script(script.group(1), workspace, {**env, "WORKSPACE_TMP": str(tmp)})
    assert done.returncode == 1, done.stderr
    assert (workspace / "gate-reports" / "gate-junit.xml").is_file()
    page = (workspace / "gate-reports" / "gate-report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'data-driver="contosonet.sys"' in page
    assert (workspace.parent / "pip.log").read_text(encoding="utf-8") == (
        "-m pip install --disable-pip-version-check --quiet driver-memory-gate\n"
    )
