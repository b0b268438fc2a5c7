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

import numpy as np

from gate.inputs.etl import intern
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
        cache: dict[int, ImageMap] = {}

        def image_map(epoch: int) -> ImageMap:
            got = cache.get(epoch)
            if got is None:
                t0 = NO_TS if epoch == 0 else int(points[epoch - 1])
                live = sorted(
                    (r.base, r.base + r.size, driver_name(r.path))
                    for r in kernel
                    if r.load_ts <= t0 < r.unload_ts
                )
                got = (
                    np.array([x[0] for x in live], dtype=np.uint64),
                    np.array([x[1] for x in live], dtype=np.uint64),
                    [x[2] for x in live],
                )
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


class _Resolver:
    """Frames resolved with the image map of their epoch, and resolved stacks made distinct."""

    def __init__(self, image_map: Callable[[int], ImageMap]) -> None:
        self.image_map = image_map
        self.module_ids: dict[str, int] = {"": 0}  # 0: in no known image
        self.maps: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.seen = StackTable()  # resolved stacks as (module, offset or address) word pairs
        self.out: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _map(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        got = self.maps.get(epoch)
        if got is None:
            bases, ends, names = self.image_map(epoch)
            ids = np.array([self.module_ids.setdefault(n, len(self.module_ids)) for n in names])
            got = self.maps[epoch] = (bases, ends, ids.astype(np.int32))
        return got

    def resolve(
        self, flat: np.ndarray, offsets: np.ndarray, epochs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(module id, rva) of each frame of pairs (frames `flat`/`offsets`, epoch each):
        one search per epoch present, over the frames of its pairs."""
        module = np.zeros(len(flat), dtype=np.int32)
        rva = np.full(len(flat), -1, dtype=np.int64)
        order = np.argsort(epochs, kind="stable")
        sorted_epochs = epochs[order]
        cuts = np.flatnonzero(np.concatenate([[True], sorted_epochs[1:] != sorted_epochs[:-1]]))
        for lo, hi in zip(cuts.tolist(), [*cuts[1:].tolist(), len(order)], strict=True):
            bases, ends, ids = self._map(int(sorted_epochs[lo]))
            if len(bases) == 0:
                continue
            pairs = order[lo:hi]
            at = intern.ranges(offsets[pairs], offsets[pairs + 1] - offsets[pairs])
            addr = flat[at]
            j = np.searchsorted(bases, addr, side="right") - 1
            ok = j >= 0
            ok[ok] &= addr[ok] < ends[j[ok]]
            at, j = at[ok], j[ok]
            module[at] = ids[j]
            rva[at] = (flat[at] - bases[j]).astype(np.int64)
        return module, rva

    def add(self, flat: np.ndarray, offsets: np.ndarray, epochs: np.ndarray) -> np.ndarray:
        """The resolved stack id of each pair; the frames of new ones are kept, in order."""
        module, rva = self.resolve(flat, offsets, epochs)
        # A frame is (module, offset) when resolved, else (0, its address).
        words = np.empty(2 * len(flat), dtype=np.uint64)
        words[0::2] = module
        words[1::2] = np.where(module > 0, rva.view(np.uint64), flat)
        before = len(self.seen)
        ids = self.seen.intern(words, 2 * offsets)
        del words
        new_ids, first = np.unique(ids, return_index=True)
        first = first[new_ids >= before]
        at = intern.ranges(offsets[first], offsets[first + 1] - offsets[first])
        self.out.append((flat[at], module[at], rva[at], offsets[first + 1] - offsets[first]))
        return ids

    def frames(self) -> ResolvedFrames:
        lengths = [o[3] for o in self.out]
        offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=offsets[1:])

        def column(i: int, dtype: type) -> np.ndarray:
            return np.concatenate([o[i] for o in self.out]) if self.out else np.zeros(0, dtype)

        return ResolvedFrames(
            address=column(0, np.uint64),
            module=column(1, np.int32),
            rva=column(2, np.int64),
            offsets=offsets,
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
    stack_of_pair = np.empty(len(raws), dtype=np.int64)
    for lo in range(0, len(raws), _PAIR_BLOCK):
        flat, offsets = stacks.gather(raws[lo : lo + _PAIR_BLOCK])
        stack_of_pair[lo : lo + _PAIR_BLOCK] = resolver.add(
            flat, offsets, np.asarray(epochs[lo : lo + _PAIR_BLOCK], dtype=np.int64)
        )
    return stack_of_pair, resolver.frames()
