-- Evidence for reports: where a driver's pool memory comes from, over all traces in the window.
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
