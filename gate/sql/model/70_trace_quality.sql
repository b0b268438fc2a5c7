-- Trace quality: the facts about each trace that the trace-quality rules judge (GATE009 to
-- GATE011): what the logger lost, what the pairing of pool events found odd, what the window
-- sees.

-- trace_quality: per trace, the facts the trace-quality rules judge.
--   trace_id            the trace (traces.trace_id)
--   source_path         the file or folder the trace came from
--   events_lost         events the logger dropped
--   buffers_lost        buffers the logger dropped
--   pool_allocations    pool allocations in the trace
--   unmatched_frees     frees whose allocation is not in the trace
--   lost_frees          allocations closed by a reallocation at their address
--   duration_s          the trace's duration in seconds
--   window_allocations  pool allocations that take part in the evaluation window
CREATE OR REPLACE TABLE trace_quality AS
SELECT
    t.trace_id,
    t.source_path,
    t.events_lost,
    t.buffers_lost,
    (SELECT count(*) FROM pool_allocations AS a WHERE a.trace_id = t.trace_id) AS pool_allocations,
    (SELECT count(*) FROM pool_unmatched_frees AS f WHERE f.trace_id = t.trace_id)
        AS unmatched_frees,
    (SELECT count(*) FROM pool_allocations AS a
     WHERE a.trace_id = t.trace_id AND a.free_kind = 'lost') AS lost_frees,
    t.duration_s,
    (SELECT count(*) FROM allocations_windowed AS w WHERE w.trace_id = t.trace_id)
        AS window_allocations
FROM traces AS t;
