-- GATE010 trace.no_pool_events
-- A trace holds no pool allocation at all: it was not recorded with the Pool usage profile
-- (or pool tracing failed), so nothing can be judged. Always an error, never a pass.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE010' AS rule_id,
    q.source_path AS driver,
    'trace_quality' AS metric,
    CAST(0 AS DOUBLE) AS observed_value,
    CAST(NULL AS DOUBLE) AS limit_value,
    CAST(NULL AS DOUBLE) AS baseline_value,
    'error' AS outcome,
    format('{} has no pool allocation events: record it with the WPR Pool usage profile',
           q.source_path) AS message
FROM trace_quality AS q
WHERE q.pool_allocations = 0
