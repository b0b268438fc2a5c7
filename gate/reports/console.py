"""The console table: what a developer reads in a CI log or a terminal.

Problems come first and are always shown in full; passing checks are listed only while there
are few of them (a boot has hundreds of drivers, and a wall of passes buries the one failure).
The summary line is last because CI logs are read from the bottom.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from gate.reports.common import (
    check_headline,
    delta_text,
    format_value,
    one_line,
    outcome_word,
    peak_text,
    plural,
    status_word,
    summary_phrase,
    truncate,
    unattributed_line,
)
from gate.rules.results import Check, Outcome, Verdict
from gate.units import format_bytes

__all__ = ["MAX_PASS_ROWS", "render_console"]

MAX_PASS_ROWS = 15
_MAX_REASONS = 20
_REASON_LINES = 4
_MIN_WIDTH = 40
_GAP = "  "

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_OUTCOME_STYLE = {
    Outcome.ERROR: "\x1b[1;35m",
    Outcome.FAIL: "\x1b[1;31m",
    Outcome.WARN: "\x1b[33m",
    Outcome.NOT_EVALUATED: "\x1b[2m",
    Outcome.WAIVED: "\x1b[2m",
    Outcome.NOTICE: "\x1b[36m",
    Outcome.PASS: "\x1b[32m",
}
_STATUS_STYLE = {
    "ERROR": "\x1b[1;35m",
    "FAIL": "\x1b[1;31m",
    "WARN": "\x1b[1;33m",
    "PASS": "\x1b[1;32m",
}


@dataclass
class _Column:
    title: str
    cells: list[str]
    right: bool = False
    min_width: int | None = None  # None: never shortened
    droppable: bool = False

    def natural(self) -> int:
        return max([len(self.title), *(len(c) for c in self.cells)])


def render_console(verdict: Verdict, *, color: bool, width: int) -> str:
    """The verdict as a plain-text table no wider than `width` columns (ANSI colour if asked)."""
    width = max(width, _MIN_WIDTH)
    ordered = verdict.worst_first()
    passes = [c for c in ordered if c.outcome is Outcome.PASS]
    shown = [c for c in ordered if c.outcome is not Outcome.PASS]
    if len(passes) <= MAX_PASS_ROWS:
        shown += passes
        hidden = 0
    else:
        hidden = len(passes)

    lines: list[str] = []
    if shown:
        lines += _table(shown, width, color)
    if hidden:
        lines.append(truncate(f"… {hidden} passed checks not shown", width))
    if not verdict.checks:
        lines.append("no checks ran")

    reasons = [c for c in ordered if c.outcome in (Outcome.ERROR, Outcome.FAIL, Outcome.WARN)]
    if reasons:
        lines.append("")
        for check in reasons[:_MAX_REASONS]:
            # Wrapped, not cut: the judge's explanation is at the end of the line.
            wrapped = textwrap.wrap(
                _reason(check),
                width,
                subsequent_indent="    ",
                break_on_hyphens=False,
                max_lines=_REASON_LINES,
                placeholder=" …",
            )
            lines += [_style(part, check.outcome, color) for part in wrapped]
            evidence = _evidence(check)
            if evidence:
                lines += textwrap.wrap(
                    evidence,
                    width,
                    initial_indent="    ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                    max_lines=2,
                    placeholder=" …",
                )
        if len(reasons) > _MAX_REASONS:
            lines.append(f"… {len(reasons) - _MAX_REASONS} more")

    lines.append("")
    unattributed = unattributed_line(verdict)
    if unattributed:
        lines += textwrap.wrap(unattributed, width, break_on_hyphens=False)
    lines += [w for n in verdict.notes for w in textwrap.wrap(f"note: {one_line(n)}", width)]
    baseline = verdict.baseline_source or "none"
    run = (
        f"window {verdict.window}, aggregate {verdict.aggregate} over "
        f"{plural(len(verdict.traces), 'trace')}, baseline {baseline}"
    )
    lines += textwrap.wrap(one_line(run), width, break_on_hyphens=False)
    status = status_word(verdict)
    summary = f"gate: {status} — {summary_phrase(verdict)} (exit {int(verdict.exit_code)})"
    # The verdict line is never cut: on a narrow terminal it wraps instead.
    for part in textwrap.wrap(summary, width, break_on_hyphens=False):
        lines.append(f"{_STATUS_STYLE[status]}{part}{_RESET}" if color else part)
    return "\n".join(lines) + "\n"


def _evidence(check: Check) -> str:
    """Where to look: the top pool tags and allocating call sites of a failing driver."""
    key = "impacting_bytes" if "impacting" in check.metric else "allocated_bytes"
    parts = [peak_text(check.peak)] if check.peak is not None else []
    if check.top_tags:
        tags = ", ".join(f"{t.tag} {format_bytes(getattr(t, key))}" for t in check.top_tags[:3])
        parts.append(f"tags {tags}")
    if check.top_sites:
        sites = ", ".join(f"{s.site} {format_bytes(getattr(s, key))}" for s in check.top_sites[:3])
        parts.append(f"call sites {sites}")
    return "; ".join(parts)


def _reason(check: Check) -> str:
    text = check_headline(check)
    if check.budget_file:
        where = check.budget_file
        if check.budget_line is not None:
            where = f"{where}:{check.budget_line}"
        text = f"{text} ({one_line(where)})"
    return f"{outcome_word(check.outcome).upper()}: {text}"


def _table(checks: list[Check], width: int, color: bool) -> list[str]:
    columns = [
        _Column("outcome", [outcome_word(c.outcome) for c in checks]),
        _Column("driver", [one_line(c.driver, 80) for c in checks], min_width=10),
        _Column("metric", [one_line(c.metric, 80) for c in checks], min_width=10),
        _Column("observed", [format_value(c.metric, c.observed) for c in checks], right=True),
        _Column(
            "limit", [format_value(c.metric, c.limit) for c in checks], right=True, droppable=True
        ),
        _Column(
            "baseline / delta",
            [_baseline_cell(c) for c in checks],
            min_width=12,
            droppable=True,
        ),
    ]
    widths = _fit(columns, width)
    kept = [(col, w) for col, w in zip(columns, widths, strict=True) if w > 0]

    def row(cells: list[str], outcome: Outcome | None) -> str:
        parts = []
        for i, ((col, w), cell) in enumerate(zip(kept, cells, strict=True)):
            text = truncate(cell, w)
            text = text.rjust(w) if col.right else text.ljust(w)
            if i == 0 and outcome is not None:
                text = _style(text, outcome, color)
            parts.append(text)
        return _GAP.join(parts).rstrip()

    titles = [(col, truncate(col.title, w), w) for col, w in kept]
    header = _GAP.join(t.rjust(w) if col.right else t.ljust(w) for col, t, w in titles).rstrip()
    lines = [f"{_BOLD}{header}{_RESET}" if color else header]
    for i, check in enumerate(checks):
        lines.append(row([col.cells[i] for col, _ in kept], check.outcome))
    return lines


def _baseline_cell(check: Check) -> str:
    if check.baseline is None:
        return "—"
    delta = delta_text(check)
    shown = format_value(check.metric, check.baseline)
    return f"{shown}, {delta}" if delta else shown


def _fit(columns: list[_Column], width: int) -> list[int]:
    """Column widths that fit `width`: shorten text columns, then drop optional ones."""
    widths = [c.natural() for c in columns]

    def total() -> int:
        used = [w for w in widths if w > 0]
        return sum(used) + len(_GAP) * (len(used) - 1)

    while total() > width:
        slack = [
            (widths[i] - c.min_width, i)
            for i, c in enumerate(columns)
            if c.min_width is not None and widths[i] > c.min_width
        ]
        if slack:
            widths[max(slack)[1]] -= 1
            continue
        droppable = [i for i, c in enumerate(columns) if c.droppable and widths[i] > 0]
        if droppable:
            widths[droppable[-1]] = 0
            continue
        # Very narrow terminals: shorten any text column, the outcome word included.
        last_resort = [
            (widths[i], i) for i, c in enumerate(columns) if not c.right and widths[i] > 4
        ]
        if not last_resort:
            break
        widths[max(last_resort)[1]] -= 1
    return widths


def _style(text: str, outcome: Outcome, color: bool) -> str:
    return f"{_OUTCOME_STYLE[outcome]}{text}{_RESET}" if color else text
