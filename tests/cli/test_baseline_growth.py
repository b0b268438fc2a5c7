"""Baselines that say what grew, and that are compared only when recorded the same way.

A baseline keeps each driver's top call sites and tags; a growth failure names the call site
that grew ("(new)" when the baseline did not have it), a driver new since the baseline says
what it allocates, and a baseline recorded with another window, aggregate or attribution is
refused in one line unless the user allows it, which every report then says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario_kit import A_STACK, alloc, scenario, write_scenario
from typer.testing import CliRunner

from gate.cli import app

runner = CliRunner()
NEW_STACK = ["ntoskrnl.exe+0x10", "a.sys+0x300"]
B_NEW = ["ntoskrnl.exe+0x10", "b.sys+0x240"]
WDF_STACK = ["ntoskrnl.exe+0x10", "wdf01000.sys+0x500"]  # a driver the baseline never saw
BUDGETS = """\
drivers:
  a.sys: {nonpaged_impacting_bytes: 10 MiB}
  b.sys: {nonpaged_impacting_bytes: 10 MiB}
"""


def gate(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def _allocs(n: int, stack: list[str], base: int, tag: str = "Test") -> list[dict[str, object]]:
    return [alloc(1 + i * 0.001, base + i * 0x1000, 1024, stack=stack, tag=tag) for i in range(n)]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    before = scenario(_allocs(100, A_STACK, 0x100000))
    after = scenario(
        _allocs(100, A_STACK, 0x100000)
        + _allocs(300, NEW_STACK, 0x900000, tag="NewT")
        + _allocs(200, B_NEW, 0x2000000, tag="BNew")
        + _allocs(50, WDF_STACK, 0x4000000, tag="WdfN")
    )
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS)
    return {
        "before": write_scenario(tmp_path, "before.yaml", before),
        "after": write_scenario(tmp_path, "after.yaml", after),
        "budgets": budgets,
        "baseline": tmp_path / "baseline.json",
        "report": tmp_path / "report.json",
    }


def _record(files: dict[str, Path], *extra: str) -> dict:
    code, out = gate(
        "baseline", "update", files["before"], "-b", files["budgets"], "-o", files["baseline"],
        *extra,
    )  # fmt: skip
    assert code == 0, out
    return json.loads(files["baseline"].read_text())


def _check(files: dict[str, Path], *extra: str) -> tuple[int, str, dict]:
    code, out = gate(
        "check", files["after"], "-b", files["budgets"], "--baseline", files["baseline"],
        "--json", files["report"], "--annotations", "none", *extra,
    )  # fmt: skip
    report = json.loads(files["report"].read_text()) if files["report"].exists() else {}
    return code, out, report


def test_the_baseline_records_settings_and_top_call_sites(files: dict[str, Path]) -> None:
    doc = _record(files)
    assert doc["version"] == 2
    assert doc["settings"] == {
        "aggregate": "max",
        "attribution": {"pooltag_sha256": [], "skip_modules": [], "tag_rules": []},
        "metrics_version": 1,
        "window": "whole trace",
    }
    impacting = doc["evidence"]["a.sys"]["nonpaged_impacting_bytes"]
    assert impacting["sites"] == [{"allocations": 100, "bytes": 102400, "name": "a.sys+0x100"}]
    assert impacting["tags"] == [{"allocations": 100, "bytes": 102400, "name": "Test"}]
    assert impacting["rest"] == {
        "sites": {"allocations": 0, "bytes": 0, "count": 0},
        "tags": {"allocations": 0, "bytes": 0, "count": 0},
    }
    assert set(doc["evidence"]["a.sys"]) == {
        "nonpaged_impacting_bytes",
        "nonpaged_transient_peak_bytes",
    }


def test_a_growth_failure_names_the_new_call_site(files: dict[str, Path]) -> None:
    _record(files)
    code, out, report = _check(files)
    assert code == 1, out
    check = next(
        c
        for c in report["checks"]
        if c["driver"] == "a.sys" and c["metric"] == "nonpaged_impacting_bytes"
    )
    assert check["outcome"] == "fail"
    text = " ".join(out.split())
    assert "+300 KiB at a.sys+0x300 (new), tag NewT +300 KiB (new)" in text
    assert check["grew"] == [
        {"kind": "site", "name": "a.sys+0x300", "observed_bytes": 307200, "baseline_bytes": None,
         "new": True},
        {"kind": "tag", "name": "NewT", "observed_bytes": 307200, "baseline_bytes": None,
         "new": True},
    ]  # fmt: skip


def test_a_driver_new_since_the_baseline_says_what_it_allocates(files: dict[str, Path]) -> None:
    _record(files)
    code, out, _ = _check(files)
    assert code == 1, out
    text = " ".join(out.split())
    assert "new since the baseline: 50.0 KiB at wdf01000.sys+0x500, tag WdfN 50.0 KiB" in text
    # A budgeted driver absent from the old trace has a baseline of 0: all of it is new.
    assert "new since the baseline: 200 KiB at b.sys+0x240, tag BNew 200 KiB" in text


def test_a_baseline_recorded_with_another_window_is_refused(files: dict[str, Path]) -> None:
    _record(files, "--window", "0s..10s")
    code, out, report = _check(files)
    assert code == 2
    baseline = files["baseline"]
    assert (
        f"gate: error: {baseline}: recorded with other settings: window 0s..10s (this check: "
        "whole trace); record it again with these settings, or pass "
        "--allow-baseline-mismatch to compare anyway"
    ) in " ".join(out.split())
    assert report["checks"][0]["outcome"] == "error"  # the reports say so too


def test_another_attribution_is_refused_and_named(files: dict[str, Path]) -> None:
    _record(files, "--skip-module", "wdf01000.sys")
    code, out, _ = _check(files)
    assert code == 2
    assert "skip_modules wdf01000.sys (this check: none)" in " ".join(out.split())


def test_a_mismatch_allowed_is_said_in_every_report(files: dict[str, Path]) -> None:
    _record(files, "--aggregate", "median")
    md = files["report"].with_suffix(".md")
    code, out, report = _check(files, "--allow-baseline-mismatch", "--markdown", str(md))
    assert code == 1, out
    note = next(n for n in report["notes"] if "other settings" in n)
    assert "aggregate median (this check: max)" in note
    assert "compared anyway (--allow-baseline-mismatch)" in note
    assert "compared anyway" in " ".join(out.split())
    assert "compared anyway" in md.read_text()


def test_an_old_baseline_still_works_and_says_what_it_lacks(files: dict[str, Path]) -> None:
    doc = _record(files)
    old = {k: doc[k] for k in ("format", "drivers", "traces", "window", "aggregate")}
    old["version"] = 1
    files["baseline"].write_text(json.dumps(old))
    code, out, report = _check(files)
    assert code == 1, out
    assert any("version 1" in n and "no call sites" in n for n in report["notes"])
    assert "the baseline keeps no call sites to say what grew" in " ".join(out.split())
