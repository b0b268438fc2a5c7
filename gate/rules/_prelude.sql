-- Helpers every rule may use. Not a rule: files starting with '_' are run first.

-- A metric value in the unit its name says: binary bytes for *_bytes, a plain count otherwise.
CREATE OR REPLACE MACRO fmt_value(metric, v) AS
    CASE WHEN v IS NULL THEN 'n/a'
         WHEN metric LIKE '%\_bytes' ESCAPE '\' THEN format_bytes(v::BIGINT)
         ELSE format('{:,}', v::BIGINT) END;

-- The noise tolerance of a baseline comparison (metrics.md, "Baseline tolerance"): the larger
-- of a percentage of the baseline and an absolute floor. The floor is in bytes, so it applies
-- to byte metrics only.
CREATE OR REPLACE MACRO tolerance_of(metric, baseline, percent, floor_bytes) AS
    greatest(percent * baseline,
             CASE WHEN metric LIKE '%\_bytes' ESCAPE '\' THEN floor_bytes ELSE 0 END);
