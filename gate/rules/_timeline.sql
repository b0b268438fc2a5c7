-- Timelines for the HTML report: each driver's non-paged pool over the boot of one trace, as
-- two step series (gate/rules/timelines.py defines them): the bytes of its live impacting
-- (AIFO, AOFI) and of its live transient (AIFI) allocations after each pool event, in trace
-- order; and the same over all drivers as '(total)'. Each series is reduced to a few points per
-- time bucket, every bucket's extremes kept exact.
-- Parameters: $detail (drivers drawn large), $detail_buckets, $overview_buckets.

-- The series to draw, one per driver with non-paged allocations in the window (persistent AOFO
-- ones never change, so they are not drawn), each from one trace: where the driver's transient
-- peak is highest (the moment its evidence describes), else the first trace it allocates in;
-- '(total)' from the trace of the highest total transient peak.
CREATE OR REPLACE TEMP TABLE _timeline_series AS
WITH present AS (
    SELECT driver, min(trace_id) AS first_trace
    FROM allocations_windowed
    WHERE nonpaged AND window_type <> 'AOFO'
    GROUP BY driver
), chosen AS (
    SELECT p.driver, coalesce(m.trace_id, p.first_trace) AS trace_id,
           CASE WHEN list_contains($detail, p.driver) THEN $detail_buckets
                ELSE $overview_buckets END AS buckets
    FROM present AS p LEFT JOIN driver_peak_moments AS m USING (driver)
    UNION ALL
    SELECT '(total)', coalesce(
               (SELECT trace_id FROM driver_metrics
                WHERE driver = '(total)' AND metric = 'nonpaged_transient_peak_bytes'
                ORDER BY value DESC, trace_id LIMIT 1),
               (SELECT min(first_trace) FROM present)),
           $detail_buckets
    WHERE EXISTS (SELECT 1 FROM present)
)
SELECT (row_number() OVER (ORDER BY c.driver))::INTEGER AS series_id, c.driver, c.trace_id,
       c.buckets::INTEGER AS buckets,
       greatest(coalesce(t.duration_s, 0), 0)::DOUBLE AS duration_s
FROM chosen AS c JOIN traces AS t USING (trace_id);

-- Pool events of the drawn allocations: +size when allocated (k = 1), -size when freed (k = 0,
-- so that a lost free, closed by the reallocation at its own sequence number, comes first).
-- Their order is (t, s, k) as in 30_sweep.sql, s and k taken as one key, seq = 2 s + k (one
-- sort key fewer for the window below).
CREATE OR REPLACE TEMP TABLE _timeline_pool_events AS
SELECT w.trace_id, w.driver,
       CASE e.k WHEN 1 THEN w.alloc_s ELSE w.free_s END AS t,
       CASE e.k WHEN 1 THEN w.alloc_seq ELSE w.free_seq END * 2 + e.k AS seq,
       CASE e.k WHEN 1 THEN w.size_bytes ELSE -w.size_bytes END AS delta_bytes,
       w.window_type = 'AIFI' AS transient
FROM allocations_windowed AS w, (VALUES (0), (1)) AS e(k)
WHERE w.nonpaged AND w.window_type <> 'AOFO' AND (e.k = 1 OR w.free_s IS NOT NULL);

-- The running sums after each event of each series, numbered n = 1, 2, ... in (t, seq) order,
-- and the series' time bucket of each (equal slices of 0 .. the trace's duration; later events
-- fall in the last). The two sums are taken as one 128-bit sum, impacting bytes times 2^64
-- (a product, since DuckDB refuses to shift a negative number)
-- plus transient bytes, and split again: DuckDB's window operator then runs one aggregate
-- instead of two (1.8 s instead of 6.7 s for 5.4 million events on a 2-core machine).
CREATE OR REPLACE TEMP TABLE _timeline_run AS
WITH events AS (
    SELECT s.series_id, s.buckets, s.duration_s, e.t, e.seq,
           CASE WHEN e.transient THEN e.delta_bytes::HUGEINT
                ELSE e.delta_bytes::HUGEINT * 18446744073709551616::HUGEINT END AS packed
    FROM _timeline_pool_events AS e
    JOIN _timeline_series AS s ON s.trace_id = e.trace_id AND s.driver = e.driver
    UNION ALL
    SELECT s.series_id, s.buckets, s.duration_s, e.t, e.seq,
           CASE WHEN e.transient THEN e.delta_bytes::HUGEINT
                ELSE e.delta_bytes::HUGEINT * 18446744073709551616::HUGEINT END
    FROM _timeline_pool_events AS e
    JOIN _timeline_series AS s ON s.trace_id = e.trace_id AND s.driver = '(total)'
), summed AS (
    SELECT series_id, t,
           CASE WHEN duration_s > 0
                THEN least(floor(greatest(t, 0) / duration_s * buckets), buckets - 1)::INTEGER
                ELSE 0 END AS bucket,
           sum(packed) OVER w AS packed_sum,
           row_number() OVER w AS n
    FROM events
    WINDOW w AS (PARTITION BY series_id ORDER BY t, seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), split AS (
    -- The low 64 bits as a signed number, so that a negative sum (a free seen before its
    -- allocation in odd input) still splits exactly.
    SELECT *, (((packed_sum + 9223372036854775808) & 18446744073709551615)
               - 9223372036854775808)::BIGINT AS transient_bytes
    FROM summed
)
SELECT series_id, n, t, bucket, ((packed_sum - transient_bytes) // 18446744073709551616::HUGEINT)::BIGINT
       AS impacting_bytes,
       transient_bytes
FROM split;

-- The points kept, per series and time bucket: the first and the last, the first highest and
-- the first lowest impacting and transient points, and the point after each highest one
-- (where the value it reached ends). A series' highest transient point is the first highest
-- of its bucket, so the peak keeps its exact time and value.
CREATE OR REPLACE TEMP TABLE _timeline_kept AS
WITH picks AS (
    SELECT series_id,
           min(n) AS first_n,
           max(n) AS last_n,
           arg_max(n, (impacting_bytes, -n)) AS hi_i,
           arg_min(n, (impacting_bytes, n)) AS lo_i,
           arg_max(n, (transient_bytes, -n)) AS hi_t,
           arg_min(n, (transient_bytes, n)) AS lo_t
    FROM _timeline_run
    GROUP BY series_id, bucket
)
SELECT DISTINCT series_id, n
FROM (
    SELECT series_id, unnest([first_n, last_n, hi_i, lo_i, hi_t, lo_t, hi_i + 1, hi_t + 1]) AS n
    FROM picks
);

-- What timelines.py reads: one row per kept point, in drawing order, and each series' number
-- of events; the per-event tables are let go (they hold every pool event twice).
CREATE OR REPLACE TEMP TABLE _timeline_points AS
SELECT r.series_id, r.n, r.t, r.impacting_bytes, r.transient_bytes
FROM _timeline_run AS r SEMI JOIN _timeline_kept AS k USING (series_id, n)
ORDER BY r.series_id, r.n;

CREATE OR REPLACE TEMP TABLE _timeline_events AS
SELECT s.series_id, coalesce(max(r.n), 0) AS events
FROM _timeline_series AS s LEFT JOIN _timeline_run AS r USING (series_id)
GROUP BY s.series_id;

DROP TABLE _timeline_run;
DROP TABLE _timeline_pool_events;
DROP TABLE _timeline_kept;
