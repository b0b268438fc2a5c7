"""The Resident Set table export: pages by file, page list and category."""

from __future__ import annotations

import math

import numpy as np

from gate.inputs.wpa.columns import DISPLAY, RESIDENT_COLUMNS, RESIDENT_REQUIRED, find_columns
from gate.inputs.wpa.csvfile import (
    Columns,
    CsvFile,
    FileReader,
    missing_column,
    size_scale,
    time_scale,
)
from gate.tables.chunks import Chunk
from gate.tables.drivers import driver_name

# --- Resident Set export -----------------------------------------------------------------------


def read_resident(csvf: CsvFile, page_size: int, notes: list[str]) -> tuple[Chunk, float]:
    index = find_columns(csvf.header, RESIDENT_COLUMNS)
    for name in RESIDENT_REQUIRED:
        if name not in index:
            raise missing_column(csvf.path, csvf.header, DISPLAY[name])
    if "size" not in index and "page_count" not in index:
        raise missing_column(csvf.path, csvf.header, "Size")
    cols = Columns(index, csvf.header)
    numeric: dict[str, bool] = {}
    if "size" in index:
        cols.byte_scale = size_scale(csvf.path, csvf.header, index["size"])
        numeric["size"] = cols.byte_scale == 1
    else:
        numeric["page_count"] = True
    if "snapshot_s" in index:
        cols.time_scale["snapshot_s"] = time_scale(csvf.path, csvf.header, index["snapshot_s"])
        numeric["snapshot_s"] = False
    reader = FileReader.opened(csvf, cols, numeric, notes)
    path, page_list, category, size, snap = [], [], [], [], []
    for line, row in reader.rows(("page_list", "category")):
        if _reserved_file(reader.cell(row, "path")):
            # The store names a resident file's driver by its file name: a file named like
            # one of the gate's own names would pass for it.
            notes.append(
                f"{csvf.short}:{line}: skipped a file named like a name the gate keeps for "
                "itself ('(total)', '(kernel)', '(unattributed)' or '*')"
            )
            continue
        path.append(reader.cell(row, "path"))
        page_list.append(reader.cell(row, "page_list"))
        category.append(reader.cell(row, "category"))
        size.append(_size(reader, line, row, page_size))
        t = reader.optional_number(line, row, "snapshot_s")
        t = math.nan if t is None else t * cols.time_scale["snapshot_s"]
        if not (math.isnan(t) or abs(t) <= MAX_TIME_S):
            raise reader.error(line, "snapshot_s", f"Snapshot Time {t:g} s is not a time")
        snap.append(t)
    notes.extend(reader.notes)
    keep = _last_full_snapshot(np.asarray(snap, dtype=np.float64), page_list)
    if keep is not None:
        notes.append(
            f"{csvf.short}: several resident-set snapshots; kept the last one with Active "
            f"pages ({int(keep.sum()):,} of {len(keep):,} rows)"
        )
    chunk = Chunk.build(
        "resident_pages",
        path=np.asarray(path, dtype=object),
        page_list=np.asarray(page_list, dtype=object),
        category=np.asarray(category, dtype=object),
        size_bytes=np.asarray(size, dtype=np.int64),
    )
    if keep is not None:
        chunk = Chunk("resident_pages", {k: v[keep] for k, v in chunk.columns.items()})
    times = np.asarray(snap, dtype=np.float64)
    latest = float(np.nanmax(times)) if len(times) and not np.isnan(times).all() else 0.0
    return chunk, latest


# Resident bytes of one row: at most all the memory a machine can have (1 TiB is generous).
MAX_BYTES = (1 << 40) - 1
MAX_TIME_S = 1e9


def _size(reader: FileReader, line: int, row: list[str], page_size: int) -> int:
    """A row's bytes from Size (exact in bytes, rounded from KB or MB) or Page Count."""
    cols = reader.cols
    if "size" not in cols.index:
        return reader.integer(line, row, "page_count", 0, MAX_BYTES // page_size) * page_size
    if cols.byte_scale == 1:
        return reader.integer(line, row, "size", 0, MAX_BYTES)
    size = round(reader.number(line, row, "size") * cols.byte_scale)
    if not 0 <= size <= MAX_BYTES:
        raise reader.error(line, "size", f"'{cols.display('size')}' {size:,} bytes is out of range")
    return size


def _reserved_file(path: str) -> bool:
    name = path.replace("/", "\\").rsplit("\\", 1)[-1]
    return driver_name(path) != name.lower()


def _last_full_snapshot(snap: np.ndarray, page_list: list[str]) -> np.ndarray | None:
    """Rows of the latest snapshot that has Active pages, when the export holds several.

    Standby- or Modified-only snapshots are side effects of the main one (windows-tools.md §1.4).
    """
    known = snap[~np.isnan(snap)]
    if len(np.unique(known)) < 2:
        return None
    active = np.asarray([p.lower() == "active" for p in page_list], dtype=bool)
    candidates = snap[active & ~np.isnan(snap)]
    chosen = float(candidates.max()) if len(candidates) else float(known.max())
    return snap == chosen
