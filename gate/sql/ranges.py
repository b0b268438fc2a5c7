"""The model's one range check: every byte figure it builds fits the BIGINT it is kept in.

The metrics, the peaks (numpy int64 running sums) and the evidence tables are sums of
allocation and resident-page sizes, in part with a minus sign. Each such sum is bounded by
the sum of the sizes' absolute values over what it adds up; so when, per driver over all
traces and per trace over all drivers, the absolute sizes add up to at most 2**63 - 1, no
figure overflows. Real boots are nowhere near (8 EiB); a trace that gets there has sizes that
cannot be right, and is refused with its file and the driver, before any sum is taken.
"""

from __future__ import annotations

import duckdb

from gate.errors import InputError
from gate.units import format_bytes

BIGINT_MAX = (1 << 63) - 1

# Absolute sizes per trace and driver, summed in HUGEINT (which cannot overflow here: at most
# 2**64 per row, far fewer than 2**63 rows). The first level that passes BIGINT_MAX names the
# trace and driver: one driver in one trace, then one trace's drivers together, then one
# driver over all traces (the evidence tables add those up).
_SQL = """
WITH per AS (
    SELECT trace_id, driver, sum(abs(size_bytes::HUGEINT)) AS bytes
    FROM (
        SELECT trace_id, driver, size_bytes FROM allocations_windowed
        UNION ALL
        SELECT trace_id, driver, size_bytes FROM resident_pages
    )
    GROUP BY trace_id, driver
),
levels AS (
    SELECT 1 AS level, trace_id, driver, bytes FROM per
    UNION ALL
    SELECT 2, trace_id, arg_max(driver, bytes), sum(bytes) FROM per GROUP BY trace_id
    UNION ALL
    SELECT 3, min(trace_id), driver, sum(bytes) FROM per GROUP BY driver
)
SELECT l.level, t.source_path, l.driver, l.bytes::VARCHAR
FROM levels AS l JOIN traces AS t USING (trace_id)
WHERE l.bytes > $max
ORDER BY l.level, l.trace_id, l.driver
LIMIT 1
"""


def refuse_overflowing_sums(con: duckdb.DuckDBPyConnection) -> None:
    """Raise `InputError` (file and driver) when a byte figure of the model would pass 2**63 - 1."""
    row = con.execute(_SQL, {"max": BIGINT_MAX}).fetchone()
    if row is None:
        return
    level, source, driver, total = row
    limit = f"past the {format_bytes(BIGINT_MAX)} (2**63 - 1 bytes) a figure can hold"
    if level == 1:
        what = f"driver {driver!r}: its pool allocations and resident pages add up to {total} bytes"
    elif level == 2:
        what = (
            f"the drivers' pool allocations and resident pages add up to {total} bytes "
            f"(the most: driver {driver!r})"
        )
    else:
        what = (
            f"driver {driver!r}: its pool allocations and resident pages over all traces add "
            f"up to {total} bytes"
        )
    raise InputError(f"{source}: {what}, {limit}: these sizes cannot be right")
