"""Formatting shared by every report: values with their units, outcome words, text hygiene.

Reports are pure functions of a `Verdict`; everything here is pure too. Byte quantities are
printed in binary units; a metric is a byte quantity when its name ends in `_bytes`, and any
other metric (`nonpaged_allocations`, trace counters) is a plain count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from gate.metrics import HEADLINE_METRIC, format_value, is_bytes_metric, priority
from gate.rules.results import (
    RUN_METRIC,
    Check,
    Growth,
    Outcome,
    PeakMoment,
    StackTree,
    Verdict,
)
from gate.tables.drivers import PSEUDO_DRIVERS
from gate.units import format_bytes, format_count, format_delta

__all__ = [
    "MESSAGE_CAP",
    "OUTCOME_ORDER",
    "check_headline",
    "clean_text",
    "comparison",
    "counts_phrase",
    "deciding_rule",
    "delta_text",
    "format_bytes",
    "format_count",
    "format_delta",
    "format_value",
    "growth_phrase",
    "is_bytes_metric",
    "one_line",
    "ordered_for_machines",
    "outcome_word",
    "peak_text",
    "plural",
    "status_word",
    "summary_phrase",
    "tree_for",
    "truncate",
    "unattributed_line",
    "waiver_text",
]

# A failure message is shown on one line by every CI consumer; longer ones get cut or wrapped
# unpredictably, so the reports cut them first, at a word-independent fixed length.
MESSAGE_CAP = 500

# Worst first: the order in which outcomes are counted and listed everywhere.
OUTCOME_ORDER: tuple[Outcome, ...] = tuple(
    sorted(Outcome, key=lambda o: -o.severity),
)

# CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`) and two-byte escapes, as terminals and
# colouring loggers emit them; they are noise in a report and ESC itself is illegal in XML 1.0.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)

# Code points XML 1.0 forbids (C0 controls except TAB, LF, CR; surrogates; U+FFFE/U+FFFF),
# plus the C1 controls and non-characters it discourages, which some parsers reject.
_XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufddf\ufffe\uffff]"
)

_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Text with ANSI escape sequences and XML-illegal characters removed; newlines kept.

    CR LF and lone CR become LF: XML parsers turn them into LF anyway, and Markdown tables and
    terminals must not see a bare CR.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _XML_ILLEGAL.sub("", _ANSI.sub("", text))


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def one_line(text: str, limit: int = MESSAGE_CAP) -> str:
    """Clean text folded onto one line (runs of whitespace become one space) and capped."""
    return truncate(_WHITESPACE.sub(" ", clean_text(text)).strip(), limit)


def delta_text(check: Check) -> str:
    """Change from the baseline (`+64.0 KiB (+12.5%)`), or '' when there is no baseline."""
    if check.observed is None or check.baseline is None:
        return ""
    return format_delta(check.observed, check.baseline, count=not is_bytes_metric(check.metric))


def waiver_text(check: Check) -> str:
    """How a waiver bears on the check, or '' when there is none."""
    w = check.waiver
    if w is None:
        return ""
    if w.expired:
        return f"waiver expired on {w.expires} ({w.file}:{w.line}): {w.reason}"
    return f"waived until {w.expires}: {w.reason}"


# Rules whose findings compare with the baseline rather than with the limit.
_BASELINE_RULES = frozenset({"baseline.growth", "baseline.shrink"})


def deciding_rule(check: Check) -> str:
    """The dotted name of the rule that decided the check (its worst finding), or ''."""
    worst = max(check.findings, key=lambda f: f.outcome.severity, default=None)
    return worst.rule_name if worst is not None else ""


def comparison(check: Check) -> tuple[str, str, str]:
    """What a check was judged against and how it stands, for narrow tables and one-liners:
    ('limit 1.00 MiB', '+780 KiB', 'over'), ('baseline 1.20 MiB', '+420 KiB', 'over'),
    ('limit 1.00 MiB', '82%', 'of'); empty strings where there is nothing to compare."""
    m, obs = check.metric, check.observed
    on_baseline = deciding_rule(check) in _BASELINE_RULES or (
        check.limit is None and check.baseline is not None
    )
    reference, label = (check.baseline, "baseline") if on_baseline else (check.limit, "limit")
    if reference is None:
        return "", "", ""
    against = f"{label} {format_value(m, reference)}"
    if obs is None:
        return against, "", ""
    diff = obs - reference
    if on_baseline or diff > 0:
        shown = format_delta(obs, reference, count=not is_bytes_metric(m)).split(" (")[0]
        return against, shown, "over" if diff > 0 else "under"
    if reference > 0:
        return against, f"{obs / reference * 100:.0f}%", "of"
    return against, "", ""


def check_headline(check: Check, limit: int = MESSAGE_CAP) -> str:
    """One line saying what was measured against what, e.g. for a JUnit failure message.

    `acpi.sys nonpaged_impacting_bytes: 1.20 MiB, +184 KiB over limit 1.00 MiB (baseline
    1.02 MiB)`; a growth failure reads as growth: `usbxhci.sys nonpaged_impacting_bytes:
    1.62 MiB, +420 KiB over baseline 1.20 MiB (limit 2.00 MiB)`; then the top call site, and
    the check's own message when it has one.
    """
    m = check.metric
    if m == RUN_METRIC:  # a run that stopped on an error: the problems say it all
        return one_line(f"gate stopped: {check.message}", limit)
    observed = "not measured" if check.observed is None else format_value(m, check.observed)
    against, delta, word = comparison(check)
    text = f"{check.driver} {m}: {observed}"
    if against:
        text += f", {delta} {word} {against}" if delta else f", {against}"
        other = (
            ("baseline", check.baseline) if against.startswith("limit") else ("limit", check.limit)
        )
        if other[1] is not None:
            text += f" ({other[0]} {format_value(m, other[1])})"
    grew = growth_phrase(check)
    if grew:
        text += f"; {grew}"
    elif check.top_sites and check.outcome in (Outcome.FAIL, Outcome.WARN, Outcome.WAIVED):
        text += f"; top call site {check.top_sites[0].site}"
    reason = check.message or _first_message(check)
    if reason:
        text = f"{text} — {reason}"
    # The judge usually says so in the message already; say it once either way.
    if check.waiver is not None and check.waiver.expired and "expired" not in reason:
        text = f"{text} [{waiver_text(check)}]"
    return one_line(text, limit)


def growth_phrase(check: Check) -> str:
    """What grew since the baseline, e.g. `+192 KiB at contosonet.sys!NetInitQueues (new),
    tag CnQu +192 KiB`; for a driver the baseline does not know, what it allocates; '' when
    the check compared nothing."""
    if check.grew_unknown:
        return "the baseline keeps no call sites to say what grew"
    if not check.grew:
        return ""
    sites = [g for g in check.grew if g.kind == "site"][:2]
    tags = [g for g in check.grew if g.kind == "tag"][:1]
    if not check.baseline:  # nothing of it in the baseline: a new driver, or new use
        parts = [f"{format_bytes(g.observed_bytes)} at {g.name}" for g in sites]
        parts += [f"tag {g.name} {format_bytes(g.observed_bytes)}" for g in tags]
        return "new since the baseline: " + ", ".join(parts)
    parts = [f"{format_bytes(g.delta_bytes, signed=True)} at {g.name}{_was(g)}" for g in sites]
    parts += [
        f"tag {g.name} {format_bytes(g.delta_bytes, signed=True)}{' (new)' if g.new else ''}"
        for g in tags
    ]
    return ", ".join(parts)


def _was(g: Growth) -> str:
    if g.baseline_bytes is not None:
        return f" (was {format_bytes(g.baseline_bytes)})"
    return " (new)" if g.new else " (not among the baseline's top entries)"


def _first_message(check: Check) -> str:
    """The message of the finding that decided the outcome, if any finding did."""
    for finding in check.findings:
        if finding.outcome is check.outcome and finding.message:
            return finding.message
    return ""


def plural(n: int, noun: str) -> str:
    """`1 trace`, `2 traces`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def outcome_word(outcome: Outcome) -> str:
    return {
        Outcome.PASS: "pass",
        Outcome.NOTICE: "notice",
        Outcome.NOT_EVALUATED: "not evaluated",
        Outcome.WAIVED: "waived",
        Outcome.WARN: "warn",
        Outcome.FAIL: "fail",
        Outcome.ERROR: "error",
    }[outcome]


_COUNT_WORDS: dict[Outcome, tuple[str, str]] = {
    Outcome.ERROR: ("error", "errors"),
    Outcome.FAIL: ("failed", "failed"),
    Outcome.WARN: ("warning", "warnings"),
    Outcome.PASS: ("passed", "passed"),
    Outcome.NOTICE: ("notice", "notices"),
    Outcome.WAIVED: ("waived", "waived"),
    Outcome.NOT_EVALUATED: ("not evaluated", "not evaluated"),
}


def summary_phrase(verdict: Verdict) -> str:
    """`2 failed, 1 warning, 27 passed, 1 not evaluated`: every non-zero outcome count."""
    return counts_phrase(c.outcome for c in verdict.checks)


def counts_phrase(outcomes: Iterable[Outcome]) -> str:
    """`2 failed, 1 warning, 27 passed`: the non-zero counts of `outcomes`, worst first."""
    counts = Counter(outcomes)
    parts = []
    for outcome, (singular, plural) in _COUNT_WORDS.items():
        n = counts[outcome]
        if n:
            parts.append(f"{n} {singular if n == 1 else plural}")
    return ", ".join(parts) if parts else "no checks"


def status_word(verdict: Verdict) -> str:
    """The run in one word: ERROR, FAIL, WARN (exit 0 with warnings) or PASS."""
    code = int(verdict.exit_code)
    if code == 2:
        return "ERROR"
    if code == 1:
        return "FAIL"
    if verdict.count(Outcome.WARN):
        return "WARN"
    return "PASS"


def ordered_for_machines(checks: Iterable[Check]) -> list[Check]:
    """Worst first, then metric (by priority), then driver: an order that does not move when
    values do."""
    return sorted(
        checks, key=lambda c: (-c.outcome.severity, priority(c.metric), c.metric, c.driver)
    )


def unattributed_line(verdict: Verdict) -> str:
    """What no driver could be given, '' when nothing: `(kernel) 1.17 MiB, (unattributed) 0 B
    of non-paged impacting pool`."""
    parts = []
    for figures in verdict.figures:
        if figures.driver in PSEUDO_DRIVERS:
            value = figures.values.get(HEADLINE_METRIC)
            parts.append(f"{figures.driver} {format_value(HEADLINE_METRIC, value)}")
    if not parts:
        return ""
    return f"{', '.join(parts)} of non-paged impacting pool belong to no driver"


# Which stack tree explains a metric: the one whose allocations make up its figure.
_TREE_OF_METRIC = {
    "nonpaged_impacting_bytes": "impacting",
    "nonpaged_transient_peak_bytes": "transient",
}


def tree_for(check: Check, verdict: Verdict) -> StackTree | None:
    """The stack tree that explains `check`'s figure, if the verdict carries one."""
    kind = _TREE_OF_METRIC.get(check.metric)
    return verdict.trees.get((check.driver, kind)) if kind else None


def peak_text(peak: PeakMoment, trace: str | None = None) -> str:
    """'live at the transient peak: 80.0 KiB at 5.090 s in boot.etl' (`trace` as the report
    shows the trace's path; the path itself when not given)."""
    where = trace if trace is not None else one_line(peak.trace)
    return (
        f"live at the transient peak: {format_bytes(peak.peak_bytes)} at {peak.time_s:.3f} s "
        f"in {where}"
    )
