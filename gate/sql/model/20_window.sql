-- Classification of each allocation against the evaluation window (metrics.md, table
-- "Classification against the window"): AIFI, AIFO, AOFI, AOFO.
--
-- The window is cfg_window(start_s, end_s), closed at both ends; NULL means unbounded, which is
-- the default "whole trace". Allocations made after the window or freed before it do not take
-- part and are left out.

-- allocations_windowed: the allocations that take part in the window, classified.
--   trace_id, alloc_seq, alloc_s, free_seq, free_s, free_kind, pool_type, paged, session, nx,
--   tag, size_bytes, address, session_id, stack_id, driver, attribution, call_site
--                           as in allocations
--   window_type             AIFI | AIFO | AOFI | AOFO (Allocated Inside/Outside the window,
--                           Freed Inside/Outside it)
--   nonpaged                non-paged pool: pool_type & 1 = 0, session or not
--   impacting_delta_bytes   effect on impacting bytes: +size for AIFO, -size for AOFI, else 0
--   allocated_inside        allocated inside the window (AIFI or AIFO): counts toward the
--                           allocated bytes and count
CREATE OR REPLACE TABLE allocations_windowed AS
SELECT
    c.*,
    CASE c.window_type WHEN 'AIFO' THEN c.size_bytes WHEN 'AOFI' THEN -c.size_bytes ELSE 0 END
        AS impacting_delta_bytes,
    c.window_type IN ('AIFI', 'AIFO') AS allocated_inside
FROM (
    SELECT
        a.*,
        CASE WHEN a.alloc_s >= coalesce(w.start_s, '-infinity'::DOUBLE) THEN 'AI' ELSE 'AO' END
        || CASE WHEN a.free_s IS NOT NULL AND a.free_s <= coalesce(w.end_s, 'infinity'::DOUBLE)
                THEN 'FI' ELSE 'FO' END AS window_type,
        NOT a.paged AS nonpaged
    FROM allocations AS a, cfg_window AS w
    WHERE a.alloc_s <= coalesce(w.end_s, 'infinity'::DOUBLE)
      AND (a.free_s IS NULL OR a.free_s >= coalesce(w.start_s, '-infinity'::DOUBLE))
) AS c;
