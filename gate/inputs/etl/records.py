"""Record headers of a batch of buffer bodies: the walk along the size fields, and the fields.

Every header type's layout (`gate.inputs.etl.layouts`) is turned once into per-type tables
(indexed by the header type byte): header size, where the timestamp, event id, version,
thread and process ids and flags are. `read_records` walks the bodies, one numba pass
(`_header_kernel`) when the `fast` extra is there, else the pure-Python walk plus numpy, and
returns a `RecordBatch`: one numpy array per header field. Payloads are decoded elsewhere
(`gate.inputs.etl.decode`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gate.errors import TraceFormatError
from gate.inputs.etl import jit
from gate.inputs.etl import layouts as L

# How a walk reports a bad record: error(file offset, problem).
ErrorFn = Callable[[int | None, str], TraceFormatError]

# Extra 0xFF bytes after the last body so fixed-offset gathers of short records stay in bounds.
GATHER_SLACK = 0x60
_BH_SIZE = L.BUFFER_HEADER_SIZE


@dataclass
class RecordBatch:
    """Records of consecutive buffers (file order). All per-record arrays have equal length.

    `hook_id` meaning by header type:
      SYSTEM/COMPACT/PERFINFO: HookId = Group<<8 | Type.
      FULL/INSTANCE (EVENT_TRACE_HEADER): Class.Type in the low byte, high byte 0; the provider
        is `guids[guid_index]`.
      EVENT_HEADER: EVENT_DESCRIPTOR.Id; provider is `guids[guid_index]`.
      MESSAGE/ERROR: 0.
    `version`: kernel headers: Version with PERFINFO extension bits (0x8700) cleared;
      FULL/INSTANCE: Class.Version; EVENT_HEADER: descriptor Version.
    """

    data: np.ndarray  # uint8: concatenated decompressed buffer bodies (8-byte aligned each)
    offset: np.ndarray  # i8: record start in data
    header_type: np.ndarray  # u1
    size: np.ndarray  # u4: the record's own size field (header included)
    hook_id: np.ndarray  # u2
    version: np.ndarray  # u2
    timestamp: np.ndarray  # i8: raw clock
    thread_id: np.ndarray  # i8: -1 when the header has none (PERFINFO)
    process_id: np.ndarray  # i8: -1 when the header has none
    cpu: np.ndarray  # i4: the buffer's ProcessorIndex
    buffer_seq: np.ndarray  # i8: the buffer's SequenceNumber
    record_index: np.ndarray  # i8: index of the record within its buffer
    pointer_size: np.ndarray  # u1: 4 or 8, from the header type
    payload_offset: np.ndarray  # i8: into data
    payload_size: np.ndarray  # i4
    guid_index: np.ndarray  # i4: into guids; -1 for kernel headers (provider from the group)
    buffer_file_offset: np.ndarray  # i8: file offset of the record's buffer
    marker_flags: np.ndarray  # u1: high byte of the marker (0xC0 for ordinary records)
    event_flags: np.ndarray  # u2: EVENT_HEADER.Flags, 0 for other header types
    guids: list[uuid.UUID] = field(default_factory=list)
    buffers: np.ndarray | None = None  # one row per buffer, dtype BUFFER_INFO_DTYPE
    events_lost_buffers: int = 0  # buffers flagged EVENTS_LOST
    buffer_lost_buffers: int = 0  # buffers flagged BUFFER_LOST

    def __len__(self) -> int:
        return len(self.offset)


# One row per buffer of a batch.
BUFFER_INFO_DTYPE = np.dtype(
    [
        ("file_offset", "<i8"),
        ("cpu", "<i4"),
        ("sequence", "<i8"),
        ("flags", "<u2"),
        ("buffer_type", "<u2"),
        ("data_start", "<i8"),  # body start in batch.data
        ("data_end", "<i8"),  # end of valid bytes in batch.data
        ("records", "<i8"),
    ]
)


# Per header type (indexed by the type byte): fixed header bytes (0 = unknown type), whether the
# size field is at @4 (kernel headers) or @0, and the timestamp offset (-1 = none).
_HDR_SIZE = np.zeros(256, dtype=np.int64)
_IS_KERNEL = np.zeros(256, dtype=bool)
_TS_AT = np.full(256, -1, dtype=np.int64)
_PTR = np.full(256, 4, dtype=np.uint8)
for _ht, _layout in L.HEADER_LAYOUTS.items():
    _HDR_SIZE[_ht] = _layout.size
    _IS_KERNEL[_ht] = _ht in L.KERNEL_HEADER_TYPES
    if "SystemTime" in _layout.by_name:
        _TS_AT[_ht] = _layout.offset_of("SystemTime")
    elif "TimeStamp" in _layout.by_name:
        _TS_AT[_ht] = _layout.offset_of("TimeStamp")
for _ht in L.HEADER_TYPES_64:
    _PTR[_ht] = 8
_HAS_GUID = np.zeros(256, dtype=bool)
_HAS_GUID[
    [
        L.HT_FULL_HEADER32,
        L.HT_FULL_HEADER64,
        L.HT_INSTANCE32,
        L.HT_INSTANCE64,
        L.HT_EVENT_HEADER32,
        L.HT_EVENT_HEADER64,
    ]
] = True

# Where each header type keeps its event id and version, from its layout: the offset and width
# in bytes (2 or 1; 0 when the header has none). The id is HookId in kernel headers, Class.Type
# in EVENT_TRACE_HEADER and the descriptor Id in EVENT_HEADER. Likewise thread and process id
# (-1: none) and EVENT_HEADER.Flags. Both header readers (`_header_kernel`, numpy) use these.
_ID_AT = np.zeros(256, dtype=np.int64)
_ID_WIDTH = np.zeros(256, dtype=np.int64)
_VERSION_AT = np.zeros(256, dtype=np.int64)
_VERSION_WIDTH = np.zeros(256, dtype=np.int64)
_THREAD_AT = np.full(256, -1, dtype=np.int64)
_PROCESS_AT = np.full(256, -1, dtype=np.int64)
_FLAGS_AT = np.full(256, -1, dtype=np.int64)
for _ht, _layout in L.HEADER_LAYOUTS.items():
    _by = _layout.by_name
    _id = next((_by[k] for k in ("HookId", "Type", "Id") if k in _by), None)
    if _id is not None:
        _ID_AT[_ht], _ID_WIDTH[_ht] = _id.offset, _id.size
    if "Version" in _by:
        _VERSION_AT[_ht], _VERSION_WIDTH[_ht] = _by["Version"].offset, _by["Version"].size
    if "ThreadId" in _by:
        _THREAD_AT[_ht] = _by["ThreadId"].offset
        _PROCESS_AT[_ht] = _by["ProcessId"].offset
    if "Flags" in _by:
        _FLAGS_AT[_ht] = _by["Flags"].offset
_IS_PERFINFO = np.zeros(256, dtype=bool)
_IS_PERFINFO[[L.HT_PERFINFO32, L.HT_PERFINFO64]] = True
_IS_EVENT_HEADER = np.zeros(256, dtype=bool)
_IS_EVENT_HEADER[[L.HT_EVENT_HEADER32, L.HT_EVENT_HEADER64]] = True

_PERFINFO_VERSION_KEEP = ~L.PERFINFO_VERSION_EXT_MASK & 0xFFFF
_PEBS = L.PERFINFO_VERSION_PEBS
_PMC = L.PERFINFO_VERSION_PMC_MASK

_SCRATCH = threading.local()


def _scratch(records: int) -> dict[str, np.ndarray]:
    """This thread's output arrays for `_header_kernel`, reused from batch to batch.

    Fresh arrays would be fresh pages, and the page faults of touching them cost more than
    the kernel itself.
    """
    out: dict[str, np.ndarray] | None = getattr(_SCRATCH, "out", None)
    if out is None or len(out["offset"]) < records:
        out = {k: np.empty(records, dtype=t) for k, t in _HEADER_COLUMNS.items()}
        _SCRATCH.out = out
    return out


def _walk_kernel(
    u4: Any, u2: Any, starts: Any, ends: Any, hdr_size: Any, is_kernel: Any, out: Any
) -> int:
    """Follow record sizes through each buffer body; the one sequential step of the reader.

    `u4`/`u2` index the batch data in 4-/2-byte units (bodies start 8-aligned, so every record
    start is). Writes record offsets to `out`, returns their count, or -(offset+1) of the first
    record whose header is unknown, too small or runs past its buffer. Every step advances by
    at least 8 bytes, so the loop ends on any input. This is the pure-Python path; with numba,
    `_header_kernel` runs the same walk and reads each header's fields as it goes.
    """
    k = 0
    for b in range(len(starts)):
        p = starts[b]
        end = ends[b]
        while p + 4 <= end:
            m = u4[p >> 2] + 0
            if m == 0xFFFFFFFF:
                break
            t = (m >> 16) & 0xFF
            sz = u2[(p >> 1) + 2] + 0 if is_kernel[t] else m & 0xFFFF
            hs = hdr_size[t]
            if hs == 0 or sz < hs or p + sz > end or (m >> 31) == 0:
                return -(p + 1)
            out[k] = p
            k += 1
            p += (sz + 7) & ~7
    return k


def _header_kernel(
    u1: Any,
    u2: Any,
    u4: Any,
    i8: Any,
    starts: Any,
    ends: Any,
    hdr_size: Any,
    is_kernel: Any,
    ts_at: Any,
    id_at: Any,
    id_width: Any,
    version_at: Any,
    version_width: Any,
    thread_at: Any,
    process_at: Any,
    flags_at: Any,
    is_perfinfo: Any,
    out_offset: Any,
    out_header_type: Any,
    out_marker_flags: Any,
    out_size: Any,
    out_hook_id: Any,
    out_version: Any,
    out_timestamp: Any,
    out_thread_id: Any,
    out_process_id: Any,
    out_event_flags: Any,
    out_extra: Any,
    out_buffer: Any,
    out_record_index: Any,
) -> int:
    """`_walk_kernel` and the header fields of each record in the same pass (numba only).

    Writes one value per record into each `out_*` array (`_HEADER_COLUMNS` gives their
    dtypes): the fields that `EtlFile._header_columns` computes with numpy, plus each record's
    offset, buffer and index in its buffer. Field positions come from the per-type tables
    (`_ID_AT`, ...). Returns the record count, or -(offset+1) of the first bad record as
    `_walk_kernel` does.
    """
    k = 0
    for b in range(len(starts)):
        p = starts[b]
        end = ends[b]
        r = 0
        while p + 4 <= end:
            m = u4[p >> 2] + 0
            if m == 0xFFFFFFFF:
                break
            t = (m >> 16) & 0xFF
            sz = u2[(p >> 1) + 2] + 0 if is_kernel[t] else m & 0xFFFF
            hs = hdr_size[t]
            if hs == 0 or sz < hs or p + sz > end or (m >> 31) == 0:
                return -(p + 1)
            hook = 0
            if id_width[t] == 2:
                hook = u2[(p + id_at[t]) >> 1] + 0
            elif id_width[t] == 1:
                hook = u1[p + id_at[t]] + 0
            version = 0
            if version_width[t] == 2:
                version = u2[(p + version_at[t]) >> 1] + 0
            elif version_width[t] == 1:
                version = u1[p + version_at[t]] + 0
            extra = 0
            if is_perfinfo[t]:
                extra = 8 * ((version & _PEBS) != 0) + 8 * ((version & _PMC) >> 8)
                version &= _PERFINFO_VERSION_KEEP
            out_offset[k] = p
            out_header_type[k] = t
            out_marker_flags[k] = m >> 24
            out_size[k] = sz
            out_hook_id[k] = hook
            out_version[k] = version
            out_timestamp[k] = i8[(p + ts_at[t]) >> 3] if ts_at[t] >= 0 else 0
            out_thread_id[k] = u4[(p + thread_at[t]) >> 2] + 0 if thread_at[t] >= 0 else -1
            out_process_id[k] = u4[(p + process_at[t]) >> 2] + 0 if process_at[t] >= 0 else -1
            out_event_flags[k] = u2[(p + flags_at[t]) >> 1] + 0 if flags_at[t] >= 0 else 0
            out_extra[k] = extra
            out_buffer[k] = b
            out_record_index[k] = r
            k += 1
            r += 1
            p += (sz + 7) & ~7
    return k


# The `out_*` arrays of `_header_kernel`, in argument order, with their dtypes; all but the
# first and the last two are the header columns of `EtlFile._header_columns`.
_HEADER_COLUMNS = {
    "offset": np.int64, "header_type": np.uint8, "marker_flags": np.uint8, "size": np.uint32,
    "hook_id": np.uint16, "version": np.uint16, "timestamp": np.int64, "thread_id": np.int64,
    "process_id": np.int64, "event_flags": np.uint16, "extra": np.int64, "buffer": np.int64,
    "record_index": np.int64,
}  # fmt: skip

_HDR_SIZE_LIST = _HDR_SIZE.tolist()
_IS_KERNEL_LIST = _IS_KERNEL.tolist()
_header_numba = jit.kernel(_header_kernel)


def _walk(
    error: ErrorFn,
    data: np.ndarray,
    total: int,
    starts: np.ndarray,
    ends: np.ndarray,
    bufs: np.ndarray,
) -> np.ndarray:
    """Offsets (into data) of every record, in order, following the size fields: the
    pure-Python path (with numba, `_header_kernel` walks and reads headers at once)."""
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    out_list = [0] * (total // 8)
    mv = data[:total].data
    got = _walk_kernel(
        mv.cast("I"),
        mv.cast("H"),
        starts.tolist(),
        ends.tolist(),
        _HDR_SIZE_LIST,
        _IS_KERNEL_LIST,
        out_list,
    )
    offsets = np.array(out_list[: max(got, 0)], dtype=np.int64)
    if got < 0:
        raise _walk_error(error, data, -got - 1, starts, ends, bufs)
    return offsets


def _walk_error(
    error: ErrorFn,
    data: np.ndarray,
    pos: int,
    starts: np.ndarray,
    ends: np.ndarray,
    bufs: np.ndarray,
) -> TraceFormatError:
    """The error for the bad record at `pos` that a walk kernel stopped at."""
    b = int(np.searchsorted(starts, pos, side="right") - 1)
    marker = int(data[pos : pos + 4].view("<u4")[0])
    ht = (marker >> 16) & 0xFF
    size = int(data[pos + 4 : pos + 6].view("<u2")[0]) if _IS_KERNEL[ht] else marker & 0xFFFF
    return _record_error(error, bufs[b], int(pos - starts[b]), ht, size, marker, int(ends[b] - pos))


def _record_error(
    error: ErrorFn, buf: np.void, rel: int, ht: int, size: int, marker: int, room: int
) -> TraceFormatError:
    where = int(buf["file_offset"]) + _BH_SIZE + rel
    compressed = bool(int(buf["BufferFlag"]) & L.BUFFER_FLAG_COMPRESSED)
    note = f" (byte {rel:#x} of the decompressed buffer)" if compressed else ""
    if _HDR_SIZE[ht] == 0:
        problem = f"unknown record header type {ht:#x} (marker {marker:#010x})"
    elif not (marker >> 24) & L.TRACE_HEADER_FLAG:
        problem = f"record marker {marker:#010x} lacks the trace header flag"
    elif size < _HDR_SIZE[ht]:
        problem = f"record size {size} is smaller than its {_HDR_SIZE[ht]}-byte header"
    else:
        problem = f"record of {size} bytes runs past the end of its buffer ({room} left)"
    return error(where if not compressed else int(buf["file_offset"]), problem + note)


def read_records(
    error: ErrorFn,
    data: np.ndarray,
    total: int,
    starts: np.ndarray,
    ends: np.ndarray,
    bufs: np.ndarray,
) -> RecordBatch:
    """Walk the bodies and read every record header: one numba pass when available."""
    if _header_numba is None or total == 0:
        offsets = _walk(error, data, total, starts, ends, bufs)
        h = _header_columns(data, offsets)
        return _fields(error, data, offsets, starts, ends, bufs, h)
    out = _scratch(total // 8)
    view = data[:total]
    got = _header_numba(
        view,
        view.view("<u2"),
        view.view("<u4"),
        view.view("<i8"),
        starts,
        ends,
        _HDR_SIZE,
        _IS_KERNEL,
        _TS_AT,
        _ID_AT,
        _ID_WIDTH,
        _VERSION_AT,
        _VERSION_WIDTH,
        _THREAD_AT,
        _PROCESS_AT,
        _FLAGS_AT,
        _IS_PERFINFO,
        *out.values(),
    )
    if got < 0:
        raise _walk_error(error, data, -got - 1, starts, ends, bufs)
    h = {k: v[:got].copy() for k, v in out.items()}  # copies: the scratch arrays are reused
    o, rec_buf, record_index = h.pop("offset"), h.pop("buffer"), h.pop("record_index")
    return _fields(error, data, o, starts, ends, bufs, h, rec_buf, record_index)


def _header_columns(data: np.ndarray, o: np.ndarray) -> dict[str, np.ndarray]:
    """The header fields of records at offsets `o`, with numpy (see `_header_kernel`)."""
    n = len(o)
    u2 = data[: len(data) & ~1].view("<u2")
    u4 = data[: len(data) & ~3].view("<u4")
    i8 = data[: len(data) & ~7].view("<i8")
    ht = data[o + 2]

    def read(at: np.ndarray, width: np.ndarray, dtype: type) -> np.ndarray:
        """The field at offset `at` (per record) of `width` bytes (2, 1; 0: none -> 0)."""
        out: np.ndarray = np.zeros(n, dtype=dtype)
        for w, view in ((2, u2), (1, data)):
            rows = np.flatnonzero(width == w)
            out[rows] = view[(o[rows] + at[rows]) // w]
        return out

    def ids(at: np.ndarray) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int64)
        rows = np.flatnonzero(at >= 0)
        out[rows] = u4[(o[rows] + at[rows]) // 4]
        return out

    version = read(_VERSION_AT[ht], _VERSION_WIDTH[ht], np.uint16)
    extra = np.zeros(n, dtype=np.int64)
    perfinfo = np.flatnonzero(_IS_PERFINFO[ht])
    pv = version[perfinfo].astype(np.int64)
    extra[perfinfo] = 8 * ((pv & _PEBS) != 0) + 8 * ((pv & _PMC) >> 8)
    version[perfinfo] &= _PERFINFO_VERSION_KEEP
    flags_at = _FLAGS_AT[ht]
    ts_at = _TS_AT[ht]
    has_ts = np.flatnonzero(ts_at >= 0)
    timestamp = np.zeros(n, dtype=np.int64)
    timestamp[has_ts] = i8[(o[has_ts] + ts_at[has_ts]) // 8]
    return {
        "header_type": ht,
        "marker_flags": data[o + 3],
        "size": np.where(_IS_KERNEL[ht], u2[(o + 4) // 2], u2[o // 2]).astype(np.uint32),
        "hook_id": read(_ID_AT[ht], _ID_WIDTH[ht], np.uint16),
        "version": version,
        "timestamp": timestamp,
        "thread_id": ids(_THREAD_AT[ht]),
        "process_id": ids(_PROCESS_AT[ht]),
        "event_flags": read(flags_at, np.where(flags_at >= 0, 2, 0), np.uint16),
        "extra": extra,
    }


def _fields(
    error: ErrorFn,
    data: np.ndarray,
    o: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    bufs: np.ndarray,
    h: dict[str, np.ndarray],
    rec_buf: np.ndarray | None = None,
    record_index: np.ndarray | None = None,
) -> RecordBatch:
    """The batch from its record offsets `o` and header fields `h`."""
    n = len(o)
    ht, size, evh = h["header_type"], h["size"], _IS_EVENT_HEADER[h["header_type"]]
    event_flags, extra = h["event_flags"], h["extra"].copy()

    if rec_buf is None:  # offsets are increasing, buffers are contiguous
        rec_buf = np.searchsorted(starts, o, side="right") - 1
    ext_rows = np.flatnonzero(evh & ((event_flags & L.EH_FLAG_EXTENDED_INFO) != 0))
    for r in ext_rows.tolist():
        extra[r] = _ext_items_size(
            error, data, int(o[r]), int(size[r]), bufs[rec_buf[r]], int(o[r] - starts[rec_buf[r]])
        )
    payload_offset = o + _HDR_SIZE[ht] + extra
    payload_size = size.astype(np.int64) - (payload_offset - o)
    bad = np.flatnonzero(payload_size < 0)
    if len(bad):
        r = int(bad[0])
        b = bufs[rec_buf[r]]
        raise error(
            int(b["file_offset"]) + _BH_SIZE + int(o[r] - starts[rec_buf[r]]),
            f"record of {int(size[r])} bytes is shorter than its header and PERFINFO "
            f"extension ({int(payload_offset[r] - o[r])} bytes)",
        )

    guid_index, guids = _providers(data, o, ht)
    if record_index is None:
        first_of_buf = np.searchsorted(rec_buf, np.arange(len(starts)), side="left")
        record_index = np.arange(n, dtype=np.int64) - first_of_buf[rec_buf]
    info = _buffer_info(bufs, starts, ends, np.bincount(rec_buf, minlength=len(starts)))
    flags = bufs["BufferFlag"]
    return RecordBatch(
        data=data,
        offset=o.astype(np.int64),
        header_type=ht.astype(np.uint8),
        size=size,
        hook_id=h["hook_id"],
        version=h["version"],
        timestamp=h["timestamp"],
        thread_id=h["thread_id"],
        process_id=h["process_id"],
        cpu=bufs["cpu"][rec_buf].astype(np.int32),
        buffer_seq=bufs["sequence"][rec_buf].astype(np.int64),
        record_index=record_index,
        pointer_size=_PTR[ht],
        payload_offset=payload_offset,
        payload_size=payload_size.astype(np.int32),
        guid_index=guid_index,
        buffer_file_offset=bufs["file_offset"][rec_buf].astype(np.int64),
        marker_flags=h["marker_flags"].astype(np.uint8),
        event_flags=event_flags,
        guids=guids,
        buffers=info,
        events_lost_buffers=int(((flags & L.BUFFER_FLAG_EVENTS_LOST) != 0).sum()),
        buffer_lost_buffers=int(((flags & L.BUFFER_FLAG_BUFFER_LOST) != 0).sum()),
    )


def _providers(
    data: np.ndarray, o: np.ndarray, ht: np.ndarray
) -> tuple[np.ndarray, list[uuid.UUID]]:
    """Each record's index into the batch's distinct provider GUIDs (-1: a kernel header)."""
    guid_index = np.full(len(o), -1, dtype=np.int32)
    grows = np.flatnonzero(_HAS_GUID[ht])
    if len(grows) == 0:
        return guid_index, []
    raw = data[(o[grows] + 0x18)[:, None] + np.arange(16)]
    keyed = np.ascontiguousarray(raw).view("V16").ravel()
    uniq, inverse = np.unique(keyed, return_inverse=True)
    guid_index[grows] = inverse.ravel()
    return guid_index, [uuid.UUID(bytes_le=bytes(u)) for u in uniq]


def _buffer_info(
    bufs: np.ndarray, starts: np.ndarray, ends: np.ndarray, records: np.ndarray
) -> np.ndarray:
    info = np.zeros(len(starts), dtype=BUFFER_INFO_DTYPE)
    info["file_offset"] = bufs["file_offset"]
    info["cpu"] = bufs["cpu"]
    info["sequence"] = bufs["sequence"]
    info["flags"] = bufs["BufferFlag"]
    info["buffer_type"] = bufs["BufferType"]
    info["data_start"] = starts
    info["data_end"] = ends
    info["records"] = records
    return info


def _ext_items_size(
    error: ErrorFn, data: np.ndarray, o: int, size: int, buf: np.void, rel: int
) -> int:
    """Bytes of EVENT_HEADER extended items after the 0x50-byte header of one record."""
    item = L.EVENT_HEADER_EXTENDED_ITEM
    pos = o + L.EVENT_HEADER.size
    end = o + size
    while True:
        if pos + item.size > end:
            raise error(
                int(buf["file_offset"]) + _BH_SIZE + rel,
                "EVENT_HEADER extended item runs past the end of its record",
            )
        linkage = int(data[pos + 4]) | (int(data[pos + 5]) << 8)
        dsize = int(data[pos + 6]) | (int(data[pos + 7]) << 8)
        pos += (item.size + dsize + 7) & ~7
        if not linkage & L.EXT_LINKAGE_MORE:
            break
    if pos > end:
        raise error(
            int(buf["file_offset"]) + _BH_SIZE + rel,
            "EVENT_HEADER extended items run past the end of their record",
        )
    return pos - o - L.EVENT_HEADER.size
