"""Stack tracking: distinct call stacks, and which pool event each logged stack belongs to.

A stack reaches the trace as parts: a StackWalk (0x1820) with the frames, or a stack-cache key
reference (0x1825 kernel, 0x1826 user) whose frames come from a key definition
(0x1822-0x1824) logged before or after it. Parts of one event share its timestamp and thread;
a kernel part followed by user parts is one stack. `StackTracker` gathers the parts of every
batch (in file order) and, once the whole trace is read, gives each pool event its stack.

What is kept until then: each distinct stack's frames once (`StackTable`), and ~60 bytes per
part not already matched in its batch (`gate.inputs.etl.batch`).
"""

from __future__ import annotations

import numpy as np

from gate.inputs.etl import intern
from gate.inputs.etl.batch import STACK_DTYPE, BatchResult
from gate.inputs.etl.intern import StackTable
from gate.inputs.etl.memory import ColumnTable

# Joined stacks are built and interned this many at a time, so that the frames gathered for
# them stay a bounded buffer.
_JOIN_BLOCK = 1 << 16


class StackTracker:
    """Every batch's stack parts, turned into the trace's stack ids, and matched at the end."""

    def __init__(self) -> None:
        self.stacks = StackTable()
        self.unmatched = 0  # logged stacks that belong to no pool event
        self.notes: list[str] = []
        self._parts: list[ColumnTable] = []
        self._ref_keys: list[np.ndarray] = []
        self._ref_count = 0
        self._defs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def absorb(self, r: BatchResult) -> np.ndarray:
        """Add one batch's stacks, in file order; returns batch stack id -> trace stack id."""
        flat, offsets, hashes = r.stack_block()
        trace_id = self.stacks.intern(flat, offsets, hashes)
        for part in r.stack_parts:
            ref = part["ref"] == 1
            part["raw"][ref] += self._ref_count
            part["raw"][~ref] = trace_id[part["raw"][~ref]]
            self._parts.append(part)
        self._ref_keys += r.ref_keys
        self._ref_count += sum(len(k) for k in r.ref_keys)
        for key, ts, seq, ri, raw in r.defs:
            self._defs.append((key, ts, seq, ri, trace_id[raw]))
        return trace_id

    def release(self) -> None:
        """Drop the raw stacks' frames (after their final ids and frames are known)."""
        self.stacks = StackTable()

    def take_parts(self) -> ColumnTable:
        """All parts kept so far, as one table (the per-batch tables are released)."""
        parts = ColumnTable.concat(self._parts, STACK_DTYPE, consume=True)
        self._parts = []
        return parts

    def match(self, pool: ColumnTable, parts: ColumnTable) -> None:
        """Complete `pool["raw"]` (trace order) with the stack of every event that has one."""
        stacks = self._combine_parts(self._resolve_refs(parts))
        self.unmatched = match_stacks(pool, stacks)

    def _resolve_refs(self, parts: ColumnTable) -> ColumnTable:
        """Replace key references by raw stack ids from the definitions.

        A key may be reused after its definition was deleted (evicted), so a reference takes the
        first definition of its key logged at or after the reference, else the last one before.
        """
        refs = np.flatnonzero(parts["ref"] == 1)
        if len(refs) == 0:
            return parts
        keys = np.concatenate(self._ref_keys)[parts["raw"][refs]]
        resolved = np.full(len(refs), -1, dtype=np.int64)
        if self._defs:
            dkey = np.concatenate([d[0] for d in self._defs])
            dts = np.concatenate([d[1] for d in self._defs])
            dseq = np.concatenate([d[2] for d in self._defs])
            dri = np.concatenate([d[3] for d in self._defs])
            draw = np.concatenate([d[4] for d in self._defs])
            order = np.lexsort((dri, dseq, dts, dkey))
            dkey, dts, draw = dkey[order], dts[order], draw[order]
            rts = parts["header_ts"][refs]
            _, krank = np.unique(np.concatenate([dkey, keys]), return_inverse=True)
            _, trank = np.unique(np.concatenate([dts, rts]), return_inverse=True)
            combined = krank.reshape(-1).astype(np.int64) << 32 | trank.reshape(-1)
            dcomb, rcomb = combined[: len(dkey)], combined[len(dkey) :]
            dk, rk = krank.reshape(-1)[: len(dkey)], krank.reshape(-1)[len(dkey) :]
            pos = np.searchsorted(dcomb, rcomb, side="left")
            after = pos < len(dcomb)
            after[after] &= dk[pos[after]] == rk[after]
            before = ~after & (pos > 0)
            before[before] &= dk[pos[before] - 1] == rk[before]
            resolved[after] = draw[pos[after]]
            resolved[before] = draw[pos[before] - 1]
        unresolved = int((resolved < 0).sum())
        if unresolved:
            self.notes.append(f"{unresolved} stack key references without a definition")
        parts = parts.copy()
        parts["raw"][refs] = resolved
        return parts[parts["raw"] >= 0]

    def _combine_parts(self, parts: ColumnTable) -> ColumnTable:
        """One row per logged event stack: a kernel part followed by its user part(s).

        Parts of one event share its timestamp and thread. Two kernel parts under one key are two
        events (e.g. an allocation and a free in the same clock tick) and stay separate. Only
        rows that share a key are regrouped; the common case costs one two-key sort.
        """
        if len(parts) < 2:
            return parts
        o = np.lexsort((parts["thread"], parts["ts"]))
        ts, th = parts["ts"][o], parts["thread"][o]
        dup = (ts[1:] == ts[:-1]) & (th[1:] == th[:-1])
        if not dup.any():
            return parts
        involved = o[np.concatenate([dup, [False]]) | np.concatenate([[False], dup])]
        sub = parts[involved]
        so = np.lexsort(
            (sub["record_index"], sub["buffer_seq"], sub["cpu"], sub["user"], sub["thread"],
             sub["ts"])
        )  # fmt: skip
        rows = involved[so]
        sub = sub[so]
        same = (sub["ts"][1:] == sub["ts"][:-1]) & (sub["thread"][1:] == sub["thread"][:-1])
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        group = np.cumsum(np.concatenate([[True], ~same])) - 1
        user = sub["user"] == 1
        kernels = np.bincount(group[~user], minlength=len(starts))
        users = np.bincount(group[user], minlength=len(starts))
        keep = np.ones(len(parts), dtype=bool)
        raw = parts["raw"].copy()
        # One kernel part and user parts: one stack, the kernel's frames then the users' (the
        # kernel part sorts first in its group), kept in the kernel part's row.
        joined = ((kernels == 1) & (users > 0))[group]
        heads = starts[(kernels == 1) & (users > 0)]
        raw[rows[heads]] = self._join(sub["raw"][joined], group[joined])
        # No kernel part: the first user part stands alone; several: no user part is theirs.
        leading = np.zeros(len(sub), dtype=bool)
        leading[starts] = True
        drop = user & (joined | (kernels > 1)[group] | ((kernels == 0)[group] & ~leading))
        keep[rows[drop]] = False
        parts = parts.copy()
        parts["raw"] = raw
        dropped = int((~keep).sum())
        if dropped:
            self.notes.append(f"{dropped} user-mode stack parts not joined to a kernel part")
        return parts[keep]

    def _join(self, raws: np.ndarray, group: np.ndarray) -> np.ndarray:
        """The stack id of each group's frames joined in row order (`raws`: the raw stack of
        each row, `group`: its group, rows of a group adjacent), interned in group order.

        Many events share one (kernel, user) pair of raw stacks, so the pairs are made
        distinct first and only distinct pairs' frames are gathered.
        """
        if len(raws) == 0:
            return np.zeros(0, dtype=np.int64)
        bounds = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1], [True]]))
        words = raws.astype(np.uint64)
        first, inverse = intern.distinct_rows(words, bounds, intern.csr_hashes(words, bounds))
        ids = np.empty(len(first), dtype=np.int64)
        for lo in range(0, len(first), _JOIN_BLOCK):
            rows = first[lo : lo + _JOIN_BLOCK]
            parts_of = intern.ranges(bounds[rows], bounds[rows + 1] - bounds[rows])
            flat, row_offsets = self.stacks.gather(raws[parts_of])
            # Rows of one joined stack are adjacent: its frames run from its first row's start.
            per = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum(bounds[rows + 1] - bounds[rows], out=per[1:])
            ids[lo : lo + len(rows)] = self.stacks.intern(flat, row_offsets[per])
        return ids[inverse]


def stream_positions(*tables: ColumnTable) -> list[np.ndarray]:
    """A uint64 per record that orders each processor's stream: cpu | buffer seq | index.

    Buffer sequence numbers are used as they are when they fit 31 bits, else ranked.
    """
    bseq = np.concatenate([t["buffer_seq"] for t in tables])
    if len(bseq) and (bseq.min() < 0 or bseq.max() >= 1 << 31):
        bseq = np.unique(bseq, return_inverse=True)[1].reshape(-1)
    out, lo = [], 0
    for t in tables:
        b = bseq[lo : lo + len(t)].astype(np.uint64)
        lo += len(t)
        pos = (t["cpu"].astype(np.uint64) & np.uint64(0x7FF)) << np.uint64(53)
        pos |= b << np.uint64(22)
        pos |= t["record_index"].astype(np.uint64) & np.uint64((1 << 22) - 1)
        out.append(pos)
    return out


def _nearest_before(
    pool: ColumnTable,
    pool_pos: np.ndarray,
    stacks: ColumnTable,
    stack_pos: np.ndarray,
    by: str,
    taken: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(pool index, stack index) pairs: each stack's nearest pool event before it in its
    processor's stream with the same raw timestamp and thread (`by='thread'`) or processor
    (`by='cpu'`). A pool event takes the first such stack; `taken` ones take none."""
    none = np.zeros(0, dtype=np.int64)
    if len(pool) == 0 or len(stacks) == 0:
        return none, none
    n_p = len(pool)
    _, trank = np.unique(np.concatenate([pool["ts"], stacks["ts"]]), return_inverse=True)
    other = np.concatenate([pool[by], stacks[by]]).astype(np.int64) & 0xFFFFFFFF
    mkey = trank.reshape(-1).astype(np.int64) << 32 | other
    order = np.lexsort((np.concatenate([pool_pos, stack_pos]), mkey))
    is_pool = order < n_p
    last_pool = np.maximum.accumulate(np.where(is_pool, np.arange(len(order)), -1))
    sk = np.flatnonzero(~is_pool)
    cand = last_pool[sk]
    valid = cand >= 0
    valid[valid] &= mkey[order[cand[valid]]] == mkey[order[sk[valid]]]
    pool_idx = order[cand[valid]]
    stack_idx = order[sk[valid]] - n_p
    _, first = np.unique(pool_idx, return_index=True)
    pool_idx, stack_idx = pool_idx[first], stack_idx[first]
    free = ~taken[pool_idx]
    return pool_idx[free], stack_idx[free]


def match_stacks(pool: ColumnTable, stacks: ColumnTable) -> int:
    """Complete `pool["raw"]`, the raw stack id of each pool event (-1: none), in place;
    returns how many stacks matched no event.

    Pool events already holding a stack were matched in their batch. Fast path: a stack logged
    as the very next record of its event's buffer, with the same timestamp and thread (or, for
    events without a thread id, necessarily the same processor). The rest goes through the
    general rule in `_nearest_before`, restricted to pool events whose timestamp some leftover
    stack carries. Both only ever pair a stack with a pool event of the same timestamp, so only
    those pool events are looked at.
    """
    if len(pool) == 0 or len(stacks) == 0:
        return len(stacks)
    sts = np.unique(stacks["ts"])
    k = np.minimum(np.searchsorted(sts, pool["ts"]), len(sts) - 1)
    near_all = np.flatnonzero(sts[k] == pool["ts"])
    del k
    sub = pool[near_all]
    raw_of_event = sub["raw"].astype(np.int64)
    pool_pos, stack_pos = stream_positions(sub, stacks)
    by_pos = np.argsort(pool_pos)
    sorted_pos = pool_pos[by_pos]
    matched = np.zeros(len(stacks), dtype=bool)
    if len(sub):
        j = np.minimum(np.searchsorted(sorted_pos, stack_pos - np.uint64(1)), len(sub) - 1)
        cand = by_pos[j]
        ok = (sorted_pos[j] == stack_pos - np.uint64(1)) & (sub["ts"][cand] == stacks["ts"])
        ok &= (sub["thread"][cand] < 0) | (sub["thread"][cand] == stacks["thread"])
        raw_of_event[cand[ok]] = stacks["raw"][ok]
        matched |= ok

    left = np.flatnonzero(~matched)
    if len(left) and len(sub):
        lts = np.unique(stacks["ts"][left])
        k = np.minimum(np.searchsorted(lts, sub["ts"]), len(lts) - 1)
        near = np.flatnonzero(lts[k] == sub["ts"])
        taken = raw_of_event >= 0
        for by, sel in (
            ("thread", near[sub["thread"][near] >= 0]),
            ("cpu", near[sub["thread"][near] < 0]),
        ):
            free = left[~matched[left]]
            pi, si = _nearest_before(
                sub[sel], pool_pos[sel], stacks[free], stack_pos[free], by, taken[sel]
            )
            raw_of_event[sel[pi]] = stacks["raw"][free[si]]
            matched[free[si]] = True
    pool["raw"][near_all] = raw_of_event
    return int((~matched).sum())


def unmatch_shared(pool: ColumnTable, parts: ColumnTable) -> ColumnTable:
    """Give back to `parts` the walks matched in their batch whose (timestamp, thread) some
    other part also has: `combine_parts` decides those (a kernel part joined to its user
    part, or several kernel parts). A walk matched in its batch is a kernel part, so a key
    shared only among such walks leaves each one as it is, as `combine_parts` would."""
    m = np.flatnonzero(pool["raw"] >= 0)
    if len(m) == 0 or len(parts) == 0:
        return parts
    pts = np.unique(parts["ts"])
    mts = pool["ts"][m]
    k = np.minimum(np.searchsorted(pts, mts), len(pts) - 1)
    m = m[pts[k] == mts]
    del k, mts
    if len(m) == 0:
        return parts
    ts = np.concatenate([pool["ts"][m], parts["ts"]])
    th = np.concatenate([pool["thread"][m].astype(np.int64), parts["thread"]])
    o = np.lexsort((th, ts))
    ts, th = ts[o], th[o]
    group = np.cumsum(np.concatenate([[True], (ts[1:] != ts[:-1]) | (th[1:] != th[:-1])]))
    is_part = o >= len(m)
    with_part = np.zeros(int(group[-1]) + 1, dtype=bool)
    with_part[group[is_part]] = True
    m = m[np.sort(o[~is_part & with_part[group]])]
    if len(m) == 0:
        return parts
    back = ColumnTable.empty(STACK_DTYPE, len(m))
    back["ts"] = pool["ts"][m]
    back["header_ts"] = pool["ts"][m]
    back["buffer_seq"] = pool["buffer_seq"][m]
    back["thread"] = pool["thread"][m]
    back["cpu"] = pool["cpu"][m]
    back["record_index"] = pool["record_index"][m].astype(np.int64) + 1
    back["raw"] = pool["raw"][m]
    back["user"] = 0
    back["ref"] = 0
    pool["raw"][m] = -1
    return ColumnTable.concat([parts, back], STACK_DTYPE)
