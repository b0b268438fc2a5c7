-- GATE004 baseline.shrink
-- A budgeted metric shrank below the baseline by more than the tolerance (the metrics and the
-- tolerance as for GATE003).
-- Why: the improvement is real, so the baseline (or budget) can be tightened to keep it.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE004' AS rule_id,
    m.driver,
    m.metric,
    m.value AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'notice' AS outcome,
    format('{} {} shrank from {} to {}: update the baseline (gate baseline update) or tighten the budget',
           m.driver, m.metric, fmt_value(m.metric, b.value), fmt_value(m.metric, m.value))
        AS message
FROM driver_metrics_aggregated AS m
JOIN baseline_values AS b USING (driver, metric)
JOIN tolerances AS t USING (driver)
JOIN budget_limits AS l USING (driver, metric)
WHERE b.value - m.value > tolerance_of(m.metric, b.value, t.tolerance_percent,
                                       t.tolerance_min_bytes,
                                       t.tolerance_min_count)
