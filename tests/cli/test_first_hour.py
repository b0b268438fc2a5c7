"""A team's first hour: propose budgets, record a baseline, check: verdicts that mean what they
say, on the traces the budgets came from and with the team's own attribution."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from scenario_kit import SAMPLE, alloc, scenario, write_scenario
from typer.testing import CliRunner

from gate import cli
from gate.cli import app
from gate.inputs.scenario import generate, parse_scenario
from gate.synthetic.etl import write_scenario_etl

runner = CliRunner()
ETL = SAMPLE / "sample-boot.etl"
COMMANDS = [
    ["check"],
    ["ingest"],
    ["inspect"],
    ["demo"],
    ["budgets", "check"],
    ["budgets", "init"],
    ["baseline", "update"],
]


def gate(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def check_report(tmp_path: Path, trace: Path, budgets: Path, *extra: str) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    code, out = gate("check", trace, "-b", budgets, "--json", report, *extra)
    assert report.exists(), out
    return code, json.loads(report.read_text())


def _writer_trace(tmp_path: Path) -> Path:
    """A fresh trace of the project's own writer: leaks, transient spikes, paged pool, a
    framework that allocates for its clients."""
    images = [
        {"path": rf"\SystemRoot\System32\drivers\{name}", "base": base, "size": 0x100000}
        for name, base in (
            ("ntoskrnl.exe", 0xFFFFF80000000000),
            ("net.sys", 0xFFFFF80001000000),
            ("cam.sys", 0xFFFFF80002000000),
            ("Wdf01000.sys", 0xFFFFF80003000000),
        )
    ]
    patterns = [
        {"tag": "NetQ", "size": 4096, "count": 300, "start_s": 1, "end_s": 9, "stack":
         ["ntoskrnl.exe+0x10", "wdf01000.sys+0x20", "net.sys+0x100"]},
        {"tag": "CamB", "size": [64, 8192], "count": 500, "start_s": 2, "end_s": 8,
         "lifetime_s": 0.05, "stack": ["ntoskrnl.exe+0x10", "cam.sys+0x200"]},
        {"tag": "CamP", "pool": "paged", "size": 512, "count": 40, "start_s": 3, "end_s": 4,
         "stack": ["ntoskrnl.exe+0x10", "cam.sys+0x300"]},
    ]  # fmt: skip
    doc = {"scenario": 1, "duration_s": 10.0, "cpus": 2, "images": images, "allocations": patterns}
    return write_scenario_etl(generate(parse_scenario(doc)), tmp_path / "fresh.etl")


@pytest.mark.parametrize("which", ["sample", "fresh"])
@pytest.mark.parametrize("team", [False, True])
def test_a_proposal_checked_against_its_own_trace_passes_clean(
    tmp_path: Path, which: str, team: bool
) -> None:
    trace = ETL if which == "sample" else _writer_trace(tmp_path)
    extra: list[str | Path] = []
    if team:
        team_file = tmp_path / "team.yaml"
        team_file.write_text(
            'attribution:\n  skip_modules: [wdf01000.sys]\ndrivers:\n  "*": {}\n',
            encoding="utf-8",
        )
        extra = ["-b", team_file]
    proposal = tmp_path / "drivers.yaml"
    code, out = gate("budgets", "init", trace, *extra, "-o", proposal)
    assert code == 0, out
    assert "warn_at 92%, so the traces measured pass with no warning" in out
    if team:
        assert "attribution:\n  skip_modules: [wdf01000.sys]\n" in proposal.read_text()
    code, report = check_report(tmp_path, trace, proposal, "--warn-as-error")
    assert code == 0
    assert report["summary"]["warn"] == 0 and report["summary"]["fail"] == 0
    assert report["summary"]["pass"] > 0


def test_the_proposal_says_what_it_chose(tmp_path: Path) -> None:
    code, out = gate("budgets", "init", ETL, "--headroom", "50%", "-o", tmp_path / "b.yaml")
    assert code == 0
    assert out == (
        f"wrote {tmp_path / 'b.yaml'}: 33 driver budget(s) and 7 total(s): each limit is the "
        "measured figure + 50% headroom, rounded up; warn_at 84%, so the traces measured pass "
        "with no warning\n"
    )
    assert "warn_at: 84%\n" in (tmp_path / "b.yaml").read_text()


def test_the_team_attribution_changes_what_is_proposed(tmp_path: Path) -> None:
    """Without skip_modules the framework gets its clients' pool; with it, the client."""
    trace = _writer_trace(tmp_path)
    plain, team = tmp_path / "plain.yaml", tmp_path / "team.yaml"
    assert gate("budgets", "init", trace, "-o", plain)[0] == 0
    code, _ = gate("budgets", "init", trace, "--skip-module", "Wdf01000.sys", "-o", team)
    assert code == 0
    framework = "  wdf01000.sys:\n    nonpaged_impacting_bytes: "
    assert f"{framework}1440 KiB  # measured 1.17 MiB" in plain.read_text()
    assert f"{framework}4 KiB  # measured 0 B" in team.read_text()
    assert "  net.sys:\n    nonpaged_impacting_bytes: 1440 KiB  # measured 1.17 MiB" in (
        team.read_text()
    )
    assert "skip_modules: [wdf01000.sys]" in team.read_text()


def test_zero_headroom_is_refused(tmp_path: Path) -> None:
    code, out = gate("budgets", "init", ETL, "--headroom", "0%")
    assert code == 2
    assert out == (
        "gate: error: --headroom '0%': a proposal needs headroom above the measured figures, "
        "e.g. 20%\n"
    )


@pytest.mark.parametrize("command", [["budgets", "init"], ["baseline", "update", "-o", "b.json"]])
def test_a_trace_without_pool_events_proposes_nothing(tmp_path: Path, command: list[str]) -> None:
    empty = write_scenario(tmp_path, "empty.yaml", scenario([]))
    os.chdir(tmp_path)
    code, out = gate(*command, empty)
    assert code == 2
    assert out == (
        f"gate: error: {empty} has no pool allocation events: record it with the WPR Pool "
        "usage profile\n"
    )
    assert not (tmp_path / "b.json").exists()


def test_a_window_after_the_trace_proposes_nothing(tmp_path: Path) -> None:
    code, out = gate("budgets", "init", ETL, "--window", "100s..200s")
    assert code == 2
    assert out == (
        f"gate: error: the window 100s..200s starts after {ETL} ends (60.0 s): nothing to judge\n"
    )


def test_lost_events_are_said_when_a_baseline_is_recorded(tmp_path: Path) -> None:
    doc = scenario([alloc(1, 0x1000, 100)], events_lost=3)
    trace = write_scenario(tmp_path, "lossy.yaml", doc)
    code, out = gate("baseline", "update", trace, "-o", tmp_path / "b.json")
    assert code == 0
    assert out.splitlines()[0] == (
        f"gate: warning: {trace} lost 3 event(s) and 0 buffer(s) while recording; figures "
        "may be too low"
    )


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_readable_help_with_an_example(command: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = runner.invoke(app, [*command, flag], env={"COLUMNS": "120"})
        assert result.exit_code == 0, result.output
        text = result.output
        assert "Example: gate " in text
        for artifact in ("<list[", "<path>", "<bool>", "<str>", "{inputs}", "[required]\\"):
            assert artifact not in text, (command, artifact)


def test_check_help_names_every_kind_of_input() -> None:
    text = runner.invoke(app, ["check", "--help"], env={"COLUMNS": "120"}).output
    for kind in (".etl", "WPA CSV", "normalized folder", "scenario .yaml"):
        assert kind in text, kind


# --- long work and signals ----------------------------------------------------------------------


def test_long_reads_report_progress_in_ci_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = iter([100.0, 101.0, 106.0, 107.0, 112.5])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    lines = cli._ProgressLines(Path("boot.etl"))
    for done in (1 << 20, 8 << 20, 9 << 20, 16 << 20):
        lines(done, 16 << 20)
    assert capsys.readouterr().err.splitlines() == [
        "gate: reading boot.etl: 8 of 16 MiB (50%) after 6 s",
        "gate: reading boot.etl: 16 of 16 MiB (100%) after 12 s",
    ]


def test_sigterm_unwinds_and_exits_143(tmp_path: Path) -> None:
    """A CI system cancelling the job sends SIGTERM: the store's temporary folder is removed
    and the exit code says what happened."""
    from gate.store import Store

    seen: list[str] = []

    def body() -> int:
        with Store() as store:
            seen.append(store._spill)
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    with pytest.raises(cli.typer.Exit) as exit_info:
        cli._guard(body)
    assert exit_info.value.exit_code == 143
    assert seen and not os.path.exists(seen[0])
