"""Markdown for a pull-request comment, `$GITHUB_STEP_SUMMARY` or an Azure summary attachment.

Read at comment width, worst first: the headline; a narrow table of the checks that need a
look (driver, metric, observed, what it was judged against, the difference); right under it
the details of each of them, folded; then everything else folded (passing checks, traces, the
run). Summary lines are built from whole parts and never cut inside a number.

Size matters more than completeness here: GitHub rejects a step summary over 1 MiB and a
check-run summary over 65,535 bytes. Rows and details are dropped from the end until the text
fits `max_bytes`, and every cut says how much was left out; the JSON report has everything.
"""

from __future__ import annotations

import html
import re

from gate.metrics import evidence_for
from gate.reports.common import (
    check_headline,
    comparison,
    counts_phrase,
    format_bytes,
    format_count,
    format_value,
    one_line,
    outcome_word,
    peak_text,
    plural,
    status_word,
    summary_phrase,
    unattributed_line,
    waiver_text,
)
from gate.rules.results import CallSite, Check, Outcome, TagUse, Verdict

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
_NEEDS_A_LOOK = (Outcome.ERROR, Outcome.FAIL, Outcome.WARN)

_CELL_CAP = 160
_SUMMARY_CAP = 240  # a <summary> line: whole parts only, so never cut inside a number
# Bytes kept free for the lines that say what was left out and the section headings.
_NOTE_RESERVE = 768
_TABLE_HEADER = (
    "| | Driver | Metric | Observed | Limit or baseline | Delta |",
    "|---|---|---|---:|---:|---:|",
)
_LIST_CAP = 10  # findings, tags and call sites shown per check

# Characters that start emphasis, links, HTML, entities, strikethrough or end a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def render_markdown(
    verdict: Verdict,
    *,
    max_rows: int = 50,
    max_bytes: int = DEFAULT_MAX_BYTES,
    html_report: str | None = None,
) -> str:
    """The verdict as GitHub-flavoured Markdown, at most `max_bytes` bytes of UTF-8.

    `html_report` names the HTML report written beside it (a path relative to the Markdown
    file): the headline then says where the timelines and stack views are."""
    max_bytes = min(max_bytes, HARD_MAX_BYTES)
    max_rows = max(max_rows, 0)
    ordered = verdict.worst_first()
    problems = [c for c in ordered if c.outcome in _NEEDS_A_LOOK]
    others = [c for c in ordered if c.outcome not in _NEEDS_A_LOOK]

    head = _headline(verdict, html_report)
    tail = _traces(verdict, max_rows) + _run(verdict)
    # Budget: rows of problems first (the part every reader looks at), their details, then
    # the folded rest. Sizes are summed, not re-rendered, so thousands of checks stay linear.
    budget = max_bytes - _size("\n".join(head + tail)) - _NOTE_RESERVE
    budget -= 2 * (_size("\n".join(_TABLE_HEADER)) + 1)
    problem_rows = _fit([_row(c) for c in problems[:max_rows]], budget)
    budget -= sum(_size(r) + 1 for r in problem_rows)
    details = _fit([_details(c, verdict) for c in problems[: len(problem_rows)]], budget, 2)
    budget -= sum(_size(d) + 2 for d in details)
    other_rows = _fit([_row(c) for c in others[: max(max_rows - len(problem_rows), 0)]], budget)

    lines = [*head, *_problems(problems, problem_rows, details)]
    lines += _folded_rest(others, other_rows)
    lines += tail
    text = "\n".join(lines) + "\n"
    if _size(text) > max_bytes:
        return _cut(text, max_bytes)
    return text


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(parts: list[str], budget: int, separator: int = 1) -> list[str]:
    """The leading `parts` whose sizes (plus separators) fit `budget`."""
    kept: list[str] = []
    for part in parts:
        cost = _size(part) + separator
        if cost > budget:
            break
        budget -= cost
        kept.append(part)
    return kept


def _cut(text: str, max_bytes: int) -> str:
    """Last resort when even the smallest layout is too big: cut at a line boundary."""
    note = "\n\n_Report cut to fit the size limit; the JSON report has everything._\n"
    budget = max_bytes - _size(note)
    data = text.encode("utf-8")[: max(budget, 0)]
    kept = data.decode("utf-8", errors="ignore")
    kept = kept[: kept.rfind("\n")] if "\n" in kept else ""
    return kept + note


def _headline(verdict: Verdict, html_report: str | None) -> list[str]:
    status = status_word(verdict)
    facts = [
        f"Exit code {int(verdict.exit_code)}",
        f"window {_code(verdict.window)}",
        f"aggregate {_code(verdict.aggregate)} over {plural(len(verdict.traces), 'trace')}",
    ]
    if verdict.baseline_source:
        facts.append(f"baseline {_code(verdict.baseline_source)}")
    head = [f"## {_STATUS_ICON[status]} gate: {summary_phrase(verdict)}", "", " · ".join(facts)]
    if html_report:
        # A name, not a link: the summary is read on the CI system's page, where the report
        # is one of the build's artifacts, not a file beside it.
        head += [
            "",
            f"Boot timelines and stack views: {_code(html_report)}, the HTML report kept with "
            "this build's artifacts.",
        ]
    return head


def _row(c: Check) -> str:
    m = c.metric
    against, delta, _ = comparison(c)
    cells = [
        _OUTCOME_ICON[c.outcome],
        _code(c.driver, in_table=True),
        _code(m, in_table=True),
        format_value(m, c.observed),
        _escape(against) if against else "—",
        _escape(delta) if delta else "—",
    ]
    return "| " + " | ".join(cells) + " |"


def _problems(problems: list[Check], rows: list[str], details: list[str]) -> list[str]:
    if not problems:
        return []
    lines = ["", *_TABLE_HEADER, *rows]
    if len(rows) < len(problems):
        lines += ["", f"_{len(problems) - len(rows)} more checks that need a look left out; "
                  "the JSON report has all._"]  # fmt: skip
    for block in details:
        lines += ["", block]
    if len(details) < len(rows):
        lines += ["", f"_Details of {len(rows) - len(details)} more checks left out to fit the "
                  "size limit._"]  # fmt: skip
    return lines


def _folded_rest(others: list[Check], rows: list[str]) -> list[str]:
    if not others:
        return []
    summary = counts_phrase(c.outcome for c in others)
    lines = ["", f"<details><summary>{summary}</summary>", "", *_TABLE_HEADER, *rows]
    if len(rows) < len(others):
        lines += ["", f"_{len(others) - len(rows)} more checks left out; the JSON report has all._"]
    return [*lines, "", "</details>"]


def _summary_line(check: Check) -> str:
    """`❌ acpi.sys nonpaged_impacting_bytes: 1.20 MiB, +205 KiB over limit 1.00 MiB`: whole
    parts only, dropped from the end while too long."""
    m = check.metric
    against, delta, word = comparison(check)
    observed = "not measured" if check.observed is None else format_value(m, check.observed)
    # Names are shortened, numbers never: the figure always survives whole.
    parts = [f"{_OUTCOME_ICON[check.outcome]} {one_line(check.driver, 100)} {m}: {observed}"]
    if against:
        parts.append(f", {delta} {word} {against}" if delta else f", {against}")
    if check.top_sites:
        parts.append(f"; at {check.top_sites[0].site}")
    text = ""
    for part in parts:
        if len(text) + len(part) > _SUMMARY_CAP:
            break
        text += part
    return html.escape(text or parts[0], quote=False)


def _details(check: Check, verdict: Verdict) -> str:
    lines = [f"<details><summary>{_summary_line(check)}</summary>", ""]
    lines += [_escape(check_headline(check, limit=600), cap=600), ""]
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
    if check.findings:
        for f in check.findings[:_LIST_CAP]:
            lines.append(
                f"- {_code(f.rule_id)} {_code(f.rule_name)} ({outcome_word(f.outcome)}):"
                f" {_escape(f.message, cap=500)}"
            )
        _more(lines, len(check.findings), "findings")
        lines.append("")
    lines += _evidence(check)
    lines.append("</details>")
    return "\n".join(lines)


def _evidence(check: Check) -> list[str]:
    lines: list[str] = []
    if check.peak is not None and (check.top_tags or check.top_sites):
        p = check.peak
        lines += [
            "L" + peak_text(p, _code(p.trace))[1:],
            "",
        ]
    evidence = evidence_for(check.metric)
    first = "Impacting" if evidence is not None and evidence[2] == "impacting_bytes" else "Bytes"
    uses: list[tuple[str, str, list[tuple[str, TagUse | CallSite]]]] = [
        ("Pool tag", "tags", [(u.tag, u) for u in check.top_tags]),
        ("Call site", "call sites", [(u.site, u) for u in check.top_sites]),
    ]
    for heading, what, rows in uses:
        if not rows:
            continue
        if first == "Impacting":
            lines += [
                f"| {heading} | Impacting | Allocated | Allocations |",
                "|---|---:|---:|---:|",
            ]
        else:
            lines += [f"| {heading} | Bytes | Allocations |", "|---|---:|---:|"]
        for name, u in rows[:_LIST_CAP]:
            cells = [_code(name, in_table=True)]
            if first == "Impacting":
                cells.append(format_bytes(u.impacting_bytes))
            cells += [format_bytes(u.allocated_bytes), format_count(u.allocations)]
            lines.append("| " + " | ".join(cells) + " |")
        _more(lines, len(rows), what)
        lines.append("")
    return lines


def _more(lines: list[str], total: int, what: str) -> None:
    if total > _LIST_CAP:
        lines += ["", f"_{total - _LIST_CAP} more {what} in the JSON report._"]


def _traces(verdict: Verdict, max_rows: int) -> list[str]:
    if not verdict.traces:
        return []
    lines = ["", f"<details><summary>{plural(len(verdict.traces), 'trace')}</summary>", ""]
    lines += [
        "| Trace | Duration | Pool allocations | Lost events / buffers | Resident set |",
        "|---|---:|---:|---:|---|",
    ]
    for t in verdict.traces[:max_rows]:
        lines.append(
            f"| {_code(t.source_path, in_table=True)} | {t.duration_s:.1f} s"
            f" | {format_count(t.pool_allocations)}"
            f" | {format_count(t.events_lost)} / {format_count(t.buffers_lost)}"
            f" | {'yes' if t.has_resident_set else 'no'} |"
        )
    if len(verdict.traces) > max_rows:
        lines += ["", f"_{len(verdict.traces) - max_rows} more traces left out._"]
    lines.append("")
    for t in verdict.traces[:max_rows]:
        facts = [
            f"{_escape(t.source_format)}",
            f"unmatched / lost frees {format_count(t.unmatched_frees)} / "
            f"{format_count(t.lost_frees)}",
            f"SHA-256 {_code(t.sha256[:12])}",
        ]
        if t.synthetic:
            facts.append("synthetic")
        lines.append(f"- {_code(t.source_path)}: {', '.join(facts)}")
        lines += [f"  - {_escape(n)}" for n in t.notes[:max_rows]]
    return [*lines, "", "</details>"]


def _run(verdict: Verdict) -> list[str]:
    files = verdict.budget_files
    shown = ", ".join(_code(f) for f in files[:20]) or "none"
    if len(files) > 20:
        shown += f" and {len(files) - 20} more"
    unattributed = unattributed_line(verdict)
    return [
        "",
        *([f"{_escape(unattributed)}", ""] if unattributed else []),
        *[f"- Note: {_escape(n, cap=500)}" for n in verdict.notes],
        f"- Budget files: {shown} · gate {_escape(verdict.gate_version)}",
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
