"""Interning call stacks: ids in order of first use, equal rows one id, collisions confirmed.

Every test runs twice: on the numpy path and, where numba is installed, on the compiled one.
"""

from __future__ import annotations

import numpy as np
import pytest

from gate.inputs.etl import intern


@pytest.fixture(params=["numpy", "compiled"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numpy":
        for name in ("_hash_rows", "_intern_rows", "_place_rows"):
            monkeypatch.setattr(intern, name, None)
    elif intern._intern_rows is None:
        pytest.skip("numba (the fast extra) is not installed")
    return str(request.param)


def csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    flat = np.array([w for r in rows for w in r], dtype=np.uint64)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    return flat, offsets


def reference_ids(rows: list[list[int]], known: dict[tuple[int, ...], int]) -> list[int]:
    out = []
    for r in rows:
        out.append(known.setdefault(tuple(r), len(known)))
    return out


def test_hashes_are_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, 2**63, size=int(n)).tolist() for n in rng.integers(0, 9, size=300)]
    flat, offsets = csr(rows)
    first = intern.csr_hashes(flat, offsets)
    monkeypatch.setattr(intern, "_hash_rows", None)
    assert np.array_equal(first, intern.csr_hashes(flat, offsets))


def test_hash_depends_on_order_length_and_words(path: str) -> None:
    flat, offsets = csr([[1, 2], [2, 1], [1, 2, 0], [1, 2], [], [0]])
    h = intern.csr_hashes(flat, offsets).tolist()
    assert h[0] == h[3]
    assert len({h[0], h[1], h[2], h[4], h[5]}) == 5


def test_intern_gives_ids_in_order_of_first_use(path: str) -> None:
    table = intern.StackTable()
    batch1 = [[10, 20], [30], [10, 20], [], [30, 10]]
    batch2 = [[30], [40, 50, 60], [], [10, 20], [40, 50, 60]]
    known: dict[tuple[int, ...], int] = {}
    for batch in (batch1, batch2):
        flat, offsets = csr(batch)
        assert table.intern(flat, offsets).tolist() == reference_ids(batch, known)
    assert len(table) == 5
    assert table.frames(3).tolist() == [30, 10]
    assert table.frames(2).tolist() == []
    flat, offsets = table.gather(np.array([4, 0]))
    assert flat.tolist() == [40, 50, 60, 10, 20]
    assert offsets.tolist() == [0, 3, 5]


def test_equal_hashes_never_make_two_rows_one(path: str) -> None:
    """Every row given the same hash: only word-by-word comparison tells them apart."""
    rows = [[1], [2], [1], [3, 4], [2], [3, 4], [4, 3]]
    flat, offsets = csr(rows)
    same = np.zeros(len(rows), dtype=np.uint64)
    table = intern.StackTable()
    assert table.intern(flat, offsets, same).tolist() == [0, 1, 0, 2, 1, 2, 3]
    more = [[4, 3], [5], [1]]
    flat, offsets = csr(more)
    assert table.intern(flat, offsets, np.zeros(3, dtype=np.uint64)).tolist() == [3, 4, 0]


def test_distinct_rows_with_collisions() -> None:
    rows = [[7], [8], [7], [9], [8]]
    flat, offsets = csr(rows)
    first, inverse = intern.distinct_rows(flat, offsets, np.zeros(5, dtype=np.uint64))
    assert first.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2, 1]


def test_table_grows_past_its_first_index(path: str) -> None:
    """Many more rows than the initial index holds, in several batches, against a dict."""
    rng = np.random.default_rng(7)
    table = intern.StackTable()
    known: dict[tuple[int, ...], int] = {}
    for _ in range(6):
        rows = [rng.integers(0, 40, size=int(n)).tolist() for n in rng.integers(1, 4, size=2500)]
        flat, offsets = csr(rows)
        assert table.intern(flat, offsets).tolist() == reference_ids(rows, known)
    assert len(table) == len(known)


def test_offsets_not_starting_at_zero(path: str) -> None:
    """A slice of a larger set: offsets relative to the whole flat array."""
    flat = np.array([99, 1, 2, 3, 1, 2], dtype=np.uint64)
    offsets = np.array([1, 3, 4, 6], dtype=np.int64)
    assert intern.StackTable().intern(flat, offsets).tolist() == [0, 1, 0]


def test_ranges_and_positions() -> None:
    got = intern.ranges(np.array([5, 0, 9]), np.array([2, 0, 3]))
    assert got.tolist() == [5, 6, 9, 10, 11]
    assert intern.ranges(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).size == 0
    assert intern.within_positions(np.array([0, 2, 2, 5])).tolist() == [0, 1, 0, 1, 2]
