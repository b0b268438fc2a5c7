"""Pool events paired into allocations (metrics.md, "Allocations"), for every input format.

Each allocation is closed by the next event at the same address (and session, for session
pool) in trace order: a free gives its time; another allocation means the free was lost, and
the first allocation is closed at the second one's time. A free that follows no allocation at
its address is an unmatched free (its allocation was made before tracing started).

Readers that hold a trace's events in trace order call `paired_chunks` themselves; the store
calls it for formats that stage events (scenarios). Sorting by (address, session) with trace
order kept within each address makes "next" and "previous" neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from gate.tables.chunks import POOL_ALLOC, POOL_FREE, STR, Chunk
from gate.tables.order import stable_argsort

FREE_KINDS = np.array(["none", "freed", "lost"], dtype=STR)  # free_kind by code 0, 1, 2


@dataclass(frozen=True)
class Pairing:
    """Per event, in trace order: what is next and what came before at its address."""

    next_index: np.ndarray  # int64: the next event at the same address, -1 when none
    after_alloc: np.ndarray  # bool: the previous event at the same address is an allocation


def pair_events(event: np.ndarray, address: np.ndarray, session_id: np.ndarray) -> Pairing:
    """Neighbours at the same (address, session) of events given in trace order."""
    n = len(address)
    next_index = np.full(n, -1, dtype=np.int64)
    after_alloc = np.zeros(n, dtype=bool)
    if n < 2:
        return Pairing(next_index, after_alloc)
    if int(session_id.min()) == int(session_id.max()):  # no session pool: the address alone
        order = stable_argsort(address)
        a = address[order]
        same = a[1:] == a[:-1]
    else:
        order = np.lexsort((session_id, address))
        a, s = address[order], session_id[order]
        same = (a[1:] == a[:-1]) & (s[1:] == s[:-1])
    del a
    first, second = order[:-1][same], order[1:][same]
    del order, same
    next_index[first] = second
    after_alloc[second] = event[first] == POOL_ALLOC
    return Pairing(next_index, after_alloc)


def _same(a: np.ndarray) -> np.ndarray:
    return a


def paired_chunks(
    *,
    time: np.ndarray,
    event: np.ndarray,
    pool_type: np.ndarray,
    tag: np.ndarray,
    size_bytes: np.ndarray,
    address: np.ndarray,
    session_id: np.ndarray,
    stack_id: np.ndarray,
    seq: np.ndarray | None = None,
    seconds: Callable[[np.ndarray], np.ndarray] = _same,
    tag_text: Callable[[np.ndarray], np.ndarray] = _same,
    rows_per_chunk: int = 1 << 20,
    pairing: Pairing | None = None,
) -> Iterator[Chunk]:
    """`pool_allocations` and `pool_unmatched_frees` chunks from a trace's pool events.

    The events are given in trace order; `seq` is their trace order number (default: their
    index). A reader may pass its
    compact forms, converted only for the rows of each chunk: `time` through `seconds` (e.g.
    raw clock ticks) and `tag` through `tag_text` (e.g. packed four-byte tags). `pairing` is
    `pair_events` of these events when the caller has computed it already.
    """
    event = np.asarray(event)
    p = pairing or pair_events(event, np.asarray(address), np.asarray(session_id))
    nxt = p.next_index
    allocs = np.flatnonzero(event == POOL_ALLOC)
    for lo in range(0, len(allocs), rows_per_chunk):
        rows = allocs[lo : lo + rows_per_chunk]
        closer = nxt[rows]
        has = closer >= 0
        kind = np.zeros(len(rows), dtype=np.int8)
        kind[has] = np.where(event[closer[has]] == POOL_FREE, 1, 2)
        free_s = np.full(len(rows), np.nan)
        free_s[has] = seconds(time[closer[has]])
        free_seq = closer if seq is None else np.where(has, seq[np.maximum(closer, 0)], -1)
        yield Chunk.build(
            "pool_allocations",
            alloc_seq=rows if seq is None else seq[rows],
            alloc_s=seconds(time[rows]),
            free_seq=free_seq,
            free_s=free_s,
            free_kind=FREE_KINDS[kind],
            pool_type=pool_type[rows],
            tag=tag_text(tag[rows]),
            size_bytes=size_bytes[rows],
            address=address[rows],
            session_id=session_id[rows],
            stack_id=stack_id[rows],
        )
    unmatched = np.flatnonzero((event == POOL_FREE) & ~p.after_alloc)
    if len(unmatched):
        yield Chunk.build(
            "pool_unmatched_frees",
            seq=unmatched if seq is None else seq[unmatched],
            time_s=seconds(time[unmatched]),
            pool_type=pool_type[unmatched],
            tag=tag_text(tag[unmatched]),
            size_bytes=size_bytes[unmatched],
            address=address[unmatched],
            session_id=session_id[unmatched],
        )
