"""The judge: the rules' findings become one check per (metric, driver), waivers applied,
with the evidence (top pool tags and call sites) of every check a reader must look at.

Every figure comes from the model and the rule input views in a few whole-table queries:
the measured values, the baseline, the limits that apply (`budget_limits`, where the `"*"`
default is resolved) and, in one ranked query, the evidence of all checks at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from gate.budgets.model import WaiverRule
from gate.metrics import METRICS
from gate.rules.evidence import attach_evidence
from gate.rules.results import (
    Check,
    DriverFigures,
    Finding,
    Outcome,
    Waiver,
)
from gate.tables.drivers import TOTAL


def judge(
    con: duckdb.DuckDBPyConnection,
    findings: list[Finding],
    owners: dict[str, str],
    waivers: Sequence[WaiverRule],
    today: date,
) -> list[Check]:
    """Turn findings into one Check per (metric, driver), applying waivers.

    Every limit that applies makes a check, so a driver within its budget passes visibly.
    """
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

    limits = con.execute(
        "SELECT driver, metric, limit_value, budget_file, budget_line FROM budget_limits "
        "ORDER BY driver = ?, driver, metric",
        [TOTAL],
    ).fetchall()
    for driver, metric, limit, file, line in limits:
        c = check_for(metric, driver)
        c.limit = float(limit)
        c.budget_file, c.budget_line = file, line
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
        _decide(c, waivers, today)
    attach_evidence(
        con, [c for c in checks.values() if c.outcome.severity >= Outcome.WAIVED.severity]
    )
    return list(checks.values())


def fail_on_warnings(checks: list[Check]) -> None:
    """`--warn-as-error`: every warning becomes a failure, in every report alike (a CI test
    view must not show green on a build the exit code fails)."""
    for c in checks:
        if c.outcome is Outcome.WARN:
            c.outcome = Outcome.FAIL
            c.warned_as_error = True
            c.message = f"{c.message}; fails because warnings are errors (--warn-as-error)"


def figures(con: duckdb.DuckDBPyConnection) -> list[DriverFigures]:
    """Every appearing driver's figures for every metric, (kernel), (unattributed) and the
    totals included, judged or not; a metric that could not be computed is None with why."""
    values: dict[str, dict[str, float]] = {}
    for driver, metric, value in con.execute(
        "SELECT driver, metric, value FROM driver_metrics_aggregated"
    ).fetchall():
        values.setdefault(driver, {})[metric] = float(value)
    seen = dict(con.execute("SELECT driver, traces_seen FROM driver_presence").fetchall())
    traces, resident = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE has_resident_set) FROM traces"
    ).fetchall()[0]
    seen.setdefault(TOTAL, traces)
    why = {
        "active_code_bytes": (
            "no trace has resident-set data (record with the Resident Set profile)"
            if not resident
            else "the driver has no code pages in any trace's resident set"
        )
    }
    out = []
    for driver in sorted(set(seen) | set(values)):
        got = values.get(driver, {})
        out.append(
            DriverFigures(
                driver=driver,
                traces_seen=int(seen.get(driver, 0)),
                values={m: got.get(m) for m in METRICS},
                not_evaluated={
                    m: why.get(m, "no trace provides this metric") for m in METRICS if m not in got
                },
            )
        )
    return out


def _decide(c: Check, waivers: Sequence[WaiverRule], today: date) -> None:
    """The check's outcome: its worst finding, unless an active waiver covers it."""
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
