"""Runs the rule files against the model and judges the findings into checks.

A rule is one SQL file in gate/rules (or a user's rules folder) whose first line is
`-- <ID> <dotted.name>` and whose SELECT returns only the rows that need a verdict, with the
fixed columns of `RULE_COLUMNS`. The runner checks that contract before trusting any row and
reports a rule that breaks it as an error naming the file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

import duckdb

from gate.budgets.model import WaiverRule
from gate.errors import RuleContractError, RuleExecutionError
from gate.metrics import format_value
from gate.rules.results import CallSite, Check, Finding, Outcome, TagUse, Waiver
from gate.store.store import run_script

RULE_COLUMNS = (
    "rule_id",
    "driver",
    "metric",
    "observed_value",
    "limit_value",
    "baseline_value",
    "outcome",
    "message",
)
_NUMERIC = (
    "DOUBLE",
    "FLOAT",
    "BIGINT",
    "INTEGER",
    "HUGEINT",
    "DECIMAL",
    "UBIGINT",
    "SMALLINT",
    "TINYINT",
    "UINTEGER",
    '"NULL"',
    "NULL",
)
_TEXT = ("VARCHAR", '"NULL"', "NULL")
_HEADER = re.compile(r"^--\s*([A-Z][A-Z0-9]*\d+)\s+([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\s*$")
RULE_OUTCOMES = {o.value for o in Outcome} - {"pass", "waived"}
TOP_EVIDENCE = 5


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    source: str  # file path or package resource name, for messages
    sql: str
    summary: str


def _parse_rule(source: str, text: str) -> Rule:
    lines = text.splitlines()
    match = _HEADER.match(lines[0]) if lines else None
    if not match:
        raise RuleContractError(
            f"{source}:1: a rule must start with '-- <ID> <dotted.name>', e.g. "
            "'-- GATE001 budget.over'"
        )
    summary = lines[1].lstrip("- ").strip() if len(lines) > 1 else ""
    body = text.strip().rstrip(";")
    return Rule(match.group(1), match.group(2), source, body, summary)


def builtin_rules() -> list[Rule]:
    folder = resources.files("gate.rules")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [
        _parse_rule(f"gate/rules/{n}", folder.joinpath(n).read_text(encoding="utf-8"))
        for n in names
        if not n.startswith("_")
    ]


def user_rules(folder: Path) -> list[Rule]:
    if not folder.is_dir():
        raise RuleContractError(f"{folder}: rules folder does not exist")
    return [
        _parse_rule(str(p), p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.sql"))
        if not p.name.startswith("_")
    ]


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create the helpers every rule may use."""
    with contextlib.suppress(duckdb.Error):  # not registered yet on this connection
        con.remove_function("fmt_value")
    con.create_function(
        "fmt_value",
        format_value,
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("DOUBLE")],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",
    )
    text = resources.files("gate.rules").joinpath("_prelude.sql").read_text(encoding="utf-8")
    run_script(con, text)


def run_rule(con: duckdb.DuckDBPyConnection, rule: Rule) -> list[Finding]:
    try:
        statements = con.extract_statements(rule.sql)
    except duckdb.Error as exc:
        raise RuleExecutionError(
            f"{rule.source}: rule {rule.rule_id} failed: {_line(exc)}"
        ) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise RuleContractError(f"{rule.source}: rule {rule.rule_id} must be a single SELECT")
    try:
        described = con.execute(f"DESCRIBE {rule.sql}").fetchall()
    except duckdb.Error as exc:
        raise RuleExecutionError(
            f"{rule.source}: rule {rule.rule_id} failed: {_line(exc)}"
        ) from None
    names = tuple(r[0] for r in described)
    if names != RULE_COLUMNS:
        raise RuleContractError(
            f"{rule.source}: rule {rule.rule_id} returns columns ({', '.join(names)}); "
            f"the contract is ({', '.join(RULE_COLUMNS)})"
        )
    for name, sql_type in ((r[0], str(r[1]).upper()) for r in described):
        numeric = name.endswith("_value")
        allowed = _NUMERIC if numeric else _TEXT
        if not sql_type.startswith(allowed):
            want = "a number" if numeric else "text"
            raise RuleContractError(
                f"{rule.source}: rule {rule.rule_id} column '{name}' is {sql_type}, expected {want}"
            )
    try:
        rows = con.execute(rule.sql).fetchall()
    except duckdb.Error as exc:
        raise RuleExecutionError(
            f"{rule.source}: rule {rule.rule_id} failed: {_line(exc)}"
        ) from None
    findings = []
    for rule_id, driver, metric, observed, limit, baseline, outcome, message in rows:
        if outcome not in RULE_OUTCOMES:
            raise RuleContractError(
                f"{rule.source}: rule {rule.rule_id} returned outcome {outcome!r}; "
                f"allowed: {', '.join(sorted(RULE_OUTCOMES))}"
            )
        if not driver or not metric:
            raise RuleContractError(
                f"{rule.source}: rule {rule.rule_id} returned a row without driver or metric"
            )
        findings.append(
            Finding(
                rule_id=str(rule_id or rule.rule_id),
                rule_name=rule.name,
                driver=str(driver),
                metric=str(metric),
                observed=_num(observed),
                limit=_num(limit),
                baseline=_num(baseline),
                outcome=Outcome(outcome),
                message=str(message or ""),
            )
        )
    return findings


def _num(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class LimitRow:
    driver: str
    metric: str
    limit: float
    warn_at: float
    file: str | None
    line: int | None


def judge(
    con: duckdb.DuckDBPyConnection,
    findings: list[Finding],
    limits: list[LimitRow],
    owners: dict[str, str],
    waivers: Sequence[WaiverRule],
    today: date,
) -> list[Check]:
    """Turn findings into one Check per (metric, driver), applying waivers."""
    measured = {
        (m, d): (v, n)
        for d, m, v, n in con.execute(
            "SELECT driver, metric, value, traces_seen FROM driver_metrics_aggregated"
        ).fetchall()
    }
    baseline = {
        (m, d): v
        for d, m, v in con.execute("SELECT driver, metric, value FROM baseline_values").fetchall()
    }
    presence = dict(con.execute("SELECT driver, traces_seen FROM driver_presence").fetchall())
    checks: dict[tuple[str, str], Check] = {}

    def check_for(metric: str, driver: str) -> Check:
        key = (metric, driver)
        if key not in checks:
            value, seen = measured.get(key, (None, presence.get(driver, 0)))
            checks[key] = Check(
                metric=metric,
                driver=driver,
                outcome=Outcome.PASS,
                observed=value,
                baseline=baseline.get(key),
                traces_seen=int(seen),
                owner=owners.get(driver),
            )
        return checks[key]

    for lim in limits:
        c = check_for(lim.metric, lim.driver)
        c.limit = lim.limit
        c.budget_file, c.budget_line = lim.file, lim.line
    for f in findings:
        c = check_for(f.metric, f.driver)
        c.findings.append(f)
        if c.limit is None and f.limit is not None:
            c.limit = f.limit
        if c.observed is None and f.observed is not None:
            c.observed = f.observed
        if c.baseline is None and f.baseline is not None:
            c.baseline = f.baseline

    for c in checks.values():
        worst = max((f.outcome for f in c.findings), key=lambda o: o.severity, default=Outcome.PASS)
        if worst in (Outcome.FAIL, Outcome.WARN):
            waiver = _matching_waiver(waivers, c.driver, c.metric)
            if waiver is not None:
                expired = waiver.is_expired(today)
                c.waiver = Waiver(
                    waiver.driver,
                    waiver.metric,
                    waiver.reason,
                    waiver.expires.isoformat(),
                    expired,
                    waiver.file,
                    waiver.line,
                )
                if not expired:
                    worst = Outcome.WAIVED
        c.outcome = worst
        c.message = _message(c)
    _attach_evidence(
        con, [c for c in checks.values() if c.outcome.severity >= Outcome.WAIVED.severity]
    )
    return list(checks.values())


def _matching_waiver(waivers: Sequence[WaiverRule], driver: str, metric: str) -> WaiverRule | None:
    # An active waiver wins over an expired one for the same check.
    matches = [w for w in waivers if w.driver == driver and w.metric in (None, metric)]
    return max(matches, key=lambda w: w.expires, default=None)


def _message(c: Check) -> str:
    parts = [f.message for f in sorted(c.findings, key=lambda f: -f.outcome.severity)]
    if c.waiver is not None:
        if c.waiver.expired:
            parts.append(
                f"waiver expired on {c.waiver.expires} and waives nothing "
                f"({c.waiver.file}:{c.waiver.line}: {c.waiver.reason})"
            )
        else:
            parts.append(f"waived until {c.waiver.expires}: {c.waiver.reason}")
    return "; ".join(parts)


def _attach_evidence(con: duckdb.DuckDBPyConnection, checks: list[Check]) -> None:
    for c in checks:
        if c.driver.startswith("(") and c.driver != "(kernel)" and c.driver != "(unattributed)":
            continue
        if c.metric == "active_code_bytes" or c.metric == "trace_quality":
            continue
        pool = "paged" if c.metric.startswith("paged") else "nonpaged"
        order = "impacting_bytes" if "impacting" in c.metric else "allocated_bytes"
        tags = con.execute(
            f"SELECT tag, impacting_bytes, allocated_bytes, allocations FROM driver_tags "
            f"WHERE driver = ? AND pool = ? ORDER BY {order} DESC, tag LIMIT {TOP_EVIDENCE}",
            [c.driver, pool],
        ).fetchall()
        c.top_tags = [TagUse(t, int(i), int(a), int(n)) for t, i, a, n in tags]
        sites = con.execute(
            f"SELECT call_site, impacting_bytes, allocated_bytes, allocations "
            f"FROM driver_call_sites WHERE driver = ? AND pool = ? "
            f"ORDER BY {order} DESC, call_site LIMIT {TOP_EVIDENCE}",
            [c.driver, pool],
        ).fetchall()
        c.top_sites = [CallSite(s, int(i), int(a), int(n)) for s, i, a, n in sites]
