-- Pairs the staged pool events of one trace into allocations (metrics.md, "Allocations").
--
-- Each allocation is closed by the next event at the same address (and session for session
-- pool) in trace order: a free gives t_free; another allocation means the free was lost, and
-- the first allocation is closed at the second one's time. A free that follows no allocation
-- is an unmatched free (its allocation was made before tracing started).
-- Parameter $1: the trace id.

CREATE OR REPLACE TEMP TABLE _paired AS
SELECT
    seq, time_s, event, pool_type, tag, size_bytes, address, session_id, stack_id,
    lead(event) OVER w AS next_event,
    lead(seq) OVER w AS next_seq,
    lead(time_s) OVER w AS next_time_s,
    lag(event) OVER w AS prev_event
FROM _pool_events
WHERE trace_id = $1
WINDOW w AS (PARTITION BY address, session_id ORDER BY seq);

INSERT INTO pool_allocations
SELECT
    $1,
    seq,
    time_s,
    next_seq,
    next_time_s,
    CASE WHEN next_event IS NULL THEN 'none' WHEN next_event = 1 THEN 'freed' ELSE 'lost' END,
    pool_type,
    (pool_type & 1) <> 0,
    (pool_type & 32) <> 0,
    (pool_type & 512) <> 0,
    (pool_type & 268435456) <> 0,
    tag,
    size_bytes,
    address,
    CASE WHEN session_id >= 0 THEN session_id END,
    CASE WHEN stack_id >= 0 THEN stack_id END
FROM _paired
WHERE event = 0
ORDER BY seq;

INSERT INTO pool_unmatched_frees
SELECT $1, seq, time_s, pool_type, tag, size_bytes, address,
       CASE WHEN session_id >= 0 THEN session_id END
FROM _paired
WHERE event = 1 AND (prev_event IS NULL OR prev_event = 1)
ORDER BY seq;

DROP TABLE _paired;
DELETE FROM _pool_events WHERE trace_id = $1;
