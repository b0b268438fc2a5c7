"""The column contract between readers and the store.

A reader of one trace yields `Chunk` objects (numpy columns for one raw table) and, last, one
`TraceInfo`. The store appends each chunk to its table in bulk. Columns and dtypes are declared
once here; `Chunk.build` checks them so a reader bug surfaces at the reader, not in SQL.

Conventions: times are float64 seconds from trace start; a missing time is NaN; a missing
integer id is -1; a missing string is "". Addresses are uint64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

# A reader reports how far it got: progress(done_bytes, total_bytes), for a progress bar.
Progress = Callable[[int, int], None]

# Pool event kinds in `pool_events.event`.
POOL_ALLOC = 0
POOL_FREE = 1

STR = np.dtype(object)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: np.dtype


def _c(name: str, dtype: str | np.dtype) -> ColumnSpec:
    return ColumnSpec(name, np.dtype(dtype))


# The chunk tables and their columns; the store tables they become are documented in
# gate/store/schema.sql.
TABLES: dict[str, tuple[ColumnSpec, ...]] = {
    "images": (
        _c("driver", STR),  # lower-case file name of the image, e.g. acpi.sys
        _c("path", STR),  # path as the trace names it
        _c("base_address", "u8"),  # load address
        _c("size_bytes", "i8"),  # image size in memory
        _c("load_s", "f8"),  # load time; NaN when loaded before the trace (rundown)
        _c("unload_s", "f8"),  # unload time; NaN when still loaded at trace end
        _c("process_id", "i8"),  # 0 for kernel drivers
        _c("pdb_name", STR),  # PDB file name from the image identity events, or ''
        _c("pdb_guid", STR),  # PDB GUID, or ''
        _c("pdb_age", "i8"),  # PDB age, or -1
    ),
    "pool_events": (
        _c("seq", "i8"),  # trace order of the event, unique within the trace
        _c("time_s", "f8"),  # seconds from trace start
        _c("event", "u1"),  # 0 allocate, 1 free
        _c("pool_type", "u4"),  # POOL_TYPE value as logged
        _c("tag", STR),  # four-character pool tag, trailing blanks removed
        _c("size_bytes", "i8"),  # requested bytes (0 when a free does not say)
        _c("address", "u8"),  # allocation address, the key that pairs alloc and free
        _c("session_id", "i8"),  # session id for session pool events, else -1
        _c("stack_id", "i8"),  # id into stack_frames, or -1 when no stack was logged
        _c("thread_id", "i8"),  # thread id from the event header, or -1
        _c("cpu", "i8"),  # processor index, or -1
    ),
    # Producers that already know allocation lifetimes (WPA's Pool table) write these directly;
    # readers holding a trace's events in trace order pair them with gate.tables.pairing.
    "pool_allocations": (
        _c("alloc_seq", "i8"),  # trace order of the allocation
        _c("alloc_s", "f8"),  # allocation time
        _c("free_seq", "i8"),  # trace order of the free, or -1
        _c("free_s", "f8"),  # free time, NaN when never freed in the trace
        _c("free_kind", STR),  # 'freed', 'lost' (closed by a reallocation) or 'none'
        _c("pool_type", "u4"),  # POOL_TYPE value
        _c("tag", STR),  # pool tag
        _c("size_bytes", "i8"),  # allocated bytes
        _c("address", "u8"),  # allocation address
        _c("session_id", "i8"),  # session id or -1
        _c("stack_id", "i8"),  # id into stack_frames, or -1
    ),
    "pool_unmatched_frees": (
        _c("seq", "i8"),  # trace order of the free
        _c("time_s", "f8"),  # free time
        _c("pool_type", "u4"),  # POOL_TYPE value as logged
        _c("tag", STR),  # pool tag
        _c("size_bytes", "i8"),  # bytes the free names (0 when it does not say)
        _c("address", "u8"),  # the freed address
        _c("session_id", "i8"),  # session id or -1
    ),
    "stack_frames": (
        _c("stack_id", "i8"),  # stack id, unique within the trace
        _c("frame_index", "i4"),  # 0 is the innermost frame (the allocator)
        _c("address", "u8"),  # instruction address, 0 when only module+offset is known
        _c("module_id", "i4"),  # the frame's module: a frame_modules.module_id of the trace
        _c("rva_bytes", "i8"),  # offset into the module, -1 when unresolved
        _c("function", STR),  # function name when symbols were given, else ''
    ),
    # The module names stack_frames.module_id stands for; a reader yields each id once.
    "frame_modules": (
        _c("module_id", "i4"),  # unique within the trace
        _c("module", STR),  # lower-case image file name, '' when unresolved
    ),
    "resident_pages": (
        _c("path", STR),  # file path of the page's image or file, '' if none
        _c("page_list", STR),  # Active, Standby, Modified, ModifiedNoWrite, ...
        _c("category", STR),  # page category: Driver, DriverFile, Image, ...
        _c("size_bytes", "i8"),  # bytes (page count times page size)
    ),
}


@dataclass(frozen=True)
class Chunk:
    """A batch of rows for one raw table, as numpy columns of equal length."""

    table: str
    columns: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @classmethod
    def build(cls, table: str, **columns: object) -> Chunk:
        """Build a chunk, converting each column to its declared dtype and checking names."""
        specs = TABLES.get(table)
        if specs is None:
            raise ValueError(f"unknown chunk table {table!r}")
        names = [s.name for s in specs]
        if set(columns) != set(names):
            missing = sorted(set(names) - set(columns))
            extra = sorted(set(columns) - set(names))
            raise ValueError(f"chunk {table}: missing columns {missing}, unexpected {extra}")
        out: dict[str, np.ndarray] = {}
        length = None
        for spec in specs:
            arr = np.asarray(columns[spec.name], dtype=spec.dtype)
            if arr.ndim != 1:
                raise ValueError(f"chunk {table}.{spec.name}: expected a 1-d column")
            if length is None:
                length = len(arr)
            elif len(arr) != length:
                raise ValueError(f"chunk {table}.{spec.name}: {len(arr)} rows, expected {length}")
            out[spec.name] = arr
        return cls(table, out)


def frame_chunks(
    *,
    stack_id: object,
    frame_index: object,
    address: object,
    module: Sequence[str],
    rva_bytes: object,
    function: object,
) -> tuple[Chunk, Chunk]:
    """The `frame_modules` and `stack_frames` chunks of frames whose modules are given by
    name, for readers that hold all of a trace's frames at once."""
    names, codes = np.unique(np.asarray(module, dtype=STR).astype(str), return_inverse=True)
    modules = Chunk.build(
        "frame_modules",
        module_id=np.arange(len(names), dtype=np.int32),
        module=names.astype(STR),
    )
    frames = Chunk.build(
        "stack_frames",
        stack_id=stack_id,
        frame_index=frame_index,
        address=address,
        module_id=codes.astype(np.int32).reshape(-1),
        rva_bytes=rva_bytes,
        function=function,
    )
    return modules, frames


def module_names(modules: Chunk, frames: Chunk) -> np.ndarray:
    """Each frame's module name: the `frame_modules` rows looked up by `frames`' module ids."""
    ids = modules.columns["module_id"]
    order = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids[order], frames.columns["module_id"])
    return modules.columns["module"][order][at]


@dataclass
class TraceInfo:
    """What a reader learned about one trace as a whole. Yielded last."""

    source_path: str
    source_format: str  # 'etl', 'wpa-csv', 'scenario', 'normalized'
    sha256: str = ""
    os_version: str = ""
    pointer_size_bytes: int = 8
    cpu_count: int = 0
    start_utc: datetime | None = None
    duration_s: float = 0.0
    events_lost: int = 0
    buffers_lost: int = 0
    page_size_bytes: int = 4096
    has_resident_set: bool = False
    synthetic: bool = False
    compressed: bool = False
    records_total: int = 0
    records_unknown: int = 0
    notes: list[str] = field(default_factory=list)
