"""The bundled sample: its .etl is exactly what the writer makes of its scenario."""

from __future__ import annotations

from pathlib import Path

from scenario_kit import SAMPLE

from gate.budgets.loader import load_budgets
from gate.etl.synth import write_scenario_etl
from gate.inputs.scenario import generate, load_scenario
from gate.pipeline import RunSettings, measure_baseline

SCENARIO = SAMPLE / "sample-boot.scenario.yaml"
ETL = SAMPLE / "sample-boot.etl"


def test_bundled_etl_is_regenerated_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / ETL.name
    write_scenario_etl(generate(load_scenario(SCENARIO)), out, compress=True)
    assert out.read_bytes() == ETL.read_bytes(), (
        "regenerate gate/data/sample/sample-boot.etl from its scenario"
    )


def test_etl_and_scenario_give_the_same_pool_figures() -> None:
    settings = RunSettings(budgets=load_budgets([SAMPLE / "budgets.yaml"]))
    from_etl = measure_baseline([ETL], settings).drivers
    from_scenario = measure_baseline([SCENARIO], settings).drivers
    pool = lambda figures: {  # noqa: E731
        (d, m): v for d, ms in figures.items() for m, v in ms.items() if m != "active_code_bytes"
    }
    assert pool(from_etl) == pool(from_scenario)
    assert from_etl["contosonet.sys"]["nonpaged_impacting_bytes"] == 1_843_200
