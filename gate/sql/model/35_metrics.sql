-- Per trace and driver metrics, continued: the table of metrics from the sums of
-- 30_metrics.sql and the peaks that gate/sql/peaks.py computed from its sweep events.
--
-- _peaks (trace_id, driver, nonpaged_peak_outstanding_bytes, nonpaged_transient_peak_bytes):
-- one row per trace and driver with sweep events, and one '(total)' row per trace, the peak
-- of the sum over all drivers.

DROP TABLE _nonpaged_sweep;

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
CREATE OR REPLACE TABLE driver_metrics AS
SELECT trace_id, driver, metric, value
FROM (
    UNPIVOT _metrics_wide
    ON nonpaged_impacting_bytes, paged_impacting_bytes, nonpaged_transient_peak_bytes,
       nonpaged_peak_outstanding_bytes, nonpaged_allocated_bytes, nonpaged_allocations,
       active_code_bytes
    INTO NAME metric VALUE value
);
