-- What grew (gate/rules/evidence.py): for each check in _growth_wanted, the call sites and
-- tags whose share of the metric's evidence figure grew most over the baseline's, largest
-- growth first, $1 of each kind. A name the baseline's top rows do not hold has
-- baseline_bytes NULL; baseline_rest_bytes says whether the baseline left anything out, so
-- that "new" is said only when it is known. Not a rule.
WITH now AS (
    SELECT w.driver, w.metric, e.kind, e.name,
           CASE w.order_by WHEN 'impacting_bytes' THEN e.impacting_bytes
                           ELSE e.allocated_bytes END AS value_bytes
    FROM _growth_wanted AS w
    JOIN _evidence_rows AS e ON e.driver = w.driver AND e.pool = w.pool AND e.source = w.source
),
was AS (
    SELECT b.driver, b.metric, b.kind, b.name, b.value_bytes
    FROM baseline_evidence AS b
    JOIN _growth_wanted AS w ON w.driver = b.driver AND w.metric = b.metric
    WHERE NOT b.rest
),
rest AS (
    SELECT driver, metric, kind, sum(value_bytes) AS rest_bytes
    FROM baseline_evidence
    WHERE rest
    GROUP BY ALL
),
joined AS (
    SELECT coalesce(n.driver, w.driver) AS driver, coalesce(n.metric, w.metric) AS metric,
           coalesce(n.kind, w.kind) AS kind, coalesce(n.name, w.name) AS name,
           coalesce(n.value_bytes, 0) AS observed_bytes, w.value_bytes AS baseline_bytes
    FROM now AS n
    FULL OUTER JOIN was AS w
        ON w.driver = n.driver AND w.metric = n.metric AND w.kind = n.kind AND w.name = n.name
)
SELECT j.driver, j.metric, j.kind, j.name, j.observed_bytes::BIGINT, j.baseline_bytes::BIGINT,
       coalesce(r.rest_bytes, 0)::BIGINT AS baseline_rest_bytes
FROM joined AS j
LEFT JOIN rest AS r ON r.driver = j.driver AND r.metric = j.metric AND r.kind = j.kind
WHERE j.observed_bytes - coalesce(j.baseline_bytes, 0) > 0
QUALIFY row_number() OVER (
    PARTITION BY j.driver, j.metric, j.kind
    ORDER BY j.observed_bytes - coalesce(j.baseline_bytes, 0) DESC, j.name
) <= $1
ORDER BY j.driver, j.metric, j.kind, j.observed_bytes - coalesce(j.baseline_bytes, 0) DESC, j.name
