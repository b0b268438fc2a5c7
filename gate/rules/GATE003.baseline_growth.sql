-- GATE003 baseline.growth
-- A budgeted metric grew over the baseline by more than the tolerance:
-- observed - baseline > max(percent x baseline, the floor: min_bytes, or min_count for counts).
-- Why: a regression inside the budget still deserves a look; the absolute floor keeps
-- boot-to-boot noise from failing builds. Only metrics the budgets limit for the driver (its
-- own entry or the "*" default) are compared: nobody agreed to watch the others.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE003' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'fail' AS outcome,
    format('{} {} grew by +{} over its baseline of {} to {}, more than the tolerance of {}',
           m.driver, m.metric, fmt_value(m.metric, m.value - b.value), fmt_value(m.metric, b.value),
           fmt_value(m.metric, m.value),
           fmt_value(m.metric, tolerance_of(m.metric, b.value, t.tolerance_percent,
                                            t.tolerance_min_bytes, t.tolerance_min_count)))
        AS message
FROM driver_metrics_aggregated AS m
JOIN baseline_values AS b USING (driver, metric)
JOIN tolerances AS t USING (driver)
JOIN budget_limits AS l USING (driver, metric)
WHERE m.value - b.value > tolerance_of(m.metric, b.value, t.tolerance_percent,
                                       t.tolerance_min_bytes, t.tolerance_min_count)
