"""The stack trees' query (gate/rules/_stack_tree.sql) against its first form, which ranked
every frame by a window, on random stacks: the same nodes, bytes and order."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from gate.rules.results import FOLDED_FRAMES
from gate.store.store import split_statements, sql_text

# The first form: the driver's outermost frame found by a window over every named frame.
REFERENCE = """
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
"""

MODULES = ("a.sys", "b.sys", "c.sys", "ntoskrnl.exe", "")


def _store(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> None:
    """Random stacks of 1-12 frames over a few modules, named three ways, and the chosen
    allocations of two kinds, some attributed by tag."""
    for statement in split_statements(sql_text("gate.store", "schema.sql")):
        con.execute(statement).fetchall()
    con.execute(
        "CREATE TABLE _stack_attribution (trace_id INTEGER, stack_id BIGINT, module VARCHAR, "
        "frame_index INTEGER, call_site VARCHAR)"
    ).fetchall()
    con.execute(
        "CREATE TABLE _tree_chosen (driver VARCHAR, kind VARCHAR, trace_id INTEGER, "
        "stack_id BIGINT, attribution VARCHAR, weight_bytes BIGINT)"
    ).fetchall()
    frames, sites, chosen = [], [], []
    for trace_id in (1, 2):
        for stack_id in range(int(rng.integers(1, 60))):
            n = int(rng.integers(1, 13))
            modules = [MODULES[int(rng.integers(0, len(MODULES)))] for _ in range(n)]
            for i, module in enumerate(modules):
                rva = int(rng.integers(0, 64)) if module and rng.random() < 0.9 else None
                function = f"f{int(rng.integers(0, 5))}" if module and rng.random() < 0.3 else None
                address = int(rng.integers(0, 1 << 40))
                frames.append(
                    (trace_id, stack_id, i, address, MODULES.index(module), rva, function)
                )
            kept = [i for i, m in enumerate(modules) if m.endswith(".sys")]
            if not kept:
                continue
            driver = modules[kept[0]]
            sites.append((trace_id, stack_id, driver, kept[0], None))
            for _ in range(int(rng.integers(1, 4))):
                kind = ("impacting", "transient")[int(rng.integers(0, 2))]
                how = "stack" if rng.random() < 0.85 else "tag-rule"
                weight = int(rng.integers(-3000, 5000))
                chosen.append((driver, kind, trace_id, stack_id, how, weight))
    modules = [(t, i, m) for t in (1, 2) for i, m in enumerate(MODULES)]
    for table, rows in (
        ("stack_frame_rows", frames),
        ("frame_modules", modules),
        ("_stack_attribution", sites),
        ("_tree_chosen", chosen),
    ):
        if rows:
            marks = ", ".join(["(" + ", ".join("?" * len(rows[0])) + ")"] * len(rows))
            flat = [v for row in rows for v in row]
            con.execute(f"INSERT INTO {table} VALUES {marks}", flat).fetchall()
    # The frames view of the model, as 10_attribution.sql declares it.
    model = sql_text("gate.sql", "model/10_attribution.sql")
    view = next(s for s in split_statements(model) if "VIEW frames" in s)
    con.execute(view).fetchall()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("depth", "min_bytes"), [(1 << 30, 1), (2, 1), (12, 2000)])
def test_trees_query_matches_its_first_form(seed: int, depth: int, min_bytes: int) -> None:
    con = duckdb.connect()
    _store(con, np.random.default_rng(seed))
    params = {"folded": FOLDED_FRAMES, "depth": depth, "min_bytes": min_bytes}
    new = con.execute(sql_text("gate.rules", "_stack_tree.sql"), params).fetchall()
    old = con.execute(REFERENCE, params).fetchall()
    assert new == old
    if depth > 2 and min_bytes == 1:
        assert any(row[2][0] == FOLDED_FRAMES for row in new)  # callers were folded
