"""Markdown for a pull-request comment, `$GITHUB_STEP_SUMMARY` or an Azure summary attachment.

Size matters more than completeness here: GitHub rejects a step summary over 1 MiB and a
check-run summary over 65,535 bytes, and either way the reader wants the worst rows first.
The table is capped at `max_rows`, failure details are dropped from the end until the text
fits `max_bytes`, and every cut says how much was left out; the JSON report has everything.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from gate.reports.common import (
    OUTCOME_ORDER,
    check_headline,
    delta_text,
    format_bytes,
    format_count,
    format_value,
    one_line,
    outcome_word,
    plural,
    status_word,
    summary_phrase,
    unattributed_line,
    waiver_text,
)
from gate.rules.results import Check, Outcome, Verdict

__all__ = ["DEFAULT_MAX_BYTES", "HARD_MAX_BYTES", "render_markdown"]

# Under GitHub's 65,535-byte check-run summary limit with room for a wrapper's own lines.
DEFAULT_MAX_BYTES = 60 * 1024
# GitHub's step summary limit; nothing this renderer returns is ever larger.
HARD_MAX_BYTES = 1024 * 1024 - 1

_STATUS_ICON = {"ERROR": "⛔", "FAIL": "❌", "WARN": "⚠️", "PASS": "✅"}
_OUTCOME_ICON = {
    Outcome.ERROR: "⛔",
    Outcome.FAIL: "❌",
    Outcome.WARN: "⚠️",
    Outcome.NOT_EVALUATED: "➖",
    Outcome.WAIVED: "💤",
    Outcome.NOTICE: "ℹ️",
    Outcome.PASS: "✅",
}

_CELL_CAP = 160
# Bytes kept free for the lines that say what was left out and the section heading.
_NOTE_RESERVE = 512
_TABLE_HEADER = (
    "| Outcome | Driver | Metric | Observed | Limit | Baseline | Delta | Owner |",
    "|---|---|---|---:|---:|---:|---:|---|",
)
_LIST_CAP = 10  # findings, tags and call sites shown per failing check

# Characters that start emphasis, links, HTML, entities, strikethrough or end a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def render_markdown(
    verdict: Verdict, *, max_rows: int = 50, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """The verdict as GitHub-flavoured Markdown, at most `max_bytes` bytes of UTF-8."""
    max_bytes = min(max_bytes, HARD_MAX_BYTES)
    max_rows = max(max_rows, 0)
    ordered = verdict.worst_first()
    failing = [c for c in ordered if c.outcome in (Outcome.FAIL, Outcome.ERROR)]

    head = _headline(verdict)
    tail = _traces(verdict, max_rows) + _run(verdict)
    rows = [_row(c) for c in ordered[:max_rows]]

    # Rows are kept before details: the table is the part every reader looks at. Sizes are
    # summed rather than re-rendered so that thousands of failures stay linear.
    budget = max_bytes - _size("\n".join(head + tail)) - _NOTE_RESERVE
    budget -= _size("\n".join(_TABLE_HEADER)) + 1
    kept = 0
    for row in rows:
        cost = _size(row) + 1
        if cost > budget:
            break
        budget -= cost
        kept += 1
    details: list[str] = []
    for check in failing:
        block = _details(check, verdict)
        cost = _size(block) + 2
        if cost > budget:
            break
        budget -= cost
        details.append(block)

    text = _assemble(head, _table(ordered, rows[:kept]), details, len(failing), tail)
    if _size(text) > max_bytes:
        return _cut(text, max_bytes)
    return text


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, max_bytes: int) -> str:
    """Last resort when even the smallest layout is too big: cut at a line boundary."""
    note = "\n\n_Report cut to fit the size limit; the JSON report has everything._\n"
    budget = max_bytes - _size(note)
    data = text.encode("utf-8")[: max(budget, 0)]
    kept = data.decode("utf-8", errors="ignore")
    kept = kept[: kept.rfind("\n")] if "\n" in kept else ""
    return kept + note


def _assemble(
    head: list[str], table: list[str], details: list[str], failing: int, tail: list[str]
) -> str:
    lines = [*head, *table]
    if failing:
        lines += ["", "### Failures", ""]
        for block in details:
            lines += [block, ""]
        if len(details) < failing:
            left = failing - len(details)
            lines += [
                f"_Details of {left} more failing checks left out to fit the size limit._",
                "",
            ]
        if lines[-1] == "":
            lines.pop()
    lines += tail
    return "\n".join(lines) + "\n"


def _headline(verdict: Verdict) -> list[str]:
    status = status_word(verdict)
    return [
        f"## {_STATUS_ICON[status]} gate: {summary_phrase(verdict)}",
        "",
        f"Exit code {int(verdict.exit_code)} · window {_code(verdict.window)}"
        f" · aggregate {_code(verdict.aggregate)} over {plural(len(verdict.traces), 'trace')}",
        "",
    ]


def _row(c: Check) -> str:
    m = c.metric
    cells = [
        f"{_OUTCOME_ICON[c.outcome]} {outcome_word(c.outcome)}",
        _code(c.driver, in_table=True),
        _code(m, in_table=True),
        format_value(m, c.observed),
        format_value(m, c.limit),
        format_value(m, c.baseline),
        delta_text(c) or "—",
        _escape(c.owner) if c.owner else "—",
    ]
    return "| " + " | ".join(cells) + " |"


def _table(ordered: list[Check], rows: list[str]) -> list[str]:
    if not ordered:
        return ["_No checks ran._"]
    lines = [*_TABLE_HEADER, *rows]
    left_out = ordered[len(rows) :]
    if left_out:
        counts = Counter(c.outcome for c in left_out)
        breakdown = ", ".join(f"{counts[o]} {outcome_word(o)}" for o in OUTCOME_ORDER if counts[o])
        lines += [
            "",
            f"_{len(left_out)} more checks left out ({breakdown}); the JSON report has all._",
        ]
    return lines


def _details(check: Check, verdict: Verdict) -> str:
    summary = html.escape(check_headline(check, limit=300), quote=False)
    icon = _OUTCOME_ICON[check.outcome]
    lines = [f"<details><summary>{icon} {summary}</summary>", ""]
    facts = [f"seen in {check.traces_seen} of {plural(len(verdict.traces), 'trace')}"]
    if check.budget_file:
        where = check.budget_file
        if check.budget_line is not None:
            where = f"{where}:{check.budget_line}"
        facts.insert(0, f"budget {_code(where)}")
    if check.owner:
        facts.append(f"owner {_escape(check.owner)}")
    joined = " · ".join(facts)
    lines += [joined[:1].upper() + joined[1:], ""]
    if check.waiver is not None:
        lines += [f"Waiver: {_escape(waiver_text(check))}", ""]
    if check.message:
        lines += [_escape(check.message, cap=500), ""]
    if check.findings:
        for f in check.findings[:_LIST_CAP]:
            lines.append(
                f"- {_code(f.rule_id)} {_code(f.rule_name)} ({outcome_word(f.outcome)}):"
                f" {_escape(f.message, cap=500)}"
            )
        _more(lines, len(check.findings), "findings")
        lines.append("")
    uses = [
        ("Pool tag", "tags", [(u.tag, u) for u in check.top_tags]),
        ("Call site", "call sites", [(u.site, u) for u in check.top_sites]),
    ]
    for heading, what, rows in uses:
        if not rows:
            continue
        lines += [f"| {heading} | Impacting | Allocated | Allocations |", "|---|---:|---:|---:|"]
        for name, u in rows[:_LIST_CAP]:
            lines.append(
                f"| {_code(name, in_table=True)} | {format_bytes(u.impacting_bytes)}"
                f" | {format_bytes(u.allocated_bytes)} | {format_count(u.allocations)} |"
            )
        _more(lines, len(rows), what)
        lines.append("")
    lines.append("</details>")
    return "\n".join(lines)


def _more(lines: list[str], total: int, what: str) -> None:
    if total > _LIST_CAP:
        lines += ["", f"_{total - _LIST_CAP} more {what} in the JSON report._"]


def _traces(verdict: Verdict, max_rows: int) -> list[str]:
    lines = ["", "### Traces", ""]
    if not verdict.traces:
        return [*lines, "_No traces._"]
    lines += [
        "| Trace | Format | Duration | Pool allocations | Lost events / buffers"
        " | Unmatched / lost frees | Resident set | Synthetic | SHA-256 |",
        "|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for t in verdict.traces[:max_rows]:
        lines.append(
            f"| {_code(t.source_path, in_table=True)} | {_escape(t.source_format)}"
            f" | {t.duration_s:.1f} s | {format_count(t.pool_allocations)}"
            f" | {format_count(t.events_lost)} / {format_count(t.buffers_lost)}"
            f" | {format_count(t.unmatched_frees)} / {format_count(t.lost_frees)}"
            f" | {'yes' if t.has_resident_set else 'no'} | {'yes' if t.synthetic else 'no'}"
            f" | {_code(t.sha256[:12], in_table=True)} |"
        )
    if len(verdict.traces) > max_rows:
        lines += ["", f"_{len(verdict.traces) - max_rows} more traces left out._"]
    notes = [(t, n) for t in verdict.traces[:max_rows] for n in t.notes]
    if notes:
        lines.append("")
        lines += [f"- {_code(t.source_path)}: {_escape(n)}" for t, n in notes[:max_rows]]
    return lines


def _run(verdict: Verdict) -> list[str]:
    files = verdict.budget_files
    shown = ", ".join(_code(f) for f in files[:20]) or "none"
    if len(files) > 20:
        shown += f" and {len(files) - 20} more"
    baseline = _code(verdict.baseline_source) if verdict.baseline_source else "none"
    unattributed = unattributed_line(verdict)
    return [
        "",
        "### Run",
        "",
        *([f"- {_escape(unattributed)}"] if unattributed else []),
        *[f"- Note: {_escape(n, cap=500)}" for n in verdict.notes],
        f"- Window: {_code(verdict.window)}, aggregate: {_code(verdict.aggregate)}",
        f"- Baseline: {baseline}",
        f"- Budget files: {shown}",
        f"- gate {_escape(verdict.gate_version)}",
    ]


def _escape(text: str, cap: int = _CELL_CAP) -> str:
    """Text safe in a table cell or list item: one line, Markdown and HTML specials escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text, cap))


def _code(text: str, *, in_table: bool = False) -> str:
    """A code span, which shows names such as `nonpaged_impacting_bytes` without escapes.

    Inside a table GitHub still ends the cell at `|` unless it is escaped, even in code.
    Text with backticks cannot be a simple code span and falls back to escaping.
    """
    value = one_line(text, _CELL_CAP)
    if not value:
        return "—"
    if "`" in value:
        return _escape(value)
    if in_table:
        value = value.replace("|", "\\|")
    return f"`{value}`"
