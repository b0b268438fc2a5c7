"""The peak metrics' running sums, the model's one step outside SQL (metrics.md, peaks).

`30_sweep.sql` declares the sweep events in `_nonpaged_sweep` (trace_id, driver, t, s, k,
delta_bytes, transient); a peak is the largest running sum of `delta_bytes` in (t, s, k) order:
per driver and over all drivers ('(total)': the peak of the sum), of every event
(nonpaged_peak_outstanding_bytes) and of transient events only (nonpaged_transient_peak_bytes).
That is a window `sum(...) OVER (PARTITION BY driver ORDER BY t, s, k)`, which DuckDB runs at a
few hundred nanoseconds a row; here DuckDB sorts each trace's events once and numpy takes the
running sums, a stable radix sort by driver keeping the time order within each driver.
`30_sweep.sql` also creates the `_peaks` table this fills and `_sweep_drivers`, the drivers'
numbers; `40_metrics.sql` reads `_peaks`.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import numpy as np

from gate.tables.drivers import TOTAL


class Peaks(NamedTuple):
    """The peaks of one trace's sweep events (given in sweep order)."""

    present: np.ndarray  # driver ids with events
    outstanding: np.ndarray  # their outstanding peaks
    transient: np.ndarray  # their transient peaks
    total_outstanding: int  # the peak of the sum over all drivers
    total_transient: int
    transient_at: np.ndarray  # index (in sweep order) of each driver's transient peak, or -1
    total_transient_at: int


def running_peaks(
    driver_id: np.ndarray, delta: np.ndarray, transient: np.ndarray, drivers: int
) -> Peaks:
    """Peaks of events given in sweep order, and where the transient peaks are reached (the
    first event after which the running sum is at its maximum; -1 for a peak of 0).

    Each driver's running sum is the running sum of its events taken alone, i.e. the running
    sum over the driver-sorted events minus what the drivers before it added; that offset is
    one number per driver, so it is subtracted from the driver's maximum, not from every row.
    """
    if len(delta) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Peaks(empty, empty, empty, 0, 0, empty, -1)
    # Radix sort (uint16 keys) is stable: time order holds within each driver.
    key = driver_id.astype(np.uint16 if drivers <= 0xFFFF else np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    present = key[starts].astype(np.int64)
    del key
    totals, peaks = [], []
    for values in (delta, np.where(transient, delta, 0)):
        run = np.cumsum(values, dtype=np.int64)
        totals.append(int(run.max()))
        total_at = int(run.argmax())
        np.cumsum(values[order], dtype=np.int64, out=run)
        before = np.concatenate([[0], run[starts[1:] - 1]])
        peaks.append(np.maximum.reduceat(run, starts) - before)
    # The transient run is the last one left in `run`: each driver's first maximum.
    ends = np.append(starts[1:], len(run))
    at = np.array(
        [
            lo + int(run[lo:hi].argmax())
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    transient_at = np.where(peaks[1] > 0, order[at], -1)
    return Peaks(
        present,
        peaks[0],
        peaks[1],
        totals[0],
        totals[1],
        transient_at,
        total_at if totals[1] > 0 else -1,
    )


def build_peaks(con: duckdb.DuckDBPyConnection) -> None:
    """Fill `_peaks` from `_nonpaged_sweep`, one trace at a time (memory: one trace's events)."""
    names = [
        r[0] for r in con.execute("SELECT driver FROM _sweep_drivers ORDER BY driver_id").fetchall()
    ]
    traces = con.execute("SELECT DISTINCT trace_id FROM _nonpaged_sweep ORDER BY 1").fetchall()
    id_type = "USMALLINT" if len(names) <= 0xFFFF else "INTEGER"  # 2 bytes a row, usually
    for (trace_id,) in traces:
        cols = con.execute(
            f"SELECT d.driver_id::{id_type} AS driver_id, s.delta_bytes, s.transient, s.s, s.k "
            "FROM _nonpaged_sweep AS s JOIN _sweep_drivers AS d USING (driver) "
            "WHERE s.trace_id = ? ORDER BY s.t, s.s, s.k",
            [trace_id],
        ).fetchnumpy()
        p = running_peaks(
            np.asarray(cols["driver_id"]),
            np.asarray(cols["delta_bytes"]),
            np.asarray(cols["transient"]),
            len(names),
        )
        at = np.append(p.transient_at, p.total_transient_at)
        seq, k = np.asarray(cols["s"]), np.asarray(cols["k"])
        del cols
        rows = {
            "driver": np.array([names[i] for i in p.present.tolist()] + [TOTAL], dtype=object),
            "outstanding": np.append(p.outstanding, p.total_outstanding).astype(np.int64),
            "transient": np.append(p.transient, p.total_transient).astype(np.int64),
            "peak_seq": np.where(at >= 0, seq[np.maximum(at, 0)], -1).astype(np.int64),
            "peak_k": np.where(at >= 0, k[np.maximum(at, 0)], -1).astype(np.int64),
        }
        con.register("_peak_rows", rows)
        try:
            con.execute(
                "INSERT INTO _peaks SELECT ?, driver, outstanding, transient, "
                "CASE WHEN peak_seq >= 0 THEN peak_seq END, CASE WHEN peak_k >= 0 THEN peak_k END "
                "FROM _peak_rows",
                [trace_id],
            ).fetchall()
        finally:
            con.unregister("_peak_rows")
