-- The non-paged peaks' sweep (metrics.md: nonpaged_transient_peak_bytes and
-- nonpaged_peak_outstanding_bytes). This file declares the sweep events and their order;
-- the running sums over them are the model's one step outside SQL (gate/sql/peaks.py, run
-- right after this file), because DuckDB's window operator takes seconds over millions of
-- rows where one sort and numpy's cumsum take a fraction. 40_metrics.sql reads `_peaks`.

-- Sweep events for the non-paged peaks: +size at each in-window allocation, -size at the free
-- of each transient one. Same-time events go in trace order; a lost free closes the old
-- allocation (k = 0) before the reallocation that closed it opens the new one (k = 1).
-- The peaks are the largest running sums of delta_bytes in (t, s, k) order, per driver and
-- over all drivers, of all events (outstanding) and of transient ones only.
-- A view: peaks.py reads it once per trace, sorted, and writing its millions of rows into a
-- table first cost as much as that read.
CREATE OR REPLACE VIEW _nonpaged_sweep AS
SELECT trace_id, driver, alloc_s AS t, alloc_seq AS s, 1 AS k, size_bytes AS delta_bytes,
       window_type = 'AIFI' AS transient
FROM allocations_windowed
WHERE nonpaged AND allocated_inside
UNION ALL
SELECT trace_id, driver, free_s, free_seq, 0, -size_bytes, true
FROM allocations_windowed
WHERE nonpaged AND window_type = 'AIFI';

-- Drivers of the sweep numbered 0, 1, ... (peaks.py sorts by these small integers).
CREATE OR REPLACE TABLE _sweep_drivers AS
SELECT driver, (row_number() OVER (ORDER BY driver) - 1)::INTEGER AS driver_id
FROM (SELECT DISTINCT driver FROM _nonpaged_sweep);

-- Filled by peaks.py: per trace and driver with sweep events, and one '(total)' row per
-- trace (the peak of the sum over all drivers). The transient peak is reached just after the
-- sweep event (peak_seq, peak_k): its s and k; NULL when the peak is 0.
CREATE OR REPLACE TABLE _peaks (
    trace_id INTEGER,
    driver VARCHAR,
    nonpaged_peak_outstanding_bytes BIGINT,
    nonpaged_transient_peak_bytes BIGINT,
    peak_seq BIGINT,
    peak_k INTEGER
);
