-- Evidence for reports: where a driver's pool memory comes from, over all traces in the window,
-- and what is live at its transient peak.
-- pool is 'nonpaged' or 'paged'; impacting_bytes follows the impacting definition.

-- driver_tags: per driver, pool and tag.
--   driver            driver name, (kernel) or (unattributed)
--   pool              nonpaged | paged
--   tag               pool tag
--   impacting_bytes   the tag's share of the driver's impacting bytes (AIFO - AOFI)
--   allocated_bytes   bytes allocated inside the window
--   allocations       allocations made inside the window
CREATE OR REPLACE TABLE driver_tags AS
SELECT
    driver,
    CASE WHEN nonpaged THEN 'nonpaged' ELSE 'paged' END AS pool,
    tag,
    sum(impacting_delta_bytes)::BIGINT AS impacting_bytes,
    coalesce(sum(size_bytes) FILTER (WHERE allocated_inside), 0)::BIGINT AS allocated_bytes,
    count(*) FILTER (WHERE allocated_inside) AS allocations
FROM allocations_windowed
GROUP BY ALL;

-- driver_call_sites: per driver, pool and attributing frame (only stack-attributed rows).
--   driver            driver name
--   pool              nonpaged | paged
--   call_site         the attributing frame: 'module!function' or 'module+0xRVA'
--   impacting_bytes   the call site's share of the driver's impacting bytes
--   allocated_bytes   bytes allocated inside the window
--   allocations       allocations made inside the window
CREATE OR REPLACE TABLE driver_call_sites AS
SELECT
    driver,
    CASE WHEN nonpaged THEN 'nonpaged' ELSE 'paged' END AS pool,
    call_site,
    sum(impacting_delta_bytes)::BIGINT AS impacting_bytes,
    coalesce(sum(size_bytes) FILTER (WHERE allocated_inside), 0)::BIGINT AS allocated_bytes,
    count(*) FILTER (WHERE allocated_inside) AS allocations
FROM allocations_windowed
WHERE call_site IS NOT NULL
GROUP BY ALL;

-- driver_peak_moments: when each driver's transient peak is reached, in the trace where it is
-- highest (the first such trace): the moment whose live allocations explain the peak.
--   driver        driver name, (kernel) or (unattributed)
--   trace_id      the trace of the highest transient peak
--   peak_bytes    that trace's nonpaged_transient_peak_bytes for the driver
--   peak_s        the time the peak is reached, seconds from trace start
--   peak_seq      trace order of the allocation that reached it
CREATE OR REPLACE TABLE driver_peak_moments AS
SELECT p.driver, p.trace_id, p.nonpaged_transient_peak_bytes AS peak_bytes, a.alloc_s AS peak_s,
       p.peak_seq
FROM _peaks AS p
JOIN pool_allocations AS a ON a.trace_id = p.trace_id AND a.alloc_seq = p.peak_seq
WHERE p.peak_seq IS NOT NULL AND p.driver <> '(total)'
QUALIFY row_number() OVER (
    PARTITION BY p.driver ORDER BY p.nonpaged_transient_peak_bytes DESC, p.trace_id
) = 1;

-- The transient allocations live at each driver's peak moment: allocated at or before the
-- allocation that reached the peak (in trace order) and freed after it.
CREATE OR REPLACE TABLE _peak_live AS
SELECT w.driver, w.tag, w.call_site, w.size_bytes, w.trace_id, w.stack_id, w.attribution
FROM allocations_windowed AS w
JOIN driver_peak_moments AS m ON m.trace_id = w.trace_id AND m.driver = w.driver
WHERE w.nonpaged AND w.window_type = 'AIFI'
  AND (w.alloc_s < m.peak_s OR (w.alloc_s = m.peak_s AND w.alloc_seq <= m.peak_seq))
  AND (w.free_s > m.peak_s OR (w.free_s = m.peak_s AND w.free_seq > m.peak_seq));

-- driver_peak_tags: the tags of the allocations live at each driver's transient peak.
--   driver            driver name, (kernel) or (unattributed)
--   pool              nonpaged (the transient peak is a non-paged figure)
--   tag               pool tag
--   impacting_bytes   0: these allocations are transient
--   allocated_bytes   bytes of the tag live at the peak
--   allocations       allocations of the tag live at the peak
CREATE OR REPLACE TABLE driver_peak_tags AS
SELECT driver, 'nonpaged' AS pool, tag, 0::BIGINT AS impacting_bytes,
       sum(size_bytes)::BIGINT AS allocated_bytes, count(*) AS allocations
FROM _peak_live
GROUP BY driver, tag;

-- driver_peak_call_sites: the call sites of the allocations live at each driver's transient
-- peak (stack-attributed ones).
--   driver            driver name
--   pool              nonpaged
--   call_site         the attributing frame: 'module!function' or 'module+0xRVA'
--   impacting_bytes   0: these allocations are transient
--   allocated_bytes   bytes from the call site live at the peak
--   allocations       allocations from the call site live at the peak
CREATE OR REPLACE TABLE driver_peak_call_sites AS
SELECT driver, 'nonpaged' AS pool, call_site, 0::BIGINT AS impacting_bytes,
       sum(size_bytes)::BIGINT AS allocated_bytes, count(*) AS allocations
FROM _peak_live
WHERE call_site IS NOT NULL
GROUP BY driver, call_site;
