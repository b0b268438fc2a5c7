-- Classification of each allocation against the evaluation window (metrics.md, table
-- "Classification against the window"): AIFI, AIFO, AOFI, AOFO.
--
-- The window is cfg_window(start_s, end_s), closed at both ends; NULL means unbounded, which is
-- the default "whole trace". Allocations made after the window or freed before it do not take
-- part and are left out.

-- allocations_windowed: the allocations that take part in the window, classified.
CREATE OR REPLACE TABLE allocations_windowed AS
SELECT
    a.*,
    -- AIFI | AIFO | AOFI | AOFO (Allocated Inside/Outside, Freed Inside/Outside)
    CASE WHEN a.alloc_s >= coalesce(w.start_s, '-infinity'::DOUBLE) THEN 'AI' ELSE 'AO' END
    || CASE WHEN a.free_s IS NOT NULL AND a.free_s <= coalesce(w.end_s, 'infinity'::DOUBLE)
            THEN 'FI' ELSE 'FO' END AS window_type,
    -- WPA's impacting type: Transient (AIFI), Impacting (AIFO, AOFI), Persistent (AOFO)
    NOT a.paged AS nonpaged
FROM allocations AS a, cfg_window AS w
WHERE a.alloc_s <= coalesce(w.end_s, 'infinity'::DOUBLE)
  AND (a.free_s IS NULL OR a.free_s >= coalesce(w.start_s, '-infinity'::DOUBLE));
