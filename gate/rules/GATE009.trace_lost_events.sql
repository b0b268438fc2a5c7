-- GATE009 trace.lost_events
-- A trace lost events or buffers while recording: its figures may be too low.
-- Why: a gate must not pass on data it cannot trust without saying so.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE009' AS rule_id,
    q.source_path AS driver,
    'trace_quality' AS metric,
    CAST(q.events_lost + q.buffers_lost AS DOUBLE) AS observed_value,
    CAST(0 AS DOUBLE) AS limit_value,
    CAST(NULL AS DOUBLE) AS baseline_value,
    'warn' AS outcome,
    format('{} lost {:,} event(s) and {:,} buffer(s) while recording; figures may be too low',
           q.source_path, q.events_lost, q.buffers_lost) AS message
FROM trace_quality AS q
WHERE q.events_lost > 0 OR q.buffers_lost > 0
