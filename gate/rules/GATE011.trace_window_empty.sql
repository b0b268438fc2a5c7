-- GATE011 trace.window_empty
-- The evaluation window holds nothing of a trace that has pool allocations: the window starts
-- after the trace ends, or no allocation of the trace takes part in it.
-- Why: a window that sees nothing would pass every budget; that is a mistake in the window,
-- never a pass.
-- Contract: rule_id, driver, metric, observed_value, limit_value, baseline_value, outcome, message
SELECT
    'GATE011' AS rule_id,
    q.source_path AS driver,
    'trace_quality' AS metric,
    CAST(q.window_allocations AS DOUBLE) AS observed_value,
    CAST(NULL AS DOUBLE) AS limit_value,
    CAST(NULL AS DOUBLE) AS baseline_value,
    'error' AS outcome,
    CASE WHEN w.start_s > q.duration_s
         THEN format('the window {} starts after {} ends ({} s): nothing to judge', w.label,
                     q.source_path, round(q.duration_s, 3))
         ELSE format('no pool allocation of {} takes part in the window {}: nothing to judge',
                     q.source_path, w.label) END AS message
FROM trace_quality AS q, cfg_window AS w
WHERE q.pool_allocations > 0
  AND (q.window_allocations = 0 OR coalesce(w.start_s > q.duration_s, false))
