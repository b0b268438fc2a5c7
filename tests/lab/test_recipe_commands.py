"""The adoption path runs as written: every `gate` command of docs/lab-recipe.md and of the
README's "Using it" block, in order, on two copies of the bundled sample, ends as the text says:
the budgets proposed from the traces pass them with no warning, and so does the baseline."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from scenario_kit import REPO, SAMPLE
from typer.testing import CliRunner

from gate.cli import app

runner = CliRunner()
FENCE = re.compile(r"^\s*```[a-z]*\n(.*?)^\s*```", re.MULTILINE | re.DOTALL)


def gate_commands(doc: Path) -> list[str]:
    """The lines of the document's fenced blocks that run the gate (a trailing `#` comment
    dropped), in order; PowerShell blocks hold the lab scripts, not gate commands."""
    out = []
    for block in FENCE.findall(doc.read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("gate "):
                out.append(re.sub(r"\s+#.*$", "", line))
    return out


def as_posix_here(command: str) -> list[str]:
    """A recipe line for this machine: the lab's `D:\\gate-traces\\` is `traces/`, and Windows
    separators become `/` (the lab runs the same command on Windows)."""
    command = command.replace("D:\\gate-traces\\", "traces/").replace("\\", "/")
    return shlex.split(command)[1:]


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "traces").mkdir()
    (tmp_path / "budgets").mkdir()
    for name in ("boot1.etl", "boot2.etl"):
        shutil.copy(SAMPLE / "sample-boot.etl", tmp_path / "traces" / name)
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_ACTIONS", "TF_BUILD"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run_all(commands: list[str]) -> list[tuple[list[str], int, str]]:
    done = []
    for command in commands:
        args = as_posix_here(command)
        result = runner.invoke(app, args)
        done.append((args, result.exit_code, result.output))
    return done


def verb(args: list[str]) -> str:
    return " ".join(args[:2]) if args[0] in ("budgets", "baseline") else args[0]


def steps(commands: list[str]) -> list[str]:
    """The verbs in order, a verb repeated at once (a second proposal) counted once."""
    out: list[str] = []
    for c in commands:
        v = verb(as_posix_here(c))
        if not out or out[-1] != v:
            out.append(v)
    return out


def assert_adoption_path(done: list[tuple[list[str], int, str]]) -> None:
    verbs = [verb(a) for a, _, _ in done]
    for want in ("inspect", "budgets init", "budgets check", "baseline update", "check"):
        assert want in verbs, f"the path lacks `gate {want}`: {verbs}"
    for args, code, output in done:
        assert code == 0, f"gate {' '.join(args)} -> exit {code}:\n{output}"
    check_output = next(out for a, _, out in done if a[0] == "check")
    assert "gate: PASS" in check_output, check_output
    assert "warning" not in check_output.lower(), check_output
    init_output = next(out for a, _, out in done if a[:2] == ["budgets", "init"])
    assert "so the traces measured pass with no warning" in init_output


def test_the_lab_recipe_runs_as_written(lab: Path) -> None:
    commands = gate_commands(REPO / "docs" / "lab-recipe.md")
    done = run_all(commands)
    assert_adoption_path(done)
    proposal = (lab / "budgets" / "budgets.yaml").read_text(encoding="utf-8")
    assert "wdf01000.sys" in proposal  # the attribution the proposal measured with
    assert "contosonet.sys:" in proposal  # KMDF pool charged to the client, not the framework
    explain = next(out for a, _, out in done if a[0] == "explain")
    assert "contosonet.sys" in explain and "impacting" in explain.lower()
    for report in ("gate-junit.xml", "gate-summary.md", "gate-report.html"):
        assert (lab / report).is_file(), report


def test_the_readme_walks_the_same_path(lab: Path) -> None:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    using = text[text.index("## Using it") :]
    using = using[: using.index("\n## ", 1)]
    block = lab / "using-it.md"
    block.write_text(using, encoding="utf-8")
    commands = gate_commands(block)
    recipe = gate_commands(REPO / "docs" / "lab-recipe.md")
    assert steps(commands) == steps(recipe), "the README and the lab recipe take different steps"
    assert_adoption_path(run_all(commands))
