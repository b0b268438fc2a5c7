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
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| | Driver | Metric | Observed | Limit or baseline | Delta |"
    assert rows[1].startswith("| ⛔ | `mystery")
    assert rows[2] == (
        "| ❌ | `acpi.sys` | `nonpaged_impacting_bytes` | 1.20 MiB | limit 1.00 MiB | +205 KiB |"
    )


def test_growth_failures_read_as_growth(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert (
        "| ❌ | `ndis.sys` | `nonpaged_impacting_bytes` | 900 KiB | baseline 512 KiB | +388 KiB |"
    ) in text
    assert (
        "<details><summary>❌ ndis.sys nonpaged_impacting_bytes: 900 KiB, +388 KiB over baseline "
        "512 KiB</summary>"
    ) in text


def test_all_clear_headline() -> None:
    ok = Check("nonpaged_impacting_bytes", "a.sys", Outcome.PASS, observed=1, limit=2)
    text = render_markdown(Verdict([ok], [], "whole trace", "max", [], None, "0"))
    assert text.startswith("## ✅ gate: 1 passed\n")
    assert "<details><summary>1 passed</summary>" in text


def test_problems_have_their_details_right_under_the_table(verdict: Verdict) -> None:
    lines = render_markdown(verdict).splitlines()
    summaries = [ln for ln in lines if ln.startswith("<details><summary>")]
    assert [s[18:20] for s in summaries[:5]] == ["⛔ ", "❌ ", "❌ ", "⚠️", "⚠️"]
    assert summaries[5] == (
        "<details><summary>6 passed, 1 notice, 1 waived, 1 not evaluated</summary>"
    )
    text = "\n".join(lines)
    assert "| `AcpO` | 700 KiB | 900 KiB | 1,520 |" in text
    assert "| `acpi.sys+0x1a2b` | 388 KiB | 510 KiB | 408 |" in text


def test_summary_lines_are_never_cut_inside_a_number() -> None:
    long = "d" * 230 + ".sys"
    check = Check("nonpaged_impacting_bytes", long, Outcome.FAIL, observed=2 * 1024**2, limit=1)
    text = render_markdown(Verdict([check], [], "whole trace", "max", [], None, "0"))
    summary = next(ln for ln in text.splitlines() if ln.startswith("<details><summary>❌"))
    # The name is shortened; every figure stays whole.
    assert "d… nonpaged_impacting_bytes: 2.00 MiB, +2.00 MiB over limit 1 B</summary>" in summary


def test_cells_are_escaped(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert "| `mystery\\|driver.sys` |" in text
    assert "| `Acp\\|` |" in text
    owner = Check("m_bytes", "a.sys", Outcome.FAIL, observed=2, limit=1, owner="*team* <b>|x")
    md = render_markdown(Verdict([owner], [], "whole trace", "max", [], None, "0"))
    assert "owner \\*team\\* \\<b\\>\\|x" in md
    # Escaped pipes: every table row still has exactly seven cell borders.
    row = next(line for line in md.splitlines() if line.startswith("| ❌"))
    assert row.replace("\\|", "").count("|") == 7


def test_traces_and_run_sections(verdict: Verdict) -> None:
    text = render_markdown(verdict)
    assert "| `traces/boot_2.etl` | 41.2 s | 180,004 | 37 / 2 | no |" in text
    assert "window `0s..30s` · aggregate `max` over 2 traces" in text
    assert "`budgets/storage.yaml`" in text
    assert "(kernel) 1.17 MiB, (unattributed) 0 B of non-paged impacting pool" in text


def test_rows_are_capped_and_the_cut_is_reported(verdict: Verdict) -> None:
    text = render_markdown(verdict, max_rows=5)
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| |")]
    assert len([r for r in rows if r[2] in "⛔❌⚠"]) == 5
    assert "_9 more checks left out; the JSON report has all._" in text


def test_default_output_fits_github_check_summary() -> None:
    text = render_markdown(_many_failures(2000))
    assert _size(text) <= DEFAULT_MAX_BYTES < 65_535
    assert "more checks that need a look left out" in text
    assert "more checks left out to fit the size limit" in text


def test_a_400_driver_run_fits_a_comment() -> None:
    checks = []
    for i in range(400):
        for metric in ("nonpaged_impacting_bytes", "nonpaged_transient_peak_bytes"):
            outcome = (Outcome.FAIL, Outcome.WARN, Outcome.PASS)[i % 3]
            checks.append(Check(metric, f"driver{i:03d}.sys", outcome, observed=2000, limit=1000))
    text = render_markdown(Verdict(checks, [], "whole trace", "max", [], None, "0"))
    assert len(text) < 65_536
    assert text.count("<details><summary>❌") > 0


@pytest.mark.parametrize("max_bytes", [2_000, 10_000, 5 * 1024 * 1024])
def test_never_over_the_limit(max_bytes: int) -> None:
    text = render_markdown(_many_failures(3000), max_rows=3000, max_bytes=max_bytes)
    assert _size(text) <= min(max_bytes, HARD_MAX_BYTES)
    assert text.endswith("\n")
