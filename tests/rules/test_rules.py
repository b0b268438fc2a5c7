"""Each rule with a passing and a failing case, through `gate check` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import A_STACK, B_STACK, alloc, free, scenario, write_scenario
from typer.testing import CliRunner

from gate.cli import app

KIB = 1024
MIB = 1024 * KIB


def run_gate(
    tmp_path: Path,
    events: list[dict[str, Any]],
    budgets: str,
    *extra: str,
    traces: list[dict[str, Any]] | None = None,
    **scenario_extra: Any,
) -> tuple[int, dict]:
    docs = traces if traces is not None else [scenario(events, **scenario_extra)]
    inputs = [str(write_scenario(tmp_path, f"t{i}.yaml", d)) for i, d in enumerate(docs)]
    (tmp_path / "budgets.yaml").write_text(budgets, encoding="utf-8")
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "check",
            *inputs,
            "--budgets",
            str(tmp_path / "budgets.yaml"),
            "--json",
            str(report),
            "--today",
            "2026-11-25",
            *extra,
        ],
    )
    if result.exit_code == 2 and not report.exists():
        return 2, {"stderr": result.output}
    return result.exit_code, {**json.loads(report.read_text()), "stderr": result.output}


def outcome(report: dict, driver: str, metric: str) -> str:
    for c in report["checks"]:
        if c["driver"] == driver and c["metric"] == metric:
            return c["outcome"]
    return "absent"


def one(size: int, stack: list[str] = A_STACK, address: int = 0x1000) -> list[dict]:
    return [alloc(1, address, size, stack=stack)]


@pytest.mark.parametrize(
    ("size", "expected", "code"), [(99, "pass", 0), (100, "warn", 0), (101, "fail", 1)]
)
def test_budget_over(tmp_path: Path, size: int, expected: str, code: int) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100, warn_at: 100%}\n"
    rc, rep = run_gate(tmp_path, one(size), budgets)
    assert (rc, outcome(rep, "a.sys", "nonpaged_impacting_bytes")) == (code, expected)


@pytest.mark.parametrize(("size", "expected"), [(79, "pass"), (80, "warn"), (100, "warn")])
def test_budget_near(tmp_path: Path, size: int, expected: str) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100}\n"
    rc, rep = run_gate(tmp_path, one(size), budgets)
    assert rc == 0
    assert outcome(rep, "a.sys", "nonpaged_impacting_bytes") == expected


def test_warn_as_error_turns_warnings_into_exit_1(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100}\n"
    rc, _ = run_gate(tmp_path, one(90), budgets, "--warn-as-error")
    assert rc == 1


def _baseline(
    tmp_path: Path, value: int, driver: str = "a.sys", metric: str = "nonpaged_impacting_bytes"
) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(
        json.dumps(
            {
                "format": "gate-baseline",
                "version": 1,
                "aggregate": "max",
                "window": "whole trace",
                "traces": [],
                "drivers": {driver: {metric: value}},
            }
        )
    )
    return path


def _allocations(count: int) -> list[dict]:
    return [alloc(1 + i / 1000, 0x1000 + 0x100 * i, 256) for i in range(count)]


def test_growth_of_a_metric_the_budgets_do_not_limit_fails_nothing(tmp_path: Path) -> None:
    """Three more 256 B allocations must not fail a pull request on a metric nobody budgeted."""
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100 MiB}\n"
    path = _baseline(tmp_path, 20, metric="nonpaged_allocations")
    rc, rep = run_gate(tmp_path, _allocations(23), budgets, "--baseline", str(path))
    assert rc == 0
    assert outcome(rep, "a.sys", "nonpaged_allocations") == "absent"


@pytest.mark.parametrize(("observed", "expected"), [(23, "pass"), (70, "pass"), (71, "fail")])
def test_count_growth_has_an_absolute_floor(tmp_path: Path, observed: int, expected: str) -> None:
    """Counts get a floor as bytes do: 50 allocations by default (10 % of 20 would be 2)."""
    budgets = "drivers:\n  a.sys: {nonpaged_allocations: 100000}\n"
    path = _baseline(tmp_path, 20, metric="nonpaged_allocations")
    rc, rep = run_gate(tmp_path, _allocations(observed), budgets, "--baseline", str(path))
    assert outcome(rep, "a.sys", "nonpaged_allocations") == expected
    assert rc == (1 if expected == "fail" else 0)
    if expected == "fail":
        check = next(c for c in rep["checks"] if c["metric"] == "nonpaged_allocations")
        assert check["message"] == (
            "a.sys nonpaged_allocations grew by +51 over its baseline of 20 to 71, "
            "more than the tolerance of 50"
        )


def test_growth_through_the_default_entry_is_judged(tmp_path: Path) -> None:
    budgets = 'drivers:\n  "*": {nonpaged_impacting_bytes: 100 MiB}\n'
    path = _baseline(tmp_path, 100 * KIB)
    rc, rep = run_gate(tmp_path, one(MIB), budgets, "--baseline", str(path))
    assert (rc, outcome(rep, "a.sys", "nonpaged_impacting_bytes")) == (1, "fail")


@pytest.mark.parametrize(
    ("baseline", "observed", "expected"),
    [
        # 10 % of 1 MiB (104,857.6 B) is above the 64 KiB floor.
        (MIB, MIB + 104_857, "pass"),
        (MIB, MIB + 104_858, "fail"),
        # 10 % of 100 KiB is below the floor: the 64 KiB floor decides.
        (100 * KIB, 100 * KIB + 64 * KIB, "pass"),
        (100 * KIB, 100 * KIB + 64 * KIB + 1, "fail"),
    ],
)
def test_baseline_growth_around_the_noise_floor(
    tmp_path: Path, baseline: int, observed: int, expected: str
) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100 MiB}\n"
    path = _baseline(tmp_path, baseline)
    rc, rep = run_gate(tmp_path, one(observed), budgets, "--baseline", str(path))
    assert outcome(rep, "a.sys", "nonpaged_impacting_bytes") == expected
    assert rc == (1 if expected == "fail" else 0)


def test_baseline_shrink_is_a_notice(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100 MiB}\n"
    path = _baseline(tmp_path, MIB)
    rc, rep = run_gate(tmp_path, one(MIB - 200 * KIB), budgets, "--baseline", str(path))
    assert (rc, outcome(rep, "a.sys", "nonpaged_impacting_bytes")) == (0, "notice")


def test_baseline_from_reference_traces(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100 MiB}\n"
    ref = write_scenario(tmp_path, "ref.yaml", scenario(one(100 * KIB)))
    rc, rep = run_gate(tmp_path, one(300 * KIB), budgets, "--baseline-trace", str(ref))
    assert (rc, outcome(rep, "a.sys", "nonpaged_impacting_bytes")) == (1, "fail")


@pytest.mark.parametrize(("limit", "expected", "code"), [("200", "pass", 0), ("150", "fail", 1)])
def test_totals_over(tmp_path: Path, limit: str, expected: str, code: int) -> None:
    events = [alloc(1, 0x1000, 100, stack=A_STACK), alloc(1, 0x2000, 60, stack=B_STACK)]
    budgets = (
        f"drivers:\n  '*': {{nonpaged_impacting_bytes: 1 MiB}}\ntotals:\n"
        f"  nonpaged_impacting_bytes: {limit}\nwarn_at: 100%\n"
    )
    rc, rep = run_gate(tmp_path, events, budgets)
    assert (rc, outcome(rep, "(total)", "nonpaged_impacting_bytes")) == (code, expected)


@pytest.mark.parametrize(
    ("budgets", "expected", "code"),
    [
        ("drivers:\n  b.sys: {nonpaged_impacting_bytes: 1 MiB}\n", "warn", 0),
        ("unbudgeted: fail\ndrivers:\n  b.sys: {nonpaged_impacting_bytes: 1 MiB}\n", "fail", 1),
        ("drivers:\n  '*': {nonpaged_impacting_bytes: 1 MiB}\n", "pass", 0),
    ],
)
def test_driver_without_budget(tmp_path: Path, budgets: str, expected: str, code: int) -> None:
    rc, rep = run_gate(tmp_path, one(100), budgets)
    assert (rc, outcome(rep, "a.sys", "nonpaged_impacting_bytes")) == (code, expected)


def test_budgeted_driver_absent_from_every_trace_is_not_evaluated(tmp_path: Path) -> None:
    budgets = (
        "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
        "  gone.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    )
    rc, rep = run_gate(tmp_path, one(100), budgets)
    assert (rc, outcome(rep, "gone.sys", "nonpaged_impacting_bytes")) == (0, "not_evaluated")


def test_active_code_without_resident_set_is_not_evaluated_never_zero(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {active_code_bytes: 64 KiB}\n"
    rc, rep = run_gate(tmp_path, one(100), budgets)
    check = next(c for c in rep["checks"] if c["metric"] == "active_code_bytes")
    assert (rc, check["outcome"], check["observed"]) == (0, "not_evaluated", None)


def test_active_code_with_resident_set_is_judged(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {active_code_bytes: 64 KiB}\n"
    resident = [
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Active",
            "category": "Driver",
            "size": "80 KiB",
        }
    ]
    rc, rep = run_gate(tmp_path, one(100), budgets, resident_set=resident)
    assert (rc, outcome(rep, "a.sys", "active_code_bytes")) == (1, "fail")


def test_lost_events_warn(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    rc, rep = run_gate(tmp_path, one(100), budgets, events_lost=3)
    quality = [c for c in rep["checks"] if c["metric"] == "trace_quality"]
    assert rc == 0 and [c["outcome"] for c in quality] == ["warn"]


def test_no_pool_events_is_an_error_never_a_pass(tmp_path: Path) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    rc, rep = run_gate(tmp_path, [], budgets)
    quality = [c for c in rep["checks"] if c["metric"] == "trace_quality"]
    assert rc == 2 and [c["outcome"] for c in quality] == ["error"]


@pytest.mark.parametrize(
    ("expires", "expected", "code"), [("2026-11-25", "waived", 0), ("2026-11-24", "fail", 1)]
)
def test_waivers_active_and_expired(tmp_path: Path, expires: str, expected: str, code: int) -> None:
    budgets = (
        "drivers:\n  a.sys: {nonpaged_impacting_bytes: 10}\nwaivers:\n"
        f"  - {{driver: a.sys, reason: known leak, expires: {expires}}}\n"
    )
    rc, rep = run_gate(tmp_path, one(100), budgets)
    check = next(c for c in rep["checks"] if c["driver"] == "a.sys")
    assert (rc, check["outcome"]) == (code, expected)
    if expected == "fail":
        assert "waiver expired on 2026-11-24 and waives nothing" in check["message"]


def test_several_traces_are_aggregated_and_counted(tmp_path: Path) -> None:
    budgets = "aggregate: median\ndrivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    traces = [scenario(one(s)) for s in (100, 500, 200)]
    rc, rep = run_gate(tmp_path, [], budgets, traces=traces)
    check = next(c for c in rep["checks"] if c["driver"] == "a.sys")
    assert (rc, check["observed"], check["traces_seen"]) == (0, 200, 3)


def test_window_from_the_command_line(tmp_path: Path) -> None:
    events = [alloc(1, 0x1000, 100), alloc(40, 0x2000, 7)]
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 50}\n"
    rc, rep = run_gate(tmp_path, events, budgets, "--window", "30s..60s")
    check = next(c for c in rep["checks"] if c["driver"] == "a.sys")
    assert (rc, check["observed"]) == (0, 7)


def test_failure_names_top_tags_and_call_sites(tmp_path: Path) -> None:
    events = [
        alloc(1, 0x1000, 900, tag="Leak"),
        alloc(2, 0x2000, 100, tag="Smol"),
        alloc(3, 0x3000, 50, tag="Tmp"),
        free(4, 0x3000),
    ]
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 10}\n"
    rc, rep = run_gate(tmp_path, events, budgets)
    check = next(c for c in rep["checks"] if c["driver"] == "a.sys")
    assert rc == 1
    assert [t["tag"] for t in check["top_tags"]][:2] == ["Leak", "Smol"]
    assert check["top_sites"][0]["site"] == "a.sys+0x100"


BAD_RULES = {
    "columns": (
        "-- X001 custom.columns\nSELECT 'X001' AS rule_id, 'a.sys' AS driver\n",
        "returns columns (rule_id, driver); the contract is",
    ),
    "outcome": (
        "-- X002 custom.outcome\nSELECT 'X002' AS rule_id, 'a.sys' AS driver, "
        "'m' AS metric, 1.0 AS observed_value, 1.0 AS limit_value, "
        "1.0 AS baseline_value, 'bad' AS outcome, 'x' AS message\n",
        "returned outcome 'bad'",
    ),
    "sql": ("-- X003 custom.broken\nSELECT * FROM no_such_table\n", "rule X003 failed"),
    "header": ("SELECT 1\n", "a rule must start with '-- <ID> <dotted.name>'"),
    "two": ("-- X004 custom.two\nSELECT 1; SELECT 2\n", "must be a single SELECT"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_a_rule_that_breaks_the_contract_is_an_error_naming_the_file(
    tmp_path: Path, case: str
) -> None:
    sql, message = BAD_RULES[case]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / f"{case}.sql").write_text(sql)
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    rc, out = run_gate(tmp_path, one(1), budgets, "--rules", str(rules))
    assert rc == 2
    assert f"{rules / (case + '.sql')}" in out["stderr"] and message in out["stderr"]
    (check,) = out["checks"]  # the report is the error, not a verdict
    assert check["outcome"] == "error" and message in check["message"]


def test_a_user_rule_adds_findings(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "big_tags.sql").write_text(
        "-- TEAM001 team.no_big_allocations\n"
        "-- No single non-paged allocation over 64 KiB.\n"
        "SELECT 'TEAM001' AS rule_id, driver, 'nonpaged_allocated_bytes' AS metric,\n"
        "  max(size_bytes)::DOUBLE AS observed_value, 65536.0 AS limit_value,\n"
        "  CAST(NULL AS DOUBLE) AS baseline_value, 'fail' AS outcome,\n"
        "  'allocation of ' || max(size_bytes) || ' bytes' AS message\n"
        "FROM allocations_windowed WHERE size_bytes > 65536 GROUP BY driver\n"
    )
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n"
    rc, rep = run_gate(tmp_path, one(70000), budgets, "--rules", str(rules))
    assert (rc, outcome(rep, "a.sys", "nonpaged_allocated_bytes")) == (1, "fail")


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            "200s..300s",
            "the window 200s..300s starts after {trace} ends (100.0 s): nothing to judge",
        ),
        (
            "10s..20s",
            "no pool allocation of {trace} takes part in the window 10s..20s: nothing to judge",
        ),
    ],
)
def test_a_window_that_sees_nothing_is_an_error_never_a_pass(
    tmp_path: Path, window: str, message: str
) -> None:
    budgets = "drivers:\n  a.sys: {nonpaged_impacting_bytes: 100 MiB}\n"
    events = [alloc(1, 0x1000, 64), free(2, 0x1000)]
    rc, rep = run_gate(tmp_path, events, budgets, "--window", window)
    assert rc == 2
    errors = [c for c in rep["checks"] if c["outcome"] == "error"]
    trace = str(tmp_path / "t0.yaml")
    assert [c["message"] for c in errors] == [message.format(trace=trace)]
