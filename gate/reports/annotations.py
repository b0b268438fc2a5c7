"""CI annotations: the worst checks of a verdict as lines the CI system turns into inline notes.

GitHub Actions reads workflow commands (`::error file=…,line=…,title=…::message`) and Azure
Pipelines reads logging commands (`##vso[task.logissue type=error;sourcepath=…;linenumber=…]
message`) from a step's output. Each annotation points at the budget file and line of its
check, so a failing driver is flagged on the YAML line that set its limit.

Which checks: FAIL and ERROR outcomes are errors, WARN outcomes are warnings (errors too when
the run treats warnings as failures). Both systems keep only the first 10 annotations of a kind
per step and silently drop the rest, and a 400-driver run can fail hundreds of checks, so at
most `limit` of each kind are written, worst first:

1. tool errors before budget failures before warnings;
2. primary metrics first: non-paged impacting, transient peak, active code bytes, then the
   other catalog metrics in catalog order, then any other metric by name;
3. furthest past the limit first (as a fraction of the limit); a check within its limit but
   beyond the baseline's tolerance by its growth over the baseline; a warning within its limit
   by how close it is; then by the observed value, the driver name.

When checks are left out, one more line says how many and where to read them all: a GitHub
notice (a kind the gate uses for nothing else), or on Azure, which has no notice, a warning
in a slot kept free for it.

Azure also gets `##vso[task.complete result=SucceededWithIssues;]` when the run passes with
warnings: its native "passed with warnings" state, which GitHub does not have.

Everything here is pure: the caller decides the target (`annotation_target(os.environ)`) and
prints the text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from gate.metrics import METRICS
from gate.reports.common import check_headline, one_line, outcome_word, plural
from gate.rules.results import Check, ExitCode, Outcome, Verdict

__all__ = [
    "ANNOTATION_LIMIT",
    "PRIMARY_METRICS",
    "TARGETS",
    "AnnotationTarget",
    "annotated_checks",
    "annotation_target",
    "escape_azure_data",
    "escape_azure_property",
    "escape_github_data",
    "escape_github_property",
    "overshoot",
    "render_annotations",
    "worst_first_key",
]

AnnotationTarget = Literal["github", "azure", "none"]
TARGETS: tuple[AnnotationTarget, ...] = ("github", "azure", "none")

# GitHub keeps 10 error and 10 warning annotations per step; the Azure agent keeps 10 issues
# of each type per task. Anything past that is dropped without a word.
ANNOTATION_LIMIT = 10

PRIMARY_METRICS: tuple[str, ...] = (
    "nonpaged_impacting_bytes",
    "nonpaged_transient_peak_bytes",
    "active_code_bytes",
)

_METRIC_RANK: dict[str, int] = {
    name: rank
    for rank, name in enumerate(
        (*PRIMARY_METRICS, *(m for m in METRICS if m not in PRIMARY_METRICS))
    )
}

_DEFAULT_READING = "the JUnit report and the Markdown summary"


def annotation_target(env: Mapping[str, str]) -> AnnotationTarget:
    """Where the gate runs, from the variables each CI system sets: `github` when
    GITHUB_ACTIONS is `true`, `azure` when TF_BUILD is `True`, else `none`."""
    if env.get("GITHUB_ACTIONS", "").strip().lower() == "true":
        return "github"
    if env.get("TF_BUILD", "").strip().lower() == "true":
        return "azure"
    return "none"


# --- escaping -----------------------------------------------------------------------------------


def escape_github_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF percent-encoded, as GitHub decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_github_property(text: str) -> str:
    """A workflow command's property value: the message escapes plus `:` and `,`, which
    would otherwise end the value."""
    return escape_github_data(text).replace(":", "%3A").replace(",", "%2C")


def escape_azure_data(text: str) -> str:
    """A logging command's message: `%` as `%AZP25` (the agent's own escape for it, decoded
    by default), CR and LF percent-encoded."""
    return text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def escape_azure_property(text: str) -> str:
    """A logging command's property value: the message escapes plus `;` and `]`, which
    would otherwise end the value or the property list."""
    return escape_azure_data(text).replace(";", "%3B").replace("]", "%5D")


# --- choosing -----------------------------------------------------------------------------------


def annotated_checks(verdict: Verdict) -> tuple[list[Check], list[Check]]:
    """The checks that become error annotations and those that become warnings, each list
    worst first (`worst_first_key`)."""
    errors: list[Check] = []
    warnings: list[Check] = []
    for check in verdict.checks:
        if check.outcome in (Outcome.FAIL, Outcome.ERROR):
            errors.append(check)
        elif check.outcome is Outcome.WARN:
            (errors if verdict.warn_as_error else warnings).append(check)
    return sorted(errors, key=worst_first_key), sorted(warnings, key=worst_first_key)


def worst_first_key(check: Check) -> tuple[int, int, str, float, float, str]:
    """Sort key putting the check that most needs a look first (see the module text)."""
    observed = _finite(check.observed)
    return (
        -check.outcome.severity,
        _METRIC_RANK.get(check.metric, len(_METRIC_RANK)),
        check.metric,
        -overshoot(check),
        -(observed if observed is not None else -math.inf),
        check.driver,
    )


def overshoot(check: Check) -> float:
    """How far the observed value lies past its reference, as a fraction of it: the limit when
    over the limit, else the baseline when over the baseline, else the limit (negative: how
    close a warning is). Minus infinity when nothing can be compared."""
    observed = _finite(check.observed)
    limit = _finite(check.limit)
    baseline = _finite(check.baseline)
    if observed is None:
        return -math.inf
    if limit is not None and observed > limit:
        return _fraction_past(observed, limit)
    if baseline is not None and observed > baseline:
        return _fraction_past(observed, baseline)
    if limit is not None:
        return _fraction_past(observed, limit)
    return -math.inf


def _fraction_past(value: float, reference: float) -> float:
    if reference > 0:
        return (value - reference) / reference
    # A zero limit: anything above it is infinitely far over.
    return math.inf if value > reference else 0.0


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# --- rendering ----------------------------------------------------------------------------------


def render_annotations(
    verdict: Verdict,
    target: AnnotationTarget,
    *,
    limit: int = ANNOTATION_LIMIT,
    reports: Sequence[str] = (),
) -> str:
    """The verdict's annotations for `target`, one command per line ('' for `none`).

    At most `limit` errors and `limit` warnings, worst first; when more exist, one line says
    how many and names `reports` (the written report files) as the place to read them all.
    """
    if target not in TARGETS:
        raise ValueError(f"annotation target {target!r} is not one of {', '.join(TARGETS)}")
    if limit < 1:
        raise ValueError(f"annotation limit must be at least 1, not {limit}")
    if target == "none":
        return ""
    errors, warnings = annotated_checks(verdict)
    overflow = len(errors) > limit or len(warnings) > limit
    # Azure has no kind to spare for the overflow line: it takes the last warning slot.
    warning_slots = limit - 1 if overflow and target == "azure" else limit
    shown_errors, shown_warnings = errors[:limit], warnings[:warning_slots]
    command = _github_command if target == "github" else _azure_command
    lines = [command("error", c) for c in shown_errors]
    lines += [command("warning", c) for c in shown_warnings]
    if overflow:
        text = _overflow_text(
            len(errors) - len(shown_errors), len(warnings) - len(shown_warnings), limit, reports
        )
        lines.append(_overflow_line(target, text))
    if target == "azure" and verdict.exit_code is ExitCode.OK and warnings:
        lines.append("##vso[task.complete result=SucceededWithIssues;]")
    return "".join(f"{line}\n" for line in lines)


def _message(check: Check) -> str:
    text = check_headline(check)
    if check.owner:
        text = f"{text} (owner: {one_line(check.owner, 200)})"
    return text


def _deciding_rule(check: Check) -> tuple[str, str] | None:
    """(rule id, rule name) of the first finding with the check's own outcome."""
    for finding in check.findings:
        if finding.outcome is check.outcome:
            return finding.rule_id, finding.rule_name
    return None


def _title(check: Check) -> str:
    title = f"{one_line(check.driver, 200)} {one_line(check.metric, 100)}: "
    title += outcome_word(check.outcome)
    rule = _deciding_rule(check)
    return f"{title} ({rule[1]})" if rule else title


def _github_command(kind: str, check: Check) -> str:
    properties = []
    if check.budget_file:
        properties.append(f"file={escape_github_property(check.budget_file)}")
        if check.budget_line is not None:
            properties.append(f"line={int(check.budget_line)}")
    properties.append(f"title={escape_github_property(_title(check))}")
    return f"::{kind} {','.join(properties)}::{escape_github_data(_message(check))}"


def _azure_command(kind: str, check: Check) -> str:
    properties = [f"type={kind}"]
    if check.budget_file:
        properties.append(f"sourcepath={escape_azure_property(check.budget_file)}")
        if check.budget_line is not None:
            properties.append(f"linenumber={int(check.budget_line)}")
    rule = _deciding_rule(check)
    if rule:
        properties.append(f"code={escape_azure_property(rule[0])}")
    return f"##vso[task.logissue {';'.join(properties)}]{escape_azure_data(_message(check))}"


def _overflow_text(more_errors: int, more_warnings: int, limit: int, reports: Sequence[str]) -> str:
    counts = []
    if more_errors:
        counts.append(f"{plural(more_errors, 'more error')}")
    if more_warnings:
        counts.append(f"{plural(more_warnings, 'more warning')}")
    where = " and ".join(one_line(r, 300) for r in reports) if reports else _DEFAULT_READING
    verb = "is" if more_errors + more_warnings == 1 else "are"
    return (
        f"{' and '.join(counts)} {verb} not annotated (at most {limit} of each kind are shown, "
        f"worst first): every check is in {where}"
    )


def _overflow_line(target: AnnotationTarget, text: str) -> str:
    if target == "github":
        title = escape_github_property("memory gate: more results")
        return f"::notice title={title}::{escape_github_data(text)}"
    return f"##vso[task.logissue type=warning]{escape_azure_data(text)}"
