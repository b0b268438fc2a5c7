"""The verdict as one self-contained HTML page: boot timelines, stack views and every figure.

CI systems serve build artifacts under strict content security policies (Jenkins: `sandbox;
default-src 'none'; img-src 'self'; style-src 'self';`), which block every script, every
`<style>` element and every `style=` attribute. So the page needs none of them: it is plain
semantic HTML (headings, tables with `border`, `<details>`/`<summary>` for folding) whose
figures are inline SVG drawn with presentation attributes (`gate.reports.svg`), and it
references nothing outside itself (no URL, font, stylesheet or script). Its one `<style>`
element only improves the layout where a policy lets it through; its own `<meta>` policy
forbids everything else, so hostile text in a trace can never make the page fetch or run
anything even when opened from disk. Every text (driver names, tags, call sites, paths) is
cleaned of control characters and escaped.

The page: the verdict and the checks that need attention; one section per driver with a
failing or warning check, with its figures, its boot timeline (non-paged impacting and
transient bytes, gate/rules/timelines.py, with its budget and baseline lines, the evaluation
window shaded and the transient peak marked), the pool tags and call sites that explain each
check and its stack trees; the totals' timeline; every driver's figures; the other drivers'
timelines, folded; the inputs with their hashes and quality notes, and with several traces
each figure's value per trace.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from gate.metrics import METRICS, format_value, priority
from gate.reports import svg
from gate.reports.common import (
    check_headline,
    clean_text,
    delta_text,
    one_line,
    outcome_word,
    peak_text,
    plural,
    status_word,
    summary_phrase,
    waiver_text,
)
from gate.rules.results import (
    Check,
    Outcome,
    StackNode,
    StackTree,
    Timeline,
    TraceSummary,
    Verdict,
)
from gate.rules.timelines import DETAIL_DRIVERS, detailed_drivers
from gate.tables.drivers import TOTAL
from gate.units import format_bytes, format_count

__all__ = ["render_html"]

IMPACTING = "nonpaged_impacting_bytes"
TRANSIENT = "nonpaged_transient_peak_bytes"
_PROBLEMS = (Outcome.FAIL, Outcome.WARN)
# Colours of the figures (Okabe–Ito): the series, then the lines judged against each.
_IMPACTING_COLOR = "#0072b2"
_TRANSIENT_COLOR = "#e69f00"
_LINE_COLORS = {IMPACTING: "#b2182b", TRANSIENT: "#8c4a00"}
_LINE_NAMES = {IMPACTING: "impacting", TRANSIENT: "transient peak"}
# How far the stack views unfold by themselves: the largest branch, this deep.
_OPEN_DEPTH = 6
# Drivers past the first DETAIL_DRIVERS are drawn small, so that a run where hundreds of
# drivers fail still gives a page under 5 MB (400 failing drivers: 4.8 MB): fewer
# points per timeline (peaks still exact), stack views of the largest few functions per level
# and a few levels deep (the rest summed; `gate explain` and the JSON report have it all),
# the top few tags and call sites.
_SMALL_POINTS = 48
_SMALL_HOVER = 0  # their hover columns would cost more than their paths
_SMALL_FUNCTIONS = 3
_SMALL_LEVELS = 4
_SMALL_ROWS = 3

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_STYLE = """
body{font-family:system-ui,sans-serif;color:#222;max-width:78em;margin:1em auto;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #c8c8c8;padding:.2em .5em;vertical-align:top}
th{background:#f2f2f2;text-align:left}
td[align=right]{font-variant-numeric:tabular-nums;white-space:nowrap}
section{border-top:1px solid #ddd;margin-top:1.5em}
details{margin:.3em 0}
details ul{margin:.1em 0 .1em 1.3em;padding:0}
summary{cursor:pointer}
figure{margin:.8em 0}
svg{max-width:100%;height:auto}
.fail,.error{color:#b2182b}
.warn{color:#8c4a00}
"""


def render_html(verdict: Verdict) -> str:
    """The verdict as one HTML page (text), the same for the same verdict."""
    anchors = _anchors(verdict)
    detailed = detailed_drivers(verdict)
    parts = [
        _head(verdict),
        _header(verdict, anchors, detailed),
        _attention(verdict, anchors, detailed),
        *(
            _driver_section(d, verdict, anchors, full=i < DETAIL_DRIVERS)
            for i, d in enumerate(detailed)
        ),
        _totals_section(verdict),
        _figures_section(verdict, anchors, set(detailed)),
        _other_timelines(verdict, anchors, set(detailed)),
        _inputs_section(verdict),
        _per_trace_section(verdict),
        _all_checks_section(verdict, anchors),
        f"<footer><p>gate {_t(verdict.gate_version)}</p></footer>\n</body>\n</html>\n",
    ]
    return "".join(p for p in parts if p)


# --- text -------------------------------------------------------------------------------------


def _t(text: object) -> str:
    """Text for an element or a quoted attribute: control characters removed, escaped."""
    return html.escape(clean_text(str(text)), quote=True)


def _line(text: object, cap: int = 500) -> str:
    """One escaped line, whitespace folded, at most `cap` characters."""
    return html.escape(one_line(str(text), cap), quote=True)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _path(text: object) -> str:
    """An escaped path that may wrap after each folder separator."""
    return _t(text).replace("/", "/<wbr>").replace("\\", "\\<wbr>")


def _metric_head(metric: str) -> str:
    """A metric's name as a column heading that may wrap after each underscore."""
    return f"<code>{_t(metric).replace('_', '_<wbr>')}</code>"


def _value(metric: str, value: float | None) -> str:
    return "—" if value is None else _t(format_value(metric, value))


def _outcome(outcome: Outcome) -> str:
    word = _t(outcome_word(outcome))
    if outcome.severity >= Outcome.WARN.severity:
        return f'<strong class="{outcome.value}">{word}</strong>'
    return word


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A bordered table; `head` and the cells are HTML already; columns in `numeric` align
    right."""
    out = ['<table border="1"><thead><tr>']
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = (
            f'<td align="right">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr>{''.join(cells)}</tr>")
    out.append("</tbody></table>\n")
    return "".join(out)


# --- structure --------------------------------------------------------------------------------


def _anchors(verdict: Verdict) -> dict[str, str]:
    """An id for every driver the page names: numbered, since a name may hold anything."""
    names = {c.driver for c in verdict.checks} | {f.driver for f in verdict.figures}
    names |= set(verdict.timelines)
    return {name: f"driver-{i}" for i, name in enumerate(sorted(names), start=1)}


def _head(verdict: Verdict) -> str:
    title = f"gate: {status_word(verdict)} — {summary_phrase(verdict)}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_line(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
    )


def _header(verdict: Verdict, anchors: dict[str, str], detailed: list[str]) -> str:
    n = len(verdict.traces)
    facts = [f"exit code {int(verdict.exit_code)}"]
    if verdict.window:
        facts.append(f"window {verdict.window}")
    if verdict.aggregate:
        facts.append(f"aggregate {verdict.aggregate} over {plural(n, 'trace')}")
    facts.append(f"baseline {verdict.baseline_source or 'none'}")
    if verdict.budget_files:
        facts.append(f"budgets {', '.join(verdict.budget_files)}")
    out = [
        f"<header>\n<h1>Driver memory gate: {_t(status_word(verdict))}</h1>\n",
        f"<p><strong>{_t(summary_phrase(verdict))}</strong></p>\n",
        f"<p>{' · '.join(_line(f) for f in facts)}</p>\n",
    ]
    if verdict.warn_as_error:
        out.append("<p>Warnings fail this run (--warn-as-error).</p>\n")
    out += [f"<p>Note: {_line(note)}</p>\n" for note in verdict.notes]
    links = [("attention", "Checks that need attention")]
    links += [(anchors[d], f"{d}") for d in detailed]
    if TOTAL in verdict.timelines or any(c.driver == TOTAL for c in verdict.checks):
        links.append(("totals", "All drivers together"))
    if verdict.figures:
        links.append(("figures", "Every driver's figures"))
    if verdict.traces:
        links.append(("inputs", "Inputs"))
    items = "".join(f'<li><a href="#{a}">{_line(label, 120)}</a></li>' for a, label in links)
    out.append(f"<nav><p>Contents</p><ul>{items}</ul></nav>\n</header>\n")
    return "".join(out)


# --- checks -----------------------------------------------------------------------------------

_CHECK_HEAD = (
    "Outcome",
    "Driver",
    "Metric",
    "Observed",
    "Limit",
    "Baseline",
    "Delta",
    "Owner",
    "Budget",
)


def _check_row(check: Check, anchors: dict[str, str], link: bool) -> list[str]:
    m = check.metric
    driver = _t(check.driver)
    if link and check.driver in anchors:
        driver = f'<a href="#{anchors[check.driver]}">{driver}</a>'
    budget = ""
    if check.budget_file:
        line = f":{check.budget_line}" if check.budget_line is not None else ""
        budget = f"<code>{_path(check.budget_file + line)}</code>"
    return [
        _outcome(check.outcome),
        f"<code>{driver}</code>",
        f"<code>{_t(m)}</code>",
        _value(m, check.observed),
        _value(m, check.limit),
        _value(m, check.baseline),
        _t(delta_text(check)) or "—",
        _t(check.owner or "") or "—",
        budget or "—",
    ]


def _attention(verdict: Verdict, anchors: dict[str, str], detailed: list[str]) -> str:
    rows = [c for c in verdict.worst_first() if c.outcome is not Outcome.PASS]
    out = ['<section id="attention">\n<h2>Checks that need attention</h2>\n']
    if not rows:
        out.append("<p>None: every check passed.</p>\n")
    else:
        out.append(_table(_CHECK_HEAD, (_check_row(c, anchors, True) for c in rows), {3, 4, 5, 6}))
        # Drivers with a section of their own say it there.
        told = set(detailed)
        lines = [f"<li>{_line(check_headline(c))}</li>" for c in rows if c.driver not in told]
        if lines:
            out.append(f"<ul>{''.join(lines)}</ul>\n")
    out.append("</section>\n")
    return "".join(out)


def _all_checks_section(verdict: Verdict, anchors: dict[str, str]) -> str:
    checks = [c for c in verdict.worst_first() if c.outcome is Outcome.PASS]
    if not checks:
        return ""
    rows = (_check_row(c, anchors, False) for c in checks)
    return (
        f'<section id="passed">\n<details><summary>{plural(len(checks), "passed check")}'
        f"</summary>\n{_table(_CHECK_HEAD, rows, {3, 4, 5, 6})}</details>\n</section>\n"
    )


# --- a driver's section -----------------------------------------------------------------------


def _driver_section(driver: str, verdict: Verdict, anchors: dict[str, str], *, full: bool) -> str:
    """A driver's checks, what explains them, its timeline and its stack trees; drawn smaller
    (`full=False`) past the first `DETAIL_DRIVERS` drivers, so that the page stays small."""
    checks = [c for c in verdict.worst_first() if c.driver == driver]
    worst = checks[0].outcome
    out = [
        f'<section id="{anchors[driver]}">\n',
        f"<h2><code>{_t(driver)}</code>: {_outcome(worst)}</h2>\n",
        _table(_CHECK_HEAD, (_check_row(c, anchors, False) for c in checks), {3, 4, 5, 6}),
    ]
    rows = None if full else _SMALL_ROWS
    n = len(verdict.traces)
    out += [_check_details(c, n, rows) for c in checks if c.outcome in _PROBLEMS]
    timeline = verdict.timelines.get(driver)
    out.append(_timeline_figure(driver, timeline, checks, verdict, detail=full))
    out.append(_driver_trace_values(driver, checks, verdict))
    out.append(_trees(driver, verdict, full=full))
    out.append("</section>\n")
    return "".join(out)


def _check_details(check: Check, traces: int, rows: int | None = None) -> str:
    """What decided a check and what explains it: the rules' findings, waiver, tags and sites
    (the first `rows` of each, or all)."""
    out = [f"<h3>{_outcome(check.outcome)} <code>{_t(check.metric)}</code></h3>\n"]
    out.append(f"<p>{_line(check_headline(check))}</p>\n")
    where = [f"seen in {check.traces_seen} of {plural(traces, 'trace')}"]
    if check.owner:
        where.append(f"owner {check.owner}")
    if waiver_text(check):
        where.append(waiver_text(check))
    if check.warned_as_error:
        where.append("fails the run: --warn-as-error")
    out.append(f"<p>{' · '.join(_line(w) for w in where)}</p>\n")
    if check.findings:
        items = "".join(
            f"<li><code>{_t(f.rule_id)}</code> <code>{_t(f.rule_name)}</code> "
            f"({_t(outcome_word(f.outcome))}): {_line(f.message)}</li>"
            for f in check.findings
        )
        out.append(f"<ul>{items}</ul>\n")
    if check.peak is not None:
        out.append(f"<p>{_line(_sentence(peak_text(check.peak)))}</p>\n")
    out.append(_evidence(check, rows))
    return "".join(out)


def _evidence(check: Check, rows: int | None = None) -> str:
    """The check's top pool tags and call sites (the first `rows` of each, or all): over the
    window, or live at the peak."""
    at_peak = check.peak is not None
    head = ("Bytes live at the peak",) if at_peak else ("Impacting", "Allocated")
    tags = [(u.tag, u.impacting_bytes, u.allocated_bytes, u.allocations) for u in check.top_tags]
    sites = [(s.site, s.impacting_bytes, s.allocated_bytes, s.allocations) for s in check.top_sites]
    tags, sites = tags[:rows], sites[:rows]
    out = []
    for title, listed in (("Pool tag", tags), ("Call site", sites)):
        if not listed:
            continue
        cells = []
        for name, impacting, allocated, count in listed:
            figures = [format_bytes(allocated), format_count(count)]
            if not at_peak:
                figures.insert(0, format_bytes(impacting))
            cells.append([f"<code>{_t(name)}</code>", *(_t(f) for f in figures)])
        out.append(_table((title, *head, "Allocations"), cells, set(range(1, len(head) + 2))))
    return "".join(out)


def _driver_trace_values(driver: str, checks: list[Check], verdict: Verdict) -> str:
    """With several traces: the values behind the driver's judged figures, trace by trace."""
    if len(verdict.traces) < 2:
        return ""
    metrics = sorted({c.metric for c in checks}, key=priority)
    rows = [r for m in metrics if (r := _trace_value_row(driver, m, verdict, None)) is not None]
    if not rows:
        return ""
    head = ("Metric", "Aggregate", *(f"trace {t.trace_id}" for t in verdict.traces))
    numeric = set(range(1, 2 + len(verdict.traces)))
    return "<h3>Per trace</h3>\n" + _table(head, rows, numeric)


def _trace_value_row(
    driver: str, metric: str, verdict: Verdict, aggregate: float | None
) -> list[str] | None:
    per_trace = verdict.trace_values.get((driver, metric))
    if not per_trace:
        return None
    if aggregate is None:
        aggregate = next(
            (c.observed for c in verdict.checks if c.driver == driver and c.metric == metric),
            None,
        )
    cells = [f"<code>{_t(metric)}</code>", _value(metric, aggregate)]
    cells += [_value(metric, per_trace.get(t.trace_id)) for t in verdict.traces]
    return cells


# --- timelines --------------------------------------------------------------------------------


def _reference_lines(checks: Iterable[Check]) -> list[svg.HLine]:
    """Budget (solid) and baseline (dashed) lines for the figures a timeline can be read
    against: of the failing or warning checks among them, else of the impacting check."""
    drawable = sorted(
        (c for c in checks if c.metric in _LINE_NAMES), key=lambda c: priority(c.metric)
    )
    problems = [c for c in drawable if c.outcome in _PROBLEMS]
    lines = []
    for check in problems or [c for c in drawable if c.metric == IMPACTING]:
        name, color = _LINE_NAMES[check.metric], _LINE_COLORS[check.metric]
        if check.limit is not None:
            lines.append(svg.HLine(float(check.limit), f"{name} budget", color, dashed=False))
        if check.baseline is not None:
            lines.append(svg.HLine(float(check.baseline), f"{name} baseline", color))
    return lines


def _timeline_figure(
    driver: str,
    timeline: Timeline | None,
    checks: list[Check],
    verdict: Verdict,
    *,
    detail: bool,
    name: str | None = None,
) -> str:
    """The driver's (or the totals') boot timeline with a caption saying what it shows;
    `name` is what the chart's title calls it (the driver's name by default)."""
    if timeline is None:
        why = (
            "no non-paged allocations of it in the evaluation window"
            if verdict.timelines
            else "timelines are computed only when the HTML report is written by gate check"
        )
        return f"<p>No timeline: {why}.</p>\n"
    peak = timeline.transient_peak()
    markers = []
    if peak is not None:
        markers.append(svg.Marker(peak[0], peak[1], "transient peak", "#222222", decimals=3))
    window = verdict.window or "whole trace"
    chart = svg.timeline(
        f"{name or driver}: non-paged pool during the boot",
        stacked=[
            svg.Series("impacting", timeline.times_s, timeline.impacting_bytes, _IMPACTING_COLOR)
        ],
        lines=[
            svg.Series("transient", timeline.times_s, timeline.transient_bytes, _TRANSIENT_COLOR)
        ],
        hlines=_reference_lines(checks),
        markers=markers,
        span=svg.Span(timeline.window_start_s, timeline.window_end_s, f"window: {window}"),
        duration=timeline.duration_s,
        height=320 if detail else 220,
        max_points=max(1000, timeline.points) if detail else _SMALL_POINTS,
        hover_columns=48 if detail else _SMALL_HOVER,
    )
    return (
        f'<figure class="timeline" data-driver="{_t(driver)}">\n{chart}\n'
        f"<figcaption>{_caption(timeline, peak)}</figcaption>\n</figure>\n"
    )


def _caption(timeline: Timeline, peak: tuple[float, int] | None) -> str:
    parts = [
        f"Bytes of live non-paged allocations in {timeline.trace}: impacting (allocated or "
        "freed inside the evaluation window, not both) filled, transient (allocated and freed "
        "inside it) as the line; the window shaded."
    ]
    if peak is not None:
        parts.append(
            f"Transient peak: {format_count(peak[1])} bytes ({format_bytes(peak[1])}) at "
            f"{peak[0]:.3f} s."
        )
    else:
        parts.append("No transient allocations.")
    if timeline.impacting_bytes:
        end = timeline.impacting_bytes[-1]
        parts.append(f"Impacting at the end of the trace: {format_bytes(end)}.")
    parts.append(
        f"{format_count(timeline.points)} of {format_count(timeline.events)} pool events "
        "drawn; every peak exact."
    )
    return _line(" ".join(parts), 2000)


def _totals_section(verdict: Verdict) -> str:
    timeline = verdict.timelines.get(TOTAL)
    checks = [c for c in verdict.checks if c.driver == TOTAL]
    if timeline is None and not checks:
        return ""
    return (
        '<section id="totals">\n<h2>All drivers together</h2>\n'
        + _timeline_figure(TOTAL, timeline, checks, verdict, detail=True, name="all drivers")
        + "</section>\n"
    )


def _other_timelines(verdict: Verdict, anchors: dict[str, str], detailed: set[str]) -> str:
    """Every other driver's timeline, each folded, all in one folded section."""
    others = sorted(d for d in verdict.timelines if d != TOTAL and d not in detailed)
    if not others:
        return ""
    out = [
        '<section id="other-timelines">\n<details><summary>Timelines of the other '
        f"{plural(len(others), 'driver')}</summary>\n"
    ]
    for driver in others:
        timeline = verdict.timelines[driver]
        checks = [c for c in verdict.checks if c.driver == driver]
        peak = timeline.transient_peak()
        facts = f"transient peak {format_bytes(peak[1])}" if peak else "no transient allocations"
        out.append(
            f'<details id="timeline-{anchors[driver]}"><summary><code>{_t(driver)}</code>: '
            f"{_t(facts)}</summary>\n"
            + _timeline_figure(driver, timeline, checks, verdict, detail=False)
            + "</details>\n"
        )
    out.append("</details>\n</section>\n")
    return "".join(out)


# --- stack trees ------------------------------------------------------------------------------


def _trees(driver: str, verdict: Verdict, *, full: bool) -> str:
    out = ["<h3>Where the allocations come from</h3>\n"]
    for kind, what in (("impacting", "Impacting"), ("transient", "Transient")):
        tree = verdict.trees.get((driver, kind))
        if tree is None:
            out.append(f"<p>{what} allocations: no stack data.</p>\n")
            continue
        out.append(_tree(tree, what, full=full))
    return "".join(out)


def _tree(tree: StackTree, what: str, *, full: bool) -> str:
    """A stack tree as nested `<details>` (folding without script) and, in `full`, an icicle."""
    summary = (
        f"{what} allocations: {format_bytes(tree.size_bytes)} in "
        f"{plural(tree.allocations, 'allocation')}"
    )
    out = [f'<details open class="stack-tree"><summary>{_t(summary)}</summary>\n']
    if tree.peak is not None:
        out.append(f"<p>{_line(_sentence(peak_text(tree.peak)))}</p>\n")
    if tree.roots:
        limits = None if full else (_SMALL_FUNCTIONS, _SMALL_LEVELS)
        out.append(_nodes(tree.roots, 0, limits=limits))
        if full:
            blocks = tuple(_block(n) for n in _largest_first(tree.roots))
            title = f"{tree.driver} {tree.kind} allocations by function"
            out.append(f'<figure class="icicle">{svg.icicle(title, blocks)}</figure>\n')
    else:
        out.append("<p>No stack data.</p>\n")
    notes = []
    if tree.without_stack_bytes:
        notes.append(f"{format_bytes(tree.without_stack_bytes)} attributed by pool tag, no stack")
    if tree.hidden_bytes:
        notes.append(f"{format_bytes(tree.hidden_bytes)} in functions too small to show")
    if notes:
        out.append(f"<p>{_t('; '.join(notes))}.</p>\n")
    out.append("</details>\n")
    return "".join(out)


def _largest_first(nodes: Iterable[StackNode]) -> list[StackNode]:
    return sorted(nodes, key=lambda n: -n.size_bytes)


def _nodes(
    nodes: Sequence[StackNode],
    depth: int,
    hidden_bytes: int = 0,
    *,
    limits: tuple[int, int] | None = None,
) -> str:
    """Nested lists of functions, largest first, then what the callees not shown add up to;
    the largest branch unfolds by itself. `limits` (functions per level, levels) leaves out
    the smaller functions and the deeper levels, their bytes counted as not shown."""
    ordered = _largest_first(nodes)
    rest: list[StackNode] = []
    if limits is not None:
        ordered, rest = ordered[: limits[0]], ordered[limits[0] :]
    items = []
    for i, node in enumerate(ordered):
        label = (
            f"<code>{_t(node.frame)}</code> {_t(format_bytes(node.size_bytes))}, "
            f"{_t(plural(node.allocations, 'allocation'))}"
        )
        deeper = limits is None or depth + 1 < limits[1]
        if (node.children or node.hidden_bytes) and deeper:
            opened = " open" if i == 0 and depth < _OPEN_DEPTH else ""
            inner = _nodes(node.children, depth + 1, node.hidden_bytes, limits=limits)
            items.append(f"<li><details{opened}><summary>{label}</summary>{inner}</details></li>")
        else:
            items.append(f"<li>{label}</li>")
    if rest:
        more = format_bytes(sum(n.size_bytes for n in rest))
        items.append(f"<li>{_t(more)} in {_t(plural(len(rest), 'more function'))}</li>")
    if hidden_bytes:
        items.append(f"<li>{_t(format_bytes(hidden_bytes))} in callees not shown</li>")
    return f"<ul>{''.join(items)}</ul>\n"


def _block(node: StackNode) -> svg.Block:
    return svg.Block(
        node.frame,
        max(node.size_bytes, 0),
        tuple(_block(c) for c in _largest_first(node.children)),
    )


# --- the run ----------------------------------------------------------------------------------


def _figures_section(verdict: Verdict, anchors: dict[str, str], detailed: set[str]) -> str:
    if not verdict.figures:
        return ""
    metrics = sorted(METRICS, key=priority)
    head = ["Driver", "Traces", *(_metric_head(m) for m in metrics)]
    rows = []
    for fig in verdict.figures:
        name = f"<code>{_t(fig.driver)}</code>"
        if fig.driver in detailed:
            name = f'<a href="#{anchors[fig.driver]}">{name}</a>'
        elif fig.driver in verdict.timelines and fig.driver != TOTAL:
            name = f'<a href="#timeline-{anchors[fig.driver]}">{name}</a>'
        cells = [name, str(fig.traces_seen)]
        for m in metrics:
            value = fig.values.get(m)
            if value is None and m in fig.not_evaluated:
                cells.append(f'<span title="{_t(fig.not_evaluated[m])}">not evaluated</span>')
            else:
                cells.append(_value(m, value))
        rows.append(cells)
    return (
        '<section id="figures">\n<h2>Every driver\'s figures</h2>\n'
        f"<p>Aggregate ({_t(verdict.aggregate)}) over the traces each driver appears in.</p>\n"
        + _table(head, rows, set(range(1, len(head))))
        + "</section>\n"
    )


def _inputs_section(verdict: Verdict) -> str:
    if not verdict.traces:
        return ""
    head = (
        "#",
        "Source",
        "Format",
        "SHA-256",
        "Duration",
        "Pool allocations",
        "Events lost",
        "Buffers lost",
        "Unmatched frees",
        "Lost frees",
        "Resident set",
    )
    rows = [_trace_row(t) for t in verdict.traces]
    out = ['<section id="inputs">\n<h2>Inputs</h2>\n', _table(head, rows, {0, 4, 5, 6, 7, 8, 9})]
    notes = [(t, n) for t in verdict.traces for n in _quality_notes(t)]
    if notes:
        out.append("<h3>Trace quality</h3>\n<ul>")
        out += [f"<li>trace {t.trace_id}: {_line(n)}</li>" for t, n in notes]
        out.append("</ul>\n")
    out.append("</section>\n")
    return "".join(out)


def _trace_row(t: TraceSummary) -> list[str]:
    source = f"<code>{_path(t.source_path)}</code>" + (" (synthetic)" if t.synthetic else "")
    return [
        str(t.trace_id),
        source,
        _t(t.source_format),
        f"<code>{_t(t.sha256)}</code>",
        f"{t.duration_s:.3f} s",
        format_count(t.pool_allocations),
        format_count(t.events_lost),
        format_count(t.buffers_lost),
        format_count(t.unmatched_frees),
        format_count(t.lost_frees),
        "yes" if t.has_resident_set else "no",
    ]


def _quality_notes(t: TraceSummary) -> list[str]:
    notes = []
    if t.events_lost or t.buffers_lost:
        notes.append(
            f"lost {plural(t.events_lost, 'event')} and {plural(t.buffers_lost, 'buffer')}: "
            "figures may be low"
        )
    if t.lost_frees:
        notes.append(f"{plural(t.lost_frees, 'free')} missing (an address allocated twice)")
    if not t.has_resident_set:
        notes.append("no resident-set data: active code bytes are not evaluated")
    return notes + list(t.notes)


def _per_trace_section(verdict: Verdict) -> str:
    """With several traces: every figure's value per trace, behind its aggregate."""
    if len(verdict.traces) < 2 or not verdict.trace_values:
        return ""
    rows = []
    for fig in verdict.figures:
        for m in sorted(fig.values, key=priority):
            row = _trace_value_row(fig.driver, m, verdict, fig.values[m])
            if row is not None:
                rows.append([f"<code>{_t(fig.driver)}</code>", *row])
    if not rows:
        return ""
    head = ("Driver", "Metric", "Aggregate", *(f"trace {t.trace_id}" for t in verdict.traces))
    return (
        '<section id="per-trace">\n<details><summary>Each figure per trace</summary>\n'
        + _table(head, rows, set(range(2, len(head))))
        + "</details>\n</section>\n"
    )
