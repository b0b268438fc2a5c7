-- Per trace and driver metrics (metrics.md, "Metrics, per trace and driver"), long format,
-- from the sums below and the peaks that gate/sql/peaks.py computed from 30_sweep.sql.
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

DROP TABLE _sweep_drivers;

CREATE OR REPLACE TABLE _active_code AS
SELECT t.trace_id, r.driver,
       sum(r.size_bytes) FILTER (WHERE r.page_list = 'Active' AND r.category = 'Driver')
           AS active_code_bytes
FROM traces AS t
JOIN resident_pages AS r USING (trace_id)
WHERE t.has_resident_set AND r.driver <> ''
GROUP BY t.trace_id, r.driver;

CREATE OR REPLACE TABLE _metrics_wide AS
SELECT
    d.trace_id,
    d.driver,
    coalesce(p.nonpaged_impacting_bytes, 0)::BIGINT AS nonpaged_impacting_bytes,
    coalesce(p.paged_impacting_bytes, 0)::BIGINT AS paged_impacting_bytes,
    coalesce(k.nonpaged_transient_peak_bytes, 0)::BIGINT AS nonpaged_transient_peak_bytes,
    coalesce(k.nonpaged_peak_outstanding_bytes, 0)::BIGINT AS nonpaged_peak_outstanding_bytes,
    coalesce(p.nonpaged_allocated_bytes, 0)::BIGINT AS nonpaged_allocated_bytes,
    coalesce(p.nonpaged_allocations, 0)::BIGINT AS nonpaged_allocations,
    CASE WHEN t.has_resident_set THEN coalesce(c.active_code_bytes, 0) END::BIGINT
        AS active_code_bytes
FROM _trace_drivers AS d
JOIN traces AS t USING (trace_id)
LEFT JOIN _pool_sums AS p USING (trace_id, driver)
LEFT JOIN _peaks AS k USING (trace_id, driver)
LEFT JOIN _active_code AS c USING (trace_id, driver)
UNION ALL
SELECT
    t.trace_id,
    '(total)',
    coalesce((SELECT sum(nonpaged_impacting_bytes) FROM _pool_sums AS p
              WHERE p.trace_id = t.trace_id), 0)::BIGINT,
    coalesce((SELECT sum(paged_impacting_bytes) FROM _pool_sums AS p
              WHERE p.trace_id = t.trace_id), 0)::BIGINT,
    coalesce((SELECT nonpaged_transient_peak_bytes FROM _peaks AS k
              WHERE k.trace_id = t.trace_id AND k.driver = '(total)'), 0)::BIGINT,
    coalesce((SELECT nonpaged_peak_outstanding_bytes FROM _peaks AS k
              WHERE k.trace_id = t.trace_id AND k.driver = '(total)'), 0)::BIGINT,
    coalesce((SELECT sum(nonpaged_allocated_bytes) FROM _pool_sums AS p
              WHERE p.trace_id = t.trace_id), 0)::BIGINT,
    coalesce((SELECT sum(nonpaged_allocations) FROM _pool_sums AS p
              WHERE p.trace_id = t.trace_id), 0)::BIGINT,
    CASE WHEN t.has_resident_set THEN coalesce((SELECT sum(active_code_bytes) FROM _active_code AS c
              WHERE c.trace_id = t.trace_id), 0) END::BIGINT
FROM traces AS t;

-- driver_metrics: one row per trace, driver and metric that could be computed.
--   trace_id   the trace (traces.trace_id)
--   driver     driver name, (kernel), (unattributed), or (total) for all drivers together
--   metric     metric name (gate/metrics.py), e.g. nonpaged_impacting_bytes
--   value      the metric's value in its unit (bytes, or a count)
CREATE OR REPLACE TABLE driver_metrics AS
SELECT trace_id, driver, metric, value
FROM (
    UNPIVOT _metrics_wide
    ON nonpaged_impacting_bytes, paged_impacting_bytes, nonpaged_transient_peak_bytes,
       nonpaged_peak_outstanding_bytes, nonpaged_allocated_bytes, nonpaged_allocations,
       active_code_bytes
    INTO NAME metric VALUE value
);
