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
stack_frames_used AS (
    SELECT s.driver, s.kind, s.trace_id, s.stack_id, s.allocations, s.size_bytes,
           f.frame_index, f.frame, sa.frame_index AS site_index,
           max(f.frame_index) FILTER (WHERE f.module = s.driver)
               OVER (PARTITION BY s.driver, s.kind, s.trace_id, s.stack_id) AS outer_index
    FROM stacks AS s
    JOIN _stack_attribution AS sa ON sa.trace_id = s.trace_id AND sa.stack_id = s.stack_id
    JOIN frames AS f ON f.trace_id = s.trace_id AND f.stack_id = s.stack_id
),
paths AS (
    SELECT driver, kind, allocations, size_bytes,
           CASE WHEN bool_or(frame_index > outer_index) THEN [$folded] ELSE [] END
           || list(frame ORDER BY frame_index DESC)
                  FILTER (WHERE frame_index BETWEEN site_index AND outer_index) AS path
    FROM stack_frames_used
    GROUP BY driver, kind, trace_id, stack_id, allocations, size_bytes
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
