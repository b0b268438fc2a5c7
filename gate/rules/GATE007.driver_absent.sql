-- GATE007 driver.absent
-- A driver with its own budget entry appears in no trace: its budget cannot be evaluated.
-- Why: a renamed or removed driver would otherwise pass silently forever.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE007' AS rule_id,
    l.driver,
    l.metric,
    CAST(NULL AS DOUBLE) AS observed_value,
    l.limit_value,
    b.value AS baseline_value,
    'not_evaluated' AS outcome,
    format('{} appears in none of the {} trace(s): not evaluated', l.driver,
           (SELECT count(*) FROM traces)) AS message
FROM budget_limits AS l
LEFT JOIN baseline_values AS b USING (driver, metric)
WHERE l.driver <> '(total)'
  AND l.driver NOT IN (SELECT driver FROM driver_presence)
