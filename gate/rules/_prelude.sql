-- Helpers every rule may use. Not a rule: files starting with '_' are run first.

-- fmt_value(metric, value) is registered by the runner (gate.rules.runner.prepare) so that
-- rule messages print sizes exactly as the reports do.

-- The noise tolerance of a baseline comparison (metrics.md, "Baseline tolerance"): the larger
-- of a percentage of the baseline and an absolute floor. The floor is in bytes, so it applies
-- to byte metrics only.
CREATE OR REPLACE MACRO tolerance_of(metric, baseline, percent, floor_bytes) AS
    greatest(percent * baseline,
             CASE WHEN metric LIKE '%\_bytes' ESCAPE '\' THEN floor_bytes ELSE 0 END);
