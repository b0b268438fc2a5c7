-- GATE005 totals.over
-- The total over all drivers is over its limit (for peaks: the peak of the sum).
-- Why: many drivers each within budget can still add up to more than the system can afford.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE005' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'fail' AS outcome,
    format('total {} over all drivers is {}, over its limit of {}', m.metric,
           fmt_value(m.metric, m.value), fmt_value(m.metric, l.limit_value)) AS message
FROM driver_metrics_aggregated AS m
JOIN budget_limits AS l USING (driver, metric)
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE m.driver = '(total)' AND m.value > l.limit_value
