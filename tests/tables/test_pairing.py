"""Pairing pool events into allocations (metrics.md, "Allocations")."""

from __future__ import annotations

import numpy as np
import pytest

from gate.tables.chunks import Chunk
from gate.tables.pairing import pair_events, paired_chunks

A, F = 0, 1  # allocate, free


def _pair(events: list[tuple[int, int, int]], **kw: object) -> dict[str, dict[str, list]]:
    """(event, address, session) in trace order -> the two tables as lists."""
    n = len(events)
    ev = np.array([e[0] for e in events], dtype=np.uint8)
    out: dict[str, dict[str, list]] = {}
    for chunk in paired_chunks(
        time=np.arange(n) * 0.5,
        event=ev,
        pool_type=np.arange(n, dtype=np.uint32) + 100,
        tag=np.array([f"T{i}" for i in range(n)], dtype=object),
        size_bytes=np.arange(n, dtype=np.int64) * 10,
        address=np.array([e[1] for e in events], dtype=np.uint64),
        session_id=np.array([e[2] for e in events], dtype=np.int64),
        stack_id=np.arange(n, dtype=np.int64) + 1000,
        **kw,  # type: ignore[arg-type]
    ):
        assert isinstance(chunk, Chunk)
        table = out.setdefault(chunk.table, {})
        for k, v in chunk.columns.items():
            table.setdefault(k, []).extend(v.tolist())
    return out


def test_every_case_of_the_definition() -> None:
    events = [
        (A, 0x10, -1),  # 0: freed by 2
        (F, 0x20, -1),  # 1: free with no allocation before it: unmatched
        (F, 0x10, -1),  # 2
        (A, 0x30, -1),  # 3: closed by the reallocation 4: a lost free
        (A, 0x30, -1),  # 4: never freed
        (A, 0x40, 1),  # 5: session 1, not closed by session 2's free
        (F, 0x40, 2),  # 6: unmatched (session 2 has no allocation at 0x40)
        (F, 0x40, 1),  # 7: frees 5
        (F, 0x40, 1),  # 8: a second free after a free: unmatched
        (F, 0x10, -1),  # 9: after the free 2: unmatched
    ]
    got = _pair(events)
    al = got["pool_allocations"]
    assert al["alloc_seq"] == [0, 3, 4, 5]
    assert al["alloc_s"] == [0.0, 1.5, 2.0, 2.5]
    assert al["free_seq"] == [2, 4, -1, 7]
    assert al["free_s"][:2] == [1.0, 2.0] and np.isnan(al["free_s"][2]) and al["free_s"][3] == 3.5
    assert al["free_kind"] == ["freed", "lost", "none", "freed"]
    assert al["pool_type"] == [100, 103, 104, 105]
    assert al["tag"] == ["T0", "T3", "T4", "T5"]
    assert al["size_bytes"] == [0, 30, 40, 50]
    assert al["address"] == [0x10, 0x30, 0x30, 0x40]
    assert al["session_id"] == [-1, -1, -1, 1]
    assert al["stack_id"] == [1000, 1003, 1004, 1005]
    un = got["pool_unmatched_frees"]
    assert un["seq"] == [1, 6, 8, 9]
    assert un["time_s"] == [0.5, 3.0, 4.0, 4.5]
    assert un["pool_type"] == [101, 106, 108, 109]
    assert un["tag"] == ["T1", "T6", "T8", "T9"]
    assert un["size_bytes"] == [10, 60, 80, 90]
    assert un["address"] == [0x20, 0x40, 0x40, 0x10]
    assert un["session_id"] == [-1, 2, 1, -1]


def test_seq_converters_and_chunking() -> None:
    events = [(A, 1, -1), (A, 2, -1), (F, 1, -1), (A, 3, -1), (F, 9, -1)]
    got = _pair(
        events,
        seq=np.array([10, 20, 30, 40, 50]),
        seconds=lambda t: t * 2,
        tag_text=lambda t: np.array([s.lower() for s in t], dtype=object),
        rows_per_chunk=2,
    )
    al = got["pool_allocations"]
    assert al["alloc_seq"] == [10, 20, 40]
    assert al["free_seq"] == [30, -1, -1]
    assert al["alloc_s"] == [0.0, 1.0, 3.0]
    assert al["free_s"][0] == 2.0
    assert al["tag"] == ["t0", "t1", "t3"]
    assert got["pool_unmatched_frees"]["seq"] == [50]


def test_no_events_and_no_frees() -> None:
    assert _pair([]) == {}
    got = _pair([(A, 5, -1)])
    assert got["pool_allocations"]["free_kind"] == ["none"]
    assert "pool_unmatched_frees" not in got


def _reference(ev: list[int], addr: list[int], sess: list[int]) -> tuple[list[int], list[bool]]:
    """The definition read literally: scan forward / backward for the same address."""
    n = len(ev)
    nxt, after_alloc = [-1] * n, [False] * n
    for i in range(n):
        for j in range(i + 1, n):
            if (addr[j], sess[j]) == (addr[i], sess[i]):
                nxt[i] = j
                break
        for j in range(i - 1, -1, -1):
            if (addr[j], sess[j]) == (addr[i], sess[i]):
                after_alloc[i] = ev[j] == A
                break
    return nxt, after_alloc


@pytest.mark.parametrize(
    "addresses",
    [
        lambda rng, n: rng.integers(0, 6, n).astype(np.uint64) << np.uint64(40),
        # kernel addresses, 16-byte aligned: the packed-key sort
        lambda rng, n: (
            np.uint64(0xFFFF_A000_0000_0000) + (rng.integers(0, 9, n) * 16).astype(np.uint64)
        ),
        # the full 64-bit spread leaves no room for an index: the lexsort
        lambda rng, n: rng.choice(np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64), n),
    ],
    ids=["spread", "aligned", "full-width"],
)
@pytest.mark.parametrize("sessions", [True, False], ids=["sessions", "no-session"])
def test_matches_the_definition_on_random_streams(addresses, sessions: bool) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(0, 120))
        ev = rng.integers(0, 2, n)
        addr = addresses(rng, n)
        sess = rng.integers(-1, 2, n) if sessions else np.full(n, -1)
        p = pair_events(ev, addr, sess)
        nxt, after = _reference(ev.tolist(), addr.tolist(), sess.tolist())
        assert p.next_index.tolist() == nxt
        assert p.after_alloc.tolist() == after
