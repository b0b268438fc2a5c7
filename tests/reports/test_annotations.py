"""CI annotations: which checks become GitHub/Azure annotations, in what order, and how each
line is spelled and escaped so that the runner reads back exactly what the gate meant."""

from __future__ import annotations

import math
import re

import pytest

from gate.metrics import METRICS
from gate.reports.annotations import (
    ANNOTATION_LIMIT,
    PRIMARY_METRICS,
    annotated_checks,
    annotation_target,
    escape_azure_data,
    escape_azure_property,
    escape_github_data,
    escape_github_property,
    overshoot,
    render_annotations,
)
from gate.rules.results import Check, Finding, Outcome, Verdict

KiB = 1024
NPI = "nonpaged_impacting_bytes"
PEAK = "nonpaged_transient_peak_bytes"
CODE = "active_code_bytes"


def _check(
    driver: str,
    outcome: Outcome,
    *,
    metric: str = NPI,
    observed: float | None = None,
    limit: float | None = None,
    baseline: float | None = None,
    file: str | None = "budgets/drivers.yaml",
    line: int | None = 7,
    owner: str | None = None,
    rule: tuple[str, str] | None = None,
    message: str = "",
) -> Check:
    findings = []
    if rule is not None:
        findings.append(
            Finding(rule[0], rule[1], driver, metric, observed, limit, baseline, outcome, message)
        )
    return Check(
        metric=metric,
        driver=driver,
        outcome=outcome,
        observed=observed,
        limit=limit,
        baseline=baseline,
        message=message,
        findings=findings,
        traces_seen=1,
        budget_file=file,
        budget_line=line,
        owner=owner,
    )


def _verdict(checks: list[Check], *, warn_as_error: bool = False) -> Verdict:
    return Verdict(
        checks=checks,
        traces=[],
        window="whole trace",
        aggregate="max",
        budget_files=["budgets/drivers.yaml"],
        baseline_source=None,
        gate_version="0.1.0-test",
        warn_as_error=warn_as_error,
    )


def _over(driver: str, kib: int, *, limit_kib: int = 100, metric: str = NPI) -> Check:
    return _check(driver, Outcome.FAIL, metric=metric, observed=kib * KiB, limit=limit_kib * KiB)


def _near(driver: str, kib: int, *, limit_kib: int = 100) -> Check:
    return _check(driver, Outcome.WARN, observed=kib * KiB, limit=limit_kib * KiB)


# --- where the gate runs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "target"),
    [
        ({"GITHUB_ACTIONS": "true"}, "github"),
        ({"TF_BUILD": "True"}, "azure"),
        ({"TF_BUILD": "true"}, "azure"),
        ({"GITHUB_ACTIONS": "true", "TF_BUILD": "True"}, "github"),
        ({"GITHUB_ACTIONS": "false", "TF_BUILD": "False"}, "none"),
        ({"GITLAB_CI": "true", "JENKINS_URL": "http://ci/"}, "none"),
        ({}, "none"),
    ],
)
def test_the_target_comes_from_the_variables_each_ci_system_sets(
    env: dict[str, str], target: str
) -> None:
    assert annotation_target(env) == target


# --- escaping -----------------------------------------------------------------------------------


def test_github_escapes_percent_first_then_line_breaks_and_property_separators() -> None:
    assert escape_github_data("50% of\r\nlimit") == "50%25 of%0D%0Alimit"
    # A literal escape sequence in the text must survive: '%' is encoded before anything else.
    assert escape_github_data("%0A") == "%250A"
    assert escape_github_data("a:b,c") == "a:b,c"
    assert escape_github_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_azure_escapes_percent_its_own_way_and_semicolons_and_brackets_in_properties() -> None:
    assert escape_azure_data("50% of\r\nlimit];") == "50%AZP25 of%0D%0Alimit];"
    assert escape_azure_data("%3B") == "%AZP253B"
    assert escape_azure_property("a;b]c%\r") == "a%3Bb%5Dc%AZP25%0D"


def _github_unescape(text: str) -> str:
    """What the runner does to a value: the reverse of the toolkit's escapes, '%' last."""
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def _parse_github(line: str) -> tuple[str, dict[str, str], str]:
    match = re.fullmatch(r"::(\w+)(?: ([^:]*))?::(.*)", line)
    assert match, line
    properties = {}
    for part in (match.group(2) or "").split(","):
        key, _, value = part.partition("=")
        properties[key] = _github_unescape(value)
    return match.group(1), properties, _github_unescape(match.group(3))


def test_hostile_names_cannot_break_out_of_a_github_command() -> None:
    driver = "evil,title=x::%0A.sys\n::error::forged"
    check = _check(
        driver,
        Outcome.FAIL,
        observed=200 * KiB,
        limit=100 * KiB,
        file="budgets/a,b:c.yaml",
        line=3,
        owner="team:%x",
    )
    text = render_annotations(_verdict([check]), "github")
    assert text.count("\n") == 1, "one check, one line: no newline got through"
    kind, properties, message = _parse_github(text.rstrip("\n"))
    assert kind == "error"
    assert properties == {
        "file": "budgets/a,b:c.yaml",
        "line": "3",
        "title": "evil,title=x::%0A.sys ::error::forged nonpaged_impacting_bytes: fail",
    }
    assert message == (
        "evil,title=x::%0A.sys ::error::forged nonpaged_impacting_bytes: 200 KiB, +100 KiB over "
        "limit 100 KiB (owner: team:%x)"
    )


def test_hostile_names_cannot_break_out_of_an_azure_command() -> None:
    check = _check(
        "a;b].sys",
        Outcome.WARN,
        observed=90 * KiB,
        limit=100 * KiB,
        file="budgets/x;type=error].yaml",
        line=2,
    )
    text = render_annotations(_verdict([check]), "azure")
    # Exit code 0 with a warning: the issue, then the native "passed with warnings" state.
    assert text == (
        "##vso[task.logissue type=warning;sourcepath=budgets/x%3Btype=error%5D.yaml;"
        "linenumber=2]a;b].sys nonpaged_impacting_bytes: 90.0 KiB, 90%AZP25 of limit 100 KiB\n"
        "##vso[task.complete result=SucceededWithIssues;]\n"
    )


# --- the lines for a small run, every field ----------------------------------------------------


def _small_run() -> Verdict:
    return _verdict(
        [
            _check("ok.sys", Outcome.PASS, observed=10 * KiB, limit=100 * KiB),
            _check("hint.sys", Outcome.NOTICE, observed=10 * KiB, limit=100 * KiB),
            _check("skip.sys", Outcome.NOT_EVALUATED, metric=CODE, limit=100 * KiB),
            _check("waived.sys", Outcome.WAIVED, observed=200 * KiB, limit=100 * KiB),
            _check(
                "near.sys",
                Outcome.WARN,
                observed=90 * KiB,
                limit=100 * KiB,
                file="budgets/b.yaml",
                line=4,
                rule=("GATE002", "budget.near"),
                message="90% of its limit",
            ),
            _check(
                "acpi.sys",
                Outcome.FAIL,
                observed=150 * KiB,
                limit=100 * KiB,
                baseline=120 * KiB,
                file="budgets/a.yaml",
                line=12,
                owner="platform",
                rule=("GATE001", "budget.over"),
                message="acpi.sys is 150 KiB, over its limit of 100 KiB",
            ),
            _check("(total)", Outcome.ERROR, file=None, line=None, message="rule broke"),
        ]
    )


def test_github_lines_for_a_small_run() -> None:
    assert render_annotations(_small_run(), "github").splitlines() == [
        "::error title=(total) nonpaged_impacting_bytes%3A error::(total) "
        "nonpaged_impacting_bytes: not measured — rule broke",
        "::error file=budgets/a.yaml,line=12,title=acpi.sys nonpaged_impacting_bytes%3A fail "
        "(budget.over)::acpi.sys nonpaged_impacting_bytes: 150 KiB, +50.0 KiB over limit 100 KiB "
        "(baseline 120 KiB) — acpi.sys is 150 KiB, over its limit of 100 KiB (owner: platform)",
        "::warning file=budgets/b.yaml,line=4,title=near.sys nonpaged_impacting_bytes%3A warn "
        "(budget.near)::near.sys nonpaged_impacting_bytes: 90.0 KiB, 90%25 of limit 100 KiB — "
        "90%25 of its limit",
    ]


def test_azure_lines_for_a_small_run() -> None:
    # Exit code 1 (a failure): no SucceededWithIssues, the non-zero exit fails the task.
    assert render_annotations(_small_run(), "azure").splitlines() == [
        "##vso[task.logissue type=error](total) nonpaged_impacting_bytes: not measured — rule "
        "broke",
        "##vso[task.logissue type=error;sourcepath=budgets/a.yaml;linenumber=12;code=GATE001]"
        "acpi.sys nonpaged_impacting_bytes: 150 KiB, +50.0 KiB over limit 100 KiB (baseline 120 "
        "KiB) — acpi.sys is 150 KiB, over its limit of 100 KiB (owner: platform)",
        "##vso[task.logissue type=warning;sourcepath=budgets/b.yaml;linenumber=4;code=GATE002]"
        "near.sys nonpaged_impacting_bytes: 90.0 KiB, 90%AZP25 of limit 100 KiB — 90%AZP25 of its "
        "limit",
    ]


def test_a_file_without_a_line_names_the_file_alone() -> None:
    check = _check("a.sys", Outcome.FAIL, observed=2 * KiB, limit=KiB, line=None)
    github = render_annotations(_verdict([check]), "github")
    azure = render_annotations(_verdict([check]), "azure")
    assert github.startswith("::error file=budgets/drivers.yaml,title=a.sys ")
    assert azure.startswith("##vso[task.logissue type=error;sourcepath=budgets/drivers.yaml]")


def test_none_and_a_clean_run_give_no_lines() -> None:
    assert render_annotations(_small_run(), "none") == ""
    clean = _verdict([_check("ok.sys", Outcome.PASS, observed=1, limit=2)])
    assert render_annotations(clean, "github") == ""
    assert render_annotations(clean, "azure") == ""


def test_escape_codes_and_control_characters_never_reach_the_log() -> None:
    check = _check(
        "a.sys", Outcome.FAIL, observed=2 * KiB, limit=KiB, message="\x1b[31mred\x1b[0m\x01 x"
    )
    line = render_annotations(_verdict([check]), "github")
    assert "\x1b" not in line and "\x01" not in line
    assert line.endswith("— red x\n")


# --- the cap ------------------------------------------------------------------------------------


def _big_run() -> Verdict:
    failures = [_over(f"f{i:02d}.sys", 101 + i) for i in range(25)]
    warnings = [_near(f"w{i:02d}.sys", 81 + i) for i in range(13)]
    return _verdict(failures + warnings)


def _kinds(text: str, prefix: str) -> list[str]:
    return [line[len(prefix) :].split(" ", 1)[0] for line in text.splitlines()]


def test_github_shows_ten_of_each_kind_worst_first_then_a_notice_with_the_rest() -> None:
    text = render_annotations(_big_run(), "github", reports=["out/junit.xml", "out/summary.md"])
    lines = text.splitlines()
    assert _kinds(text, "::") == ["error"] * 10 + ["warning"] * 10 + ["notice"]
    # Worst first: furthest over the limit, i.e. the largest observed value here.
    errors = [re.search(r"title=(\S+)", line).group(1) for line in lines[:10]]  # type: ignore[union-attr]
    assert errors == [f"f{i:02d}.sys" for i in range(24, 14, -1)]
    warnings = [re.search(r"title=(\S+)", line).group(1) for line in lines[10:20]]  # type: ignore[union-attr]
    assert warnings == [f"w{i:02d}.sys" for i in range(12, 2, -1)]
    assert lines[20] == (
        "::notice title=memory gate%3A more results::15 more errors and 3 more warnings are not "
        "annotated (at most 10 of each kind are shown, worst first): every check is in "
        "out/junit.xml and out/summary.md"
    )


def test_azure_keeps_the_last_warning_slot_for_the_line_about_the_rest() -> None:
    text = render_annotations(_big_run(), "azure")
    kinds = [m.group(1) for m in re.finditer(r"type=(\w+)", text)]
    assert kinds == ["error"] * 10 + ["warning"] * 10
    assert text.splitlines()[-1] == (
        "##vso[task.logissue type=warning]15 more errors and 4 more warnings are not annotated "
        "(at most 10 of each kind are shown, worst first): every check is in the JUnit report "
        "and the Markdown summary"
    )


def test_exactly_the_limit_needs_no_line_about_the_rest() -> None:
    run = _verdict([_over(f"f{i}.sys", 200) for i in range(ANNOTATION_LIMIT)])
    for target, prefix in (("github", "::error "), ("azure", "##vso[task.logissue type=error")):
        lines = render_annotations(run, target).splitlines()  # type: ignore[arg-type]
        assert len(lines) == ANNOTATION_LIMIT
        assert all(line.startswith(prefix) for line in lines)


def test_a_smaller_limit_and_one_left_over() -> None:
    run = _verdict([_over("a.sys", 300), _over("b.sys", 200)])
    lines = render_annotations(run, "github", limit=1).splitlines()
    assert len(lines) == 2
    assert "title=a.sys " in lines[0]
    assert lines[1].endswith(
        "::1 more error is not annotated (at most 1 of each kind are shown, "
        "worst first): every check is in the JUnit report and the Markdown "
        "summary"
    )


@pytest.mark.parametrize("bad", [{"target": "gitlab"}, {"limit": 0}])
def test_a_wrong_target_or_limit_is_refused(bad: dict[str, object]) -> None:
    kwargs: dict[str, object] = {"target": "github", "limit": 10, **bad}
    with pytest.raises(ValueError, match=str(next(iter(bad.values())))):
        render_annotations(_small_run(), **kwargs)  # type: ignore[arg-type]


# --- worst first --------------------------------------------------------------------------------


def test_primary_metrics_are_catalog_metrics() -> None:
    assert set(PRIMARY_METRICS) <= set(METRICS)


def test_order_errors_then_primary_metrics_then_how_far_over() -> None:
    checks = [
        _over("alloc-far.sys", 900, metric="nonpaged_allocations"),
        _over("paged.sys", 900, metric="paged_impacting_bytes"),
        _over("user-rule.sys", 900, metric="a_users_own_metric"),
        _over("code.sys", 101, metric=CODE),
        _over("peak.sys", 101, metric=PEAK),
        _over("npi-near.sys", 101),
        _over("npi-far.sys", 300),
        _check("broken.sys", Outcome.ERROR, metric="paged_impacting_bytes"),
    ]
    errors, warnings = annotated_checks(_verdict(checks))
    assert warnings == []
    assert [c.driver for c in errors] == [
        "broken.sys",
        "npi-far.sys",
        "npi-near.sys",
        "peak.sys",
        "code.sys",
        "paged.sys",  # catalog order: paged impacting comes before the allocation count
        "alloc-far.sys",
        "user-rule.sys",
    ]


def test_growth_beyond_the_baseline_is_measured_against_the_baseline() -> None:
    over_limit = _check("limit.sys", Outcome.FAIL, observed=110, limit=100, baseline=100)
    grew = _check("grew.sys", Outcome.FAIL, observed=80, limit=100, baseline=40)
    assert overshoot(over_limit) == pytest.approx(0.10)
    assert overshoot(grew) == pytest.approx(1.0)
    errors, _ = annotated_checks(_verdict([over_limit, grew]))
    assert [c.driver for c in errors] == ["grew.sys", "limit.sys"]


def test_overshoot_edges() -> None:
    assert overshoot(_check("w.sys", Outcome.WARN, observed=85, limit=100)) == pytest.approx(-0.15)
    assert overshoot(_check("z.sys", Outcome.FAIL, observed=1, limit=0)) == math.inf
    assert overshoot(_check("z.sys", Outcome.FAIL, observed=0, limit=0)) == 0.0
    assert overshoot(_check("n.sys", Outcome.ERROR)) == -math.inf
    assert overshoot(_check("nan.sys", Outcome.FAIL, observed=math.nan, limit=1)) == -math.inf
    assert overshoot(_check("new.sys", Outcome.WARN, observed=5)) == -math.inf


def test_without_anything_to_compare_the_larger_value_goes_first_then_the_name() -> None:
    checks = [
        _check("small.sys", Outcome.WARN, observed=5 * KiB),
        _check("big.sys", Outcome.WARN, observed=50 * KiB),
        _check("b-nothing.sys", Outcome.WARN),
        _check("a-nothing.sys", Outcome.WARN),
    ]
    _, warnings = annotated_checks(_verdict(checks))
    assert [c.driver for c in warnings] == [
        "big.sys",
        "small.sys",
        "a-nothing.sys",
        "b-nothing.sys",
    ]


# --- Azure's passed-with-warnings state --------------------------------------------------------


def test_azure_succeeded_with_issues_only_when_the_run_passes_with_warnings() -> None:
    done = "##vso[task.complete result=SucceededWithIssues;]"
    warned = _verdict([_near("w.sys", 90), _check("ok.sys", Outcome.PASS, observed=1, limit=2)])
    lines = render_annotations(warned, "azure").splitlines()
    assert lines[-1] == done
    assert len(lines) == 2
    assert done not in render_annotations(warned, "github")
    failed = _verdict([_near("w.sys", 90), _over("f.sys", 200)])
    assert done not in render_annotations(failed, "azure")


def test_warnings_are_errors_when_the_run_treats_them_as_failures() -> None:
    run = _verdict([_near("w.sys", 90)], warn_as_error=True)
    errors, warnings = annotated_checks(run)
    assert [c.driver for c in errors] == ["w.sys"]
    assert warnings == []
    azure = render_annotations(run, "azure")
    assert azure.startswith("##vso[task.logissue type=error;")
    assert "SucceededWithIssues" not in azure
    assert render_annotations(run, "github").startswith("::error ")


def test_the_shared_report_verdict(verdict: Verdict) -> None:
    """The report tests' verdict: a tool error, two failures, a warning and a trace warning."""
    text = render_annotations(verdict, "github")
    titles = re.findall(r"title=([^:]*?)%3A", text)
    assert titles == [
        "mystery|driver.sys paged_impacting_bytes",
        "ndis.sys nonpaged_impacting_bytes",  # +75.8 % over its baseline
        "acpi.sys nonpaged_impacting_bytes",  # +20 % over its limit
        "wdf01000.sys nonpaged_impacting_bytes",
        "traces/boot_2.etl trace_quality",
    ]
    assert _kinds(text, "::") == ["error", "error", "error", "warning", "warning"]
