"""Evidence: the pool tags and call sites that explain a figure, what a baseline records of
them, and what grew since.

Which pool's rows explain a metric, and by which figure they rank, is the metric catalog's
`evidence_for`. Everything here is one ranked query for all the checks at once
(`_evidence.sql`, `_growth.sql`), never one per check.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from gate.budgets.baseline import EVIDENCE_TOP, EvidenceRest, EvidenceRow, MetricEvidence
from gate.metrics import evidence_for
from gate.rules.results import (
    CallSite,
    Check,
    Growth,
    Outcome,
    PeakMoment,
    TagUse,
)
from gate.store.store import insert_rows, sql_text
from gate.tables.drivers import PSEUDO_DRIVERS, TOTAL

TOP_EVIDENCE = 5  # tags and call sites a check shows
TOP_GROWTH = 3  # of each kind, in what grew
GROWTH_RULE = "baseline.growth"
# Recorded in a baseline for every driver, budgeted or not: the figures of the manual
# procedure, so that a budget added later still has call sites to compare with.
ALWAYS_RECORDED = ("nonpaged_impacting_bytes", "nonpaged_transient_peak_bytes")

_Rows = list[tuple[str, str, str, str, int, int, int, int, int, int]]


def peak_moments(con: duckdb.DuckDBPyConnection) -> dict[str, PeakMoment]:
    """When each driver's transient peak is reached, in the trace where it is highest."""
    rows = con.execute(
        "SELECT m.driver, m.peak_s, m.peak_bytes, t.source_path FROM driver_peak_moments AS m "
        "JOIN traces AS t USING (trace_id)"
    ).fetchall()
    return {d: PeakMoment(float(s), int(b), str(src)) for d, s, b, src in rows}


def _ranked(con: duckdb.DuckDBPyConnection, pairs: Iterable[tuple[str, str]], top: int) -> _Rows:
    """`_evidence.sql` for the (driver, metric) pairs whose metric has pool evidence."""
    rows = []
    for driver, metric in pairs:
        evidence = evidence_for(metric)
        if driver != TOTAL and evidence is not None:
            rows.append([driver, metric, *evidence])
    if not rows:
        return []
    con.execute("DELETE FROM _evidence_wanted").fetchall()
    insert_rows(con, "_evidence_wanted", rows)
    return con.execute(sql_text("gate.rules", "_evidence.sql"), [top]).fetchall()


def attach_evidence(con: duckdb.DuckDBPyConnection, checks: list[Check]) -> None:
    """Give each check its top pool tags and call sites, and transient peak checks the
    moment of the peak their evidence describes; totals and metrics without pool evidence
    get none."""
    wanted = {(c.driver, c.metric): c for c in checks}
    found = _ranked(con, wanted, TOP_EVIDENCE)
    if not found:
        return
    moments = peak_moments(con)
    for (driver, metric), c in wanted.items():
        evidence = evidence_for(metric)
        if evidence is not None and evidence[0] == "peak":
            c.peak = moments.get(driver)
    for driver, metric, kind, name, impacting, allocated, allocations, *_ in found:
        c = wanted[(driver, metric)]
        if kind == "tag":
            c.top_tags.append(TagUse(name, int(impacting), int(allocated), int(allocations)))
        else:
            c.top_sites.append(CallSite(name, int(impacting), int(allocated), int(allocations)))


def record_evidence(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, MetricEvidence]]:
    """What a baseline keeps: per driver (not the totals) and metric, the top `EVIDENCE_TOP`
    call sites and tags and the rest summed, for `ALWAYS_RECORDED` and every metric the
    budgets limit for the driver (needs the rule inputs loaded)."""
    drivers = [
        d
        for (d,) in con.execute(
            "SELECT DISTINCT driver FROM driver_metrics_aggregated ORDER BY driver"
        ).fetchall()
        if d != TOTAL
    ]
    pairs = {(d, m) for d in drivers for m in ALWAYS_RECORDED}
    pairs |= {
        (d, m)
        for d, m in con.execute("SELECT driver, metric FROM budget_limits").fetchall()
        if d in drivers
    }
    out: dict[str, dict[str, MetricEvidence]] = {
        d: {m: MetricEvidence() for dd, m in sorted(pairs) if dd == d and evidence_for(m)}
        for d in drivers
    }
    picked: dict[tuple[str, str, str], list[EvidenceRow]] = {}
    totals: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    for driver, metric, kind, name, _imp, _alloc, n, figure, kind_n, count in _ranked(
        con, sorted(pairs), EVIDENCE_TOP
    ):
        order = evidence_for(metric)
        value = _imp if order is not None and order[2] == "impacting_bytes" else _alloc
        picked.setdefault((driver, metric, kind), []).append(EvidenceRow(name, int(value), int(n)))
        totals[(driver, metric, kind)] = (int(figure), int(kind_n), int(count))
    for (driver, metric, kind), rows in picked.items():
        figure, kind_n, count = totals[(driver, metric, kind)]
        rest = EvidenceRest(
            figure - sum(r.size_bytes for r in rows),
            kind_n - sum(r.allocations for r in rows),
            count - len(rows),
        )
        e = out[driver][metric]
        if kind == "site":
            e = MetricEvidence(tuple(rows), e.tags, rest, e.rest_tags)
        else:
            e = MetricEvidence(e.sites, tuple(rows), e.rest_sites, rest)
        out[driver][metric] = e
    return {d: ms for d, ms in out.items() if ms}


def load_baseline_evidence(
    con: duckdb.DuckDBPyConnection, evidence: dict[str, dict[str, MetricEvidence]]
) -> None:
    """Fill `baseline_evidence`: the top rows, and one rest row per recorded kind."""
    rows: list[list[object]] = []
    for driver, metrics in evidence.items():
        for metric, e in metrics.items():
            for kind, items, rest in (
                ("site", e.sites, e.rest_sites),
                ("tag", e.tags, e.rest_tags),
            ):
                rows += [
                    [driver, metric, kind, r.name, r.size_bytes, r.allocations, False]
                    for r in items
                ]
                rows.append([driver, metric, kind, "", rest.size_bytes, rest.allocations, True])
    insert_rows(con, "baseline_evidence", rows)


def attach_growth(con: duckdb.DuckDBPyConnection, checks: list[Check], *, recorded: bool) -> None:
    """Say what grew: for each growth failure or warning, and each failing or warning check
    of a driver the baseline does not know, the call sites and tags that grew most.

    `recorded`: the baseline keeps call sites (a version 1 baseline does not); without them
    such checks get `grew = None`, which the reports say.
    """
    known = {d for (d,) in con.execute("SELECT DISTINCT driver FROM baseline_values").fetchall()}
    if not known:
        return  # no baseline at all: nothing grew "since"
    noted = {
        (d, m) for d, m in con.execute(
            "SELECT DISTINCT driver, metric FROM baseline_evidence WHERE rest"
        ).fetchall()
    }  # fmt: skip
    wanted: dict[tuple[str, str], Check] = {}
    for c in checks:
        grew = any(f.rule_name == GROWTH_RULE for f in c.findings)
        new = not c.baseline and c.driver not in PSEUDO_DRIVERS  # absent, or 0 before
        serious = c.outcome.severity >= Outcome.WARN.severity or c.outcome is Outcome.WAIVED
        if evidence_for(c.metric) is None or c.driver == TOTAL or not (grew or (new and serious)):
            continue
        if not recorded or ((c.driver, c.metric) not in noted and not new):
            c.grew_unknown = True
            continue
        c.grew = []
        wanted[(c.driver, c.metric)] = c
    if not wanted:
        return
    con.execute("DELETE FROM _growth_wanted").fetchall()
    insert_rows(
        con,
        "_growth_wanted",
        [[d, m, *evidence_for(m)] for d, m in wanted],  # type: ignore[misc]
    )
    found = con.execute(sql_text("gate.rules", "_growth.sql"), [TOP_GROWTH]).fetchall()
    for driver, metric, kind, name, observed, was, rest in found:
        wanted[(driver, metric)].grew.append(  # type: ignore[union-attr]
            Growth(kind, name, int(observed), None if was is None else int(was), rest == 0)
        )
