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

import duckdb
import numpy as np

from gate.tables.drivers import TOTAL


def running_peaks(
    driver_id: np.ndarray, delta: np.ndarray, transient: np.ndarray, drivers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Peaks of events given in sweep order: (driver ids present, their outstanding peaks,
    their transient peaks, total outstanding peak, total transient peak).

    Each driver's running sum is the running sum of its events taken alone, i.e. the running
    sum over the driver-sorted events minus what the drivers before it added; that offset is
    one number per driver, so it is subtracted from the driver's maximum, not from every row.
    """
    if len(delta) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, 0, 0
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
        np.cumsum(values[order], dtype=np.int64, out=run)
        before = np.concatenate([[0], run[starts[1:] - 1]])
        peaks.append(np.maximum.reduceat(run, starts) - before)
        del run
    return present, peaks[0], peaks[1], totals[0], totals[1]


def build_peaks(con: duckdb.DuckDBPyConnection) -> None:
    """Fill `_peaks` from `_nonpaged_sweep`, one trace at a time (memory: one trace's events)."""
    names = [
        r[0] for r in con.execute("SELECT driver FROM _sweep_drivers ORDER BY driver_id").fetchall()
    ]
    traces = con.execute("SELECT DISTINCT trace_id FROM _nonpaged_sweep ORDER BY 1").fetchall()
    id_type = "USMALLINT" if len(names) <= 0xFFFF else "INTEGER"  # 2 bytes a row, usually
    for (trace_id,) in traces:
        cols = con.execute(
            f"SELECT d.driver_id::{id_type} AS driver_id, s.delta_bytes, s.transient "
            "FROM _nonpaged_sweep AS s JOIN _sweep_drivers AS d USING (driver) "
            "WHERE s.trace_id = ? ORDER BY s.t, s.s, s.k",
            [trace_id],
        ).fetchnumpy()
        ids, out, tr, total_out, total_tr = running_peaks(
            np.asarray(cols["driver_id"]),
            np.asarray(cols["delta_bytes"]),
            np.asarray(cols["transient"]),
            len(names),
        )
        del cols
        rows = {
            "driver": np.array([names[i] for i in ids.tolist()] + [TOTAL], dtype=object),
            "outstanding": np.append(out, total_out).astype(np.int64),
            "transient": np.append(tr, total_tr).astype(np.int64),
        }
        con.register("_peak_rows", rows)
        try:
            con.execute(
                "INSERT INTO _peaks SELECT ?, driver, outstanding, transient FROM _peak_rows",
                [trace_id],
            ).fetchall()
        finally:
            con.unregister("_peak_rows")
