-- Evidence for reports: where a driver's pool memory comes from, over all traces in the window.
-- pool is 'nonpaged' or 'paged'; impacting_bytes follows the impacting definition.

-- driver_tags: per driver, pool and tag.
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

-- trace_quality: per trace, the facts the trace-quality rules judge.
CREATE OR REPLACE TABLE trace_quality AS
SELECT
    t.trace_id,
    t.source_path,
    t.events_lost,
    t.buffers_lost,
    (SELECT count(*) FROM pool_allocations AS a WHERE a.trace_id = t.trace_id) AS pool_allocations,
    (SELECT count(*) FROM pool_unmatched_frees AS f WHERE f.trace_id = t.trace_id)
        AS unmatched_frees,
    (SELECT count(*) FROM pool_allocations AS a
     WHERE a.trace_id = t.trace_id AND a.free_kind = 'lost') AS lost_frees
FROM traces AS t;
