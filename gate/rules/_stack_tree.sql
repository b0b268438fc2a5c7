-- Stack trees (gate/rules/trees.py): for each wanted (driver, kind) in _tree_wanted, the nodes
-- of the tree of its allocations' stacks, from the outermost frame in the driver down to the
-- attributing frame (the call site), frames above the driver's outermost one folded into one
-- node named $folded. Not a rule: files starting with '_' are helpers.
-- The allocations and their weights are _tree_chosen (_stack_tree_chosen.sql).
--
-- Parameters: $folded (the folded node's name), $depth (deepest level kept, the folded node
-- not counted), $min_bytes (nodes whose |bytes| are smaller are left out).
-- One row per kept node; `path` is the frames from the root down to the node, so that the
-- caller links each node to its parent (`path` without its last frame); own_bytes are those of
-- the allocations whose call site is the node itself.
WITH stacks AS (
    SELECT driver, kind, trace_id, stack_id, count(*) AS allocations,
           sum(weight_bytes) AS size_bytes
    FROM _tree_chosen
    WHERE attribution = 'stack'
    GROUP BY ALL
),
-- Per stack, the driver's outermost frame, from the frames' numbers alone: grouped once, not
-- ranked by a window over every frame with its text. A stack attributed by its frames
-- always has one in the driver's own module.
stack_spans AS (
    SELECT s.driver, s.kind, s.trace_id, s.stack_id, s.allocations, s.size_bytes,
           sa.frame_index AS site_index,
           max(f.frame_index) FILTER (WHERE f.module_id = dm.module_id) AS outer_index,
           max(f.frame_index) AS last_index
    FROM stacks AS s
    JOIN _stack_attribution AS sa ON sa.trace_id = s.trace_id AND sa.stack_id = s.stack_id
    JOIN frame_modules AS dm ON dm.trace_id = s.trace_id AND dm.module = s.driver
    JOIN stack_frame_rows AS f ON f.trace_id = s.trace_id AND f.stack_id = s.stack_id
    GROUP BY ALL
),
-- Only the frames from the call site out to that frame are named.
paths AS (
    SELECT p.driver, p.kind, p.allocations, p.size_bytes,
           CASE WHEN p.last_index > p.outer_index THEN [$folded] ELSE [] END
           || list(f.frame ORDER BY f.frame_index DESC) AS path
    FROM stack_spans AS p
    JOIN frames AS f
      ON f.trace_id = p.trace_id AND f.stack_id = p.stack_id
     AND f.frame_index BETWEEN p.site_index AND p.outer_index
    GROUP BY p.driver, p.kind, p.trace_id, p.stack_id, p.allocations, p.size_bytes,
             p.last_index, p.outer_index
),
distinct_paths AS (
    SELECT driver, kind, path, sum(allocations) AS allocations, sum(size_bytes) AS size_bytes
    FROM paths
    GROUP BY ALL
),
nodes AS (
    SELECT driver, kind, path[1:k] AS path, k - CASE WHEN path[1] = $folded THEN 1 ELSE 0 END
               AS depth,
           sum(allocations) AS allocations, sum(size_bytes) AS size_bytes,
           coalesce(sum(size_bytes) FILTER (WHERE k = len(path)), 0) AS own_bytes
    FROM (SELECT *, unnest(generate_series(1, len(path))) AS k FROM distinct_paths)
    GROUP BY ALL
)
SELECT driver, kind, path, allocations::BIGINT, size_bytes::BIGINT, own_bytes::BIGINT
FROM nodes
WHERE depth <= $depth AND abs(size_bytes) >= $min_bytes
ORDER BY driver, kind, len(path), size_bytes DESC, path
