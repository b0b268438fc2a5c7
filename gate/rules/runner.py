"""Runs the rule files against the model; `gate.rules.judge` turns their rows into checks.

A rule is one SQL file in gate/rules (or a user's rules folder) whose first line is
`-- <ID> <dotted.name>` and whose SELECT returns only the rows that need a verdict, with the
columns of `RULE_CONTRACT`, declared here once. The runner checks that contract before trusting
any row and reports a rule that breaks it as an error naming the file.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from gate.errors import RuleContractError, RuleExecutionError
from gate.metrics import format_value
from gate.rules.results import Finding, Outcome
from gate.store.store import run_script, sql_text

# The rule contract: every rule returns exactly these columns, in this order, of these kinds.
RULE_CONTRACT: tuple[tuple[str, str], ...] = (
    ("rule_id", "text"),
    ("driver", "text"),
    ("metric", "text"),
    ("observed_value", "number"),
    ("limit_value", "number"),
    ("baseline_value", "number"),
    ("outcome", "text"),
    ("message", "text"),
)
RULE_COLUMNS = tuple(name for name, _ in RULE_CONTRACT)
# The line every rule file carries under its header, so that a reader of the file sees it.
CONTRACT_LINE = f"-- Contract: {', '.join(RULE_COLUMNS)}"
_SQL_TYPES = {
    "number": (
        "DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL", "UBIGINT", "SMALLINT",
        "TINYINT", "UINTEGER", '"NULL"', "NULL",
    ),
    "text": ("VARCHAR", '"NULL"', "NULL"),
}  # fmt: skip
_HEADER = re.compile(r"^--\s*([A-Z][A-Z0-9]*\d+)\s+([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\s*$")
RULE_OUTCOMES = {o.value for o in Outcome} - {"pass", "waived"}


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
    """Create the rule input tables (`_inputs.sql`, empty) and the helpers every rule may use
    (`_prelude.sql`): run after the model is built, before the inputs are loaded."""
    with contextlib.suppress(duckdb.Error):  # not registered yet on this connection
        con.remove_function("fmt_value")
    con.create_function(  # type: ignore[call-overload]  # the stubs lack null_handling's values
        "fmt_value",
        format_value,
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("DOUBLE")],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",
    )
    for name in ("_inputs.sql", "_prelude.sql"):
        run_script(con, sql_text("gate.rules", name))


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
    for (name, kind), row in zip(RULE_CONTRACT, described, strict=True):
        sql_type = str(row[1]).upper()
        if not sql_type.startswith(_SQL_TYPES[kind]):
            want = "a number" if kind == "number" else "text"
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
    for row in rows:
        rule_id, driver, metric, observed, limit, baseline, outcome, message = row
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
