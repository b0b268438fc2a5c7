-- Evidence for the checks a reader must look at (gate/rules/judge.py), all in one query: per
-- wanted check, the driver's top pool tags and top call sites, from the whole window (the
-- metric's pool, ranked by its evidence figure; rows that do not move the figure left out) or
-- from the allocations live at the driver's transient peak, then by name. $1 is how many of
-- each kind. Not a rule: files starting with '_' are helpers.
SELECT w.driver, w.metric, e.kind, e.name, e.impacting_bytes, e.allocated_bytes, e.allocations
FROM _evidence_wanted AS w
JOIN (
    SELECT 'window' AS source, 'tag' AS kind, driver, pool, tag AS name, impacting_bytes,
           allocated_bytes, allocations
    FROM driver_tags
    UNION ALL
    SELECT 'window', 'site', driver, pool, call_site, impacting_bytes, allocated_bytes,
           allocations
    FROM driver_call_sites
    UNION ALL
    SELECT 'peak', 'tag', driver, pool, tag, impacting_bytes, allocated_bytes, allocations
    FROM driver_peak_tags
    UNION ALL
    SELECT 'peak', 'site', driver, pool, call_site, impacting_bytes, allocated_bytes,
           allocations
    FROM driver_peak_call_sites
) AS e ON e.driver = w.driver AND e.pool = w.pool AND e.source = w.source
WHERE CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes <> 0
                      ELSE e.allocated_bytes <> 0 OR e.allocations <> 0 END
QUALIFY row_number() OVER (
    PARTITION BY w.driver, w.metric, e.kind
    ORDER BY CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                             ELSE e.allocated_bytes END DESC, e.name
) <= $1
ORDER BY w.driver, w.metric, e.kind,
    CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                    ELSE e.allocated_bytes END DESC, e.name
