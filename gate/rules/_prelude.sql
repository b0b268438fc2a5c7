-- Helpers every rule may use, derived from the model and the rule inputs (_inputs.sql).
-- Not a rule: files starting with '_' are run before the rules.

-- fmt_value(metric, value) is registered by the runner (gate.rules.runner.prepare) so that
-- rule messages print sizes exactly as the reports do.

-- The noise tolerance of a baseline comparison (metrics.md, "Baseline tolerance"): the larger
-- of a percentage of the baseline and an absolute floor, in bytes for byte metrics and in
-- units for counts (nonpaged_allocations).
CREATE OR REPLACE MACRO tolerance_of(metric, baseline, percent, floor_bytes, floor_count := 0) AS
    greatest(percent * baseline,
             CASE WHEN metric LIKE '%\_bytes' ESCAPE '\' THEN floor_bytes ELSE floor_count END);

-- The budget entry that applies to each driver: its own, else the "*" default. An own entry
-- replaces the default as a whole; (kernel) and (unattributed) only ever get their own. Every
-- measured driver with an entry, and every driver the budgets name (measured or not).
CREATE OR REPLACE VIEW _applicable_entry AS
SELECT m.driver, coalesce(own.driver, star.driver) AS entry
FROM (SELECT DISTINCT driver FROM driver_metrics_aggregated WHERE driver <> '(total)') AS m
LEFT JOIN budget_entries AS own ON own.driver = m.driver AND own.driver <> '*'
LEFT JOIN budget_entries AS star
    ON star.driver = '*' AND m.driver NOT IN ('(kernel)', '(unattributed)')
WHERE coalesce(own.driver, star.driver) IS NOT NULL
UNION
SELECT driver, driver FROM budget_entries WHERE driver <> '*';

-- budget_limits: the limit on each metric of each driver, and on each total.
--   driver        driver name, (kernel), (unattributed) or (total)
--   metric        metric name
--   limit_value   the limit, in the metric's unit
--   warn_at       warn from this fraction of the limit on
--   budget_file   where the limit is written
--   budget_line   its line
CREATE OR REPLACE VIEW budget_limits AS
SELECT a.driver, l.metric, l.limit_value, e.warn_at, l.budget_file, l.budget_line
FROM _applicable_entry AS a
JOIN budget_entries AS e ON e.driver = a.entry
JOIN budget_entry_limits AS l ON l.driver = a.entry
UNION ALL
SELECT '(total)', t.metric, t.limit_value, c.warn_at, t.budget_file, t.budget_line
FROM budget_totals AS t, cfg_budgets AS c;

-- tolerances: the baseline tolerance of each driver and of the totals.
--   driver                driver name, (kernel), (unattributed) or (total)
--   tolerance_percent     growth beyond this fraction of the baseline fails
--   tolerance_min_bytes   ... and beyond this many bytes (byte metrics)
--   tolerance_min_count   ... or beyond this count (count metrics)
CREATE OR REPLACE VIEW tolerances AS
SELECT a.driver, e.tolerance_percent, e.tolerance_min_bytes, e.tolerance_min_count
FROM _applicable_entry AS a
JOIN budget_entries AS e ON e.driver = a.entry
UNION ALL
SELECT d.driver, c.tolerance_percent, c.tolerance_min_bytes, c.tolerance_min_count
FROM (SELECT DISTINCT driver FROM driver_metrics_aggregated) AS d, cfg_budgets AS c
WHERE d.driver NOT IN (SELECT driver FROM _applicable_entry);

-- budgeted_drivers: the drivers the budgets name (not the "*" default).
--   driver   lower-case driver name
CREATE OR REPLACE VIEW budgeted_drivers AS
SELECT driver FROM budget_entries WHERE driver <> '*';

-- cfg_rules: settings the rules read, one row.
--   unbudgeted    warn | fail: the outcome for a driver with no budget and no default
--   has_default   whether the budgets have a "*" default entry
CREATE OR REPLACE VIEW cfg_rules AS
SELECT c.unbudgeted, EXISTS (SELECT 1 FROM budget_entries WHERE driver = '*') AS has_default
FROM cfg_budgets AS c;

-- _evidence_rows: every tag and call site of the model's evidence tables, labelled by where
-- it comes from (window: the whole window; peak: live at the transient peak) and its kind.
--   source, kind, driver, pool, name, impacting_bytes, allocated_bytes, allocations
CREATE OR REPLACE VIEW _evidence_rows AS
SELECT 'window' AS source, 'tag' AS kind, driver, pool, tag AS name, impacting_bytes,
       allocated_bytes, allocations
FROM driver_tags
UNION ALL
SELECT 'window', 'site', driver, pool, call_site, impacting_bytes, allocated_bytes, allocations
FROM driver_call_sites
UNION ALL
SELECT 'peak', 'tag', driver, pool, tag, impacting_bytes, allocated_bytes, allocations
FROM driver_peak_tags
UNION ALL
SELECT 'peak', 'site', driver, pool, call_site, impacting_bytes, allocated_bytes, allocations
FROM driver_peak_call_sites;
