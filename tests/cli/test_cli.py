"""The command line as users meet it: exit codes, one-line errors, files never half-written."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from scenario_kit import alloc, scenario, write_scenario
from typer.testing import CliRunner

from gate.cli import app

runner = CliRunner()


def gate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return write_scenario(tmp_path, "boot.yaml", scenario([alloc(1, 0x1000, 100)]))


@pytest.fixture
def budget(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text("drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 KiB}\n")
    return path


def test_demo_writes_three_reports_and_exits_1(tmp_path: Path) -> None:
    code, out = gate("demo", "--out", str(tmp_path))
    assert code == 1
    assert "contosonet.sys" in out and "FAIL" in out
    junit = (tmp_path / "gate-junit.xml").read_text()
    assert "<testsuite" in junit and 'classname="gate.nonpaged_impacting_bytes"' in junit
    report = json.loads((tmp_path / "gate-report.json").read_text())
    assert report["exit_code"] == 1
    failed = {(c["driver"], c["metric"]) for c in report["checks"] if c["outcome"] == "fail"}
    assert ("contosonet.sys", "nonpaged_impacting_bytes") in failed
    assert ("contosocam.sys", "nonpaged_transient_peak_bytes") in failed
    unbudgeted = [c for c in report["checks"] if c["driver"] == "fabrikamsensor.sys"]
    assert [c["outcome"] for c in unbudgeted] == ["warn"]
    assert (tmp_path / "gate-summary.md").read_text().startswith("## ")


def test_check_passes_with_exit_0(tmp_path: Path, trace: Path, budget: Path) -> None:
    code, out = gate("check", str(trace), "--budgets", str(budget))
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "missing.etl", "--budgets", "{budget}"], "missing.etl: no such file or folder"),
        (["check", "{trace}", "--budgets", "nope.yaml"], "nope.yaml"),
        (["check", "{trace}", "--budgets", "{budget}", "--window", "30s..10s"], "--window"),
        (["check", "{trace}", "--budgets", "{budget}", "--aggregate", "p99"], "--aggregate 'p99'"),
        (
            ["check", "{trace}", "--budgets", "{budget}", "--baseline", "none.json"],
            "none.json: no such file",
        ),
        (["check", "{trace}"], "no budgets given"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, trace: Path, budget: Path, args: list[str], message: str
) -> None:
    argv = [a.format(trace=trace, budget=budget) for a in args]
    json_out = tmp_path / "out.json"
    code, out = gate(*argv, "--json", str(json_out))
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("gate: error: ") and message in lines[0]
    assert "Traceback" not in out
    # The report CI publishes says what went wrong, as one error check, never "no results".
    report = json.loads(json_out.read_text())
    assert report["exit_code"] == 2 and report["summary"]["error"] == 1
    (check,) = report["checks"]
    assert (check["metric"], check["outcome"]) == ("run", "error")
    assert message in check["message"]


def test_an_error_run_leaves_a_junit_error_testcase(tmp_path: Path, budget: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, _ = gate("check", str(tmp_path / "missing.etl"), "-b", str(budget), "--junit", str(junit))
    assert code == 2
    root = ElementTree.fromstring(junit.read_text())
    assert root.get("errors") == "1" and root.get("tests") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None
    assert (
        error.get("message") == f"gate stopped: {tmp_path / 'missing.etl'}: no such file or folder"
    )


def test_every_budget_problem_is_reported_together(tmp_path: Path, trace: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "drivers:\n  a.sys:\n    nonpaged_impacting_bytes: 1.5 MB\n    nonpaged_bogus_bytes: 1\n"
    )
    code, out = gate("check", str(trace), "--budgets", str(bad))
    lines = out.splitlines()
    assert code == 2 and len(lines) == 2
    assert lines[0].startswith(f"gate: error: {bad}:3:5:") and "ambiguous" in lines[0]
    assert lines[1].startswith(f"gate: error: {bad}:4:5:")


def test_a_failed_check_still_writes_complete_reports(tmp_path: Path, trace: Path) -> None:
    tight = tmp_path / "tight.yaml"
    tight.write_text("drivers:\n  a.sys: {nonpaged_impacting_bytes: 10}\n")
    junit, md = tmp_path / "r.xml", tmp_path / "r.md"
    code, _ = gate(
        "check", str(trace), "--budgets", str(tight), "--junit", str(junit), "--markdown", str(md)
    )
    assert code == 1
    assert junit.read_text().rstrip().endswith("</testsuites>")
    assert "a.sys" in md.read_text()


def test_report_into_a_missing_folder_is_exit_2_and_leaves_nothing(
    tmp_path: Path, trace: Path, budget: Path
) -> None:
    target = tmp_path / "no" / "such" / "report.xml"
    code, out = gate("check", str(trace), "--budgets", str(budget), "--junit", str(target))
    assert code == 2 and "report.xml" in out
    assert not (tmp_path / "no").exists()


def test_ingest_then_check_the_normalized_folder(tmp_path: Path, trace: Path, budget: Path) -> None:
    out_dir = tmp_path / "norm"
    code, out = gate("ingest", str(trace), str(trace), "--out", str(out_dir))
    assert code == 0 and "2 trace(s)" in out
    report = tmp_path / "r.json"
    code, out = gate("check", str(out_dir), "--budgets", str(budget), "--json", str(report))
    assert code == 0, out
    check = next(c for c in json.loads(report.read_text())["checks"] if c["driver"] == "a.sys")
    assert check["traces_seen"] == 2


def test_db_option_keeps_a_queryable_database(tmp_path: Path, trace: Path, budget: Path) -> None:
    import duckdb

    db = tmp_path / "gate.duckdb"
    code, _ = gate("check", str(trace), "--budgets", str(budget), "--db", str(db))
    assert code == 0
    with duckdb.connect(str(db)) as con:
        rows = con.execute(
            "SELECT driver, value FROM driver_metrics_aggregated "
            "WHERE metric = 'nonpaged_impacting_bytes' AND driver = 'a.sys'"
        ).fetchall()
    assert rows == [("a.sys", 100.0)]


def test_baseline_update_writes_sorted_json_with_provenance(tmp_path: Path, trace: Path) -> None:
    out = tmp_path / "baseline.json"
    code, _ = gate("baseline", "update", str(trace), "--out", str(out))
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "gate-baseline" and doc["traces"][0]["sha256"]
    assert doc["drivers"]["a.sys"]["nonpaged_impacting_bytes"] == 100
    assert out.read_text() == json.dumps(doc, indent=2, sort_keys=True) + "\n"


def test_budgets_init_proposes_a_file_that_checks(tmp_path: Path, trace: Path) -> None:
    proposal = tmp_path / "proposed.yaml"
    code, out = gate("budgets", "init", str(trace), "--headroom", "20%", "--out", str(proposal))
    assert code == 0, out
    code, out = gate("budgets", "check", str(proposal))
    assert code == 0 and out.startswith("ok:")
    code, out = gate("check", str(trace), "--budgets", str(proposal))
    assert code == 0, out


def test_budgets_check_reports_file_line_column(tmp_path: Path) -> None:
    bad = tmp_path / "b.yaml"
    bad.write_text("drivers:\n  a.sys: {nonpaged_impacting_bytes: -5}\n")
    code, out = gate("budgets", "check", str(bad))
    assert code == 2 and out.startswith(f"gate: error: {bad}:2:")


def test_help_documents_exit_codes() -> None:
    code, out = gate("--help")
    assert code == 0 and "Exit codes" in out


def test_every_option_has_help() -> None:
    import typer.main

    command = typer.main.get_command(app)
    missing = []
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        subs = getattr(sub, "commands", {name: sub})
        for sub_name, cmd in subs.items():
            for param in cmd.params:
                if param.param_type_name == "option" and not param.help:
                    missing.append(f"{name} {sub_name} {param.name}")
    assert missing == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "offset 0x0: empty file"),
        (b"GIF89a not a trace", "offset 0x0: file of 18 bytes is too short"),
        ("truncated", "runs past the end of the file"),
    ],
)
def test_a_broken_etl_is_one_line_with_the_offset(
    tmp_path: Path, budget: Path, content: bytes | str, message: str
) -> None:
    from scenario_kit import SAMPLE

    path = tmp_path / "boot.etl"
    sample = (SAMPLE / "sample-boot.etl").read_bytes()
    path.write_bytes(sample[: len(sample) // 3] if content == "truncated" else content)
    for argv in (["check", str(path), "--budgets", str(budget)], ["inspect", str(path)]):
        code, out = gate(*argv)
        lines = out.splitlines()
        assert code == 2 and len(lines) == 1, out
        assert lines[0].startswith(f"gate: error: {path}: offset 0x") and message in lines[0]


def test_inspect_shows_what_the_sample_holds() -> None:
    from scenario_kit import SAMPLE

    code, out = gate("inspect", str(SAMPLE / "sample-boot.etl"))
    assert code == 0
    assert "compressed       yes" in out and "pool alloc (0x0e20)" in out
    assert "contosonet.sys" in out


def test_junit_strict_validates_against_the_jenkins_schema(
    tmp_path: Path, trace: Path, budget: Path
) -> None:
    from scenario_kit import CORPUS

    xsd = CORPUS / "junit" / "jenkins-xunit-junit-10.xsd"
    if not xsd.is_file():
        pytest.skip(f"{xsd} is absent: ../shared is not checked out beside the project")
    xmlschema = pytest.importorskip("xmlschema")
    out = tmp_path / "strict.xml"
    code, _ = gate(
        "check", str(trace), "--budgets", str(budget), "--junit", str(out), "--junit-strict"
    )
    assert code == 0
    xmlschema.XMLSchema(str(xsd)).validate(str(out))
    assert " owner=" not in out.read_text() and " file=" not in out.read_text()


@pytest.mark.parametrize(
    "raised",
    [KeyboardInterrupt(), RuntimeError("Query interrupted")],
    ids=["ctrl-c", "ctrl-c-inside-duckdb"],
)
def test_an_interrupt_is_exit_130_without_traceback(
    raised: BaseException, trace: Path, budget: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr("gate.pipeline.build_model", interrupted)
    code, out = gate("check", str(trace), "-b", str(budget))
    assert code == 130
    assert out.strip().splitlines()[-1] == "gate: interrupted"
    assert "Traceback" not in out


@pytest.mark.parametrize("compress", [True, False])
def test_a_compressed_trace_without_the_fast_extra_gets_a_hint(
    compress: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.inputs.etl import xpress
    from gate.inputs.scenario import generate, parse_scenario
    from gate.synthetic.etl import write_scenario_etl

    path = write_scenario_etl(
        generate(parse_scenario(scenario([alloc(1, 0x1000, 64)]))),
        tmp_path / "boot.etl",
        compress=compress,
    )
    monkeypatch.setattr(xpress, "available_backends", lambda: ["python"])
    monkeypatch.setattr("gate.pipeline.SLOW_HINT_BYTES", 0)
    code, out = gate("ingest", str(path), "--out", str(tmp_path / "norm"))
    assert code == 0
    hint = f"gate: note: {path} is compressed and the 'fast' extra is not installed"
    assert (hint in out) is compress
