-- What the rules judge against, besides the model: the budgets and the baseline, as tables.
-- Not a rule: files starting with '_' are run before the rules (this one first). The runner
-- fills these tables from the budget files and the baseline (gate/rules/inputs.py), with bound
-- parameters; `_prelude.sql` derives what applies to each driver.

-- budget_entries: one row per driver entry of the budget files, '*' for the default entry.
CREATE OR REPLACE TABLE budget_entries (
    driver VARCHAR NOT NULL,            -- lower-case driver name, or * for the default entry
    owner VARCHAR,                      -- who answers for the driver, NULL when not given
    warn_at DOUBLE NOT NULL,            -- the entry's warning threshold, a fraction of the limit
    tolerance_percent DOUBLE NOT NULL,  -- the entry's baseline tolerance, a fraction
    tolerance_min_bytes DOUBLE NOT NULL,  -- the entry's absolute tolerance floor in bytes
    tolerance_min_count DOUBLE NOT NULL,  -- the entry's absolute tolerance floor for counts
    budget_file VARCHAR NOT NULL,       -- the budget file of the entry
    budget_line INTEGER NOT NULL        -- the entry's line in it
);

-- budget_entry_limits: the limits each entry sets, one row per entry and metric.
CREATE OR REPLACE TABLE budget_entry_limits (
    driver VARCHAR NOT NULL,            -- the entry (budget_entries.driver), * for the default
    metric VARCHAR NOT NULL,            -- metric name (gate/metrics.py)
    limit_value DOUBLE NOT NULL,        -- the limit, in the metric's unit
    budget_file VARCHAR NOT NULL,       -- the budget file of the limit
    budget_line INTEGER NOT NULL        -- the limit's line in it
);

-- budget_totals: limits on the totals over all drivers.
CREATE OR REPLACE TABLE budget_totals (
    metric VARCHAR NOT NULL,            -- metric name (gate/metrics.py)
    limit_value DOUBLE NOT NULL,        -- the limit, in the metric's unit
    budget_file VARCHAR NOT NULL,       -- the budget file of the limit
    budget_line INTEGER NOT NULL        -- the limit's line in it
);

-- cfg_budgets: the budgets' settings for the whole run, one row.
CREATE OR REPLACE TABLE cfg_budgets (
    warn_at DOUBLE NOT NULL,            -- warning threshold of entries that set none, and totals
    tolerance_percent DOUBLE NOT NULL,  -- baseline tolerance where no entry sets one
    tolerance_min_bytes DOUBLE NOT NULL,  -- absolute tolerance floor where no entry sets one
    tolerance_min_count DOUBLE NOT NULL,  -- the same for counts
    unbudgeted VARCHAR NOT NULL         -- warn | fail: the outcome for a driver with no budget
);

-- baseline_values: the baseline's figures (gate baseline update, or --baseline-trace).
CREATE OR REPLACE TABLE baseline_values (
    driver VARCHAR NOT NULL,            -- driver name, (kernel), (unattributed) or (total)
    metric VARCHAR NOT NULL,            -- metric name (gate/metrics.py)
    value DOUBLE NOT NULL               -- the baseline's value, in the metric's unit
);

-- baseline_evidence: the baseline's top call sites and tags per driver and metric; one rest
-- row per (driver, metric, kind) recorded, also when nothing was left out, so that "recorded
-- and empty" differs from "not recorded" (a version 1 baseline records none).
CREATE OR REPLACE TABLE baseline_evidence (
    driver VARCHAR NOT NULL,            -- driver name
    metric VARCHAR NOT NULL,            -- metric name
    kind VARCHAR NOT NULL,              -- site | tag
    name VARCHAR NOT NULL,              -- the call site or tag; '' on the rest row
    value_bytes BIGINT NOT NULL,        -- its share of the metric's evidence figure
    allocations BIGINT NOT NULL,        -- allocations behind it
    rest BOOLEAN NOT NULL               -- the row sums what the top rows leave out
);

-- Internal: the checks whose growth the judge explains (gate/rules/evidence.py, _growth.sql).
CREATE OR REPLACE TABLE _growth_wanted (
    driver VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    source VARCHAR NOT NULL,            -- as in _evidence_wanted
    pool VARCHAR NOT NULL,
    order_by VARCHAR NOT NULL
);

-- Internal: the checks whose evidence the judge wants (gate/rules/judge.py, _evidence.sql).
CREATE OR REPLACE TABLE _evidence_wanted (
    driver VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    source VARCHAR NOT NULL,            -- window: the whole window; peak: live at the peak
    pool VARCHAR NOT NULL,              -- nonpaged | paged: which pool's rows explain it
    order_by VARCHAR NOT NULL           -- impacting_bytes | allocated_bytes: how they rank
);

-- Internal: the stack trees the pipeline wants (gate/rules/trees.py, _stack_tree*.sql).
CREATE OR REPLACE TABLE _tree_wanted (
    driver VARCHAR NOT NULL,
    kind VARCHAR NOT NULL               -- impacting | transient
);
