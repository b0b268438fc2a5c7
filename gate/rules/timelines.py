"""Boot timelines for the HTML report: each driver's non-paged pool over the boot, split as
WPA's Pool graph splits it with its Impacting and Transient legends.

Definition. The allocations drawn are a driver's non-paged allocations that take part in the
evaluation window (metrics.md, "Classification against the window"), except persistent ones
(AOFO: allocated before the window and freed after it, they never change inside it). A
pool event is an allocation (`t_alloc`) or a free (`t_free`, when the trace has one); events
are taken in trace order, a free before the reallocation that closed it (a lost free), as the
peak metrics take them. After each event at time t the series hold

- impacting(t): Σ size of the driver's live AIFO and AOFI allocations,
- transient(t): Σ size of its live AIFI allocations,

where an allocation is live when `t_alloc ≤ t < t_free` (`t_free` unknown: to the end of the
trace). So transient(t) is the running sum whose maximum is `nonpaged_transient_peak_bytes`,
reached at the same event: the timeline's transient peak is the metric's, at the moment its
evidence describes. impacting(t) at the window's end is Σ AIFO, and its rise from the window's
start to its end is `nonpaged_impacting_bytes` (Σ AIFO − Σ AOFI: the AOFI ones are live at
the start and gone at the end), up to allocations made exactly at the start; over the default
window, the whole trace, impacting(end) is the metric itself. '(total)' is the same over every
driver together (kernel and unattributed included).

Each driver's timeline shows one trace: the one where its transient peak is highest (the trace
its peak evidence comes from), else the first where it allocates; '(total)' the trace of the
highest total transient peak. The series are computed in SQL (`_timeline.sql`, one query for
every driver) and reduced there to a few points per time bucket: each bucket's first and last
points, its first highest and lowest impacting and transient points and the points after the
highest ones. Every peak keeps its exact time and value; a bucket's other points are dropped.
"""

from __future__ import annotations

import duckdb

from gate.rules.results import Outcome, Timeline, Verdict
from gate.store.store import split_statements, sql_text
from gate.tables.drivers import TOTAL

__all__ = [
    "DETAIL_BUCKETS",
    "DETAIL_DRIVERS",
    "OVERVIEW_BUCKETS",
    "attach_timelines",
    "boot_timelines",
    "detailed_drivers",
    "trace_values",
]

_PROBLEMS = (Outcome.FAIL, Outcome.WARN)

# Time buckets of a drawn series: up to 8 points each, about 6 in practice, so the figures of
# failing and warning drivers and the totals have a few hundred points and the small ones of
# every other driver about a hundred.
DETAIL_BUCKETS = 100
OVERVIEW_BUCKETS = 24
# Drivers drawn in detail at most, worst first: a run where hundreds of drivers fail still
# gives a page of a few megabytes (the others are drawn small).
DETAIL_DRIVERS = 30


def boot_timelines(
    con: duckdb.DuckDBPyConnection,
    detail: set[str],
    *,
    detail_buckets: int = DETAIL_BUCKETS,
    overview_buckets: int = OVERVIEW_BUCKETS,
) -> dict[str, Timeline]:
    """The timeline of every driver with non-paged allocations in the window, and '(total)',
    after the model is built; drivers in `detail` (and the total) get `detail_buckets` time
    buckets, the others `overview_buckets`."""
    if detail_buckets < 1 or overview_buckets < 1:
        raise ValueError("a timeline needs at least one time bucket")
    params = {
        "detail": sorted(detail),
        "detail_buckets": detail_buckets,
        "overview_buckets": overview_buckets,
    }
    for statement in split_statements(sql_text("gate.rules", "_timeline.sql")):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement, used).fetchall() if used else con.execute(statement).fetchall()
    window = con.execute("SELECT start_s, end_s FROM cfg_window").fetchone()
    start, end = window if window is not None else (None, None)
    series = con.execute(
        """SELECT s.series_id, s.driver, t.source_path, s.duration_s, e.events
           FROM _timeline_series AS s JOIN traces AS t USING (trace_id)
           JOIN _timeline_events AS e USING (series_id)
           ORDER BY s.series_id"""
    ).fetchall()
    columns = con.execute(
        "SELECT series_id, list(t ORDER BY n), list(impacting_bytes ORDER BY n), "
        "list(transient_bytes ORDER BY n) FROM _timeline_points GROUP BY series_id"
    ).fetchall()
    points = {sid: (times, imp, trans) for sid, times, imp, trans in columns}
    out: dict[str, Timeline] = {}
    for sid, driver, source, duration, events in series:
        times, imp, trans = points.get(sid, ([], [], []))
        out[driver] = Timeline(
            driver=driver,
            trace=str(source),
            duration_s=float(duration),
            window_start_s=None if start is None else float(start),
            window_end_s=None if end is None else float(end),
            times_s=tuple(float(x) for x in times),
            impacting_bytes=tuple(int(x) for x in imp),
            transient_bytes=tuple(int(x) for x in trans),
            events=int(events),
        )
    return out


def detailed_drivers(verdict: Verdict) -> list[str]:
    """Drivers with a failing or warning check, worst first (`Verdict.worst_first`); not the
    totals, nor the traces that trace checks are about."""
    traces = {t.source_path for t in verdict.traces}
    out: list[str] = []
    for check in verdict.worst_first():
        d = check.driver
        if check.outcome in _PROBLEMS and d != TOTAL and d not in traces and d not in out:
            out.append(d)
    return out


def trace_values(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[int, float]]:
    """Each (driver, metric)'s value in each trace it was computed in, by trace_id."""
    out: dict[tuple[str, str], dict[int, float]] = {}
    rows = con.execute(
        "SELECT driver, metric, trace_id, value FROM driver_metrics "
        "ORDER BY driver, metric, trace_id"
    ).fetchall()
    for driver, metric, trace_id, value in rows:
        out.setdefault((driver, metric), {})[int(trace_id)] = float(value)
    return out


def attach_timelines(con: duckdb.DuckDBPyConnection, verdict: Verdict) -> None:
    """Give the verdict what only the HTML report draws: the boot timelines (in detail for the
    first `DETAIL_DRIVERS` drivers with a failing or warning check, worst first) and the
    per-trace values behind each aggregate."""
    verdict.timelines = boot_timelines(con, set(detailed_drivers(verdict)[:DETAIL_DRIVERS]))
    verdict.trace_values = trace_values(con)
