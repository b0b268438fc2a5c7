"""JUnit XML: the report every CI system can display.

Layout: one `<testsuite name="gate.<metric>">` per metric present, one `<testcase>` per check
with `name` = the driver and `classname` = `gate.<metric>`. Checks about a trace itself (metric
`trace_quality`, the trace's label as driver) share the suite and classname `gate.trace`.
Jenkins splits a classname at its last dot into package and class, so the driver (`acpi.sys`)
is never part of the classname; a dotted testcase name is safe whenever a classname is present.

Outcome mapping:

- FAIL: `<failure type="<rule name>" message="<one line>">` with the evidence as body.
- ERROR: `<error>`, kept apart from failures so consumers can tell a broken input from a
  budget violation.
- WARN: JUnit and the CI systems reading it have no warning state. A warning is emitted as a
  passing testcase whose `system-out` starts with `WARNING:` (shown by Azure, GitLab, Jenkins)
  and is also listed as a `gate.warning.<driver>` property of its suite with a
  `gate.warnings` count and as a `gate.warning` property of the testcase itself, so tools that
  read properties see it too. The reporters that show only failures (GitHub's, GitLab's,
  Azure's) get the warnings as annotations and in the Markdown summary instead (docs/ci.md).
  With `--warn-as-error` warnings are failures, in the checks and so in every report.
- NOTICE and PASS: passing testcases whose `system-out` gives the measured numbers.
- NOT_EVALUATED: `<skipped>` with the reason; never a silent pass.
- WAIVED: `<skipped message="waived until <date>: <reason>">`. An expired waiver waives
  nothing: such a check arrives as FAIL and its message says the waiver expired.

Attributes outside the Jenkins xUnit schema: `file` and `line` on a testcase point CI
annotations (mikepenz, EnricoMi) at the budget's YAML line, and `owner` fills Azure
Pipelines' Owner column; junit-xml writes `disabled` counts on suites. Jenkins' junit plugin,
GitLab, Azure and the GitHub reporters ignore attributes they do not know, so they are kept by
default. The Jenkins xUnit plugin validates input against its XSD, which lists none of them;
`schema_strict=True` drops exactly these four attributes for that consumer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from junit_xml import TestCase, TestSuite, to_xml_report_string

from gate.metrics import METRICS
from gate.reports.common import (
    check_headline,
    clean_text,
    delta_text,
    format_bytes,
    format_count,
    format_value,
    is_bytes_metric,
    one_line,
    peak_text,
    tree_for,
    waiver_text,
)
from gate.reports.explain import tree_lines
from gate.rules.results import Check, Outcome, Verdict

__all__ = ["NON_SCHEMA_ATTRIBUTES", "TRACE_SUITE", "render_junit"]

# Attributes this writer emits that the Jenkins xUnit junit-10.xsd does not declare, by element.
NON_SCHEMA_ATTRIBUTES: dict[str, frozenset[str]] = {
    "testsuites": frozenset({"disabled"}),
    "testsuite": frozenset({"disabled"}),
    "testcase": frozenset({"file", "line", "owner"}),
}

# Suites follow the order metrics are defined in; unknown metrics follow alphabetically.
_METRIC_ORDER = tuple(METRICS)

TRACE_SUITE = "trace"

_NAME_CAP = 200
_BODY_LIST_CAP = 20  # findings, tags or sites listed in one failure body


def render_junit(verdict: Verdict, *, schema_strict: bool = False) -> str:
    """The verdict as a JUnit XML document (UTF-8 declaration, newline at the end)."""
    groups = _group_by_metric(verdict.checks)
    run_properties = _run_properties(verdict)
    suites = []
    for metric, checks in groups:
        cases = []
        seen: set[str] = set()
        classname = f"gate.{one_line(metric, _NAME_CAP) or 'unknown'}"
        for check in checks:
            cases.append(_testcase(check, classname, _unique_name(check.driver, seen), verdict))
        properties = dict(run_properties)
        properties["gate.metric"] = metric
        warnings = [c for c in checks if c.outcome is Outcome.WARN]
        properties["gate.warnings"] = str(len(warnings))
        for check, case in zip(checks, cases, strict=True):
            if check.outcome is Outcome.WARN:
                properties[f"gate.warning.{case.name}"] = check_headline(check)
        suites.append(TestSuite(f"gate.{metric}", cases, properties=properties))

    xml = to_xml_report_string(suites, prettyprint=False, encoding="utf-8")
    root = ET.fromstring(xml)
    _post_process(root, [checks for _, checks in groups], schema_strict=schema_strict)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite_key(metric: str) -> str:
    # Checks about a trace itself (metric `trace_quality`, driver = the trace) share one suite.
    if metric == TRACE_SUITE or metric.startswith((f"{TRACE_SUITE}_", f"{TRACE_SUITE}.")):
        return TRACE_SUITE
    return metric


def _group_by_metric(checks: list[Check]) -> list[tuple[str, list[Check]]]:
    by_key: dict[str, list[Check]] = defaultdict(list)
    for check in checks:
        by_key[_suite_key(check.metric)].append(check)
    rank = {m: i for i, m in enumerate(_METRIC_ORDER)}
    keys = sorted(by_key, key=lambda m: (rank.get(m, len(rank)), m))
    return [
        (k, sorted(by_key[k], key=lambda c: (-c.outcome.severity, c.driver, c.metric)))
        for k in keys
    ]


def _unique_name(driver: str, seen: set[str]) -> str:
    # GitLab keeps only the first of two same-named tests and mikepenz folds them as retries,
    # so a repeated (metric, driver) pair gets a visible suffix instead of vanishing.
    base = one_line(driver, _NAME_CAP) or "(unnamed)"
    name = base
    n = 2
    while name in seen:
        name = f"{base} [{n}]"
        n += 1
    seen.add(name)
    return name


def _run_properties(verdict: Verdict) -> dict[str, str]:
    props = {
        "gate.version": one_line(verdict.gate_version),
        "gate.exit_code": str(int(verdict.exit_code)),
        "gate.window": one_line(verdict.window),
        "gate.aggregate": one_line(verdict.aggregate),
        "gate.budget_files": one_line("; ".join(verdict.budget_files)) or "(none)",
        "gate.baseline": one_line(verdict.baseline_source or "") or "(none)",
        "gate.traces": str(len(verdict.traces)),
    }
    for trace in verdict.traces:
        props[f"gate.trace.{trace.trace_id}.file"] = one_line(trace.source_path)
        props[f"gate.trace.{trace.trace_id}.sha256"] = one_line(trace.sha256)
    return props


def _testcase(check: Check, classname: str, name: str, verdict: Verdict) -> TestCase:
    case = TestCase(
        name=name,
        classname=classname,
        elapsed_sec=0,
        file=clean_text(check.budget_file) if check.budget_file else None,
        line=str(check.budget_line) if check.budget_line is not None else None,
    )
    headline = check_headline(check)
    details = _details(check, verdict)
    outcome = check.outcome
    if outcome is Outcome.FAIL:
        case.add_failure_info(message=headline, output=details, failure_type=_rule_name(check))
    elif outcome is Outcome.ERROR:
        case.add_error_info(message=headline, output=details, error_type=_rule_name(check))
    elif outcome is Outcome.NOT_EVALUATED:
        reason = check.message or _first_finding_message(check) or "not evaluated"
        case.add_skipped_info(message=one_line(reason), output=details)
    elif outcome is Outcome.WAIVED:
        message = waiver_text(check) or "waived"
        case.add_skipped_info(message=one_line(message), output=f"{headline}\n\n{details}")
    elif outcome is Outcome.WARN:
        case.stdout = f"WARNING: {headline}\n\n{details}"
    elif outcome is Outcome.NOTICE:
        case.stdout = f"NOTICE: {headline}\n\n{details}"
    else:
        # Jenkins keeps only 500 characters of a passing test's output: numbers only.
        case.stdout = _numbers(check, verdict)
    return case


def _rule_name(check: Check) -> str:
    """The rule that decided the check: its worst finding's (a warning failing because of
    --warn-as-error keeps its rule's name)."""
    worst = max(check.findings, key=lambda f: f.outcome.severity, default=None)
    if worst is not None and worst.rule_name:
        return one_line(worst.rule_name, _NAME_CAP)
    return f"gate.{check.outcome.value}"


def _first_finding_message(check: Check) -> str:
    return next((f.message for f in check.findings if f.message), "")


def _exact(metric: str, value: float | None) -> str:
    shown = format_value(metric, value)
    if value is not None and is_bytes_metric(metric) and abs(value) >= 1024:
        return f"{shown} ({format_count(round(value))} bytes)"
    return shown


def _numbers(check: Check, verdict: Verdict) -> str:
    m = check.metric
    observed = "not measured" if check.observed is None else _exact(m, check.observed)
    lines = [f"observed: {observed}"]
    if check.limit is not None:
        lines.append(f"limit:    {_exact(m, check.limit)}")
    if check.baseline is not None:
        lines.append(f"baseline: {_exact(m, check.baseline)}")
        lines.append(f"delta:    {delta_text(check)}")
    lines.append(f"traces:   seen in {check.traces_seen} of {len(verdict.traces)}")
    return "\n".join(lines)


def _details(check: Check, verdict: Verdict) -> str:
    """The evidence for one check: numbers, where its budget is, findings, tags, call sites."""
    lines = [_numbers(check, verdict)]
    if check.budget_file:
        where = check.budget_file
        if check.budget_line is not None:
            where = f"{where}:{check.budget_line}"
        lines.append(f"budget:   {one_line(where)}")
    if check.owner:
        lines.append(f"owner:    {one_line(check.owner)}")
    if check.waiver is not None:
        lines.append(f"waiver:   {one_line(waiver_text(check))}")
    if check.message:
        lines.append(f"message:  {one_line(check.message)}")
    if check.findings:
        lines.append("")
        lines.append("findings:")
        for f in check.findings[:_BODY_LIST_CAP]:
            lines.append(f"  [{f.rule_id} {f.rule_name}] {f.outcome.value}: {one_line(f.message)}")
        _more(lines, len(check.findings), "findings")
    if check.peak is not None:
        lines += ["", peak_text(check.peak)]
    if check.top_tags:
        lines.append("")
        lines.append("top pool tags (impacting / allocated / allocations):")
        for t in check.top_tags[:_BODY_LIST_CAP]:
            lines.append(
                f"  {one_line(t.tag, 40):<6} {format_bytes(t.impacting_bytes):>10}"
                f" {format_bytes(t.allocated_bytes):>10} {format_count(t.allocations):>9}"
            )
        _more(lines, len(check.top_tags), "tags")
    if check.top_sites:
        lines.append("")
        lines.append("top call sites (impacting / allocated / allocations):")
        for s in check.top_sites[:_BODY_LIST_CAP]:
            lines.append(
                f"  {one_line(s.site, 120)}: {format_bytes(s.impacting_bytes)}"
                f" / {format_bytes(s.allocated_bytes)} / {format_count(s.allocations)}"
            )
        _more(lines, len(check.top_sites), "call sites")
    tree = tree_for(check, verdict)
    if tree is not None:
        lines += ["", *tree_lines(tree)]
    return clean_text("\n".join(lines))


def _more(lines: list[str], total: int, what: str) -> None:
    if total > _BODY_LIST_CAP:
        lines.append(f"  … {total - _BODY_LIST_CAP} more {what} in the JSON report")


def _post_process(root: ET.Element, groups: list[list[Check]], *, schema_strict: bool) -> None:
    for suite, checks in zip(root.findall("testsuite"), groups, strict=True):
        for case, check in zip(suite.findall("testcase"), checks, strict=True):
            # junit-xml leaves `time` out when it is 0; some readers then show "NaN" durations.
            case.set("time", case.get("time", "0"))
            if check.owner and not schema_strict:
                case.set("owner", one_line(check.owner, _NAME_CAP))
            if check.outcome is Outcome.WARN and not schema_strict:
                # Reporters that list testcase properties show the warning beside its test.
                props = ET.Element("properties")
                ET.SubElement(props, "property", name="gate.warning", value=check_headline(check))
                case.insert(0, props)
    if schema_strict:
        for element in root.iter():
            for attribute in NON_SCHEMA_ATTRIBUTES.get(element.tag, ()):
                element.attrib.pop(attribute, None)
