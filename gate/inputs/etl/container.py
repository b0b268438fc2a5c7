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
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TypeVar

import numpy as np

from gate.cores import usable_cores
from gate.errors import InputError, TraceFormatError
from gate.inputs.etl import layouts as L
from gate.inputs.etl import xpress
from gate.inputs.etl.records import GATHER_SLACK, RecordBatch, read_records

# Set when the process is stopping (Ctrl-C, SIGTERM): reads in flight end at the next buffer.
_STOPPING = threading.Event()


class ReadStopped(Exception):
    """A read abandoned because the process is stopping (`stop_reads`)."""


def stop_reads() -> None:
    """Make every read in flight, on every thread, end at its next buffer."""
    _STOPPING.set()


def default_workers() -> int:
    """Threads for decoding buffers: one per core this process may run on, at most 4 (more
    gives nothing measurable)."""
    return min(usable_cores(), 4)


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
    buffer_size: int  # BufferSize: no buffer holds or decompresses to more


_BH = L.WMI_BUFFER_HEADER
_BH_SIZE = L.BUFFER_HEADER_SIZE
# No buffer, as stored or decompressed, may claim more than ETW's largest: a corrupt size must
# not make the reader allocate, read or decompress gigabytes.
_MAX_BUFFER_BYTES = L.MAX_BUFFER_BYTES
# ProcessorIndex is 11 bits (PROCESSOR_INDEX_MASK): a logger sees at most 2048 processors.
_MAX_PROCESSORS = L.PROCESSOR_INDEX_MASK + 1
# The fill after the last buffer is checked this many bytes at a time, never read whole.
_FILL_CHUNK = 1 << 20


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
        self._ticks = self._ticks_per_second()

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
                if not self._is_fill(off):
                    if len(head) < _BH_SIZE:
                        raise self._error(
                            off, f"truncated buffer header ({len(head)} of {_BH_SIZE} bytes)"
                        )
                    raise self._error(off, "buffer size 0 or 0xFFFFFFFF followed by data")
                break
            fields = _BH.unpack(head)
            bsize, saved = fields["BufferSize"], fields["SavedOffset"]
            boff, bflag = fields["Offset"], fields["BufferFlag"]
            if bsize < _BH_SIZE:
                raise self._error(off, f"buffer size {bsize} is smaller than its header")
            if bsize > _MAX_BUFFER_BYTES:
                raise self._error(
                    off,
                    f"buffer size {bsize} is more than an ETW buffer holds "
                    f"({_MAX_BUFFER_BYTES >> 20} MiB)",
                )
            if off + bsize > size:
                raise self._error(
                    off,
                    f"buffer of {bsize} bytes runs past the end of the file "
                    f"({size - off} bytes left): truncated file",
                )
            if bflag & L.BUFFER_FLAG_COMPRESSED:
                if not _BH_SIZE <= saved <= _MAX_BUFFER_BYTES:
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

    def _is_fill(self, off: int) -> bool:
        """Whether the file from `off` to its end is all 0xFF or all zero bytes."""
        self._f.seek(off)
        fill = self._f.read(1)
        if fill not in (b"\xff", b"\x00"):
            return fill == b""
        while chunk := self._f.read(_FILL_CHUNK):
            if chunk.strip(fill):
                return False
        return True

    def _check_buffer_sizes(self, stated: int) -> None:
        """Every buffer within the BufferSize the logfile header states (the first buffer is
        read before that size is known, so it is checked here with the rest): stored as a
        buffer of at most that size, and, compressed, decompressing to at most that size."""
        b = self._buffers
        compressed = (b["BufferFlag"] & L.BUFFER_FLAG_COMPRESSED) != 0
        claimed = np.where(compressed, b["SavedOffset"], b["BufferSize"]).astype(np.int64)
        over = np.flatnonzero(claimed > stated)
        if len(over):
            i = int(over[0])
            what = "decompresses to" if compressed[i] else "holds"
            raise self._error(
                int(b["file_offset"][i]),
                f"buffer {what} {int(claimed[i])} bytes, more than the BufferSize {stated} "
                "the logfile header states",
            )

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
        # A field's file offset; a compressed first buffer has none: name the buffer then.
        stored = not int(first["BufferFlag"]) & L.BUFFER_FLAG_COMPRESSED
        payload_at = base + L.SYSTEM_TRACE_HEADER.size

        def field_at(name: str) -> int:
            return payload_at + layout.offset_of(name) if stored else int(first["file_offset"])

        stated = int(h["BufferSize"])
        if not _BH_SIZE < stated <= _MAX_BUFFER_BYTES:
            raise self._error(
                field_at("BufferSize"),
                f"logfile header: BufferSize {stated} is not an ETW buffer size "
                f"({_BH_SIZE + 1} to {_MAX_BUFFER_BYTES} bytes)",
            )
        self._check_buffer_sizes(stated)
        cpus = int(h["NumberOfProcessors"])
        if cpus > _MAX_PROCESSORS:
            raise self._error(
                field_at("NumberOfProcessors"),
                f"logfile header: NumberOfProcessors {cpus} is more than a logger can see "
                f"({_MAX_PROCESSORS})",
            )
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
            cpu_count=cpus,
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
            buffer_size=stated,
        )

    def _ticks_per_second(self) -> float:
        """Raw clock ticks per second, by clock type (§1.6)."""
        h = self.header
        if h.clock_type == L.CLOCK_SYSTEM_TIME:
            return 1e7
        if h.clock_type == L.CLOCK_CPU_CYCLES and h.cpu_speed_mhz > 0:
            return h.cpu_speed_mhz * 1e6
        # QPC, and raw (0) which loggers also stamp with the performance counter.
        return float(h.perf_freq) if h.perf_freq > 0 else 1e7

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
        files) get negative values. Ticks are divided by the rate (not multiplied by its
        inverse), so that the synthetic writer's 100 ns ticks give exactly `ticks / 1e7`.
        """
        r = np.asarray(raw, dtype=np.int64)
        return (r - self.header.sync_timestamp_raw) / self._ticks

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

        abandoned = threading.Event()

        def work(rows: list[int], raws: list[bytes] | np.ndarray) -> _T:
            return fn(self._load_batch(rows, raws, abandoned))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate-etl") as pool:
            pending: deque[Future[_T]] = deque()
            done = 0
            try:
                for rows in groups:
                    if _STOPPING.is_set():
                        raise ReadStopped(self.path)
                    pending.append(pool.submit(work, rows, self._read_group(rows, on_read)))
                    if len(pending) > workers:
                        yield pending.popleft().result()
                        done = self._report(progress, groups_done, done)
                while pending:
                    yield pending.popleft().result()
                    done = self._report(progress, groups_done, done)
            finally:
                # Left early (an error, Ctrl-C, the consumer gone): the batches already
                # running end at their next buffer instead of being waited for whole.
                abandoned.set()
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
        out = np.empty(span + GATHER_SLACK, dtype=np.uint8)
        self._f.seek(first)
        got = self._f.readinto(out[:span].data)
        if got != span:
            raise self._error(first, "buffers shorter than their BufferSize (file changed?)")
        out[span:] = 0xFF
        if on_read is not None:
            on_read(first, out[:span].data)
        return out

    def _load_batch(
        self,
        rows: list[int],
        raws: list[bytes] | np.ndarray,
        abandoned: threading.Event | None = None,
    ) -> RecordBatch:
        if isinstance(raws, np.ndarray):
            return self._decode_span(rows, raws)
        bodies = []
        lengths = _body_lengths(self._buffers[rows]).tolist()
        for i, raw, n in zip(rows, raws, lengths, strict=True):
            # Pure-Python decompression takes seconds per batch: a stopping process must not
            # wait for the batches in flight.
            if _STOPPING.is_set() or (abandoned is not None and abandoned.is_set()):
                raise ReadStopped(self.path)
            bodies.append(self._body_from_raw(self._buffers[i], raw, n))
        return self._decode_batch(bodies, rows)

    def _decode_span(self, rows: list[int], data: np.ndarray) -> RecordBatch:
        """Records of consecutive uncompressed buffers read as one span of the file."""
        bufs = self._buffers[rows]
        starts = bufs["file_offset"].astype(np.int64) - int(bufs["file_offset"][0]) + _BH_SIZE
        ends = starts + _body_lengths(bufs)
        total = len(data) - GATHER_SLACK
        return read_records(self._error, data, total, starts, ends, bufs)

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
        parts.append(b"\xff" * GATHER_SLACK)
        data = np.frombuffer(b"".join(parts), dtype=np.uint8)
        ends = starts + lengths

        return read_records(self._error, data, total, starts, ends, bufs)


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
