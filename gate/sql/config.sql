-- The run's configuration, as the SQL model reads it. `gate.sql.build_model` creates these
-- tables and fills them from the budgets and the command line (bound parameters, never text
-- pasted into SQL), then runs the model files in order.

-- cfg_window: the evaluation window (metrics.md, "Time and the window"), one row.
CREATE OR REPLACE TABLE cfg_window (
    start_s DOUBLE,                     -- window start in seconds from trace start; NULL: open
    end_s DOUBLE,                       -- window end; NULL: open (to the end of the trace)
    label VARCHAR NOT NULL              -- as reports print it: 0s..30s, 5s.., whole trace
);

-- cfg_run: how the run aggregates over traces, one row.
CREATE OR REPLACE TABLE cfg_run (
    aggregate VARCHAR NOT NULL          -- max, median, mean or min
);

-- cfg_skip_modules: images a stack walk looks past to find the allocating driver.
CREATE OR REPLACE TABLE cfg_skip_modules (
    module VARCHAR NOT NULL             -- lower-case image file name, e.g. ntoskrnl.exe
);

-- cfg_tag_rules: the budgets' attribution tag patterns, which decide before the stack walk.
CREATE OR REPLACE TABLE cfg_tag_rules (
    priority INTEGER NOT NULL,          -- 0 first: the order the budget files give them in
    pattern VARCHAR NOT NULL,           -- tag pattern with * and ? wildcards (GLOB)
    driver VARCHAR NOT NULL             -- the driver the matching tags belong to
);

-- cfg_pooltag: pooltag.txt entries, the last attribution rule before (kernel)/(unattributed).
CREATE OR REPLACE TABLE cfg_pooltag (
    priority INTEGER NOT NULL,          -- exact entries 0, wildcard entries 1, 2, ... in file order
    pattern VARCHAR NOT NULL,           -- the tag, or a tag pattern with wildcards
    driver VARCHAR NOT NULL,            -- the driver pooltag.txt names for it
    exact BOOLEAN NOT NULL              -- whether pattern is a plain tag
);
