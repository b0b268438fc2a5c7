"""JSON report: golden file, exact numbers, stable order."""

from __future__ import annotations

import json
from collections.abc import Callable

from gate.metrics import priority
from gate.reports import render_json
from gate.rules.results import Check, Outcome, Verdict

# Compares with golden/<name>, or rewrites it when GATE_UPDATE_GOLDEN=1 (conftest.py).
GoldenCheck = Callable[[str, str], None]


def test_golden(verdict: Verdict, golden: GoldenCheck) -> None:
    golden("verdict.json", render_json(verdict))


def test_shape(verdict: Verdict) -> None:
    text = render_json(verdict)
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert doc["format"] == "gate-report"
    assert doc["version"] == 1
    assert doc["exit_code"] == 2
    assert doc["summary"] == {
        "error": 1,
        "fail": 2,
        "warn": 2,
        "not_evaluated": 1,
        "waived": 1,
        "notice": 1,
        "pass": 6,
    }
    assert [t["sha256"][:1] for t in doc["traces"]] == ["a", "b"]
    assert doc["baseline"] == "baselines/main.json"
    # Sorted keys at every level, so the text diffs cleanly between runs.
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_checks_worst_first_then_metric_priority_then_driver(verdict: Verdict) -> None:
    checks = json.loads(render_json(verdict))["checks"]
    severity = {o.value: o.severity for o in Outcome}
    keys = [
        (-severity[c["outcome"]], priority(c["metric"]), c["metric"], c["driver"]) for c in checks
    ]
    assert keys == sorted(keys)
    assert checks[0]["outcome"] == "error"


def test_bytes_are_exact_integers(verdict: Verdict) -> None:
    checks = json.loads(render_json(verdict))["checks"]
    acpi = next(c for c in checks if c["driver"] == "acpi.sys" and c["outcome"] == "fail")
    assert acpi["observed"] == 1_258_291 and isinstance(acpi["observed"], int)
    assert acpi["limit"] == 1_048_576 and isinstance(acpi["limit"], int)
    assert acpi["delta"] == 1_258_291 - 1_069_548
    assert acpi["unit"] == "bytes"
    assert acpi["top_tags"][0] == {
        "tag": "AcpO",
        "impacting_bytes": 700 * 1024,
        "allocated_bytes": 900 * 1024,
        "allocations": 1520,
    }
    assert acpi["budget_file"] == "budgets/platform.yaml" and acpi["budget_line"] == 12
    median = next(c for c in checks if c["metric"] == "nonpaged_allocations" and c["observed"])
    assert median["driver"] == "(total)" and median["observed"] == 181_607.5
    assert median["unit"] == "count"


def test_waiver_and_findings(verdict: Verdict) -> None:
    checks = json.loads(render_json(verdict))["checks"]
    ndis = next(c for c in checks if c["driver"] == "ndis.sys")
    assert ndis["waiver"]["expired"] is True
    assert ndis["waiver"]["expires"] == "2024-01-31"
    wdf = next(c for c in checks if c["driver"] == "wdf01000.sys")
    assert wdf["findings"][0]["message"] == "near limit: 870 KiB of 1.00 MiB <b>*check*</b>"


def test_non_finite_values_become_null() -> None:
    odd = Check("x_bytes", "a.sys", Outcome.ERROR, observed=float("nan"), limit=float("inf"))
    doc = json.loads(render_json(Verdict([odd], [], "whole trace", "max", [], None, "0")))
    assert doc["checks"][0]["observed"] is None
    assert doc["checks"][0]["limit"] is None
