"""Markdown report: golden file, escaping, and the size caps GitHub enforces."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gate.reports import render_markdown
from gate.reports.markdown import DEFAULT_MAX_BYTES, HARD_MAX_BYTES
from gate.rules.results import Check, Finding, Outcome, TagUse, Verdict

# Compares with golden/<name>, or rewrites it when GATE_UPDATE_GOLDEN=1 (conftest.py).
GoldenCheck = Callable[[str, str], None]


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _many_failures(n: int) -> Verdict:
    checks = []
    for i in range(n):
        findings = [
            Finding(
                "GATE001",
                "budget.over",
                f"drv{i:05d}.sys",
                "nonpaged_impacting_bytes",
                2048,
                1024,
                None,
                Outcome.FAIL,
                "over budget " + "x" * 400,
            )
            for _ in range(12)
        ]
        checks.append(
            Check(
                metric="nonpaged_impacting_bytes",
                driver=f"drv{i:05d}.sys",
                outcome=Outcome.FAIL,
                observed=2048 + i,
                limit=1024,
                baseline=1000,
                findings=findings,
                top_tags=[TagUse(f"T{j:03d}", 1024, 2048, 3) for j in range(15)],
            )
        )
    return Verdict(checks, [], "whole trace", "max", [], None, "0")


def test_golden(verdict: Verdict, golden: GoldenCheck) -> None:
    golden("verdict.md", render_markdown(verdict))


def test_headline_and_table_order(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    first = text.splitlines()[0]
    assert first == (
        "## ⛔ gate: 1 error, 2 failed, 2 warnings, 6 passed, 1 notice, 1 waived, 1 not evaluated"
    )
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith("| ⛔ error |")
    assert rows[1].startswith("| ❌ fail | `acpi.sys`")


def test_all_clear_headline() -> None:
    ok = Check("nonpaged_impacting_bytes", "a.sys", Outcome.PASS, observed=1, limit=2)
    text = render_markdown(Verdict([ok], [], "whole trace", "max", [], None, "0"))
    assert text.startswith("## ✅ gate: 1 passed\n")


def test_failing_checks_have_details(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert text.count("<details>") == 3  # two failures and one error
    assert "| `AcpO` | 700 KiB | 900 KiB | 1,520 |" in text
    assert "| `acpi.sys+0x1a2b` | 388 KiB | 510 KiB | 408 |" in text


def test_cells_are_escaped(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert "| `mystery\\|driver.sys` |" in text
    assert "| `Acp\\|` |" in text
    owner = Check("m_bytes", "a.sys", Outcome.FAIL, observed=2, limit=1, owner="*team* <b>|x")
    md = render_markdown(Verdict([owner], [], "whole trace", "max", [], None, "0"))
    assert "\\*team\\* \\<b\\>\\|x" in md
    # The pipe is escaped, so every table row still has exactly nine cell borders.
    row = next(line for line in md.splitlines() if line.startswith("| ❌"))
    assert row.replace("\\|", "").count("|") == 9


def test_traces_and_run_sections(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert "| `traces/boot_2.etl` | etl | 41.2 s | 180,004 | 37 / 2 | 9 / 1 | no | yes |" in text
    assert "- Window: `0s..30s`, aggregate: `max`" in text
    assert "`budgets/storage.yaml`" in text


def test_rows_are_capped_and_the_cut_is_reported(verdict: Verdict) -> None:
    text = render_markdown(verdict, max_rows=5)
    lines = text.splitlines()
    start = lines.index("|---|---|---|---:|---:|---:|---:|---|") + 1
    end = lines.index("", start)
    assert len(lines[start:end]) == 5
    assert "_9 more checks left out (1 not evaluated, 1 waived, 1 notice, 6 pass)" in text


def test_default_output_fits_github_check_summary() -> None:
    text = render_markdown(_many_failures(2000))
    assert _size(text) <= DEFAULT_MAX_BYTES < 65_535
    assert "more checks left out" in text
    assert "more failing checks left out to fit the size limit" in text


@pytest.mark.parametrize("max_bytes", [2_000, 10_000, 5 * 1024 * 1024])
def test_never_over_the_limit(max_bytes: int) -> None:
    text = render_markdown(_many_failures(3000), max_rows=3000, max_bytes=max_bytes)
    assert _size(text) <= min(max_bytes, HARD_MAX_BYTES)
    assert text.endswith("\n")
