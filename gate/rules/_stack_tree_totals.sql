-- What each wanted stack tree covers (gate/rules/trees.py): all its allocations, and the
-- bytes of those whose driver came from a tag (a tag rule or pooltag.txt) rather than from a
-- stack, which no tree can show. Not a rule.
SELECT driver, kind, count(*) AS allocations, sum(weight_bytes)::BIGINT AS size_bytes,
       coalesce(sum(weight_bytes) FILTER (WHERE attribution <> 'stack'), 0)::BIGINT
           AS without_stack_bytes
FROM _tree_chosen
GROUP BY driver, kind
ORDER BY driver, kind
