"""Console table: golden files, width, colour, and collapsing of passes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gate.reports import render_console
from gate.reports.console import MAX_PASS_ROWS
from gate.rules.results import Check, Outcome, Verdict

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Compares with golden/<name>, or rewrites it when GATE_UPDATE_GOLDEN=1 (conftest.py).
GoldenCheck = Callable[[str, str], None]


def _passes(n: int, *extra: Check) -> Verdict:
    checks = [
        Check("nonpaged_impacting_bytes", f"d{i:03d}.sys", Outcome.PASS, observed=i, limit=4096)
        for i in range(n)
    ]
    return Verdict([*checks, *extra], [], "whole trace", "max", [], None, "0")


def test_golden_plain(verdict: Verdict, golden: GoldenCheck) -> None:
    golden("verdict.console.txt", render_console(verdict, color=False, width=120))


def test_golden_colour(verdict: Verdict, golden: GoldenCheck) -> None:
    golden("verdict.console-color.txt", render_console(verdict, color=True, width=100))


def test_summary_line(verdict: Verdict) -> None:
    last = render_console(verdict, color=False, width=200).splitlines()[-1]
    assert last == (
        "gate: ERROR — 1 error, 2 failed, 2 warnings, 6 passed, 1 notice, 1 waived,"
        " 1 not evaluated (exit 2)"
    )


def test_summary_for_a_plain_failure() -> None:
    fail = Check("nonpaged_impacting_bytes", "a.sys", Outcome.FAIL, observed=9, limit=1)
    out = render_console(_passes(3, fail), color=False, width=100)
    assert out.splitlines()[-1] == "gate: FAIL — 1 failed, 3 passed (exit 1)"


@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
def test_fits_width(verdict: Verdict, width: int) -> None:
    for color in (False, True):
        for line in render_console(verdict, color=color, width=width).splitlines():
            assert len(ANSI.sub("", line)) <= width, line


def test_no_colour_unless_asked(verdict: Verdict) -> None:
    assert "\x1b" not in render_console(verdict, color=False, width=100)
    assert "\x1b[1;31mfail" in render_console(verdict, color=True, width=100)


def test_few_passes_are_listed() -> None:
    out = render_console(_passes(MAX_PASS_ROWS), color=False, width=100)
    assert out.count("\npass ") == MAX_PASS_ROWS
    assert "not shown" not in out


def test_many_passes_collapse_but_problems_stay() -> None:
    warn = Check("nonpaged_impacting_bytes", "w.sys", Outcome.WARN, observed=90, limit=100)
    out = render_console(_passes(MAX_PASS_ROWS + 1, warn), color=False, width=100)
    assert "\npass " not in out
    assert f"… {MAX_PASS_ROWS + 1} passed checks not shown" in out
    assert "\nwarn " in out


def test_narrow_terminal_drops_columns_before_cutting_names(verdict: Verdict) -> None:
    out = render_console(verdict, color=False, width=60)
    header = out.splitlines()[0]
    assert "baseline" not in header
    assert "observed" in header
