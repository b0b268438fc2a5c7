"""Writing synthetic `.etl` files (tests, benchmarks, the bundled sample).

The output follows the same layouts the reader uses (`gate.inputs.etl.layouts`): a HEADER
buffer with the logfile-header record first, then per-CPU buffers with increasing
SequenceNumbers, 8-byte aligned records, 0xFF padding and optionally XPRESS compression. The
file appears atomically on close.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from types import TracebackType

from gate.fileio import OUTPUT_MODE
from gate.inputs.etl import layouts as L
from gate.inputs.etl import xpress

DEFAULT_START_UTC = datetime(2026, 1, 1, tzinfo=timezone.utc)


_BH = L.WMI_BUFFER_HEADER
_BH_SIZE = L.BUFFER_HEADER_SIZE
_MF = L.KERNEL_MARKER_FLAGS
_SYS = L.SYSTEM_TRACE_HEADER.struct
_COMPACT = L.COMPACT_TRACE_HEADER.struct
_PERF = L.PERFINFO_TRACE_HEADER.struct
_FULL = L.EVENT_TRACE_HEADER.struct
_INST = L.EVENT_INSTANCE_GUID_HEADER.struct
_EVH = L.EVENT_HEADER.struct
_STATE_FLUSH = 3  # ETW_BUFFER_STATE seen in every real buffer  # [measured]


def _filetime(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    us = (dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return L.FILETIME_UNIX_EPOCH + us * 10


class _Buffer:
    __slots__ = ("data", "flags", "last_ts", "pos")

    def __init__(self, size: int) -> None:
        self.data = bytearray(b"\xff") * size
        self.pos = _BH_SIZE
        self.flags = L.BUFFER_FLAG_PROC_INDEX
        self.last_ts = 0


def _pack_kernel_header(
    data: bytearray,
    pos: int,
    header_type: int,
    size: int,
    hook_id: int,
    version: int,
    thread_id: int,
    process_id: int,
    timestamp: int,
) -> None:
    """A SYSTEM, COMPACT or PERFINFO header at `pos`."""
    # SYSTEM is COMPACT plus the kernel and user times, written as 0.
    compact = (version, header_type, _MF, size, hook_id, thread_id, process_id, timestamp)
    if header_type <= L.HT_SYSTEM64:
        _SYS.pack_into(data, pos, *compact, 0, 0)
    elif header_type <= L.HT_COMPACT64:
        _COMPACT.pack_into(data, pos, *compact)
    else:
        _PERF.pack_into(data, pos, version, header_type, _MF, size, hook_id, timestamp)


def _pack_guid_header(
    data: bytearray,
    pos: int,
    header_type: int,
    size: int,
    hook_id: int,
    version: int,
    thread_id: int,
    process_id: int,
    timestamp: int,
    guid: uuid.UUID,
) -> None:
    """An EVENT_TRACE_HEADER (FULL), EVENT_INSTANCE_GUID_HEADER or EVENT_HEADER at `pos`."""
    g = guid.bytes_le
    if header_type in (L.HT_EVENT_HEADER32, L.HT_EVENT_HEADER64):
        flags = (
            L.EH_FLAG_64_BIT_HEADER
            if header_type == L.HT_EVENT_HEADER64
            else L.EH_FLAG_32_BIT_HEADER
        )
        # Size, type, marker, flags, property, ids, time, provider, descriptor (id, version,
        # channel 0, level 4, opcode, task, keyword), processor time, activity id.
        _EVH.pack_into(
            data, pos, size, header_type, _MF, flags, 0, thread_id, process_id, timestamp, g,
            hook_id, version & 0xFF, 0, 4, 0, 0, 0, 0, 0, b"",
        )  # fmt: skip
        return
    # INSTANCE is FULL plus instance ids and a parent GUID, written as 0.
    full: tuple[object, ...] = (size, header_type, _MF, hook_id & 0xFF, 0, version, thread_id)
    full += (process_id, timestamp, g, 0, 0)
    if header_type in (L.HT_FULL_HEADER32, L.HT_FULL_HEADER64):
        _FULL.pack_into(data, pos, *full)
    else:
        _INST.pack_into(data, pos, *full, 0, 0, b"")


class EtlWriter:
    """Build an `.etl` file record by record. Use as a context manager; `close()` commits it.

    Timestamps are raw clock ticks at `perf_freq` (QPC clock type). `start_timestamp` is the raw
    stamp of the logfile-header record, i.e. the instant `start_utc`: a reader maps raw `t` to
    `(t - start_timestamp) / perf_freq` seconds from trace start.
    Records go into the buffer of their `cpu`; a full buffer is flushed with the next
    SequenceNumber (one counter for the logger, as Windows does), so file order interleaves
    CPUs while each CPU's buffers keep increasing sequence numbers.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pointer_size: int = 8,
        cpu_count: int = 4,
        perf_freq: int = 10_000_000,
        start_utc: datetime = DEFAULT_START_UTC,
        buffer_size: int = 65536,
        compress: bool = False,
        events_lost: int = 0,
        buffers_lost: int = 0,
        os_version: tuple[int, int] = (10, 0),
        build: int = 22621,
        logger_name: str = "gate synthetic",
        start_timestamp: int = 0,
    ) -> None:
        if pointer_size not in (4, 8):
            raise ValueError("pointer_size must be 4 or 8")
        if not 1 <= cpu_count <= L.PROCESSOR_INDEX_MASK + 1:
            raise ValueError("cpu_count out of range")
        if not 1024 <= buffer_size <= L.MAX_BUFFER_BYTES or buffer_size % 8:
            raise ValueError(
                "buffer_size must be a multiple of 8 from 1024 to "
                f"{L.MAX_BUFFER_BYTES} (ETW's largest)"
            )
        if perf_freq <= 0:
            raise ValueError("perf_freq must be positive")
        self.path = os.fspath(path)
        self.pointer_size = pointer_size
        self.cpu_count = cpu_count
        self.perf_freq = perf_freq
        self.start_utc = start_utc
        self.buffer_size = buffer_size
        self.compress = compress
        self.events_lost = events_lost
        self.buffers_lost = buffers_lost
        self.os_version = os_version
        self.build = build
        self.logger_name = logger_name
        self.start_timestamp = start_timestamp
        self.records = 0
        self._b64 = pointer_size == 8
        self._bufs: dict[int, _Buffer] = {}
        self._seq = 1  # 0 is the header buffer
        self._buffers_written = 1
        self._max_ts = start_timestamp
        self._lost_pending = events_lost > 0
        self._buf_lost_pending = buffers_lost > 0
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, self._tmp = tempfile.mkstemp(
            prefix="." + os.path.basename(self.path) + ".", suffix=".tmp", dir=folder
        )
        self._f = os.fdopen(fd, "wb")
        # The header buffer is written last (it holds totals) but lives first in the file.
        self._f.write(b"\xff" * buffer_size)
        self._closed = False

    def __enter__(self) -> EtlWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- records -------------------------------------------------------------------------------
    def write_record(
        self,
        *,
        header_type: int,
        hook_id: int,
        version: int,
        timestamp: int,
        payload: bytes,
        thread_id: int = 0,
        process_id: int = 0,
        cpu: int = 0,
        guid: uuid.UUID | None = None,
    ) -> None:
        """Append one record to `cpu`'s buffer; the header type decides the header layout.

        `hook_id`: kernel headers: Group<<8 | Type; FULL/INSTANCE: Class.Type (low byte);
        EVENT_HEADER: descriptor Id. `guid` is required for FULL/INSTANCE/EVENT_HEADER.
        """
        hs = int(L.HEADER_LAYOUTS[header_type].size) if header_type in L.HEADER_LAYOUTS else 0
        if hs == 0 or header_type in (L.HT_MESSAGE, L.HT_ERROR):
            raise ValueError(f"cannot write header type {header_type:#x}")
        size = hs + len(payload)
        if size > 0xFFFF or size > self.buffer_size - _BH_SIZE:
            raise ValueError(f"record of {size} bytes does not fit a buffer")
        if not 0 <= cpu < self.cpu_count:
            raise ValueError(f"cpu {cpu} outside 0..{self.cpu_count - 1}")
        buf = self._bufs.get(cpu)
        if buf is None:
            buf = self._bufs[cpu] = _Buffer(self.buffer_size)
        end = buf.pos + size
        if end > self.buffer_size:
            self._flush(cpu, buf)
            buf = self._bufs[cpu] = _Buffer(self.buffer_size)
            end = buf.pos + size
        pos = buf.pos
        data = buf.data
        ids = (thread_id, process_id, timestamp)
        if header_type in L.KERNEL_HEADER_TYPES:
            _pack_kernel_header(data, pos, header_type, size, hook_id, version, *ids)
        else:
            if guid is None:
                raise ValueError(f"header type {header_type:#x} needs a provider guid")
            _pack_guid_header(data, pos, header_type, size, hook_id, version, *ids, guid)
        data[pos + hs : end] = payload
        buf.pos = (end + 7) & ~7
        if timestamp > buf.last_ts:
            buf.last_ts = timestamp
        if timestamp > self._max_ts:
            self._max_ts = timestamp
        self.records += 1

    def system_record(
        self,
        hook_id: int,
        version: int,
        timestamp: int,
        payload: bytes,
        *,
        thread_id: int = 0,
        process_id: int = 0,
        cpu: int = 0,
    ) -> None:
        """A SYSTEM header record of the writer's pointer size."""
        self.write_record(
            header_type=L.HT_SYSTEM64 if self._b64 else L.HT_SYSTEM32,
            hook_id=hook_id,
            version=version,
            timestamp=timestamp,
            payload=payload,
            thread_id=thread_id,
            process_id=process_id,
            cpu=cpu,
        )

    def mark_events_lost(self, cpu: int = 0) -> None:
        """Flag the current buffer of `cpu` as having lost events (BufferFlag EVENTS_LOST)."""
        buf = self._bufs.get(cpu)
        if buf is None:
            buf = self._bufs[cpu] = _Buffer(self.buffer_size)
        buf.flags |= L.BUFFER_FLAG_EVENTS_LOST

    # -- buffers -------------------------------------------------------------------------------
    def _flush(self, cpu: int, buf: _Buffer) -> None:
        flags = buf.flags
        # Lost counts in the header are backed by flagged buffers, as a real logger leaves them.
        if self._lost_pending:
            flags |= L.BUFFER_FLAG_EVENTS_LOST
            self._lost_pending = False
        if self._buf_lost_pending:
            flags |= L.BUFFER_FLAG_BUFFER_LOST
            self._buf_lost_pending = False
        data = buf.data
        end = buf.pos
        if self.compress:
            body = xpress.compress(bytes(data[_BH_SIZE:end]))
            out = bytearray(_BH_SIZE + len(body))
            out[_BH_SIZE:] = body
            flags |= L.BUFFER_FLAG_COMPRESSED
        else:
            out = data
        _BH.pack_into(
            out,
            0,
            BufferSize=len(out),
            SavedOffset=end,
            CurrentOffset=end,
            TimeStamp=buf.last_ts,
            SequenceNumber=self._seq,
            ProcessorIndex=cpu,
            State=_STATE_FLUSH,
            Offset=end,
            BufferFlag=flags,
            BufferType=L.BUFFER_TYPE_GENERIC,
        )
        self._seq += 1
        self._buffers_written += 1
        self._f.write(out)

    def _header_buffer(self) -> bytearray:
        layout = L.TRACE_LOGFILE_HEADER64 if self._b64 else L.TRACE_LOGFILE_HEADER32
        strings = (self.logger_name + "\0" + os.path.basename(self.path) + "\0").encode("utf-16-le")
        start_ft = _filetime(self.start_utc)
        ticks = self._max_ts - self.start_timestamp
        end_ft = start_ft + ticks * 10_000_000 // self.perf_freq
        mode = L.EVENT_TRACE_FILE_MODE_SEQUENTIAL
        if self.compress:
            mode |= L.EVENT_TRACE_COMPRESSED_MODE
        payload = bytearray(layout.size)
        layout.pack_into(
            payload,
            0,
            BufferSize=self.buffer_size,
            VersionOsMajor=self.os_version[0],
            VersionOsMinor=self.os_version[1],
            VersionFmtMajor=2 if self.compress else 1,
            VersionFmtMinor=0 if self.compress else 5,
            ProviderVersion=self.build,
            NumberOfProcessors=self.cpu_count,
            EndTime=end_ft,
            TimerResolution=156_250,
            LogFileMode=mode,
            BuffersWritten=self._buffers_written,
            PointerSize=self.pointer_size,
            EventsLost=self.events_lost,
            CpuSpeedInMHz=3000,
            BootTime=start_ft - 600 * 10_000_000,
            PerfFreq=self.perf_freq,
            StartTime=start_ft,
            ReservedFlags=L.CLOCK_QPC,
            BuffersLost=self.buffers_lost,
        )
        payload += strings
        hs = L.SYSTEM_TRACE_HEADER.size
        size = hs + len(payload)
        end = _BH_SIZE + size
        if ((end + 7) & ~7) > self.buffer_size:
            raise ValueError("logger name too long for the header buffer")
        out = bytearray(b"\xff") * self.buffer_size
        _SYS.pack_into(
            out,
            _BH_SIZE,
            2,
            L.HT_SYSTEM64 if self._b64 else L.HT_SYSTEM32,
            _MF,
            size,
            L.HOOK_LOGFILE_HEADER,
            0,
            0,
            self.start_timestamp,
            0,
            0,
        )
        out[_BH_SIZE + hs : end] = payload
        end = (end + 7) & ~7
        _BH.pack_into(
            out,
            0,
            BufferSize=self.buffer_size,
            SavedOffset=end,
            CurrentOffset=end,
            TimeStamp=self.start_timestamp,
            SequenceNumber=0,
            ProcessorIndex=0,
            State=_STATE_FLUSH,
            Offset=end,
            BufferFlag=L.BUFFER_FLAG_FLUSH_MARKER,
            BufferType=L.BUFFER_TYPE_HEADER,
        )
        return out

    def close(self) -> None:
        """Flush all buffers, write the header buffer and move the file into place."""
        if self._closed:
            return
        try:
            for cpu in sorted(self._bufs):
                buf = self._bufs[cpu]
                if buf.pos > _BH_SIZE or buf.flags != L.BUFFER_FLAG_PROC_INDEX:
                    self._flush(cpu, buf)
            self._bufs.clear()
            if self._lost_pending or self._buf_lost_pending:
                # No data buffer took the lost flags: log an empty flagged one.
                self._flush(0, _Buffer(self.buffer_size))
            self._f.seek(0)
            self._f.write(self._header_buffer())
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.chmod(self._tmp, OUTPUT_MODE)
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Drop the temporary file; nothing appears at `path`."""
        if self._closed:
            return
        self._closed = True
        self._f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
