"""Reading the `.etl` container: logfile header, buffers, record headers.

`open_etl(path)` gives an `EtlFile`. Its `record_batches()` walks the file's buffers in file order
and yields `RecordBatch` objects: the decompressed bodies of a bounded number of buffers plus one
numpy array per record-header field. Payloads are not decoded here (see `gate.inputs.etl.decode`).

Ordering: file order is not time order. Each buffer belongs to one processor (`cpu`) and buffers
of one processor carry increasing `buffer_seq`. A consumer that needs global trace order sorts by
(timestamp, cpu, buffer_seq, record_index); those four columns make the order total and stable.
Memory is bounded by `max_bytes` of buffer bodies per batch, never by the trace size.
"""

from __future__ import annotations

import os
import struct
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from gate.errors import InputError, TraceFormatError
from gate.inputs.etl import jit, xpress
from gate.inputs.etl import layouts as L


def default_workers() -> int:
    """Threads for decoding buffers: one per core this process may run on, at most 4 (more
    gives nothing measurable)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@dataclass(frozen=True)
class LogfileHeader:
    """The TRACE_LOGFILE_HEADER of the first record, with derived values."""

    pointer_size_bytes: int
    perf_freq: int
    start_filetime: int
    start_utc: datetime
    end_filetime: int
    clock_type: int  # 0 raw, 1 QPC, 2 system time, 3 CPU cycles
    timer_resolution: int
    cpu_count: int
    cpu_speed_mhz: int
    log_file_mode: int
    compressed: bool  # LogFileMode & 0x04000000 or any buffer flagged compressed
    buffers_written: int
    events_lost: int
    buffers_lost: int
    os_version: str  # "maj.min"
    os_build: int
    format_version: str  # "maj.min" of the log format (1.5 live, 2.0 relogged)
    logger_name: str
    log_file_name: str
    sync_timestamp_raw: int  # raw clock of the logfile-header record: the time anchor
    boot_time: int  # FILETIME


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


@dataclass
class EtlStats:
    """What `gate inspect` prints about a trace."""

    records: int
    buffers: int
    compressed_buffers: int
    cpus: list[int]
    header_types: dict[int, int]
    hook_ids: dict[tuple[int, int], int]  # (header_type, hook_id) -> count
    kernel_hooks: dict[int, int]  # hook_id -> count over SYSTEM/COMPACT/PERFINFO records
    providers: dict[uuid.UUID, int]  # non-kernel provider GUID -> count
    events_lost_buffers: int
    buffer_lost_buffers: int
    first_timestamp: int | None
    last_timestamp: int | None
    duration_s: float


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

_BH = L.WMI_BUFFER_HEADER
_BH_SIZE = L.BUFFER_HEADER_SIZE
# A corrupt SavedOffset must not make us allocate gigabytes; real buffers are at most a few MiB.
_MAX_BUFFER_BYTES = 64 << 20
# Extra 0xFF bytes after the last body so fixed-offset gathers of short records stay in bounds.
_GATHER_SLACK = 0x60


_T = TypeVar("_T")


def _body_lengths(bufs: np.ndarray) -> np.ndarray:
    """Valid record bytes after the header of each buffer row (decompressed, if compressed).

    Data ends at Offset; an uncompressed buffer whose Offset lies outside it (some writers
    leave it unset) ends at SavedOffset instead.
    """
    end = bufs["Offset"].astype(np.int64)
    compressed = (bufs["BufferFlag"] & L.BUFFER_FLAG_COMPRESSED) != 0
    bad = ~compressed & ((end < _BH_SIZE) | (end > bufs["BufferSize"]))
    end[bad] = bufs["SavedOffset"][bad]
    return np.maximum(end - _BH_SIZE, 0)


def _same_batch(batch: RecordBatch) -> RecordBatch:
    return batch


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


def _filetime_to_datetime(ft: int) -> datetime:
    us = (ft - L.FILETIME_UNIX_EPOCH) // 10
    try:
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)
    except OverflowError:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utf16z(raw: bytes, start: int) -> tuple[str, int]:
    """A NUL-terminated UTF-16LE string at `start`; returns it and the offset after the NUL."""
    pos = start
    while pos + 2 <= len(raw):
        if raw[pos] == 0 and raw[pos + 1] == 0:
            return raw[start:pos].decode("utf-16-le", errors="replace"), pos + 2
        pos += 2
    return raw[start:pos].decode("utf-16-le", errors="replace"), pos


class EtlFile:
    """An open `.etl` file. Use `open_etl`.

    Opening reads every buffer header (not the bodies): that validates the buffer chain, counts
    buffers and learns whether any buffer is compressed. Bodies are read by `record_batches`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._f = open(self.path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open: {exc.strerror or exc}") from exc
        try:
            self.file_size = os.fstat(self._f.fileno()).st_size
            self._buffers = self._scan_buffers()
            self.header = self._read_logfile_header()
        except BaseException:
            self._f.close()
            raise
        self._scale = self._time_scale()

    # -- opening -------------------------------------------------------------------------------
    def _error(self, offset: int | None, problem: str) -> TraceFormatError:
        return TraceFormatError(self.path, offset, problem)

    def _scan_buffers(self) -> np.ndarray:
        """Read all buffer headers by following BufferSize; returns WMI_BUFFER_HEADER rows."""
        f = self._f
        size = self.file_size
        if size == 0:
            raise self._error(0, "empty file: no ETL buffer")
        if size < _BH_SIZE:
            raise self._error(0, f"file of {size} bytes is too short for an ETL buffer header")
        raw_headers: list[bytes] = []
        offsets: list[int] = []
        off = 0
        while off < size:
            f.seek(off)
            head = f.read(_BH_SIZE)
            if len(head) < _BH_SIZE or head[:4] in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"):
                # Preallocated files end in 0xFF or zero fill; anything else is a cut-off buffer.
                f.seek(off)
                tail = f.read()
                if tail.strip(b"\xff") and tail.strip(b"\x00"):
                    if len(head) < _BH_SIZE:
                        raise self._error(
                            off, f"truncated buffer header ({len(head)} of {_BH_SIZE} bytes)"
                        )
                    raise self._error(off, "buffer size 0 or 0xFFFFFFFF followed by data")
                break
            bsize, saved, _cur = struct.unpack_from("<III", head)
            boff = int.from_bytes(head[0x30:0x34], "little")
            bflag = int.from_bytes(head[0x34:0x36], "little")
            if bsize < _BH_SIZE:
                raise self._error(off, f"buffer size {bsize} is smaller than its header")
            if off + bsize > size:
                raise self._error(
                    off,
                    f"buffer of {bsize} bytes runs past the end of the file "
                    f"({size - off} bytes left): truncated file",
                )
            if bflag & L.BUFFER_FLAG_COMPRESSED:
                if not _BH_SIZE <= saved <= _BH_SIZE + _MAX_BUFFER_BYTES:
                    raise self._error(off, f"compressed buffer has invalid SavedOffset {saved}")
                if not _BH_SIZE <= boff <= saved:
                    raise self._error(off, f"compressed buffer: Offset {boff} > SavedOffset")
            elif not _BH_SIZE <= boff <= bsize and not _BH_SIZE <= saved <= bsize:
                raise self._error(
                    off, f"buffer data end (Offset {boff}, SavedOffset {saved}) outside the buffer"
                )
            raw_headers.append(head)
            offsets.append(off)
            off += bsize
        if not raw_headers:
            raise self._error(0, "no ETL buffer in the file")
        rows = np.frombuffer(b"".join(raw_headers), dtype=_BH.dtype)
        out = np.zeros(len(rows), dtype=_BUFFER_TABLE_DTYPE)
        out["file_offset"] = offsets
        for name in ("BufferSize", "SavedOffset", "Offset", "BufferFlag", "BufferType"):
            out[name] = rows[name]
        out["cpu"] = rows["ProcessorIndex"] & L.PROCESSOR_INDEX_MASK
        out["sequence"] = rows["SequenceNumber"]
        return out

    def _read_logfile_header(self) -> LogfileHeader:
        first = self._buffers[0]
        body = self._buffer_body(0)
        base = int(first["file_offset"]) + _BH_SIZE
        if len(body) < L.SYSTEM_TRACE_HEADER.size:
            raise self._error(base, "first buffer too small for the logfile header record")
        rec = L.SYSTEM_TRACE_HEADER.unpack(body, 0)
        ht = rec["HeaderType"]
        if ht not in (L.HT_SYSTEM32, L.HT_SYSTEM64) or rec["HookId"] != L.HOOK_LOGFILE_HEADER:
            raise self._error(
                base,
                f"not an ETL file: first record has header type {ht:#x} hook {rec['HookId']:#06x},"
                " expected the logfile header (SYSTEM header, hook 0x0000)",
            )
        layout = L.TRACE_LOGFILE_HEADER64 if ht == L.HT_SYSTEM64 else L.TRACE_LOGFILE_HEADER32
        rsize = rec["Size"]
        if rsize > len(body):
            raise self._error(base, f"logfile header record of {rsize} bytes runs past its buffer")
        payload = bytes(body[L.SYSTEM_TRACE_HEADER.size : rsize])
        if len(payload) < layout.size:
            raise self._error(
                base, f"logfile header payload of {len(payload)} bytes, need {layout.size}"
            )
        h = layout.unpack(payload, 0)
        logger_name, pos = _utf16z(payload, layout.size)
        log_file_name, _ = _utf16z(payload, pos)
        ptr = h["PointerSize"] if h["PointerSize"] in (4, 8) else (8 if ht == L.HT_SYSTEM64 else 4)
        any_compressed = bool((self._buffers["BufferFlag"] & L.BUFFER_FLAG_COMPRESSED).any())
        return LogfileHeader(
            pointer_size_bytes=int(ptr),
            perf_freq=int(h["PerfFreq"]),
            start_filetime=int(h["StartTime"]),
            start_utc=_filetime_to_datetime(int(h["StartTime"])),
            end_filetime=int(h["EndTime"]),
            clock_type=int(h["ReservedFlags"]),
            timer_resolution=int(h["TimerResolution"]),
            cpu_count=int(h["NumberOfProcessors"]),
            cpu_speed_mhz=int(h["CpuSpeedInMHz"]),
            log_file_mode=int(h["LogFileMode"]),
            compressed=bool(h["LogFileMode"] & L.EVENT_TRACE_COMPRESSED_MODE) or any_compressed,
            buffers_written=int(h["BuffersWritten"]),
            events_lost=int(h["EventsLost"]),
            buffers_lost=int(h["BuffersLost"]),
            os_version=f"{h['VersionOsMajor']}.{h['VersionOsMinor']}",
            os_build=int(h["ProviderVersion"]),
            format_version=f"{h['VersionFmtMajor']}.{h['VersionFmtMinor']}",
            logger_name=logger_name,
            log_file_name=log_file_name,
            sync_timestamp_raw=int(rec["SystemTime"]),
            boot_time=int(h["BootTime"]),
        )

    def _time_scale(self) -> float:
        """Seconds per raw clock tick, by clock type (§1.6)."""
        h = self.header
        if h.clock_type == L.CLOCK_SYSTEM_TIME:
            return 1e-7
        if h.clock_type == L.CLOCK_CPU_CYCLES and h.cpu_speed_mhz > 0:
            return 1.0 / (h.cpu_speed_mhz * 1e6)
        # QPC, and raw (0) which loggers also stamp with the performance counter.
        return 1.0 / h.perf_freq if h.perf_freq > 0 else 1e-7

    # -- buffers -------------------------------------------------------------------------------
    def _buffer_body(self, i: int) -> bytes:
        """The valid record bytes of buffer `i` (after its header), decompressed if needed."""
        length = int(_body_lengths(self._buffers[i : i + 1])[0])
        return self._body_from_raw(self._buffers[i], self._read_raw(self._buffers[i]), length)

    def _read_raw(self, row: np.void) -> bytes:
        """The bytes of one buffer after its header, as stored (compressed or not)."""
        off = int(row["file_offset"])
        self._f.seek(off + _BH_SIZE)
        raw = self._f.read(int(row["BufferSize"]) - _BH_SIZE)
        if len(raw) != int(row["BufferSize"]) - _BH_SIZE:
            raise self._error(off, "buffer shorter than its BufferSize (file changed?)")
        return raw

    def _body_from_raw(self, row: np.void, raw: bytes, length: int) -> bytes:
        """The first `length` valid bytes (`_body_lengths`) of a buffer stored as `raw`."""
        off = int(row["file_offset"])
        if int(row["BufferFlag"]) & L.BUFFER_FLAG_COMPRESSED:
            want = int(row["SavedOffset"]) - _BH_SIZE
            try:
                raw = xpress.decompress(raw, want)
            except xpress.XpressError as exc:
                raise self._error(
                    off, f"compressed buffer does not decompress to {want} bytes: {exc.problem}"
                ) from None
        return raw[:length]

    @property
    def buffer_count(self) -> int:
        return len(self._buffers)

    @property
    def buffers(self) -> np.ndarray:
        """One row per buffer in file order (dtype BUFFER_TABLE_DTYPE); read-only view."""
        v = self._buffers.view()
        v.flags.writeable = False
        return v

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> EtlFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- time ----------------------------------------------------------------------------------
    def seconds(self, raw: np.ndarray) -> np.ndarray:
        """Raw header timestamps -> float64 seconds from trace start.

        Trace start is the raw timestamp of the logfile-header record (`sync_timestamp_raw`),
        which the logger stamped at `StartTime`; records logged earlier (rundowns of relogged
        files) get negative values.
        """
        r = np.asarray(raw, dtype=np.int64)
        return (r - self.header.sync_timestamp_raw).astype(np.float64) * self._scale

    def to_utc(self, raw: np.ndarray) -> np.ndarray:
        """Raw header timestamps -> numpy datetime64[us] in UTC."""
        us = self.seconds(raw) * 1e6
        base_us = (self.header.start_filetime - L.FILETIME_UNIX_EPOCH) // 10
        return (np.round(us).astype(np.int64) + base_us).astype("datetime64[us]")

    # -- records -------------------------------------------------------------------------------
    def record_batches(
        self,
        max_bytes: int = 32 << 20,
        *,
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[RecordBatch]:
        """Yield the records of the file in file order, in batches of whole buffers.

        A batch holds buffers until their bodies exceed `max_bytes` (a single larger buffer
        still forms its own batch), so memory stays bounded by `max_bytes`, not by the trace.
        Records are not reordered: sort by (timestamp, cpu, buffer_seq, record_index) for trace
        order. `workers` and `progress` are as for `map_batches`.
        """
        return self.map_batches(_same_batch, max_bytes, workers=workers, progress=progress)

    def map_batches(
        self,
        fn: Callable[[RecordBatch], _T],
        max_bytes: int = 32 << 20,
        *,
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        on_read: Callable[[int, memoryview], None] | None = None,
    ) -> Iterator[_T]:
        """`fn(batch)` for each batch of `record_batches`, in file order.

        Buffers are independent, so with `workers` > 1 (default: one per core, at most 4) the
        next batches are decompressed, walked and given to `fn` on worker threads while the
        caller works on the current result; numpy and the numba kernels release the GIL, so
        `fn` should be a pure function of its batch. At most `workers` + 1 results are held at
        once. The file is read on the calling thread only.

        `progress(done_bytes, total_bytes)` is called after each batch with the file position
        reached, for a progress bar. `on_read(file_offset, bytes)` is given every read of
        buffer bytes, in file order, on the calling thread (for a checksum of the file).
        """
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if workers is None:
            workers = default_workers()
        groups = self._batch_rows(max_bytes)
        groups_done = self._progress_marks(groups) if progress is not None else []
        if workers <= 1:
            for k, rows in enumerate(groups):
                yield fn(self._load_batch(rows, self._read_group(rows, on_read)))
                if progress is not None:
                    progress(groups_done[k], self.file_size)
            return

        def work(rows: list[int], raws: list[bytes] | np.ndarray) -> _T:
            return fn(self._load_batch(rows, raws))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate-etl") as pool:
            pending: deque[Future[_T]] = deque()
            done = 0
            try:
                for rows in groups:
                    pending.append(pool.submit(work, rows, self._read_group(rows, on_read)))
                    if len(pending) > workers:
                        yield pending.popleft().result()
                        done = self._report(progress, groups_done, done)
                while pending:
                    yield pending.popleft().result()
                    done = self._report(progress, groups_done, done)
            finally:
                for future in pending:
                    future.cancel()

    def _progress_marks(self, groups: list[list[int]]) -> list[int]:
        """The file position at the end of each batch's last buffer."""
        ends = self._buffers["file_offset"].astype(np.int64) + self._buffers["BufferSize"]
        return [int(ends[rows[-1]]) for rows in groups]

    def _report(
        self, progress: Callable[[int, int], None] | None, marks: list[int], done: int
    ) -> int:
        if progress is not None:
            progress(marks[done], self.file_size)
        return done + 1

    def _batch_rows(self, max_bytes: int) -> list[list[int]]:
        groups: list[list[int]] = []
        rows: list[int] = []
        total = 0
        b = self._buffers
        # Compressed buffers take their decompressed body; others are read whole, header and
        # unused tail included (`_read_group`).
        compressed = (b["BufferFlag"] & L.BUFFER_FLAG_COMPRESSED) != 0
        sizes = np.where(compressed, (_body_lengths(b) + 7) & ~7, b["BufferSize"])
        for i, size in enumerate(sizes.tolist()):
            if rows and total + size > max_bytes:
                groups.append(rows)
                rows, total = [], 0
            rows.append(i)
            total += size
        if rows:
            groups.append(rows)
        return groups

    def _read_group(
        self, rows: list[int], on_read: Callable[[int, memoryview], None] | None = None
    ) -> list[bytes] | np.ndarray:
        """The stored bytes of a batch's buffers: one read of the whole span when no buffer is
        compressed (uncompressed bodies are used where they lie, nothing is copied or joined),
        else each buffer's bytes after its header."""
        bufs = self._buffers[rows]
        first = int(bufs["file_offset"][0])
        span = int(bufs["file_offset"][-1]) + int(bufs["BufferSize"][-1]) - first
        compressed = (bufs["BufferFlag"] & L.BUFFER_FLAG_COMPRESSED).any()
        if compressed or (bufs["file_offset"] % 8).any() or span % 8:  # views need alignment
            raws = [self._read_raw(self._buffers[i]) for i in rows]
            if on_read is not None:
                for i, raw in zip(rows, raws, strict=True):
                    on_read(int(self._buffers[i]["file_offset"]) + _BH_SIZE, memoryview(raw))
            return raws
        out = np.empty(span + _GATHER_SLACK, dtype=np.uint8)
        self._f.seek(first)
        got = self._f.readinto(memoryview(out[:span]))
        if got != span:
            raise self._error(first, "buffers shorter than their BufferSize (file changed?)")
        out[span:] = 0xFF
        if on_read is not None:
            on_read(first, memoryview(out[:span]))
        return out

    def _load_batch(self, rows: list[int], raws: list[bytes] | np.ndarray) -> RecordBatch:
        if isinstance(raws, np.ndarray):
            return self._decode_span(rows, raws)
        bodies = [
            self._body_from_raw(self._buffers[i], raw, n)
            for i, raw, n in zip(
                rows, raws, _body_lengths(self._buffers[rows]).tolist(), strict=True
            )
        ]
        return self._decode_batch(bodies, rows)

    def _decode_span(self, rows: list[int], data: np.ndarray) -> RecordBatch:
        """Records of consecutive uncompressed buffers read as one span of the file."""
        bufs = self._buffers[rows]
        starts = bufs["file_offset"].astype(np.int64) - int(bufs["file_offset"][0]) + _BH_SIZE
        ends = starts + _body_lengths(bufs)
        total = len(data) - _GATHER_SLACK
        return self._records(data, total, starts, ends, bufs)

    def _decode_batch(self, bodies: list[bytes], rows: list[int]) -> RecordBatch:
        bufs = self._buffers[rows]
        nb = len(bodies)
        lengths = np.fromiter((len(b) for b in bodies), dtype=np.int64, count=nb)
        padded = (lengths + 7) & ~7
        starts = np.zeros(nb, dtype=np.int64)
        np.cumsum(padded[:-1], out=starts[1:])
        total = int(padded.sum())
        parts: list[bytes] = []
        for body, pad in zip(bodies, (padded - lengths).tolist(), strict=True):
            parts.append(body)
            if pad:
                parts.append(b"\xff" * pad)
        parts.append(b"\xff" * _GATHER_SLACK)
        data = np.frombuffer(b"".join(parts), dtype=np.uint8)
        ends = starts + lengths

        return self._records(data, total, starts, ends, bufs)

    def _walk(
        self,
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
        mv = memoryview(data[:total])
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
            raise self._walk_error(data, -got - 1, starts, ends, bufs)
        return offsets

    def _walk_error(
        self, data: np.ndarray, pos: int, starts: np.ndarray, ends: np.ndarray, bufs: np.ndarray
    ) -> TraceFormatError:
        """The error for the bad record at `pos` that a walk kernel stopped at."""
        b = int(np.searchsorted(starts, pos, side="right") - 1)
        marker = int(data[pos : pos + 4].view("<u4")[0])
        ht = (marker >> 16) & 0xFF
        size = int(data[pos + 4 : pos + 6].view("<u2")[0]) if _IS_KERNEL[ht] else marker & 0xFFFF
        return self._record_error(
            bufs[b], int(pos - starts[b]), ht, size, marker, int(ends[b] - pos)
        )

    def _record_error(
        self, buf: np.void, rel: int, ht: int, size: int, marker: int, room: int
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
        return self._error(where if not compressed else int(buf["file_offset"]), problem + note)

    def _records(
        self, data: np.ndarray, total: int, starts: np.ndarray, ends: np.ndarray, bufs: np.ndarray
    ) -> RecordBatch:
        """Walk the bodies and read every record header: one numba pass when available."""
        if _header_numba is None or total == 0:
            offsets = self._walk(data, total, starts, ends, bufs)
            h = self._header_columns(data, offsets)
            return self._fields(data, offsets, starts, ends, bufs, h)
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
            raise self._walk_error(data, -got - 1, starts, ends, bufs)
        h = {k: v[:got].copy() for k, v in out.items()}  # copies: the scratch arrays are reused
        o, rec_buf, record_index = h.pop("offset"), h.pop("buffer"), h.pop("record_index")
        return self._fields(data, o, starts, ends, bufs, h, rec_buf, record_index)

    @staticmethod
    def _header_columns(data: np.ndarray, o: np.ndarray) -> dict[str, np.ndarray]:
        """The header fields of records at offsets `o`, with numpy (see `_header_kernel`)."""
        n = len(o)
        u2 = data[: len(data) & ~1].view("<u2")
        u4 = data[: len(data) & ~3].view("<u4")
        i8 = data[: len(data) & ~7].view("<i8")
        ht = data[o + 2]

        def read(at: np.ndarray, width: np.ndarray, dtype: type) -> np.ndarray:
            """The field at offset `at` (per record) of `width` bytes (2, 1; 0: none -> 0)."""
            out = np.zeros(n, dtype=dtype)
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
        self,
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
            extra[r] = self._ext_items_size(
                data, int(o[r]), int(size[r]), bufs[rec_buf[r]], int(o[r] - starts[rec_buf[r]])
            )
        payload_offset = o + _HDR_SIZE[ht] + extra
        payload_size = size.astype(np.int64) - (payload_offset - o)
        bad = np.flatnonzero(payload_size < 0)
        if len(bad):
            r = int(bad[0])
            b = bufs[rec_buf[r]]
            raise self._error(
                int(b["file_offset"]) + _BH_SIZE + int(o[r] - starts[rec_buf[r]]),
                f"record of {int(size[r])} bytes is shorter than its header and PERFINFO "
                f"extension ({int(payload_offset[r] - o[r])} bytes)",
            )

        guid_index = np.full(n, -1, dtype=np.int32)
        guids: list[uuid.UUID] = []
        grows = np.flatnonzero(_HAS_GUID[ht])
        if len(grows):
            raw = data[(o[grows] + 0x18)[:, None] + np.arange(16)]
            keyed = np.ascontiguousarray(raw).view("V16").ravel()
            uniq, inverse = np.unique(keyed, return_inverse=True)
            guids = [uuid.UUID(bytes_le=bytes(u)) for u in uniq]
            guid_index[grows] = inverse.ravel()

        if record_index is None:
            first_of_buf = np.searchsorted(rec_buf, np.arange(len(starts)), side="left")
            record_index = np.arange(n, dtype=np.int64) - first_of_buf[rec_buf]
        counts = np.bincount(rec_buf, minlength=len(starts))

        info = np.zeros(len(starts), dtype=BUFFER_INFO_DTYPE)
        info["file_offset"] = bufs["file_offset"]
        info["cpu"] = bufs["cpu"]
        info["sequence"] = bufs["sequence"]
        info["flags"] = bufs["BufferFlag"]
        info["buffer_type"] = bufs["BufferType"]
        info["data_start"] = starts
        info["data_end"] = ends
        info["records"] = counts
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

    def _ext_items_size(self, data: np.ndarray, o: int, size: int, buf: np.void, rel: int) -> int:
        """Bytes of EVENT_HEADER extended items after the 0x50-byte header of one record."""
        item = L.EVENT_HEADER_EXTENDED_ITEM
        pos = o + L.EVENT_HEADER.size
        end = o + size
        while True:
            if pos + item.size > end:
                raise self._error(
                    int(buf["file_offset"]) + _BH_SIZE + rel,
                    "EVENT_HEADER extended item runs past the end of its record",
                )
            linkage = int(data[pos + 4]) | (int(data[pos + 5]) << 8)
            dsize = int(data[pos + 6]) | (int(data[pos + 7]) << 8)
            pos += (item.size + dsize + 7) & ~7
            if not linkage & L.EXT_LINKAGE_MORE:
                break
        if pos > end:
            raise self._error(
                int(buf["file_offset"]) + _BH_SIZE + rel,
                "EVENT_HEADER extended items run past the end of their record",
            )
        return pos - o - L.EVENT_HEADER.size

    # -- summary -------------------------------------------------------------------------------
    def stats(self, max_bytes: int = 32 << 20) -> EtlStats:
        """One pass over the file counting records per kind (what `gate inspect` prints)."""
        ht_counts: Counter[int] = Counter()
        hook_counts: Counter[tuple[int, int]] = Counter()
        kernel: Counter[int] = Counter()
        providers: Counter[uuid.UUID] = Counter()
        records = 0
        lost_ev = lost_buf = 0
        first: int | None = None
        last: int | None = None
        for batch in self.record_batches(max_bytes):
            records += len(batch)
            lost_ev += batch.events_lost_buffers
            lost_buf += batch.buffer_lost_buffers
            if not len(batch):
                continue
            key = batch.header_type.astype(np.int64) << 16 | batch.hook_id
            vals, cnt = np.unique(key, return_counts=True)
            for v, c in zip(vals.tolist(), cnt.tolist(), strict=True):
                ht, hook = v >> 16, v & 0xFFFF
                ht_counts[ht] += c
                hook_counts[(ht, hook)] += c
                if ht in L.KERNEL_HEADER_TYPES:
                    kernel[hook] += c
            gi = batch.guid_index[batch.guid_index >= 0]
            if len(gi):
                gv, gc = np.unique(gi, return_counts=True)
                for g, c in zip(gv.tolist(), gc.tolist(), strict=True):
                    providers[batch.guids[g]] += c
            ts = batch.timestamp[(batch.timestamp > 0)]
            if len(ts):
                lo, hi = int(ts.min()), int(ts.max())
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
        if records == 0:
            raise self._error(None, "no records in any buffer")
        flags = self._buffers["BufferFlag"]
        duration = 0.0
        if first is not None and last is not None:
            duration = float(last - first) * self._scale
        return EtlStats(
            records=records,
            buffers=len(self._buffers),
            compressed_buffers=int(((flags & L.BUFFER_FLAG_COMPRESSED) != 0).sum()),
            cpus=sorted(set(self._buffers["cpu"].tolist())),
            header_types=dict(sorted(ht_counts.items())),
            hook_ids=dict(sorted(hook_counts.items())),
            kernel_hooks=dict(sorted(kernel.items())),
            providers=dict(providers.most_common()),
            events_lost_buffers=lost_ev,
            buffer_lost_buffers=lost_buf,
            first_timestamp=first,
            last_timestamp=last,
            duration_s=duration,
        )


# Buffer headers as kept by EtlFile (file order).
_BUFFER_TABLE_DTYPE = np.dtype(
    [
        ("file_offset", "<i8"),
        ("BufferSize", "<u4"),
        ("SavedOffset", "<u4"),
        ("Offset", "<u4"),
        ("BufferFlag", "<u2"),
        ("BufferType", "<u2"),
        ("cpu", "<i4"),
        ("sequence", "<i8"),
    ]
)
BUFFER_TABLE_DTYPE = _BUFFER_TABLE_DTYPE


def open_etl(path: str | os.PathLike[str]) -> EtlFile:
    """Open an `.etl` file and read its logfile header; raises TraceFormatError when corrupt.

    Use as a context manager: `with open_etl(p) as etl: for batch in etl.record_batches(): ...`
    """
    return EtlFile(path)
