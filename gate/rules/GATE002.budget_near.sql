-- GATE002 budget.near
-- A driver's (or the total's) metric is within its limit but at or above warn_at x limit.
-- Why: a warning while there is still room gives the owners time to act before a PR fails.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE002' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'warn' AS outcome,
    format('{} {} is {}, {}% of its limit of {} (warns at {}%)', m.driver, m.metric,
           fmt_value(m.metric, m.value), round(100 * m.value / l.limit_value, 1),
           fmt_value(m.metric, l.limit_value), round(100 * l.warn_at, 1)) AS message
FROM driver_metrics_aggregated AS m
JOIN budget_limits AS l USING (driver, metric)
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE m.value <= l.limit_value
  AND l.limit_value > 0
  AND m.value >= l.warn_at * l.limit_value
