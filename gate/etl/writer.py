"""Writing synthetic `.etl` files (tests, benchmarks, the bundled sample).

The output follows the same layouts the reader uses (`gate.etl.layouts`): a HEADER buffer with the
logfile-header record first, then per-CPU buffers with increasing SequenceNumbers, 8-byte aligned
records, 0xFF padding and optionally XPRESS compression. The file appears atomically on close.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from types import TracebackType

DEFAULT_START_UTC = datetime(2026, 1, 1, tzinfo=timezone.utc)


class EtlWriter:
    """Build an `.etl` file record by record. Use as a context manager; `close()` commits it."""

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
    ) -> None:
        raise NotImplementedError

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
        """Append one record to `cpu`'s buffer. `timestamp` is raw QPC ticks (perf_freq)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def perfinfo_record(
        self, hook_id: int, version: int, timestamp: int, payload: bytes, *, cpu: int = 0
    ) -> None:
        """A PERFINFO header record of the writer's pointer size."""
        raise NotImplementedError

    def mark_events_lost(self, cpu: int = 0) -> None:
        """Flag the current buffer of `cpu` as having lost events (BufferFlag EVENTS_LOST)."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush all buffers, patch the header and move the file into place."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the temporary file; nothing appears at `path`."""
        raise NotImplementedError
