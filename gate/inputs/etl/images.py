"""Image tracking: which image was loaded where and when, and frames resolved against it.

Images load, unload and reload during boot, so a frame address names a module only with the
image map valid at its event's time. `ImageTracker` collects the image events (Load, UnLoad,
rundowns) and PDB identities of every batch and builds the image lifetimes; the kernel
images' load and unload times cut the trace into epochs, each with one image map, and
`resolve_frames` turns stacks of frame addresses into (module, offset) with the map of their
epoch.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gate.inputs.etl import intern, jit
from gate.inputs.etl.batch import NO_TS, BatchResult, ImageEvent
from gate.inputs.etl.intern import StackTable
from gate.tables.drivers import driver_name

END_TS = int(np.iinfo(np.int64).max)
# An image's valid range: a PE image's SizeOfImage is 32 bits, and its end (exclusive) must be
# a uint64, as the image maps keep it: below 2**64. Image events outside it are skipped with a
# note, where they enter the tracker: no image map or resident set sees them.
MAX_IMAGE_BYTES = (1 << 32) - 1
ADDRESS_END = 1 << 64

# An image map: sorted base addresses, their ends and the images' driver names.
ImageMap = tuple[np.ndarray, np.ndarray, list[str]]
# (raw stack, epoch) pairs resolved per block: bounds the work arrays, not the result.
_PAIR_BLOCK = 1 << 16


@dataclass
class ImageRow:
    process_id: int
    base: int
    size: int
    path: str
    load_ts: int  # NO_TS: loaded before the trace
    unload_ts: int  # END_TS: still loaded at the end
    pdb_name: str = ""
    pdb_guid: str = ""
    pdb_age: int = -1


class ImageTracker:
    """Image events and PDB identities of every batch; `build` gives the image lifetimes."""

    def __init__(self) -> None:
        self.rows: list[ImageRow] = []
        self._events: list[ImageEvent] = []
        self._image_ids: list[tuple[int, int, int, int, str]] = []
        self._dbgids: list[tuple[int, int, int, int, str, str, int]] = []
        self.skipped = 0  # image events outside the valid range
        self.notes: list[str] = []

    def absorb(self, r: BatchResult) -> None:
        events = [e for e in r.image_events if _in_range(e[6], e[7])]
        self.skipped += len(r.image_events) - len(events)
        self._events += events
        self._image_ids += r.image_ids
        self._dbgids += r.dbgids

    @property
    def kernel(self) -> list[ImageRow]:
        return [r for r in self.rows if r.process_id == 0]

    def build(self) -> None:
        """Image lifetimes from the image events in trace order.

        DCStart opens an image loaded before the trace, unless the same base is already open
        (rundowns repeat) or was closed earlier in the trace (then it was reloaded and the
        rundown time is the best load time known). Load opens (closing a stale image at the same
        base), UnLoad closes; an UnLoad or DCEnd of an image never seen opens one that was
        loaded before the trace. DCEnd never unloads.
        """
        events = sorted(self._events, key=lambda e: e[:4])
        open_rows: dict[tuple[int, int], int] = {}
        closed: set[tuple[int, int]] = set()
        rows: list[ImageRow] = []
        for ts, _cpu, _seq, _ri, kind, pid, base, size, name in events:
            k = (pid, base)
            cur = open_rows.get(k)
            if kind == "load":
                if cur is not None:
                    rows[cur].unload_ts = ts
                open_rows[k] = len(rows)
                rows.append(ImageRow(pid, base, size, name, ts, END_TS))
            elif kind == "unload":
                if cur is None:
                    rows.append(ImageRow(pid, base, size, name, NO_TS, ts))
                else:
                    rows[cur].unload_ts = ts
                    del open_rows[k]
                closed.add(k)
            elif cur is None:  # dcstart or dcend of an image not open
                load = ts if k in closed else NO_TS
                open_rows[k] = len(rows)
                rows.append(ImageRow(pid, base, size, name, load, END_TS))
        self._apply_pdb_ids(rows)
        self.rows = rows
        self._events = []
        if self.skipped:
            self.notes = [
                f"{self.skipped} image events skipped: size past {MAX_IMAGE_BYTES} bytes or "
                "image ending at or past 2**64"
            ]

    def _apply_pdb_ids(self, rows: list[ImageRow]) -> None:
        """Fill PDB identity from DbgID_RSDS events, matched on (process, base).

        WPR's merge logs an ImageId (with the file name) right before each DbgID of the same
        image; when an image base was reused the name tells which image the DbgID is for.
        """
        if not self._dbgids:
            return
        ids_sorted = sorted(self._image_ids)
        by_key: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(rows):
            by_key.setdefault((r.process_id, r.base), []).append(i)
        id_order = [(s, r) for s, r, *_ in ids_sorted]
        for seq, ri, pid, base, pdb_name, pdb_guid, age in self._dbgids:
            cands = by_key.get((pid, base), [])
            if not cands:
                continue
            j = bisect.bisect_left(id_order, (seq, ri)) - 1
            wanted = ""
            if j >= 0:
                _seq, _record, ipid, ibase, iname = ids_sorted[j]
                if (ipid, ibase) == (pid, base):
                    wanted = driver_name(iname)
            chosen = [c for c in cands if wanted and driver_name(rows[c].path) == wanted] or cands
            for c in chosen:
                rows[c].pdb_name, rows[c].pdb_guid, rows[c].pdb_age = pdb_name, pdb_guid, age

    def epochs(self) -> tuple[np.ndarray, Callable[[int], ImageMap]]:
        """The epoch change points (raw times), and a function epoch -> its kernel image map.

        Epoch 0 is before the first change point; epoch k starts at `points[k - 1]`.
        """
        kernel = self.kernel
        points = np.asarray(
            sorted(
                {r.load_ts for r in kernel if r.load_ts != NO_TS}
                | {r.unload_ts for r in kernel if r.unload_ts != END_TS}
            ),
            dtype=np.int64,
        )
        # Sorted once by (base, end, name), as each map is: a map is this order filtered to the
        # images live at its epoch's start, so no epoch sorts or names images again.
        rows = sorted(
            (r.base, r.base + r.size, driver_name(r.path), r.load_ts, r.unload_ts) for r in kernel
        )
        bases = np.array([x[0] for x in rows], dtype=np.uint64)
        ends = np.array([x[1] for x in rows], dtype=np.uint64)
        names = [x[2] for x in rows]
        loads = np.array([x[3] for x in rows], dtype=np.int64)
        unloads = np.array([x[4] for x in rows], dtype=np.int64)
        cache: dict[int, ImageMap] = {}

        def image_map(epoch: int) -> ImageMap:
            got = cache.get(epoch)
            if got is None:
                t0 = NO_TS if epoch == 0 else int(points[epoch - 1])
                live = np.flatnonzero((loads <= t0) & (t0 < unloads))
                got = (bases[live], ends[live], [names[i] for i in live.tolist()])
                cache[epoch] = got
            return got

        return points, image_map


def _in_range(base: int, size: int) -> bool:
    return base >= 0 and 0 <= size <= MAX_IMAGE_BYTES and base + size < ADDRESS_END


@dataclass
class ResolvedFrames:
    """The frames of the distinct resolved stacks, stack after stack (CSR): stack i is rows
    `offsets[i]:offsets[i + 1]` of `address`, `module` (an index into `names`; 0, the name "",
    when the frame is in no known image) and `rva` (the offset into the module, else -1)."""

    address: np.ndarray
    module: np.ndarray
    rva: np.ndarray
    offsets: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def empty(cls) -> ResolvedFrames:
        """No stacks at all."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none.astype(np.uint64), none.astype(np.int32), none, np.zeros(1, np.int64), [""])


def _resolve_kernel(
    src: Any,
    starts: Any,
    offsets: Any,
    slot: Any,
    seg_lo: Any,
    seg_hi: Any,
    bases: Any,
    ends: Any,
    ids: Any,
    at: int,
    address: Any,
    module: Any,
    rva: Any,
    words: Any,
) -> None:
    """Every frame of pairs p (`src[starts[p]:]`, `offsets[p + 1] - offsets[p]` frames, epoch
    segment `slot[p]` of the flat image maps) resolved in one pass (numba only): address,
    module and rva written from row `at` of the output columns, and the frame's two words."""
    for p in range(len(starts)):
        lo = seg_lo[slot[p]]
        hi = seg_hi[slot[p]]
        s = starts[p]
        q0 = offsets[p]
        j = -1  # the image of the pair's previous frame, -1 when none
        for f in range(offsets[p + 1] - q0):
            a = src[s + f]
            # Consecutive frames are often in one image: keep it when it is still the last one
            # based at or below the address, else search the epoch's images.
            if not (j >= 0 and bases[j] <= a and (j + 1 == hi or bases[j + 1] > a)):
                left = lo
                right = hi
                while left < right:
                    mid = (left + right) >> 1
                    if bases[mid] <= a:
                        left = mid + 1
                    else:
                        right = mid
                j = left - 1 if left > lo else -1
            q = q0 + f
            address[at + q] = a
            if j >= 0 and a < ends[j]:
                m = ids[j]
                r = np.int64(a - bases[j])
                module[at + q] = m
                rva[at + q] = r
                words[2 * q] = np.uint64(m)
                words[2 * q + 1] = np.uint64(r) if m > 0 else a
            else:
                module[at + q] = 0
                rva[at + q] = -1
                words[2 * q] = np.uint64(0)
                words[2 * q + 1] = a


def _keep_kernel(
    stack_ids: Any,
    before: int,
    offsets: Any,
    at: int,
    address: Any,
    module: Any,
    rva: Any,
    out_offsets: Any,
    kept: int,
) -> tuple[int, int]:
    """Keep the frames of the pairs whose stack is new, dropping the others' (numba only).

    The pairs' frames are rows `at + offsets[p]` on of the output columns; new stack ids are
    `before`, `before + 1`, ... in order of first appearance, so a pair is a stack's first
    exactly when its id is the next new one. Kept frames move down over the dropped ones (never
    up, so in place), each kept stack's end goes to `out_offsets` after the `kept` stacks there.
    Returns (the end of the kept frames, the next new id)."""
    w = at
    nxt = before
    for p in range(len(stack_ids)):
        if stack_ids[p] != nxt:
            continue
        nxt += 1
        lo = at + offsets[p]
        n = offsets[p + 1] - offsets[p]
        if w != lo:
            for f in range(n):
                address[w + f] = address[lo + f]
                module[w + f] = module[lo + f]
                rva[w + f] = rva[lo + f]
        w += n
        kept += 1
        out_offsets[kept] = w
    return w, nxt


_resolve_rows = jit.kernel(_resolve_kernel)
_keep_rows = jit.kernel(_keep_kernel)


def _epoch_slots(epochs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct epochs, ascending, and each pair's index into them."""
    if len(epochs) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(epochs.min()), int(epochs.max())
    if hi - lo > 4 * len(epochs) + 4096:  # sparse: a table over the span would be mostly empty
        distinct, slot = np.unique(epochs, return_inverse=True)
        return distinct, slot.reshape(-1).astype(np.int64)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[epochs - lo] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present) + lo, rank[epochs - lo]


def _first_new(stack_ids: np.ndarray, before: int) -> np.ndarray:
    """The positions of the first pair of each new stack id (ids from `before` on).

    `StackTable.intern` numbers new rows in order of first appearance, so a pair is the first
    of its stack exactly when its id is new and above every id before it: one running maximum
    instead of a sort."""
    first = stack_ids >= before
    if len(stack_ids) > 1:
        first[1:] &= stack_ids[1:] > np.maximum.accumulate(stack_ids[:-1])
    return np.flatnonzero(first)


class _Resolver:
    """Frames resolved with the image map of their epoch, and resolved stacks made distinct.

    The image maps of the epochs met so far are kept as one flat sorted run per epoch (bases,
    ends, module ids), so that one compiled pass resolves a block of pairs whatever their
    epochs. The kept frames go into columns grown in place (`reserve`), not pieces joined at
    the end: with millions of stacks that join was a second copy of every frame.
    """

    def __init__(self, image_map: Callable[[int], ImageMap]) -> None:
        self.image_map = image_map
        self.module_ids: dict[str, int] = {"": 0}  # 0: in no known image
        self.segments: dict[int, tuple[int, int]] = {}  # epoch -> its rows of the maps
        self.bases = np.zeros(0, dtype=np.uint64)
        self.ends = np.zeros(0, dtype=np.uint64)
        self.ids = np.zeros(0, dtype=np.int32)
        self.seen = StackTable()  # resolved stacks as (module, offset or address) word pairs
        self.address = np.zeros(0, dtype=np.uint64)
        self.module = np.zeros(0, dtype=np.int32)
        self.rva = np.zeros(0, dtype=np.int64)
        self.offsets = np.zeros(1, dtype=np.int64)
        self.kept = 0  # stacks kept
        self.used = 0  # their frames
        self._words = np.zeros(0, dtype=np.uint64)  # a block's words, reused block after block

    def reserve(self, stacks: int, frames: int) -> None:
        """Room for `stacks` more stacks of `frames` frames in all. Room never written costs
        address space only, so reserving every pair's frames up front is free."""
        need = self.used + frames
        self.address = intern._grown(self.address, self.used, need)
        self.module = intern._grown(self.module, self.used, need)
        self.rva = intern._grown(self.rva, self.used, need)
        self.offsets = intern._grown(self.offsets, self.kept + 1, self.kept + stacks + 1)

    def _slots(self, epochs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each pair's slot, and each slot's rows (lo, hi) of the flat maps. Epochs not met
        before are mapped in ascending order, which numbers their modules."""
        distinct, slot = _epoch_slots(epochs)
        fresh: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        at = len(self.bases)
        for e in distinct.tolist():
            if e not in self.segments:
                bases, ends, names = self.image_map(e)
                ids = [self.module_ids.setdefault(n, len(self.module_ids)) for n in names]
                self.segments[e] = (at, at + len(bases))
                at += len(bases)
                fresh.append((bases, ends, np.array(ids, dtype=np.int32)))
        if fresh:
            self.bases = np.concatenate([self.bases, *(f[0] for f in fresh)]).astype(np.uint64)
            self.ends = np.concatenate([self.ends, *(f[1] for f in fresh)]).astype(np.uint64)
            self.ids = np.concatenate([self.ids, *(f[2] for f in fresh)])
        seg = np.array([self.segments[e] for e in distinct.tolist()], dtype=np.int64)
        seg = seg.reshape(-1, 2)
        return slot, np.ascontiguousarray(seg[:, 0]), np.ascontiguousarray(seg[:, 1])

    def resolve(
        self, flat: np.ndarray, offsets: np.ndarray, slot: np.ndarray, lo: np.ndarray,
        hi: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """numpy: (module id, rva) of each frame of pairs (frames `flat`/`offsets`, maps rows
        `lo[slot]:hi[slot]` each): one search per epoch present, over the frames of its pairs."""
        module = np.zeros(len(flat), dtype=np.int32)
        rva = np.full(len(flat), -1, dtype=np.int64)
        order = np.argsort(slot, kind="stable")
        sorted_slots = slot[order]
        cuts = np.flatnonzero(np.concatenate([[True], sorted_slots[1:] != sorted_slots[:-1]]))
        for c0, c1 in zip(cuts.tolist(), [*cuts[1:].tolist(), len(order)], strict=True):
            k = int(sorted_slots[c0])
            bases = self.bases[lo[k] : hi[k]]
            if len(bases) == 0:
                continue
            ends, ids = self.ends[lo[k] : hi[k]], self.ids[lo[k] : hi[k]]
            pairs = order[c0:c1]
            at = intern.ranges(offsets[pairs], offsets[pairs + 1] - offsets[pairs])
            addr = flat[at]
            j = np.searchsorted(bases, addr, side="right") - 1
            ok = j >= 0
            ok[ok] &= addr[ok] < ends[j[ok]]
            at, j = at[ok], j[ok]
            module[at] = ids[j]
            rva[at] = (flat[at] - bases[j]).astype(np.int64)
        return module, rva

    def add(
        self, src: np.ndarray, starts: np.ndarray, lengths: np.ndarray, epochs: np.ndarray
    ) -> np.ndarray:
        """The resolved stack id of each pair (frames `src[starts[p]:][:lengths[p]]`, image
        epoch `epochs[p]`); the frames of new ones are kept, in order."""
        offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        slot, seg_lo, seg_hi = self._slots(epochs)
        n = int(offsets[-1])
        before = len(self.seen)
        if _resolve_rows is not None and _keep_rows is not None:
            # Every frame of the block is written where it would go were all its stacks new;
            # the frames of stacks seen before are then dropped.
            self.reserve(len(starts), n)
            self._words = intern._grown(self._words, 0, 2 * n)
            words = self._words[: 2 * n]
            _resolve_rows(
                src, starts, offsets, slot, seg_lo, seg_hi, self.bases, self.ends, self.ids,
                self.used, self.address, self.module, self.rva, words,
            )  # fmt: skip
            stack_ids = self.seen.intern(words, 2 * offsets)
            self.used, nxt = _keep_rows(
                stack_ids, before, offsets, self.used, self.address, self.module, self.rva,
                self.offsets, self.kept,
            )  # fmt: skip
            if nxt != len(self.seen):
                raise AssertionError("new stack ids out of order of first appearance")
            self.kept += nxt - before
            return stack_ids
        flat = src[intern.ranges(starts, lengths)]
        module, rva = self.resolve(flat, offsets, slot, seg_lo, seg_hi)
        # A frame is (module, offset) when resolved, else (0, its address).
        words = np.empty(2 * n, dtype=np.uint64)
        words[0::2] = module
        words[1::2] = np.where(module > 0, rva.view(np.uint64), flat)
        stack_ids = self.seen.intern(words, 2 * offsets)
        del words
        first = _first_new(stack_ids, before)
        if len(first) != len(self.seen) - before:
            raise AssertionError("new stack ids out of order of first appearance")
        at = intern.ranges(offsets[first], lengths[first])
        self.reserve(len(first), len(at))
        u, k = self.used, self.kept
        self.address[u : u + len(at)] = flat[at]
        self.module[u : u + len(at)] = module[at]
        self.rva[u : u + len(at)] = rva[at]
        np.cumsum(lengths[first], out=self.offsets[k + 1 : k + 1 + len(first)])
        self.offsets[k + 1 : k + 1 + len(first)] += u
        self.used, self.kept = u + len(at), k + len(first)
        return stack_ids

    def frames(self) -> ResolvedFrames:
        return ResolvedFrames(
            address=self.address[: self.used],
            module=self.module[: self.used],
            rva=self.rva[: self.used],
            offsets=self.offsets[: self.kept + 1],
            names=list(self.module_ids),
        )


def resolve_frames(
    stacks: StackTable,
    raws: np.ndarray,
    epochs: np.ndarray,
    image_map: Callable[[int], ImageMap],
) -> tuple[np.ndarray, ResolvedFrames]:
    """Frames of each (raw stack, image epoch) pair resolved to module + offset.

    `stacks` holds the raw stacks' frame addresses. Pairs that resolve to the same frames (the
    same stack logged before and after an unrelated driver loaded) get one stack id; ids are
    given in pair order. Returns each pair's stack id and the resolved frames of the ids, each
    id's taken from its first pair. Pairs are resolved a block at a time, so that the work
    arrays stay bounded; only the distinct resolved stacks are kept.
    """
    resolver = _Resolver(image_map)
    raws = np.asarray(raws, dtype=np.int64)
    epochs = np.asarray(epochs, dtype=np.int64)
    starts = stacks.offsets[raws]
    lengths = stacks.offsets[raws + 1] - starts
    # Every pair's frames: the most the kept frames can take, so that the columns never grow.
    resolver.reserve(len(raws), int(lengths.sum()))
    src = stacks.flat
    stack_of_pair = np.empty(len(raws), dtype=np.int64)
    for lo in range(0, len(raws), _PAIR_BLOCK):
        hi = lo + _PAIR_BLOCK
        stack_of_pair[lo:hi] = resolver.add(src, starts[lo:hi], lengths[lo:hi], epochs[lo:hi])
    return stack_of_pair, resolver.frames()
