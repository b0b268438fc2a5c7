-- Evidence for the checks a reader must look at (gate/rules/evidence.py), all in one query: per
-- wanted check, the driver's top pool tags and top call sites, from the whole window (the
-- metric's pool, ranked by its evidence figure; rows that do not move the figure left out) or
-- from the allocations live at the driver's transient peak, then by name. $1 is how many of
-- each kind. Each row also carries the sums over all rows of its kind (kept or not), so that
-- a baseline can record what the top rows leave out. Not a rule: files starting with '_' are
-- helpers.
WITH ranked AS (
    SELECT w.driver, w.metric, e.kind, e.name, e.impacting_bytes, e.allocated_bytes,
           e.allocations,
           CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                           ELSE e.allocated_bytes END AS figure
    FROM _evidence_wanted AS w
    JOIN _evidence_rows AS e ON e.driver = w.driver AND e.pool = w.pool AND e.source = w.source
    WHERE CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes <> 0
                          ELSE e.allocated_bytes <> 0 OR e.allocations <> 0 END
)
SELECT driver, metric, kind, name, impacting_bytes, allocated_bytes, allocations,
       sum(figure) OVER kind_rows AS kind_figure,
       sum(allocations) OVER kind_rows AS kind_allocations,
       count(*) OVER kind_rows AS kind_count
FROM ranked
WINDOW kind_rows AS (PARTITION BY driver, metric, kind)
QUALIFY row_number() OVER (PARTITION BY driver, metric, kind ORDER BY figure DESC, name) <= $1
ORDER BY driver, metric, kind, figure DESC, name
