-- Per trace and driver metrics (metrics.md, "Metrics, per trace and driver"), long format.
--
-- A driver appears in a trace when it has a pool allocation, a loaded kernel image, or code
-- pages in the resident set. Each appearing driver gets every pool metric (0 when it did
-- nothing in the window); active_code_bytes only where the trace has resident-set data.
-- '(total)' rows hold the totals over all drivers; for peaks, the peak of the sum.

CREATE OR REPLACE TABLE _trace_drivers AS
SELECT DISTINCT trace_id, driver FROM allocations
UNION
SELECT DISTINCT trace_id, driver FROM images WHERE process_id = 0
UNION
SELECT DISTINCT trace_id, driver FROM resident_pages WHERE category = 'Driver' AND driver <> '';

CREATE OR REPLACE TABLE _pool_sums AS
SELECT
    trace_id,
    driver,
    sum(CASE WHEN nonpaged THEN impacting_delta_bytes ELSE 0 END) AS nonpaged_impacting_bytes,
    sum(CASE WHEN NOT nonpaged THEN impacting_delta_bytes ELSE 0 END) AS paged_impacting_bytes,
    sum(CASE WHEN nonpaged AND allocated_inside THEN size_bytes ELSE 0 END)
        AS nonpaged_allocated_bytes,
    count(*) FILTER (WHERE nonpaged AND allocated_inside) AS nonpaged_allocations
FROM allocations_windowed
GROUP BY trace_id, driver;

-- Sweep events for the non-paged peaks: +size at each in-window allocation, -size at the free
-- of each transient one. Same-time events go in trace order; a lost free closes the old
-- allocation (k = 0) before the reallocation that closed it opens the new one (k = 1).
-- The peaks are the largest running sums of delta_bytes in (t, s, k) order, per driver and
-- over all drivers, of all events (outstanding) and of transient ones only. Running sums over
-- millions of rows are the one thing this model does not do in SQL: DuckDB's window operator
-- takes seconds where a sort and numpy's cumsum take a fraction (gate/sql/peaks.py, run
-- after this file, writes _peaks).
CREATE OR REPLACE TABLE _nonpaged_sweep AS
SELECT trace_id, driver, alloc_s AS t, alloc_seq AS s, 1 AS k, size_bytes AS delta_bytes,
       window_type = 'AIFI' AS transient
FROM allocations_windowed
WHERE nonpaged AND allocated_inside
UNION ALL
SELECT trace_id, driver, free_s, free_seq, 0, -size_bytes, true
FROM allocations_windowed
WHERE nonpaged AND window_type = 'AIFI';
