"""Run a composite action's shell steps the way a GitHub runner does, on this machine.

Enough of the runner for action.yml: `${{ }}` expressions over `inputs`, `steps.<id>.outputs`,
`github.action_path`/`github.workspace` and `runner.*`; `if:` conditions built from status
functions, `==`, `!=`, `&&` and `||`; a fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY file per
step; `bash --noprofile --norc -eo pipefail` as `shell: bash` does. `uses:` steps are recorded
with their `with:` values evaluated, not run; a test may put its own values in place of a
step's outputs. Anything else in an expression is an error, so
the action cannot drift away from what the tests model.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMPARISON = re.compile(r"(.+?)\s*(==|!=)\s*(.+)")


@dataclass
class StepRun:
    """What one step did (or why it did not run)."""

    name: str
    id: str | None
    ran: bool
    uses: str | None = None
    with_values: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ActionRun:
    """Every step in order and the action's outputs."""

    steps: list[StepRun]
    outputs: dict[str, str]

    def step(self, step_id: str) -> StepRun:
        return next(s for s in self.steps if s.id == step_id)


def read_outputs(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


class CompositeRunner:
    """One run of a composite action with given inputs in a workspace folder."""

    def __init__(
        self,
        action: dict[str, Any],
        inputs: dict[str, str],
        *,
        action_path: Path,
        workspace: Path,
        temp: Path,
        env: dict[str, str],
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        declared = action.get("inputs", {})
        unknown = set(inputs) - set(declared)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        self.inputs = {k: str(v.get("default", "")) for k, v in declared.items()}
        self.inputs.update(inputs)
        for name, spec in declared.items():
            assert not spec.get("required") or self.inputs[name], f"required input {name}"
        self.action = action
        self.action_path = action_path
        self.workspace = workspace
        self.temp = temp
        self.env = env
        # Outputs a test puts in place of what a step wrote (e.g. the Python it installed).
        self.overrides = overrides or {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.failed = False

    # --- expressions ----------------------------------------------------------------------

    def value(self, reference: str) -> str:
        parts = reference.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return self.inputs[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        known = {
            "github.action_path": str(self.action_path),
            "github.workspace": str(self.workspace),
            "runner.temp": str(self.temp),
            "runner.os": "Linux",
            "runner.arch": "X64",
        }
        if reference in known:
            return known[reference]
        raise AssertionError(f"expression {reference!r} is not modelled by the test runner")

    def substitute(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return not self.failed
        match = _EXPRESSION.fullmatch(text.strip())
        expression = match.group(1) if match else text.strip()
        return any(
            all(self._atom(atom.strip()) for atom in alternative.split("&&"))
            for alternative in expression.split("||")
        )

    def _atom(self, atom: str) -> bool:
        status = {
            "always()": True,
            "success()": not self.failed,
            "failure()": self.failed,
            "cancelled()": False,
            "!cancelled()": True,
        }
        if atom in status:
            return status[atom]
        match = _COMPARISON.fullmatch(atom)
        if match:
            left, op, right = match.groups()
            equal = self._operand(left.strip()) == self._operand(right.strip())
            return equal if op == "==" else not equal
        return bool(self.value(atom))

    def _operand(self, text: str) -> str:
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        return self.value(text)

    # --- steps ----------------------------------------------------------------------------

    def run(self) -> ActionRun:
        runs = [self._step(step) for step in self.action["runs"]["steps"]]
        outputs = {
            name: self.substitute(str(spec["value"]))
            for name, spec in self.action.get("outputs", {}).items()
        }
        return ActionRun(runs, outputs)

    def _step(self, step: dict[str, Any]) -> StepRun:
        record = StepRun(name=step.get("name", ""), id=step.get("id"), ran=False)
        if not self.condition(step.get("if")):
            return record
        if "uses" in step:
            record.uses = step["uses"]
            record.with_values = {
                k: self.substitute(str(v)) for k, v in step.get("with", {}).items()
            }
            return record
        self._shell(step, record)
        if record.id:
            self.outputs[record.id] = {**record.outputs, **self.overrides.get(record.id, {})}
        if record.exit_code != 0:
            self.failed = True
        return record

    def _shell(self, step: dict[str, Any], record: StepRun) -> None:
        assert step.get("shell") == "bash", f"{record.name}: only bash steps are modelled"
        folder = self.temp / "steps" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        script, output, summary = folder / "step.sh", folder / "output", folder / "summary"
        script.write_text(self.substitute(step["run"]), encoding="utf-8")
        env = {
            **self.env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
        }
        env.update({k: self.substitute(str(v)) for k, v in step.get("env", {}).items()})
        cwd = self.workspace / self.substitute(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        record.ran = True
        record.exit_code = done.returncode
        record.stdout, record.stderr = done.stdout, done.stderr
        record.outputs = read_outputs(output)
        record.summary = summary.read_text(encoding="utf-8") if summary.exists() else ""


def runner_env(python_dir: Path) -> dict[str, str]:
    """This process's environment without any CI system's variables, the test's Python first."""
    drop = ("GITHUB_", "RUNNER_", "INPUT_", "TF_BUILD", "SYSTEM_", "GITLAB_", "JENKINS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{python_dir}{os.pathsep}{env.get('PATH', '')}"
    return env
