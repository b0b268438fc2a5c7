-- GATE008 metric.unavailable
-- A budgeted metric that no trace can provide, e.g. active_code_bytes from traces without
-- resident-set data. Reported as not evaluated, never as 0.
-- Why: a budget that cannot be checked must be visible, not a silent pass.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE008' AS rule_id,
    l.driver,
    l.metric,
    CAST(NULL AS DOUBLE) AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'not_evaluated' AS outcome,
    CASE WHEN l.metric = 'active_code_bytes'
         THEN format('{}: no trace has resident-set data (record with the Resident Set profile)',
                     l.metric)
         ELSE format('{}: no trace provides this metric', l.metric) END AS message
FROM budget_limits AS l
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE (l.driver = '(total)' OR l.driver IN (SELECT driver FROM driver_presence))
  AND NOT EXISTS (
      SELECT 1 FROM driver_metrics_aggregated AS m
      WHERE m.driver = l.driver AND m.metric = l.metric
  )
