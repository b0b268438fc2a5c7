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

from gate.inputs.etl.batch import NO_TS, BatchResult, ImageEvent
from gate.tables.drivers import driver_name

END_TS = int(np.iinfo(np.int64).max)

# An image map: sorted base addresses, their ends and the images' driver names.
ImageMap = tuple[np.ndarray, np.ndarray, list[str]]
# Per new stack: (frame addresses, module names, offsets into them; -1 when unresolved).
ResolvedFrames = tuple[np.ndarray, list[str], np.ndarray]


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

    def absorb(self, r: BatchResult) -> None:
        self._events += r.image_events
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
                _s, r, ipid, ibase, iname = ids_sorted[j]
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


def resolve_frames(
    frames_of: list[np.ndarray],
    raws: np.ndarray,
    epochs: np.ndarray,
    image_map: Callable[[int], ImageMap],
) -> tuple[np.ndarray, list[ResolvedFrames]]:
    """Frames of each (raw stack, image epoch) pair resolved to module + offset.

    `frames_of[raw]` are the frame addresses of a raw stack. Pairs that resolve to the same
    frames (the same stack logged before and after an unrelated driver loaded) get one stack
    id; ids are given in pair order. Returns each pair's stack id and, per new id, its
    resolved frames. The frames of all pairs are resolved together, one search per epoch.
    """
    frames = [frames_of[r] for r in raws.tolist()]
    lengths = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
    flat = np.concatenate(frames) if frames else np.zeros(0, dtype=np.uint64)
    del frames
    epoch = np.repeat(epochs, lengths)
    module_ids: dict[str, int] = {"": 0}  # 0: in no known image
    module = np.zeros(len(flat), dtype=np.int64)
    rva = np.full(len(flat), -1, dtype=np.int64)
    for e in np.unique(epoch).tolist():
        bases, ends, names = image_map(e)
        if len(bases) == 0:
            continue
        at = np.flatnonzero(epoch == e)
        addr = flat[at]
        j = np.searchsorted(bases, addr, side="right") - 1
        ok = j >= 0
        ok[ok] &= addr[ok] < ends[j[ok]]
        ids = np.array([module_ids.setdefault(n, len(module_ids)) for n in names])
        module[at[ok]] = ids[j[ok]]
        rva[at[ok]] = (addr[ok] - bases[j[ok]]).astype(np.int64)
    del epoch
    names_by_id = np.array(list(module_ids), dtype=object)
    # A frame is (module, offset) when resolved, else its address.
    ident = np.where(module > 0, rva, flat.view(np.int64))
    offsets = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    stack_of_pair = np.empty(len(raws), dtype=np.int64)
    seen: dict[bytes, int] = {}
    frames_out: list[ResolvedFrames] = []
    for p, (lo, hi) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)):
        key = module[lo:hi].tobytes() + ident[lo:hi].tobytes()
        sid = seen.get(key)
        if sid is None:
            sid = seen[key] = len(seen)
            frames_out.append((flat[lo:hi], names_by_id[module[lo:hi]].tolist(), rva[lo:hi]))
        stack_of_pair[p] = sid
    return stack_of_pair, frames_out
