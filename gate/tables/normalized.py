"""The normalized input format: a folder any producer can write and every command reads.

Layout (format version 1):

    DIR/manifest.json          {"format": "gate-normalized", "version": 1, "tables": {...}}
    DIR/traces.parquet         one row per trace
    DIR/images.parquet
    DIR/pool_allocations.parquet
    DIR/pool_unmatched_frees.parquet
    DIR/stack_frames.parquet
    DIR/resident_pages.parquet

Each Parquet file has exactly the columns of the store table of the same name
(gate/store/schema.sql), `trace_id` first. Trace ids are local to the folder; loading several
folders renumbers them. Missing optional tables (stack_frames, resident_pages,
pool_unmatched_frees, images) are read as empty. The store reads and writes these folders
(`gate.store.normalized`).
"""

from __future__ import annotations

from pathlib import Path

FORMAT_NAME = "gate-normalized"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES = (
    "traces",
    "images",
    "pool_allocations",
    "pool_unmatched_frees",
    "stack_frames",
    "resident_pages",
)
REQUIRED_TABLES = ("traces", "pool_allocations")


def is_normalized_dir(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()
