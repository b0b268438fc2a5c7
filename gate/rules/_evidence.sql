-- Evidence for the checks a reader must look at (gate/rules/judge.py), all in one query: per
-- wanted check, the driver's top pool tags and top call sites in the metric's pool, ranked by
-- the metric's evidence figure, then by name. $1 is how many of each kind.
-- Not a rule: files starting with '_' are helpers.
SELECT w.driver, w.metric, e.kind, e.name, e.impacting_bytes, e.allocated_bytes, e.allocations
FROM _evidence_wanted AS w
JOIN (
    SELECT 'tag' AS kind, driver, pool, tag AS name, impacting_bytes, allocated_bytes,
           allocations
    FROM driver_tags
    UNION ALL
    SELECT 'site', driver, pool, call_site, impacting_bytes, allocated_bytes, allocations
    FROM driver_call_sites
) AS e ON e.driver = w.driver AND e.pool = w.pool
QUALIFY row_number() OVER (
    PARTITION BY w.driver, w.metric, e.kind
    ORDER BY CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                             ELSE e.allocated_bytes END DESC, e.name
) <= $1
ORDER BY w.driver, w.metric, e.kind,
    CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                    ELSE e.allocated_bytes END DESC, e.name
