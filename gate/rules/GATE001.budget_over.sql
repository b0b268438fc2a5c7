-- GATE001 budget.over
-- A driver's metric is over its budget limit (metrics.md, Verdicts: fail when observed > limit).
-- Why: the limit is what the driver's owners agreed the driver may use; going over fails the PR.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE001' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'fail' AS outcome,
    format('{} {} is {}, over its limit of {}', m.driver, m.metric,
           fmt_value(m.metric, m.value), fmt_value(m.metric, l.limit_value)) AS message
FROM driver_metrics_aggregated AS m
JOIN budget_limits AS l USING (driver, metric)
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE m.driver <> '(total)' AND m.value > l.limit_value
