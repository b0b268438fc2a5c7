"""No command replaces one of its own inputs, a device, a FIFO, or writes through a link; a
kept database holds exactly one complete run."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from scenario_kit import alloc, scenario, write_scenario
from typer.testing import CliRunner

from gate.cli import app

runner = CliRunner()


def gate(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    trace = write_scenario(tmp_path, "boot.yaml", scenario([alloc(1, 0x1000, 100)]))
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 KiB}\n")
    baseline = tmp_path / "baseline.json"
    assert gate("baseline", "update", trace, "-b", budgets, "-o", baseline)[0] == 0
    return {"trace": trace, "budgets": budgets, "baseline": baseline}


@pytest.mark.parametrize("victim", ["trace", "budgets", "baseline"])
@pytest.mark.parametrize("option", ["--json", "--junit", "--markdown"])
def test_a_report_never_replaces_an_input(files: dict[str, Path], victim: str, option: str) -> None:
    before = {name: path.read_bytes() for name, path in files.items()}
    target = files[victim]
    args = ["check", files["trace"], "-b", files["budgets"], "--baseline", files["baseline"]]
    code, out = gate(*args, option, target)
    assert code == 2
    label = {"--json": "JSON", "--junit": "JUnit", "--markdown": "Markdown"}[option]
    assert out == (
        f"gate: error: {target}: the {label} output would replace {target}, an input; "
        "choose another path\n"
    )
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_a_link_to_an_input_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "report.json"
    link.symlink_to(files["trace"])
    code, out = gate("check", files["trace"], "-b", files["budgets"], "--json", link)
    assert code == 2 and "symbolic link" in out and link.is_symlink()


def test_a_link_elsewhere_is_not_written_through(files: dict[str, Path], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me")
    link = tmp_path / "report.json"
    link.symlink_to(elsewhere)
    code, out = gate("check", files["trace"], "-b", files["budgets"], "--json", link)
    assert code == 2
    assert out == (
        f"gate: error: {link}: cannot write the JSON output: it is a symbolic link; not "
        "writing through it\n"
    )
    assert elsewhere.read_text() == "keep me"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX feature")
def test_a_fifo_or_a_folder_is_never_replaced(files: dict[str, Path], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, out = gate("check", files["trace"], "-b", files["budgets"], "--junit", fifo)
    assert code == 2 and "not a regular file (a device, FIFO or socket)" in out
    assert fifo.exists() and not fifo.is_file()
    folder = tmp_path / "reports"
    folder.mkdir()
    code, out = gate("check", files["trace"], "-b", files["budgets"], "--json", folder)
    assert code == 2 and "it is a folder; not replacing it" in out


def test_two_reports_may_not_be_one_file(files: dict[str, Path], tmp_path: Path) -> None:
    same = tmp_path / "out.txt"
    code, out = gate(
        "check", files["trace"], "-b", files["budgets"], "--json", same, "--junit", same
    )
    assert code == 2
    assert out == (
        f"gate: error: {same}: the JSON output would replace {same}, also the JUnit output; "
        "choose another path\n"
    )


def test_proposals_baselines_and_ingest_never_replace_an_input(files: dict[str, Path]) -> None:
    trace, budgets = files["trace"], files["budgets"]
    before = trace.read_bytes(), budgets.read_bytes()
    assert gate("budgets", "init", trace, "-o", trace)[0] == 2
    assert gate("budgets", "init", trace, "-b", budgets, "-o", budgets)[0] == 2
    assert gate("baseline", "update", trace, "-b", budgets, "-o", budgets)[0] == 2
    assert gate("ingest", trace, "-o", trace)[0] == 2
    assert (trace.read_bytes(), budgets.read_bytes()) == before


def _traces_in(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM traces").fetchall()[0][0])


def test_a_kept_database_holds_one_run_and_is_replaced_whole(
    files: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "run.duckdb"
    for _ in range(2):
        code, _ = gate("check", files["trace"], "-b", files["budgets"], "--db", db)
        assert code == 0
        assert _traces_in(db) == 1
    # A run that stops on an error leaves the last complete database as it was.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.sql").write_text("-- X001 bad.rule\nSELECT 1 AS nothing\n")
    before = db.read_bytes()
    code, _ = gate("check", files["trace"], "-b", files["budgets"], "--db", db, "--rules", rules)
    assert code == 2
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".building" in p.name] == []
