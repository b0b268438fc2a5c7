"""The peaks' running sums (gate/sql/peaks.py) against the SQL window that defines them."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from gate.sql.peaks import build_peaks, running_peaks
from gate.store.store import split_statements, sql_text

# The definition, as a window over the sweep events (metrics.md: peaks; events at the same
# time in trace order, a lost free's close before the reallocation).
WINDOW_PEAKS = """
SELECT trace_id, driver, max(o), max(tr) FROM (
    SELECT trace_id, driver,
           sum(delta_bytes) OVER w AS o,
           sum(CASE WHEN transient THEN delta_bytes ELSE 0 END) OVER w AS tr
    FROM _nonpaged_sweep
    WINDOW w AS (PARTITION BY trace_id, driver ORDER BY t, s, k ROWS UNBOUNDED PRECEDING))
GROUP BY ALL
UNION ALL
SELECT trace_id, '(total)', max(o), max(tr) FROM (
    SELECT trace_id,
           sum(delta_bytes) OVER w AS o,
           sum(CASE WHEN transient THEN delta_bytes ELSE 0 END) OVER w AS tr
    FROM _nonpaged_sweep
    WINDOW w AS (PARTITION BY trace_id ORDER BY t, s, k ROWS UNBOUNDED PRECEDING))
GROUP BY ALL
ORDER BY ALL
"""


def _sweep(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> None:
    """Random allocations per trace and driver, freed later or never, with time ties."""
    rows = []
    for trace_id in (1, 2, 3):
        n = int(rng.integers(0, 400))
        seqs = iter(rng.permutation(4 * n + 1).tolist())  # unique trace order numbers
        for _ in range(n):
            driver = f"d{int(rng.integers(0, 7))}.sys"
            size = int(rng.integers(1, 5000))
            t = float(rng.integers(0, 50)) / 4  # coarse times: many ties, ordered by s
            transient = bool(rng.integers(0, 2))
            rows.append((trace_id, driver, t, next(seqs), 1, size, transient))
            if transient:
                t_free = t + float(rng.integers(0, 8)) / 4
                rows.append((trace_id, driver, t_free, next(seqs), 0, -size, True))
    con.execute(
        "CREATE OR REPLACE TABLE _nonpaged_sweep (trace_id INTEGER, driver VARCHAR, t DOUBLE, "
        "s BIGINT, k INTEGER, delta_bytes BIGINT, transient BOOLEAN)"
    ).fetchall()
    if rows:
        names = ("trace_id", "driver", "t", "s", "k", "delta_bytes", "transient")
        columns = zip(names, zip(*rows, strict=True), strict=True)
        con.register("rows", {n: np.array(c) for n, c in columns})
        con.execute("INSERT INTO _nonpaged_sweep SELECT * FROM rows").fetchall()
    # The rest of 30_sweep.sql: the drivers' numbers and the empty _peaks table.
    for statement in split_statements(sql_text("gate.sql", "model/30_sweep.sql"))[1:]:
        con.execute(statement).fetchall()


@pytest.mark.parametrize("seed", range(8))
def test_running_sums_equal_the_window_definition(seed: int) -> None:
    con = duckdb.connect()
    _sweep(con, np.random.default_rng(seed))
    expected = con.execute(WINDOW_PEAKS).fetchall()
    build_peaks(con)
    got = con.execute(
        "SELECT trace_id, driver, nonpaged_peak_outstanding_bytes, nonpaged_transient_peak_bytes "
        "FROM _peaks ORDER BY ALL"
    ).fetchall()
    assert got == expected


def test_hand_computed_peaks() -> None:
    # driver 0: +100, +50, -50 (transient), +10: outstanding 150, transient 50
    # driver 1: +30 (transient), -30: outstanding 30, transient 30
    # total in order: 100, 130, 180, 150, 100, 110: outstanding 180; transient 30, 80, 50, 0
    ids = np.array([0, 1, 0, 1, 0, 0])
    delta = np.array([100, 30, 50, -30, -50, 10])
    transient = np.array([False, True, True, True, True, False])
    present, out, tr, total_out, total_tr, tr_at, total_tr_at = running_peaks(
        ids, delta, transient, 2
    )
    assert present.tolist() == [0, 1]
    # driver 0's transient sum is 50 from its 3rd event (index 2), driver 1's 30 from index 1;
    # over all drivers the transient sum first reaches 80 at index 2.
    assert tr_at.tolist() == [2, 1] and total_tr_at == 2
    assert out.tolist() == [150, 30]
    assert tr.tolist() == [50, 30]
    assert (total_out, total_tr) == (180, 80)


def test_no_events() -> None:
    present, out, tr, total_out, total_tr, _, total_at = running_peaks(
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), 0
    )
    assert total_at == -1
    assert len(present) == len(out) == len(tr) == 0
    assert (total_out, total_tr) == (0, 0)


@pytest.mark.parametrize("seed", range(4))
def test_the_transient_peak_is_placed_at_its_first_moment(seed: int) -> None:
    """peak_seq / peak_k name the sweep event after which the transient running sum first
    reaches its maximum, per driver and over all drivers, as a plain loop finds it."""
    con = duckdb.connect()
    _sweep(con, np.random.default_rng(seed))
    build_peaks(con)
    events = con.execute(
        "SELECT trace_id, driver, s, k, delta_bytes, transient FROM _nonpaged_sweep "
        "ORDER BY trace_id, t, s, k"
    ).fetchall()
    expected = {}
    for key_of in (lambda e: (e[0], e[1]), lambda e: (e[0], "(total)")):
        best: dict[tuple, tuple[int, object]] = {}
        running: dict[tuple, int] = {}
        for e in events:
            key = key_of(e)
            running[key] = running.get(key, 0) + (e[4] if e[5] else 0)
            if running[key] > best.get(key, (0, None))[0]:
                best[key] = (running[key], (e[2], e[3]))
        expected.update({k: v[1] for k, v in best.items()})
    got = {
        (t, d): (s, k)
        for t, d, s, k in con.execute(
            "SELECT trace_id, driver, peak_seq, peak_k FROM _peaks WHERE peak_seq IS NOT NULL"
        ).fetchall()
    }
    assert got == expected
