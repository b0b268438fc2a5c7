"""One batch of records decoded on a worker thread: a pure function of the batch.

`BatchResult(batch)` groups the batch's records by event key, runs each key's payload decoder
(`decode.DECODERS`) and hands the columns to the handler of the decoder's category
(`HANDLERS`): pool rows, stack parts, image events, page records, ... Every category a decoder
names has a handler (a test holds the two tables together), so no record is dropped because
of a misspelt category.

Stack ids here are the batch's own (indices into the concatenated `stacks` blocks of distinct
stacks) and key references are numbered within the batch; `EtlDecoder` turns both into the
trace's, batch by batch in file order. A stack walk logged right after its pool event in the
same buffer is matched here already (`_match_in_batch`), so only its id is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from gate.inputs.etl import decode as D
from gate.inputs.etl import intern
from gate.inputs.etl.memory import ColumnTable, narrow
from gate.inputs.etl.records import RecordBatch
from gate.tables.chunks import POOL_ALLOC, POOL_FREE

NO_TS = int(np.iinfo(np.int64).min)

POOL_DTYPE = np.dtype(
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
STACK_DTYPE = np.dtype(
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

# Pool row columns kept in the smallest integer type of their kind that holds a batch's values
# (concatenation widens as needed); `raw` stays int32 as matching writes new ids into it.
_NARROW_POOL_COLUMNS = (
    "cpu", "record_index", "buffer_seq", "size", "thread", "session", "pool_type",
)  # fmt: skip

IMAGE_KINDS = {
    D.HOOK_IMAGE_DC_START: "dcstart",
    D.HOOK_IMAGE_LOAD: "load",
    D.HOOK_IMAGE_LOAD_IMAGE_GROUP: "load",
    D.HOOK_IMAGE_UNLOAD: "unload",
    D.HOOK_IMAGE_DC_END: "dcend",
}

# An image event as the image tracker sorts it: (raw time, cpu, buffer seq, record index,
# kind, process id, base, size, file name).
ImageEvent = tuple[int, int, int, int, str, int, int, int, str]


def user_space(first_frame: np.ndarray, pointer_size: int) -> np.ndarray:
    """Whether a stack's innermost frame is a user-mode address (below the kernel half)."""
    boundary = np.uint64(0x8000_0000_0000_0000 if pointer_size == 8 else 0x8000_0000)
    return first_frame < boundary


class BatchResult:
    """What one batch holds, decoded: see the module docstring."""

    def __init__(self, b: RecordBatch) -> None:
        self.records = len(b)
        self.events_lost_buffers = b.events_lost_buffers
        self.buffer_lost_buffers = b.buffer_lost_buffers
        self.last_ts = int(b.timestamp.max()) if len(b) else NO_TS
        self.counts: Counter[D.EventKey] = Counter()
        self.records_unknown = 0
        self.malformed: Counter[str] = Counter()
        self.stacks: list[tuple[np.ndarray, np.ndarray]] = []  # distinct stacks, CSR blocks
        self._n_stacks = 0
        self.pool: ColumnTable | None = None  # `raw`: the batch's stack id matched here, or -1
        self._pool_rows: list[ColumnTable] = []
        self._pool_idx: list[np.ndarray] = []  # record indices of the pool rows
        self._walks: list[tuple[ColumnTable, np.ndarray]] = []  # stack walks, record indices
        self.stack_parts: list[ColumnTable] = []
        self.ref_keys: list[np.ndarray] = []
        self.defs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.image_events: list[ImageEvent] = []
        self.image_ids: list[tuple[int, int, int, int, str]] = []
        self.dbgids: list[tuple[int, int, int, int, str, str, int]] = []
        self.file_names: list[tuple[list[int], list[str]]] = []
        self.pages: list[dict[str, np.ndarray]] = []
        self.page_access_records = 0
        self.sysconfig: tuple[int | None, int | None] | None = None  # MemSize MB, PageSize
        self._block: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if len(b):
            self._decode(b)
            self._block = self._merge_stacks()

    def stack_block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch's distinct stacks as one CSR set (flat frames, offsets) and their
        `intern.csr_hashes`: batch stack id i is row i."""
        if self._block is None:
            self._block = self._merge_stacks()
        return self._block

    def _merge_stacks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The blocks of `stacks` as one set, hashed here on the worker thread."""
        if not self.stacks:
            flat, offsets = np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64)
        elif len(self.stacks) == 1:
            flat, offsets = self.stacks[0]
        else:
            flat = np.concatenate([f for f, _ in self.stacks])
            starts = np.cumsum([0] + [len(f) for f, _ in self.stacks[:-1]])
            offsets = np.concatenate(
                [[0]] + [o[1:] + s for (_, o), s in zip(self.stacks, starts.tolist(), strict=True)]
            )
        flat = np.ascontiguousarray(flat, dtype=np.uint64)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        self.stacks = [(flat, offsets)]
        return flat, offsets, intern.csr_hashes(flat, offsets)

    def distinct(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
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
            if dec.fn is None or dec.category is None:  # counted only (both or neither)
                continue
            handler = HANDLERS[dec.category]
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
                    handler(self, key, b, good, cols, int(ps))
        self._match_in_batch(len(b))

    def _match_in_batch(self, n: int) -> None:
        """Match this batch's stack walks that are the very next record after their pool event.

        Batches hold whole buffers, so the fast path of `stacks.match_stacks` (a kernel stack
        walk right after its event in the same buffer, same timestamp and thread) can be taken
        here: the raw id goes into the pool row and the walk is not kept. Only kernel parts of
        events with a thread id are matched, so that `stacks.unmatch_shared` can rebuild any
        such walk from its pool row if another part shares its (timestamp, thread) and
        `stacks.combine_parts` must see it.
        """
        pool_idx, walks = self._pool_idx, self._walks
        self._pool_idx, self._walks = [], []
        if not pool_idx:
            return
        pool = self._pool_rows
        self._pool_rows = []
        prow = pool[0] if len(pool) == 1 else ColumnTable.concat(pool, POOL_DTYPE)
        if walks:
            self._match_walks(n, prow, pool_idx, walks)
        for k in _NARROW_POOL_COLUMNS:
            prow.columns[k] = narrow(prow.columns[k])
        self.pool = prow

    def _match_walks(
        self,
        n: int,
        prow: ColumnTable,
        pool_idx: list[np.ndarray],
        walks: list[tuple[ColumnTable, np.ndarray]],
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

    def stack_rows(
        self,
        b: RecordBatch,
        idx: np.ndarray,
        cols: D.Columns,
        raw: np.ndarray,
        user: np.ndarray,
        *,
        ref: bool,
    ) -> ColumnTable:
        rows = ColumnTable.empty(STACK_DTYPE, len(idx))
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


# --- handlers: what each decoder category contributes to the batch's result -----------------

Handler = Callable[[BatchResult, D.EventKey, RecordBatch, np.ndarray, D.Columns, int], None]


def _pool(event: int) -> Handler:
    def handle(
        r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
    ) -> None:
        rows = ColumnTable.empty(POOL_DTYPE, len(idx))
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
        rows["event"] = event
        rows["raw"] = -1
        r._pool_idx.append(idx)
        r._pool_rows.append(rows)

    return handle


def _stack_walk(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    flat, offsets, which = cols["frames"], cols["frame_offsets"], cols["stack_index"]
    ids = r.distinct(flat, offsets)
    first = np.zeros(len(ids), dtype=np.uint64)
    nonempty = np.diff(offsets) > 0
    first[nonempty] = flat[offsets[:-1][nonempty]]
    user = (user_space(first, ps) & nonempty)[which]
    rows = r.stack_rows(b, idx, cols, ids[which], user, ref=False)
    r._walks.append((rows, idx))
    r.stack_parts.append(rows)


def _stack_ref(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    base = sum(len(k) for k in r.ref_keys)
    raw = base + np.arange(len(idx), dtype=np.int64)
    user = np.full(len(idx), key == D.HOOK_STACK_KEY_USER)
    r.stack_parts.append(r.stack_rows(b, idx, cols, raw, user, ref=True))
    r.ref_keys.append(cols["key"])


def _stack_definition(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    ids = r.distinct(cols["frames"], cols["frame_offsets"])
    raw = ids[cols["stack_index"]]
    r.defs.append((cols["key"], b.timestamp[idx], b.buffer_seq[idx], b.record_index[idx], raw))


def _image(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    kind = IMAGE_KINDS[key]  # type: ignore[index]
    pids = cols["process_id"]
    pids = np.where(pids < 0, np.maximum(b.process_id[idx], 0), pids)
    for i, rec in enumerate(idx):
        r.image_events.append(
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


def _file_name(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    r.file_names.append((cols["file_object"].tolist(), list(cols["file_name"])))


def _image_id(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    for i, rec in enumerate(idx):
        r.image_ids.append(
            (
                int(b.buffer_seq[rec]),
                int(b.record_index[rec]),
                int(cols["process_id"][i]),
                int(cols["base"][i]),
                cols["file_name"][i],
            )
        )


def _dbgid(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    for i, rec in enumerate(idx):
        r.dbgids.append(
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


def _memory_page(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    page = cols["page"]
    if key not in D.RESIDENT_SNAPSHOT_HOOKS:
        r.page_access_records += int(page.sum())
        return
    r.pages.append(
        {
            "ts": b.timestamp[idx][page],
            "kind": cols["kind"][page],
            "page_list": cols["page_list"][page],
            "frame": cols["frame"][page],
            "key": cols["key"][page],
            "virtual_address": cols["virtual_address"][page],
        }
    )


def _sysconfig_cpu(
    r: BatchResult, key: D.EventKey, b: RecordBatch, idx: np.ndarray, cols: D.Columns, ps: int
) -> None:
    r.sysconfig = (int(cols["memory_mb"][-1]) or None, int(cols["page_size"][-1]) or None)


HANDLERS: dict[str, Handler] = {
    "pool_alloc": _pool(POOL_ALLOC),
    "pool_free": _pool(POOL_FREE),
    "stack": _stack_walk,
    "stack_ref": _stack_ref,
    "stack_definition": _stack_definition,
    "image": _image,
    "file_name": _file_name,
    "image_id": _image_id,
    "dbgid": _dbgid,
    "memory_page": _memory_page,
    "sysconfig_cpu": _sysconfig_cpu,
}
