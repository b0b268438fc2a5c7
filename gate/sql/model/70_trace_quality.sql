-- Trace quality: the facts about each trace that the trace-quality rules judge (GATE009,
-- GATE010): what the logger lost and what the pairing of pool events found odd.

-- trace_quality: per trace, the facts the trace-quality rules judge.
--   trace_id           the trace (traces.trace_id)
--   source_path        the file or folder the trace came from
--   events_lost        events the logger dropped
--   buffers_lost       buffers the logger dropped
--   pool_allocations   pool allocations in the trace
--   unmatched_frees    frees whose allocation is not in the trace
--   lost_frees         allocations closed by a reallocation at their address
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
     WHERE a.trace_id = t.trace_id AND a.free_kind = 'lost') AS lost_frees
FROM traces AS t;
