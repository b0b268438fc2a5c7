"""The bundled sample: its .etl is exactly what the writer makes of its scenario."""

from __future__ import annotations

import json
from pathlib import Path

from scenario_kit import SAMPLE
from typer.testing import CliRunner

from gate.budgets.loader import load_budgets
from gate.cli import app
from gate.inputs.scenario import generate, load_scenario
from gate.pipeline import RunSettings, measure
from gate.synthetic.etl import write_scenario_etl

SCENARIO = SAMPLE / "sample-boot.scenario.yaml"
ETL = SAMPLE / "sample-boot.etl"


def test_bundled_etl_is_regenerated_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / ETL.name
    write_scenario_etl(generate(load_scenario(SCENARIO)), out, compress=True)
    assert out.read_bytes() == ETL.read_bytes(), (
        "regenerate gate/data/sample/sample-boot.etl from its scenario"
    )


def test_etl_and_scenario_give_the_same_pool_figures() -> None:
    """Every figure, the resident set's active_code_bytes included, agrees across the two."""
    settings = RunSettings(budgets=load_budgets([SAMPLE / "budgets.yaml"]))
    from_etl = measure([ETL], settings).baseline.drivers
    from_scenario = measure([SCENARIO], settings).baseline.drivers
    assert from_etl == from_scenario
    assert from_etl["contosonet.sys"]["nonpaged_impacting_bytes"] == 1_843_200
    assert from_etl["acpi.sys"]["active_code_bytes"] == 304 * 1024


def test_demo_gives_the_verdicts_of_the_scenario(tmp_path: Path) -> None:
    """The demo reads the bundled .etl; checking the scenario must give every same verdict."""
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    report = tmp_path / "scenario.json"
    args = ["check", str(SCENARIO), "-b", str(SAMPLE / "budgets.yaml")]
    args += ["--baseline", str(SAMPLE / "baseline.json"), "--json", str(report)]
    check = runner.invoke(app, args)
    assert demo.exit_code == check.exit_code == 1

    def verdicts(path: Path) -> list[tuple]:
        checks = json.loads(path.read_text())["checks"]
        return sorted((c["driver"], c["metric"], c["outcome"], c["observed"]) for c in checks)

    from_etl = verdicts(tmp_path / "demo" / "gate-report.json")
    assert from_etl == verdicts(report)
    assert ("acpi.sys", "active_code_bytes", "pass", 304 * 1024) in from_etl
