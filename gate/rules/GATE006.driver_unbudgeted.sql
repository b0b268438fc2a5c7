-- GATE006 driver.unbudgeted
-- A driver used pool memory or resident code but has no budget entry and there is no "*"
-- default. Outcome warn, or fail when the budgets say `unbudgeted: fail`.
-- Why: a new driver must not slip in unmeasured; this asks its owners for a budget.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE006' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    CAST(NULL AS DOUBLE) AS limit_value,
    b.value AS baseline_value,
    c.unbudgeted AS outcome,
    format('{} has no budget and there is no "*" default: {} is {}', m.driver, m.metric,
           fmt_value(m.metric, m.value)) AS message
FROM driver_metrics_aggregated AS m
CROSS JOIN cfg_rules AS c
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE m.metric = 'nonpaged_impacting_bytes'
  AND NOT c.has_default
  AND m.driver NOT LIKE '(%'
  AND m.driver NOT IN (SELECT driver FROM budgeted_drivers)
  AND EXISTS (
      SELECT 1 FROM driver_metrics_aggregated AS u
      WHERE u.driver = m.driver AND u.value > 0
        AND u.metric IN ('nonpaged_allocated_bytes', 'paged_impacting_bytes', 'active_code_bytes')
  )
