"""Reading the `.etl` container: logfile header, buffers, record headers.

`open_etl(path)` gives an `EtlFile`. Its `record_batches()` walks the file's buffers in file order
and yields `RecordBatch` objects: the decompressed bodies of a bounded number of buffers plus one
numpy array per record-header field. Payloads are not decoded here (see `gate.etl.decode`).

Ordering: file order is not time order. Each buffer belongs to one processor (`cpu`) and buffers
of one processor carry increasing `buffer_seq`. A consumer that needs global trace order sorts by
(timestamp, cpu, buffer_seq, record_index); those four columns make the order total and stable.
Memory is bounded by `max_bytes` of buffer bodies per batch, never by the trace size.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

import numpy as np


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


class EtlFile:
    """An open `.etl` file. Use `open_etl`."""

    path: str
    header: LogfileHeader

    def __enter__(self) -> EtlFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def seconds(self, raw: np.ndarray) -> np.ndarray:
        """Raw header timestamps -> float64 seconds from trace start (the sync timestamp)."""
        raise NotImplementedError

    def to_utc(self, raw: np.ndarray) -> np.ndarray:
        """Raw header timestamps -> numpy datetime64[us] UTC."""
        raise NotImplementedError

    def record_batches(self, max_bytes: int = 32 << 20) -> Iterator[RecordBatch]:
        """Yield the records of the file, buffer by buffer in file order, in bounded batches."""
        raise NotImplementedError

    def stats(self) -> EtlStats:
        """One pass over the file counting records per kind."""
        raise NotImplementedError


def open_etl(path: str | os.PathLike[str]) -> EtlFile:
    """Open an `.etl` file and read its logfile header; raises TraceFormatError when corrupt."""
    raise NotImplementedError
