-- The allocations behind each wanted stack tree (gate/rules/trees.py, _tree_wanted), with
-- their weights; read by _stack_tree.sql and _stack_tree_totals.sql. Not a rule.
--
-- kind 'impacting': non-paged allocations that move the impacting bytes, each weighing its
-- impacting_delta_bytes (+size AIFO, -size AOFI); kind 'transient': the allocations live at
-- the driver's transient peak (_peak_live), each weighing its size.

-- _tree_chosen: one row per allocation of a wanted tree.
--   driver         the tree's driver
--   kind           impacting | transient
--   trace_id       the allocation's trace
--   stack_id       its stack, NULL when none was logged
--   attribution    the rule that chose its driver (allocations.attribution)
--   weight_bytes   what it adds to the tree's bytes
CREATE OR REPLACE TEMP TABLE _tree_chosen AS
SELECT w.driver, 'impacting' AS kind, w.trace_id, w.stack_id, w.attribution,
       w.impacting_delta_bytes AS weight_bytes
FROM allocations_windowed AS w
JOIN _tree_wanted AS t ON t.driver = w.driver AND t.kind = 'impacting'
WHERE w.nonpaged AND w.impacting_delta_bytes <> 0
UNION ALL
SELECT p.driver, 'transient', p.trace_id, p.stack_id, p.attribution, p.size_bytes
FROM _peak_live AS p
JOIN _tree_wanted AS t ON t.driver = p.driver AND t.kind = 'transient';
