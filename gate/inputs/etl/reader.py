"""Read an `.etl` trace into the store's chunks: images, stack frames, pool allocations (pool
events paired by `gate.tables.pairing`), unmatched frees, resident pages, TraceInfo.

One pass over the file decodes every batch of records (`gate.inputs.etl.decode`): each batch on a
worker thread, as a pure function of the batch (`_BatchResult`), merged in file order by
`EtlDecoder._absorb`. What only the end of the trace can settle is kept:

* Pool events are kept in memory as compact columns (about 45 bytes per event, integers in the
  narrowest type a batch needs, so 10 million events take ~450 MB plus one sort; glibc is kept
  from hoarding what decoding frees) and ordered at the end: per-CPU buffers mean file order is
  not time order, and `seq` must be final because the store orders by it. The order is by
  (raw timestamp, cpu, buffer sequence, record index in buffer), which is total and stable.
* A stack walk logged right after its pool event in the same buffer (the common case) is
  matched within its batch and only its raw id is kept, in the pool row. Other stacks are
  matched at the end, because a stack and its event may fall into different batches, and
  stack-cache keys are defined by records that come after their uses. Raw frame lists are
  deduplicated as they arrive, so memory for frames is bounded by the number of distinct
  stacks; each stack event left for the end keeps ~60 bytes until then.
* Image lifetimes are built from all Load/UnLoad/rundown events sorted in trace order; frames are
  resolved with the kernel images loaded at the event's time (an "epoch" of the image map).

Pool snapshot rundowns (0x0E28–0x0E2F) are counted and decoded into `EtlDecoder.pool_snapshot`
but not emitted as pool events: an allocation outstanding at trace start was made before the
window, and emitting it as an allocation would count it as allocated inside it. Its free, if
traced, then shows up as an unmatched free, which is what it is.
"""

from __future__ import annotations

import bisect
import ctypes
import hashlib
import os
import queue
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from gate.errors import InputError
from gate.inputs.etl import decode as D
from gate.inputs.etl import layouts as L
from gate.inputs.etl.container import EtlFile, RecordBatch, open_etl
from gate.inputs.etl.payloads import decode_tags
from gate.inputs.etl.resident import DEFAULT_PAGE_SIZE, ResidentSet, build_resident_set, frame_bound
from gate.tables.chunks import POOL_ALLOC, POOL_FREE, Chunk, Progress, TraceInfo
from gate.tables.drivers import driver_name
from gate.tables.order import sort_by_then, unique_first_inverse
from gate.tables.pairing import Pairing, pair_events, paired_chunks

SYNTHETIC_LOGGER_PREFIX = "gate synthetic"
CHUNK_ROWS = 1_000_000

_POOL_DTYPE = np.dtype(
    [
        ("ts", "<i8"),
        ("cpu", "<i4"),
        ("record_index", "<i4"),
        ("buffer_seq", "<i8"),
        ("address", "<u8"),
        ("size", "<i8"),
        ("thread", "<i4"),
        ("session", "<i4"),
        ("pool_type", "<u4"),
        ("tag", "<u4"),
        ("event", "u1"),
        ("raw", "<i4"),  # raw stack id matched within the batch (`_match_in_batch`), or -1
    ]
)
# One row per stack part: a 0x1820 stack walk or a 0x1825/0x1826 key reference.
_STACK_DTYPE = np.dtype(
    [
        ("ts", "<i8"),  # EventTimeStamp from the payload: the owning event's raw time
        ("header_ts", "<i8"),
        ("buffer_seq", "<i8"),
        ("thread", "<i8"),
        ("cpu", "<i4"),
        ("record_index", "<i4"),
        ("raw", "<i8"),  # raw stack id; for references, the index of the reference
        ("user", "u1"),  # 1: the user-mode part of the stack
        ("ref", "u1"),  # 1: a stack-cache key reference, `raw` not yet known
    ]
)


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()
_M_MMAP_THRESHOLD = -3
_HEAP_MMAP_BYTES = 4 << 20
_TRIM_EVERY = 4  # batches
_PAIRING_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-pairing")


def _bound_heap() -> None:
    """Keep glibc from hoarding freed arrays (a no-op elsewhere).

    glibc raises its mmap threshold to the size of the largest block freed, up to 32 MiB, so
    once a 32 MiB batch is freed every decoded column is carved from the heap, and the heap
    holes left behind are not given back: the reader's RSS then grows by hundreds of MiB of
    freed memory. A fixed 4 MiB threshold keeps big arrays in their own mappings, returned on
    free, and small ones on the heap, where they are fast.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _HEAP_MMAP_BYTES)


def _trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# Pool row columns kept in the smallest integer type of their kind that holds a batch's values
# (concatenation widens as needed); `raw` stays int32 as matching writes new ids into it.
_NARROW_POOL_COLUMNS = (
    "cpu", "record_index", "buffer_seq", "size", "thread", "session", "pool_type",
)  # fmt: skip


def _narrow(a: np.ndarray) -> np.ndarray:
    """`a` in the smallest integer type of its kind (signed or not) that holds its values."""
    if len(a) == 0 or a.dtype.kind not in "iu":
        return a
    lo, hi = int(a.min()), int(a.max())
    for t in (np.int8, np.int16, np.int32) if a.dtype.kind == "i" else (np.uint8, np.uint16):
        info = np.iinfo(t)
        if info.bits >= a.dtype.itemsize * 8:
            break
        if info.min <= lo and hi <= info.max:
            return a.astype(t)
    return a


class _Table:
    """Equal-length numpy columns, rows selected by index like a structured array.

    Columns are kept apart because gathering rows of a packed structured array is several times
    slower than gathering each column.
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    @classmethod
    def empty(cls, dtype: np.dtype, n: int = 0) -> _Table:
        return cls({name: np.empty(n, dtype=dtype[name]) for name in dtype.names or ()})

    @classmethod
    def concat(cls, tables: list[_Table], dtype: np.dtype, *, consume: bool = False) -> _Table:
        """One table of all rows. With `consume`, each part's column is released once copied,
        so the peak is the result plus one column rather than twice the data."""
        if not tables:
            return cls.empty(dtype)
        out: dict[str, np.ndarray] = {}
        for k in dtype.names or ():
            out[k] = np.concatenate([t.columns[k] for t in tables])
            if consume:
                for t in tables:
                    del t.columns[k]
                _trim_heap()  # the parts were small enough to live on the heap
        return cls(out)

    def take(self, order: np.ndarray) -> _Table:
        """Reorder the rows in place, column by column: one extra column at a time."""
        for k in list(self.columns):
            self.columns[k] = self.columns[k][order]
        return self

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, key: str | np.ndarray | slice) -> Any:
        if isinstance(key, str):
            return self.columns[key]
        return _Table({k: v[key] for k, v in self.columns.items()})

    def __setitem__(self, key: str, value: object) -> None:
        self.columns[key][...] = value

    def copy(self) -> _Table:
        return _Table({k: v.copy() for k, v in self.columns.items()})


_IMAGE_KINDS = {
    D.HOOK_IMAGE_DC_START: "dcstart",
    D.HOOK_IMAGE_LOAD: "load",
    D.HOOK_IMAGE_LOAD_IMAGE_GROUP: "load",
    D.HOOK_IMAGE_UNLOAD: "unload",
    D.HOOK_IMAGE_DC_END: "dcend",
}
_NO_TS = int(np.iinfo(np.int64).min)
_END_TS = int(np.iinfo(np.int64).max)
_ImageMap = tuple[np.ndarray, np.ndarray, list[str]]


def _user_space(first_frame: np.ndarray, pointer_size: int) -> np.ndarray:
    """Whether a stack's innermost frame is a user-mode address (below the kernel half)."""
    boundary = np.uint64(0x8000_0000_0000_0000 if pointer_size == 8 else 0x8000_0000)
    return first_frame < boundary


class _FileHash:
    """SHA-256 of a file, hashed on a thread from the bytes the reader reads anyway.

    `feed(offset, bytes)` hands over what the container read, in file order; uncompressed
    traces are read whole and in order, so the file is not read twice. At the first read that
    does not continue the last one (compressed buffers are read without their headers) the
    thread reads the rest of the file itself, still beside the decoding. `digest` hashes
    whatever follows the last read (the file's tail) and returns the hex digest.
    """

    _DETACH, _END, _CANCEL = object(), object(), object()

    def __init__(self, path: str) -> None:
        self._path = path
        self._hex = ""
        self._error: OSError | None = None
        self._next = 0  # the offset the next fed read must start at
        self._detached = False
        self._queue: queue.Queue[object] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._run, name="gate-sha256", daemon=True)
        self._thread.start()

    def feed(self, offset: int, data: memoryview) -> None:
        if self._detached:
            return
        if offset != self._next:
            self._detached = True
            self._queue.put(self._DETACH)
            return
        self._queue.put(data)
        self._next += len(data)

    def _run(self) -> None:
        h = hashlib.sha256()
        done = 0  # bytes hashed
        while True:
            item = self._queue.get()
            if item is self._CANCEL:
                return
            if item is self._DETACH or item is self._END:
                try:
                    with open(self._path, "rb") as f:
                        f.seek(done)
                        while chunk := f.read(8 << 20):
                            h.update(chunk)
                except OSError as exc:
                    self._error = exc
                    return
                self._hex = h.hexdigest()
                return
            assert isinstance(item, memoryview)
            h.update(item)
            done += len(item)

    def digest(self) -> str:
        if not self._detached:
            self._detached = True
            self._queue.put(self._END)
        self._thread.join()
        if self._error is not None:
            raise InputError(f"{self._path}: cannot read: {self._error.strerror or self._error}")
        return self._hex

    def cancel(self) -> None:
        """Stop the thread if it still waits for reads (the read failed or was abandoned)."""
        self._detached = True
        while self._thread.is_alive():
            try:
                self._queue.put(self._CANCEL, timeout=0.1)
                return
            except queue.Full:
                continue


class StackTable:
    """Distinct raw stacks (frame addresses, innermost first) and their ids."""

    def __init__(self) -> None:
        self._index: dict[bytes, int] = {}
        self.frames: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, frames: np.ndarray) -> int:
        frames = np.ascontiguousarray(frames, dtype=np.uint64)
        key = frames.tobytes()
        sid = self._index.get(key)
        if sid is None:
            sid = len(self.frames)
            self._index[key] = sid
            self.frames.append(frames)
        return sid

    def add_distinct(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Ids for k stacks given as one flat frame array and k+1 offsets (CSR).

        The decoders already de-duplicate a batch's stacks, so k is the number of distinct
        call stacks of a batch (hundreds), not its stack walks.
        """
        return np.array(
            [
                self.add(flat[lo:hi])
                for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
            ],
            dtype=np.int64,
        )


@dataclass
class ImageRow:
    process_id: int
    base: int
    size: int
    path: str
    load_ts: int  # _NO_TS: loaded before the trace
    unload_ts: int  # _END_TS: still loaded at the end
    pdb_name: str = ""
    pdb_guid: str = ""
    pdb_age: int = -1


@dataclass
class EtlSummary:
    """What `gate inspect` shows about one `.etl` file."""

    path: str
    sha256: str
    os_version: str
    os_build: int
    pointer_size_bytes: int
    cpu_count: int
    start_utc: datetime | None
    duration_s: float
    compressed: bool
    logger_name: str
    synthetic: bool
    records_total: int
    records_unknown: int
    records_malformed: int
    events: dict[str, int]  # "pool alloc (0x0e20)" -> count, most frequent first
    events_lost: int
    buffers_lost: int
    pool_events: int
    stacks_present: bool
    stack_walks: int
    stack_key_references: int
    stack_key_definitions: int
    drivers: list[str]  # kernel images seen, lower-case file names, sorted
    image_ids: int
    has_resident_set: bool = False
    resident_rejected: bool = False  # page events present but implausible: not used
    page_records: int = 0  # page records of the rundown hooks, all snapshots
    resident_snapshots: int = 0
    resident_pages: int = 0  # pages in the last full snapshot, before checks
    resident_time_s: float = float("nan")
    resident_failed: dict[str, float] = field(default_factory=dict)  # check -> share failed
    resident_failed_any: float = 0.0
    page_size_bytes: int = 4096
    notes: list[str] = field(default_factory=list)


class _BatchResult:
    """One batch decoded, on a worker thread: a pure function of the batch.

    Stack ids here are the batch's own (indices into the concatenated `stacks` blocks of
    distinct stacks); key references are numbered within the batch. `EtlDecoder._absorb` turns
    both into the trace's, batch by batch in file order.
    """

    def __init__(self, b: RecordBatch) -> None:
        self.records = len(b)
        self.events_lost_buffers = b.events_lost_buffers
        self.buffer_lost_buffers = b.buffer_lost_buffers
        self.last_ts = int(b.timestamp.max()) if len(b) else _NO_TS
        self.counts: Counter[D.EventKey] = Counter()
        self.records_unknown = 0
        self.malformed: Counter[str] = Counter()
        self.stacks: list[tuple[np.ndarray, np.ndarray]] = []  # distinct stacks, CSR blocks
        self._n_stacks = 0
        self.pool: _Table | None = None  # `raw`: the batch's stack id matched here, or -1
        self._pool_rows: list[_Table] = []
        self._pool_idx: list[np.ndarray] = []  # record indices of the pool rows
        self._walks: list[tuple[_Table, np.ndarray]] = []  # stack walks, record indices
        self.stack_parts: list[_Table] = []
        self.ref_keys: list[np.ndarray] = []
        self.defs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.image_events: list[tuple] = []
        self.image_ids: list[tuple] = []
        self.dbgids: list[tuple] = []
        self.file_names: list[tuple[list[int], list[str]]] = []
        self.pool_snapshot: list[dict[str, np.ndarray]] = []
        self.pages: list[dict[str, np.ndarray]] = []
        self.page_access_records = 0
        self.sysconfig: tuple[int | None, int | None] | None = None  # MemSize MB, PageSize
        if len(b):
            self._decode(b)

    def _distinct(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Batch ids for a block of distinct stacks."""
        self.stacks.append((flat, offsets))
        k = len(offsets) - 1
        self._n_stacks += k
        return np.arange(self._n_stacks - k, self._n_stacks, dtype=np.int64)

    def _decode(self, b: RecordBatch) -> None:
        codes, guid_keys = D.event_codes(b.header_type, b.hook_id, b.guid_index, b.guids)
        for code, idx in D.group_indices(codes):
            key = D.key_for_code(code, guid_keys)
            dec = D.DECODERS.get(key) if key is not None else None
            if key is None or dec is None:
                self.records_unknown += len(idx)
                if key is not None:
                    self.counts[key] += len(idx)
                continue
            self.counts[key] += len(idx)
            if dec.fn is None:
                continue
            ps_all = b.pointer_size[idx]
            for ps in np.unique(ps_all):
                sub = idx[ps_all == ps]
                cols = dec.fn(
                    b.data,
                    b.payload_offset[sub],
                    b.payload_size[sub].astype(np.int64),
                    int(ps),
                    b.version[sub],
                )
                ok = cols.pop("ok")
                if not ok.all():
                    self.malformed[dec.name] += int((~ok).sum())
                good = sub[ok]
                if len(good):
                    self._collect(dec.category, key, b, good, cols, int(ps))
        self._match_in_batch(len(b))

    def _match_in_batch(self, n: int) -> None:
        """Match this batch's stack walks that are the very next record after their pool event.

        Batches hold whole buffers, so the fast path of `_match_stacks` (a kernel stack walk
        right after its event in the same buffer, same timestamp and thread) can be taken here:
        the raw id goes into the pool row and the walk is not kept. Only kernel parts of events
        with a thread id are matched, so that `pool_columns` can rebuild any such walk from its
        pool row if another part shares its (timestamp, thread) and `_combine_parts` must see it.
        """
        pool_idx, walks = self._pool_idx, self._walks
        self._pool_idx, self._walks = [], []
        if not pool_idx:
            return
        pool = self._pool_rows
        self._pool_rows = []
        prow = pool[0] if len(pool) == 1 else _Table.concat(pool, _POOL_DTYPE)
        if walks:
            self._match_walks(n, prow, pool_idx, walks)
        for k in _NARROW_POOL_COLUMNS:
            prow.columns[k] = _narrow(prow.columns[k])
        self.pool = prow

    def _match_walks(
        self,
        n: int,
        prow: _Table,
        pool_idx: list[np.ndarray],
        walks: list[tuple[_Table, np.ndarray]],
    ) -> None:
        at = np.full(n + 1, -1, dtype=np.int64)
        at[np.concatenate(pool_idx) + 1] = np.arange(len(prow))  # the record after each event
        for rows, idx in walks:
            cand = at[idx]
            ok = (cand >= 0) & (rows["user"] == 0)
            c = cand[ok]
            ok[ok] = (
                (prow["cpu"][c] == rows["cpu"][ok])
                & (prow["buffer_seq"][c] == rows["buffer_seq"][ok])
                & (prow["record_index"][c] == rows["record_index"][ok] - 1)
                & (prow["ts"][c] == rows["ts"][ok])
                & (prow["thread"][c] >= 0)
                & (prow["thread"][c] == rows["thread"][ok])
            )
            if not ok.any():
                continue
            prow["raw"][cand[ok]] = rows["raw"][ok]
            keep = rows[~ok]
            for i in range(len(self.stack_parts)):
                if self.stack_parts[i] is rows:
                    self.stack_parts[i] = keep

    def _collect(
        self,
        category: str,
        key: D.EventKey,
        b: RecordBatch,
        idx: np.ndarray,
        cols: D.Columns,
        ps: int,
    ) -> None:
        if category in ("pool_alloc", "pool_free"):
            rows = _Table.empty(_POOL_DTYPE, len(idx))
            rows["ts"] = b.timestamp[idx]
            rows["cpu"] = b.cpu[idx]
            rows["record_index"] = b.record_index[idx]
            rows["buffer_seq"] = b.buffer_seq[idx]
            rows["address"] = cols["address"]
            rows["size"] = cols["size_bytes"]
            rows["thread"] = b.thread_id[idx]
            rows["session"] = cols["session_id"]
            rows["pool_type"] = cols["pool_type"]
            rows["tag"] = cols["tag"]
            rows["event"] = POOL_ALLOC if category == "pool_alloc" else POOL_FREE
            rows["raw"] = -1
            self._pool_idx.append(idx)
            self._pool_rows.append(rows)
        elif category == "stack":
            flat, offsets, which = cols["frames"], cols["frame_offsets"], cols["stack_index"]
            ids = self._distinct(flat, offsets)
            first = np.zeros(len(ids), dtype=np.uint64)
            nonempty = np.diff(offsets) > 0
            first[nonempty] = flat[offsets[:-1][nonempty]]
            user = (_user_space(first, ps) & nonempty)[which]
            rows = self._stack_rows(b, idx, cols, ids[which], user, ref=False)
            self._walks.append((rows, idx))
            self.stack_parts.append(rows)
        elif category == "stack_ref":
            base = sum(len(k) for k in self.ref_keys)
            raw = base + np.arange(len(idx), dtype=np.int64)
            user = np.full(len(idx), key == D.HOOK_STACK_KEY_USER)
            self.stack_parts.append(self._stack_rows(b, idx, cols, raw, user, ref=True))
            self.ref_keys.append(cols["key"])
        elif category == "stack_definition":
            ids = self._distinct(cols["frames"], cols["frame_offsets"])
            raw = ids[cols["stack_index"]]
            self.defs.append(
                (cols["key"], b.timestamp[idx], b.buffer_seq[idx], b.record_index[idx], raw)
            )
        elif category == "image":
            kind = _IMAGE_KINDS[key]  # type: ignore[index]
            pids = cols["process_id"]
            pids = np.where(pids < 0, np.maximum(b.process_id[idx], 0), pids)
            for i, rec in enumerate(idx):
                self.image_events.append(
                    (
                        int(b.timestamp[rec]),
                        int(b.cpu[rec]),
                        int(b.buffer_seq[rec]),
                        int(b.record_index[rec]),
                        kind,
                        int(pids[i]),
                        int(cols["base"][i]),
                        int(cols["size"][i]),
                        cols["file_name"][i],
                    )
                )
        elif category == "file_name":
            self.file_names.append((cols["file_object"].tolist(), list(cols["file_name"])))
        elif category == "image_id":
            for i, rec in enumerate(idx):
                self.image_ids.append(
                    (
                        int(b.buffer_seq[rec]),
                        int(b.record_index[rec]),
                        int(cols["process_id"][i]),
                        int(cols["base"][i]),
                        cols["file_name"][i],
                    )
                )
        elif category == "dbgid":
            for i, rec in enumerate(idx):
                self.dbgids.append(
                    (
                        int(b.buffer_seq[rec]),
                        int(b.record_index[rec]),
                        int(cols["process_id"][i]),
                        int(cols["base"][i]),
                        cols["pdb_name"][i],
                        cols["pdb_guid"][i],
                        int(cols["pdb_age"][i]),
                    )
                )
        elif category == "pool_snapshot_start":
            self.pool_snapshot.append({k: np.asarray(v) for k, v in cols.items()})
        elif category == "memory_page":
            page = cols["page"]
            if key not in D.RESIDENT_SNAPSHOT_HOOKS:
                self.page_access_records += int(page.sum())
                return
            self.pages.append(
                {
                    "ts": b.timestamp[idx][page],
                    "kind": cols["kind"][page],
                    "page_list": cols["page_list"][page],
                    "frame": cols["frame"][page],
                    "key": cols["key"][page],
                    "virtual_address": cols["virtual_address"][page],
                }
            )
        elif category == "sysconfig_cpu":
            self.sysconfig = (
                int(cols["memory_mb"][-1]) or None,
                int(cols["page_size"][-1]) or None,
            )

    @staticmethod
    def _stack_rows(
        b: RecordBatch,
        idx: np.ndarray,
        cols: D.Columns,
        raw: np.ndarray,
        user: np.ndarray,
        *,
        ref: bool,
    ) -> _Table:
        rows = _Table.empty(_STACK_DTYPE, len(idx))
        rows["ts"] = cols["event_timestamp"]
        rows["header_ts"] = b.timestamp[idx]
        rows["buffer_seq"] = b.buffer_seq[idx]
        rows["thread"] = cols["stack_thread"]
        rows["cpu"] = b.cpu[idx]
        rows["record_index"] = b.record_index[idx]
        rows["raw"] = raw
        rows["user"] = user
        rows["ref"] = ref
        return rows


class EtlDecoder:
    """One pass over an `.etl` file, then the derived tables. Use `read_etl` or `inspect_etl`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch_bytes: int = 32 << 20,
        progress: Progress | None = None,
    ) -> None:
        self.path = str(path)
        self.batch_bytes = batch_bytes
        self.progress = progress
        self.counts: Counter[D.EventKey] = Counter()
        self.records_total = 0
        self.records_unknown = 0
        self.malformed: Counter[str] = Counter()
        self.last_ts = _NO_TS
        self.events_lost_buffers = 0
        self.buffer_lost_buffers = 0
        self.stacks = StackTable()
        self.stacks_unmatched = 0
        self._pool: list[_Table] = []
        self._stack_parts: list[_Table] = []
        self._ref_keys: list[np.ndarray] = []
        self._defs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._image_events: list[tuple] = []
        self._image_ids: list[tuple] = []
        self._dbgids: list[tuple] = []
        self.file_names: dict[int, str] = {}  # FileObject -> name, for resident-set work
        self.pool_snapshot: list[dict[str, np.ndarray]] = []
        self._pages: list[dict[str, np.ndarray]] = []  # page records of the rundown hooks
        self.page_access_records = 0
        self.memory_mb: int | None = None  # SystemConfig CPU MemSize
        self.config_page_size: int | None = None  # SystemConfig CPU PageSize
        self._resident: ResidentSet | None = None
        self.images: list[ImageRow] = []
        self.notes: list[str] = []
        self.etl: EtlFile | None = None
        self._hasher: _FileHash | None = None

    # --- pass over the file -------------------------------------------------------------------

    def run(self) -> None:
        _bound_heap()
        hasher = self._hasher = _FileHash(self.path)
        try:
            with open_etl(self.path) as etl:
                self.etl = etl
                batches = etl.map_batches(
                    _BatchResult, self.batch_bytes, progress=self.progress, on_read=hasher.feed
                )
                for i, result in enumerate(batches):
                    self._absorb(result)
                    del result
                    if i % _TRIM_EVERY == _TRIM_EVERY - 1:
                        _trim_heap()  # what decoding freed between the rows kept
        except BaseException:
            hasher.cancel()
            raise
        self._build_images()

    def _absorb(self, r: _BatchResult) -> None:
        """Add one batch's results, in file order: the batch's own stack ids become the trace's."""
        if r.records == 0:
            return
        self.records_total += r.records
        self.events_lost_buffers += r.events_lost_buffers
        self.buffer_lost_buffers += r.buffer_lost_buffers
        self.last_ts = max(self.last_ts, r.last_ts)
        self.counts.update(r.counts)
        self.records_unknown += r.records_unknown
        self.malformed.update(r.malformed)
        ids = [self.stacks.add_distinct(flat, offsets) for flat, offsets in r.stacks]
        trace_id = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        if r.pool is not None:
            raw = r.pool["raw"]
            has = raw >= 0
            raw[has] = trace_id[raw[has]]
            self._pool.append(r.pool)
        ref_base = sum(len(k) for k in self._ref_keys)
        for part in r.stack_parts:
            ref = part["ref"] == 1
            part["raw"][ref] += ref_base
            part["raw"][~ref] = trace_id[part["raw"][~ref]]
            self._stack_parts.append(part)
        self._ref_keys += r.ref_keys
        for key, ts, seq, ri, raw in r.defs:
            self._defs.append((key, ts, seq, ri, trace_id[raw]))
        self._image_events += r.image_events
        self._image_ids += r.image_ids
        self._dbgids += r.dbgids
        for objects, names in r.file_names:
            self.file_names.update(zip(objects, names, strict=True))
        self.pool_snapshot += r.pool_snapshot
        self._pages += r.pages
        self.page_access_records += r.page_access_records
        if r.sysconfig is not None:
            self.memory_mb, self.config_page_size = r.sysconfig

    # --- images -------------------------------------------------------------------------------

    def _build_images(self) -> None:
        """Image lifetimes from the image events in trace order.

        DCStart opens an image loaded before the trace, unless the same base is already open
        (rundowns repeat) or was closed earlier in the trace (then it was reloaded and the
        rundown time is the best load time known). Load opens (closing a stale image at the same
        base), UnLoad closes; an UnLoad or DCEnd of an image never seen opens one that was
        loaded before the trace. DCEnd never unloads.
        """
        events = sorted(self._image_events, key=lambda e: e[:4])
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
                rows.append(ImageRow(pid, base, size, name, ts, _END_TS))
            elif kind == "unload":
                if cur is None:
                    rows.append(ImageRow(pid, base, size, name, _NO_TS, ts))
                else:
                    rows[cur].unload_ts = ts
                    del open_rows[k]
                closed.add(k)
            elif cur is None:  # dcstart or dcend of an image not open
                load = ts if k in closed else _NO_TS
                open_rows[k] = len(rows)
                rows.append(ImageRow(pid, base, size, name, load, _END_TS))
        self._apply_pdb_ids(rows)
        self.images = rows
        self._image_events = []

    def _apply_pdb_ids(self, rows: list[ImageRow]) -> None:
        """Fill PDB identity from DbgID_RSDS events, matched on (process, base).

        WPR's merge logs an ImageId (with the file name) right before each DbgID of the same
        image; when an image base was reused the name tells which image the DbgID is for.
        """
        if not self._dbgids:
            return
        names: dict[tuple[int, int, int, int], str] = {}
        for seq, ri, pid, base, name in self._image_ids:
            names[(seq, ri, pid, base)] = name
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

    # --- stacks -------------------------------------------------------------------------------

    def _resolve_refs(self, parts: _Table) -> _Table:
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

    def _combine_parts(self, parts: _Table) -> _Table:
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
        ends = np.append(starts[1:], len(sub))
        keep = np.ones(len(parts), dtype=bool)
        raw = parts["raw"].copy()
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            group = sub[s:e]
            kernel = np.flatnonzero(group["user"] == 0)
            user = np.flatnonzero(group["user"] == 1)
            if len(kernel) == 1 and len(user):
                frames = [self.stacks.frames[r] for r in group["raw"][np.r_[kernel, user]]]
                raw[rows[s + kernel[0]]] = self.stacks.add(np.concatenate(frames))
                keep[rows[s + user]] = False
            elif len(kernel) == 0:
                keep[rows[s + user[1:]]] = False
            else:
                keep[rows[s + user]] = False
        parts = parts.copy()
        parts["raw"] = raw
        dropped = int((~keep).sum())
        if dropped:
            self.notes.append(f"{dropped} user-mode stack parts not joined to a kernel part")
        return parts[keep]

    @staticmethod
    def _stream_positions(*tables: _Table) -> list[np.ndarray]:
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

    @staticmethod
    def _match(
        pool: _Table,
        pool_pos: np.ndarray,
        stacks: _Table,
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

    def _match_stacks(self, pool: _Table, stacks: _Table) -> None:
        """Complete `pool["raw"]`, the raw stack id of each pool event (-1: none), in place.

        Pool events already holding a stack were matched in their batch (`_match_in_batch`).
        Fast path: a stack logged as the very next record of its event's buffer, with the same
        timestamp and thread (or, for events without a thread id, necessarily the same
        processor). The rest goes through the general rule in `_match`, restricted to pool
        events whose timestamp some leftover stack carries. Both only ever pair a stack with a
        pool event of the same timestamp, so only those pool events are looked at.
        """
        if len(pool) == 0 or len(stacks) == 0:
            self.stacks_unmatched = len(stacks)
            return
        sts = np.unique(stacks["ts"])
        k = np.minimum(np.searchsorted(sts, pool["ts"]), len(sts) - 1)
        near_all = np.flatnonzero(sts[k] == pool["ts"])
        del k
        sub = pool[near_all]
        raw_of_event = sub["raw"].astype(np.int64)
        pool_pos, stack_pos = self._stream_positions(sub, stacks)
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
                pi, si = self._match(
                    sub[sel], pool_pos[sel], stacks[free], stack_pos[free], by, taken[sel]
                )
                raw_of_event[sel[pi]] = stacks["raw"][free[si]]
                matched[free[si]] = True
        pool["raw"][near_all] = raw_of_event
        self.stacks_unmatched = int((~matched).sum())

    @staticmethod
    def _unmatch_shared(pool: _Table, parts: _Table) -> _Table:
        """Give back to `parts` the walks matched in their batch whose (timestamp, thread) some
        other part also has: `_combine_parts` decides those (a kernel part joined to its user
        part, or several kernel parts). A walk matched in its batch is a kernel part, so a key
        shared only among such walks leaves each one as it is, as `_combine_parts` would."""
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
        back = _Table.empty(_STACK_DTYPE, len(m))
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
        return _Table.concat([parts, back], _STACK_DTYPE)

    # --- image maps ---------------------------------------------------------------------------

    def _kernel_epochs(self) -> tuple[np.ndarray, list[ImageRow]]:
        kernel = [r for r in self.images if r.process_id == 0]
        points = sorted(
            {r.load_ts for r in kernel if r.load_ts != _NO_TS}
            | {r.unload_ts for r in kernel if r.unload_ts != _END_TS}
        )
        return np.asarray(points, dtype=np.int64), kernel

    def _resolver(self) -> tuple[np.ndarray, Callable[[int], _ImageMap]]:
        """The epoch change points, and a function epoch -> (sorted bases, ends, names)."""
        points, kernel = self._kernel_epochs()
        cache: dict[int, _ImageMap] = {}

        def image_map(epoch: int) -> _ImageMap:
            got = cache.get(epoch)
            if got is None:
                t0 = _NO_TS if epoch == 0 else int(points[epoch - 1])
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

    # --- outputs ------------------------------------------------------------------------------

    def _resolve_frames(
        self, raws: np.ndarray, epochs: np.ndarray, image_map: Callable[[int], _ImageMap]
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, list[str], np.ndarray]]]:
        """Frames of each (raw stack, image epoch) pair resolved to module + offset.

        Pairs that resolve to the same frames (the same stack logged before and after an
        unrelated driver loaded) get one stack id; ids are given in pair order. Returns each
        pair's stack id and, per new id, (addresses, modules, offsets; -1: unresolved). The
        frames of all pairs are resolved together, one search per image epoch.
        """
        frames = [self.stacks.frames[r] for r in raws.tolist()]
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
        frames_out: list[tuple[np.ndarray, list[str], np.ndarray]] = []
        for p, (lo, hi) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)):
            key = module[lo:hi].tobytes() + ident[lo:hi].tobytes()
            sid = seen.get(key)
            if sid is None:
                sid = seen[key] = len(seen)
                frames_out.append((flat[lo:hi], names_by_id[module[lo:hi]].tolist(), rva[lo:hi]))
            stack_of_pair[p] = sid
        return stack_of_pair, frames_out

    def pool_columns(
        self, *, pair: bool = False
    ) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, list[str]]], Pairing | None]:
        """Pool events in trace order with final stack ids, the new stacks' frames, and with
        `pair` the events' pairing (`gate.tables.pairing`), computed on a thread while the
        stacks are matched and resolved (its sort releases the GIL)."""
        _trim_heap()  # what decoding freed, before the whole-table work
        pool = _Table.concat(self._pool, _POOL_DTYPE, consume=True)
        self._pool = []
        parts = _Table.concat(self._stack_parts, _STACK_DTYPE, consume=True)
        self._stack_parts = []
        parts = self._unmatch_shared(pool, parts)
        (pos,) = self._stream_positions(pool)
        pool = pool.take(sort_by_then(pool["ts"], pos))
        del pos
        pairing: Future[Pairing] | None = None
        if pair:
            pairing = _PAIRING_POOL.submit(
                pair_events, pool["event"], pool["address"], pool["session"]
            )
        stacks = self._combine_parts(self._resolve_refs(parts))
        del parts
        self._match_stacks(pool, stacks)
        del stacks
        for k in ("buffer_seq", "record_index"):
            del pool.columns[k]

        stack_id = np.full(len(pool), -1, dtype=np.int64)
        frames_out: list[tuple[np.ndarray, list[str], np.ndarray]] = []
        has = np.flatnonzero(pool["raw"] >= 0)
        if len(has):
            points, image_map = self._resolver()
            epoch = np.searchsorted(points, pool["ts"][has], side="right").astype(np.int64)
            pair = pool["raw"][has].astype(np.int64) * (len(points) + 1) + epoch
            del epoch
            uniq, first, inverse = unique_first_inverse(pair)
            # Stack ids in order of first use, so they do not depend on file layout.
            in_use = np.argsort(first, kind="stable")
            raws, epochs = np.divmod(uniq[in_use], len(points) + 1)
            final_of_pair = np.empty(len(uniq), dtype=np.int64)
            final_of_pair[in_use], frames_out = self._resolve_frames(raws, epochs, image_map)
            del in_use, raws, epochs
            stack_id[has] = final_of_pair[inverse.reshape(-1)]
        del has, pool.columns["raw"]
        # Narrow columns stay narrow: `read_etl` widens them one chunk at a time.
        cols = {
            "ts": pool["ts"],
            "event": pool["event"],
            "pool_type": pool["pool_type"],
            "tag": pool["tag"],
            "size_bytes": pool["size"],
            "address": pool["address"],
            "session_id": pool["session"],
            "stack_id": stack_id,
            "thread_id": pool["thread"],
            "cpu": pool["cpu"],
        }
        return cols, frames_out, pairing.result() if pairing is not None else None

    def close(self) -> None:
        if self._hasher is not None:
            self._hasher.cancel()

    def sha256(self) -> str:
        """The file's SHA-256, hashed on a thread started with `run` (hashlib releases the GIL,
        so on a second core it costs no wall time)."""
        if self._hasher is None:  # not read (yet): the thread reads the whole file
            self._hasher = _FileHash(self.path)
        return self._hasher.digest()

    def seconds(self, raw: np.ndarray) -> np.ndarray:
        """Seconds from trace start; QPC ticks are divided (not multiplied by 1/freq) so that
        synthetic 100 ns ticks give exactly the scenario's `ticks / 1e7`."""
        assert self.etl is not None
        r = np.asarray(raw, dtype=np.int64)
        h = self.etl.header
        if h.clock_type in (L.CLOCK_RAW, L.CLOCK_QPC) and h.perf_freq > 0:
            return (r - h.sync_timestamp_raw) / h.perf_freq
        if h.clock_type == L.CLOCK_SYSTEM_TIME:
            return (r - h.sync_timestamp_raw) / 1e7
        return self.etl.seconds(r)

    def duration_s(self) -> float:
        if self.last_ts == _NO_TS:
            return 0.0
        return max(float(self.seconds(np.array([self.last_ts]))[0]), 0.0)

    def lost(self) -> tuple[int, int]:
        """Lost events and buffers: the header's counts, at least the flagged buffers.

        A buffer flagged EVENTS_LOST or BUFFER_LOST is where losses the header already counts
        happened, so the flags raise the header count to at least the number of flagged buffers
        rather than add to it: either way a trace that lost anything reports a nonzero count.
        """
        assert self.etl is not None
        h = self.etl.header
        return (
            max(h.events_lost, self.events_lost_buffers),
            max(h.buffers_lost, self.buffer_lost_buffers),
        )

    def page_size(self) -> int:
        """The trace's page size: SystemConfig's when it is a plausible one, else 4096."""
        ps = self.config_page_size
        if ps and ps >= 4096 and ps & (ps - 1) == 0 and ps <= 1 << 16:
            return ps
        return DEFAULT_PAGE_SIZE

    def resident_set(self) -> ResidentSet:
        """The last full resident-set snapshot, checked (`gate.inputs.etl.resident`); computed once."""
        if self._resident is not None:
            return self._resident
        assert self.etl is not None
        cols = {
            k: np.concatenate([p[k] for p in self._pages])
            if self._pages
            else np.zeros(0, dtype=np.uint64)
            for k in ("ts", "kind", "page_list", "frame", "key", "virtual_address")
        }
        self._pages = []
        page_size = self.page_size()
        images = [
            (
                r.base,
                r.size,
                r.path,
                float(self.seconds(np.array([r.load_ts]))[0]) if r.load_ts != _NO_TS else np.nan,
                float(self.seconds(np.array([r.unload_ts]))[0])
                if r.unload_ts != _END_TS
                else np.nan,
            )
            for r in self.images
            if r.process_id == 0
        ]
        self._resident = build_resident_set(
            time_s=self.seconds(cols["ts"].astype(np.int64)),
            kind=cols["kind"].astype(np.uint8),
            page_list=cols["page_list"].astype(np.uint8),
            frame=cols["frame"].astype(np.uint64),
            key=cols["key"].astype(np.uint64),
            virtual_address=cols["virtual_address"].astype(np.uint64),
            file_names=self.file_names,
            images=images,
            page_size=page_size,
            bound=frame_bound(self.memory_mb, page_size, self.etl.header.pointer_size_bytes),
        )
        return self._resident

    def all_notes(self) -> list[str]:
        notes = list(self.notes)
        for name, n in sorted(self.malformed.items()):
            notes.append(f"{n} malformed '{name}' records skipped")
        others = sum(1 for r in self.images if r.process_id != 0)
        if others:
            notes.append(f"{others} user-mode images (process id != 0) not listed in images")
        snap = sum(
            v for k, v in self.counts.items() if isinstance(k, int) and 0x0E28 <= k <= 0x0E2F
        )
        if snap:
            notes.append(
                f"{snap} pool snapshot rundown records (layout unverified); outstanding "
                "allocations at trace start are not emitted as pool events"
            )
        if self.stacks_unmatched:
            notes.append(f"{self.stacks_unmatched} stacks not matched to a pool event")
        if self.page_access_records:
            notes.append(
                f"{self.page_access_records} page access records (0x0276/0x0282) decoded; "
                "they are single accesses, not part of the resident set"
            )
        notes += self.resident_set().notes
        return notes


def _images_chunk(dec: EtlDecoder) -> Chunk:
    rows = [r for r in dec.images if r.process_id == 0]
    load = np.array([r.load_ts for r in rows], dtype=np.int64)
    unload = np.array([r.unload_ts for r in rows], dtype=np.int64)
    load_s = np.full(len(rows), np.nan)
    unload_s = np.full(len(rows), np.nan)
    if rows:
        has_load = load != _NO_TS
        has_unload = unload != _END_TS
        load_s[has_load] = dec.seconds(load[has_load])
        unload_s[has_unload] = dec.seconds(unload[has_unload])
    return Chunk.build(
        "images",
        driver=[driver_name(r.path) for r in rows],
        path=[r.path for r in rows],
        base_address=np.array([r.base for r in rows], dtype=np.uint64),
        size_bytes=[r.size for r in rows],
        load_s=load_s,
        unload_s=unload_s,
        process_id=[r.process_id for r in rows],
        pdb_name=[r.pdb_name for r in rows],
        pdb_guid=[r.pdb_guid for r in rows],
        pdb_age=[r.pdb_age for r in rows],
    )


def _frames_chunk(frames_out: list[tuple[np.ndarray, list[str], np.ndarray]]) -> Chunk:
    if not frames_out:
        sid = idx = addr = rva = np.zeros(0, dtype=np.int64)
        modules: list[str] = []
    else:
        lens = np.array([len(f[0]) for f in frames_out], dtype=np.int64)
        sid = np.repeat(np.arange(len(frames_out)), lens)
        idx = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        addr = np.concatenate([f[0] for f in frames_out])
        rva = np.concatenate([f[2] for f in frames_out])
        modules = [m for f in frames_out for m in f[1]]
    return Chunk.build(
        "stack_frames",
        stack_id=sid,
        frame_index=idx,
        address=addr.astype(np.uint64),
        module=np.array(modules, dtype=object),
        rva_bytes=rva,
        function=np.full(len(modules), "", dtype=object),
    )


def _event_chunks(dec: EtlDecoder, cols: dict[str, np.ndarray]) -> Iterator[Chunk]:
    """`pool_events` chunks of the trace-ordered event columns of `pool_columns`."""
    n = len(cols["ts"])
    for lo in range(0, max(n, 1), CHUNK_ROWS):
        c = {k: v[lo : lo + CHUNK_ROWS] for k, v in cols.items()}
        yield Chunk.build(
            "pool_events",
            seq=np.arange(lo, lo + len(c["ts"]), dtype=np.int64),
            time_s=dec.seconds(c["ts"]),
            event=c["event"],
            pool_type=c["pool_type"],
            tag=decode_tags(c["tag"]),
            size_bytes=c["size_bytes"],
            address=c["address"],
            session_id=c["session_id"].astype(np.int64),
            stack_id=c["stack_id"],
            thread_id=c["thread_id"].astype(np.int64),
            cpu=c["cpu"].astype(np.int64),
        )


def read_etl(
    path: str | os.PathLike[str],
    *,
    batch_bytes: int = 32 << 20,
    progress: Progress | None = None,
    paired: bool = True,
) -> Iterator[Chunk | TraceInfo]:
    """Chunks for the store from one `.etl` file: images, stack_frames, pool_allocations,
    pool_unmatched_frees, resident_pages, then TraceInfo.

    With `paired=False` the pool events themselves come instead of allocations and unmatched
    frees (`pool_events` chunks in trace order, every field), for tools and tests that look at
    events; the store pairs those the same way.

    Raises `TraceFormatError` for a corrupt file. A trace without pool events is not an error
    here (the rules report it): it yields no allocations.
    """
    dec = EtlDecoder(path, batch_bytes=batch_bytes, progress=progress)
    dec.run()
    try:
        assert dec.etl is not None
        yield _images_chunk(dec)
        cols, frames_out, pairing = dec.pool_columns(pair=paired)
        yield _frames_chunk(frames_out)
        del frames_out
        if paired:
            # The events are in trace order and in memory already: pairing them here spares the
            # store staging millions of rows only to sort them again.
            yield from paired_chunks(
                time=cols.pop("ts"),
                event=cols.pop("event"),
                pool_type=cols.pop("pool_type"),
                tag=cols.pop("tag"),
                size_bytes=cols.pop("size_bytes"),
                address=cols.pop("address"),
                session_id=cols.pop("session_id"),
                stack_id=cols.pop("stack_id"),
                seconds=dec.seconds,
                tag_text=decode_tags,
                rows_per_chunk=CHUNK_ROWS,
                pairing=pairing,
            )
            del cols
            _trim_heap()
        else:
            yield from _event_chunks(dec, cols)
        resident = dec.resident_set()
        if resident.present:
            yield Chunk.build(
                "resident_pages",
                path=resident.path,
                page_list=resident.page_list,
                category=resident.category,
                size_bytes=resident.size_bytes,
            )
        h = dec.etl.header
        events_lost, buffers_lost = dec.lost()
        yield TraceInfo(
            source_path=str(path),
            source_format="etl",
            sha256=dec.sha256(),
            os_version=h.os_version,
            pointer_size_bytes=h.pointer_size_bytes,
            cpu_count=h.cpu_count,
            start_utc=h.start_utc,
            duration_s=dec.duration_s(),
            events_lost=events_lost,
            buffers_lost=buffers_lost,
            page_size_bytes=dec.page_size(),
            has_resident_set=resident.present,
            synthetic=h.logger_name.startswith(SYNTHETIC_LOGGER_PREFIX),
            compressed=h.compressed,
            records_total=dec.records_total,
            records_unknown=dec.records_unknown,
            notes=dec.all_notes(),
        )
    finally:
        dec.close()  # the checksum thread, if the consumer stopped early


def inspect_etl(path: str | os.PathLike[str], *, progress: Progress | None = None) -> EtlSummary:
    """Describe an `.etl` file for `gate inspect` (one full decoding pass, no stack matching)."""
    dec = EtlDecoder(path, progress=progress)
    dec.run()
    assert dec.etl is not None
    h = dec.etl.header
    events_lost, buffers_lost = dec.lost()
    c = dec.counts
    pool = sum(c[k] for k in (0x0E20, 0x0E21, 0x0E22, 0x0E23))
    walks = c[D.HOOK_STACK_WALK]
    refs = c[D.HOOK_STACK_KEY_KERNEL] + c[D.HOOK_STACK_KEY_USER]
    defs = c[0x1822] + c[0x1823] + c[0x1824]
    rs = dec.resident_set()
    return EtlSummary(
        path=str(path),
        sha256=dec.sha256(),
        os_version=h.os_version,
        os_build=h.os_build,
        pointer_size_bytes=h.pointer_size_bytes,
        cpu_count=h.cpu_count,
        start_utc=h.start_utc,
        duration_s=dec.duration_s(),
        compressed=h.compressed,
        logger_name=h.logger_name,
        synthetic=h.logger_name.startswith(SYNTHETIC_LOGGER_PREFIX),
        records_total=dec.records_total,
        records_unknown=dec.records_unknown,
        records_malformed=sum(dec.malformed.values()),
        events={D.event_name(k): v for k, v in c.most_common()},
        events_lost=events_lost,
        buffers_lost=buffers_lost,
        pool_events=pool,
        stacks_present=walks + refs > 0,
        stack_walks=walks,
        stack_key_references=refs,
        stack_key_definitions=defs,
        drivers=sorted({driver_name(r.path) for r in dec.images if r.process_id == 0}),
        image_ids=c[(D.KERNEL_TRACE_CONTROL, D.OPCODE_IMAGE_ID)],
        has_resident_set=rs.present,
        resident_rejected=rs.rejected,
        page_records=rs.page_records,
        resident_snapshots=rs.snapshots,
        resident_pages=rs.snapshot_pages,
        resident_time_s=rs.snapshot_time_s,
        resident_failed=rs.failed,
        resident_failed_any=rs.failed_any,
        page_size_bytes=rs.page_size,
        notes=dec.all_notes(),
    )


__all__ = ["EtlDecoder", "EtlSummary", "StackTable", "inspect_etl", "read_etl"]
