"""WPA CSV exports: the Pool table and the Resident Set table, as wpaexporter writes them.

A trace read from CSV is one Pool export (one row per allocation, already paired by WPA) plus,
optionally, one Resident Set export. `read_wpa_csv` turns those files into the store's chunks;
`wpa_csv_traces` decides which files make up each trace (docs/wpa.md, "Which files make a
trace").

What the exports look like (windows-tools.md §2.3): a header of column display names with unit
suffixes (`Size (B)`, `AllocTime (s)`), visible columns only, in profile order; numbers
formatted for the exporting machine's locale, with thousands separators and quotes
(`"16,384"`, German `"1,176567818"`); stacks as one cell of `/`-joined frames, root first.

Decisions where the exports leave room (documented in docs/wpa.md):

- Columns are found by header name, ignoring case, spaces, underscores and the unit suffix, with
  aliases (`Pool Tag` or `Tag`, `AllocTime` or `Alloc Time`, ...). Unknown columns are ignored.
- The number format is decided per file from the numbers themselves: a cell whose separator can
  only be a decimal mark (times always carry 9 decimals) settles it. Files with no such cell are
  read with '.' as the decimal point. Every file's choice is written to the trace's notes.
- A summary row (first cell "Total"/"Summe"/..., or a row with no tag and no time) is skipped
  with a note when it is the last row, and is an error anywhere else: a summary in the middle
  means the table was grouped, and grouped rows are not allocations.
- Events with the same time: allocations before frees, then the file's row order (a peak is
  never understated).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gate.errors import CsvFormatError
from gate.fileio import path_text
from gate.inputs.wpa.columns import EXPECTED, sniff_layout
from gate.inputs.wpa.csvfile import CsvFile, open_csv, shown_header
from gate.inputs.wpa.pool import Stacks, read_pool, trace_order
from gate.inputs.wpa.resident import read_resident
from gate.tables.chunks import Chunk, TraceInfo
from gate.tables.drivers import DEFAULT_SKIP_MODULES

__all__ = ["read_wpa_csv", "sniff_layout", "source_name", "wpa_csv_traces"]

_KERNEL_IMAGES = set(DEFAULT_SKIP_MODULES)


# --- grouping and the trace ----------------------------------------------------------------------


def wpa_csv_traces(named: list[Path]) -> dict[Path, list[Path]]:
    """Which CSV exports make the trace of each CSV file or folder named in one command
    (docs/wpa.md, "Which files make a trace"):

    - a named folder is one trace: its Pool export and its Resident Set export;
    - a named file is read alone, except that a Pool export and a Resident Set export are one
      trace when both are named from the same folder, or when the named one's folder holds
      exactly one of each;
    - several Pool (or Resident Set) exports named from one folder beside an export of the
      other kind cannot be paired: an error that says how to name them.

    A named file that is not an export is an error; other CSV files are left out.
    """
    out: dict[Path, list[Path]] = {}
    files: dict[Path, list[tuple[Path, str]]] = {}
    for path in named:
        if path.is_dir():
            out[path] = _folder_exports(path)
        elif all(p != path for p, _ in files.get(path.parent, [])):
            files.setdefault(path.parent, []).append((path, _layout(path)))
    for folder, chosen in files.items():
        out.update(_pair(folder, chosen))
    return out


def _layout(path: Path) -> str:
    header = open_csv(path).header
    layout = sniff_layout(header)
    if layout is None:
        raise _unknown_layout(path, header)
    return layout


def _folder_exports(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise CsvFormatError(f"{path_text(folder)}: cannot list: {exc.strerror}") from None
    group = [p for p in entries if p.suffix.lower() == ".csv" and p.is_file() and _is_export(p)]
    if not group:
        raise CsvFormatError(
            f"{path_text(folder)}: no WPA CSV export in this folder; expected {EXPECTED}"
        )
    return group


def _pair(folder: Path, chosen: list[tuple[Path, str]]) -> dict[Path, list[Path]]:
    """The trace of each file named from one folder."""
    pools = [p for p, layout in chosen if layout == "pool"]
    residents = [p for p, layout in chosen if layout != "pool"]
    if pools and residents:
        if len(pools) == 1 and len(residents) == 1:
            return {p: [pools[0], residents[0]] for p in (pools[0], residents[0])}
        raise CsvFormatError(
            f"{path_text(folder)}: {len(pools)} Pool and {len(residents)} Resident Set exports "
            "named from this folder cannot be paired; name one of each per boot, or give each "
            "boot its own folder (wpaexporter -outputfolder) and name the folders"
        )
    if len(chosen) == 1:
        exports = _folder_exports(folder)
        beside_pools = [p for p in exports if _layout(p) == "pool"]
        if len(beside_pools) == 1 and len(exports) == 2:  # exactly one of each kind
            pool = beside_pools[0]
            return {chosen[0][0]: [pool, next(p for p in exports if p != pool)]}
    return {p: [p] for p, _ in chosen}


def _is_export(path: Path) -> bool:
    """Whether a file beside the named one is an export; an unreadable or malformed file is
    simply not one, so that it can never break reading the real exports."""
    try:
        return sniff_layout(open_csv(path).header) is not None
    except CsvFormatError:
        return False


def _unknown_layout(path: Path, header: list[str]) -> CsvFormatError:
    found = shown_header(header)
    return CsvFormatError(
        f"{path_text(path)}: not a WPA Pool or Resident Set export: expected {EXPECTED}; "
        f"found: {found}"
    )


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        try:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise CsvFormatError(f"{path_text(path)}: cannot read: {exc.strerror}") from None
    return digest.hexdigest()


def source_name(paths: list[Path]) -> str:
    """How a CSV trace is named in reports and recognised when named twice."""
    return " + ".join(path_text(p) for p in paths)


def read_wpa_csv(paths: list[Path]) -> Iterator[Chunk | TraceInfo]:
    """Read one trace from its WPA CSV exports: at most one Pool and one Resident Set export."""
    if not paths:
        raise CsvFormatError("no WPA CSV export given")
    files = [open_csv(p) for p in paths]
    pool: list[CsvFile] = []
    resident: list[CsvFile] = []
    for f in files:
        layout = sniff_layout(f.header)
        if layout is None:
            raise _unknown_layout(f.path, f.header)
        (pool if layout == "pool" else resident).append(f)
    for kind, found in (("Pool", pool), ("Resident Set", resident)):
        if len(found) > 1:
            names = ", ".join(f.name for f in found)
            raise CsvFormatError(
                f"{names}: {len(found)} {kind} exports for one trace; write each trace's exports "
                "to its own folder (wpaexporter -outputfolder)"
            )
    notes: list[str] = [
        f"{f.short}: {'Pool' if f in pool else 'Resident Set'} export" for f in files
    ]
    if not pool:
        notes.append("no Pool export: the trace has no pool allocations")
    stacks = Stacks()
    duration = 0.0
    rows = 0
    if pool:
        cols = read_pool(pool[0], stacks, notes)
        n = len(cols["alloc_s"])
        rows += n
        alloc_seq, free_seq = trace_order(cols["alloc_s"], cols["free_s"])
        freed = ~np.isnan(cols["free_s"])
        if n:
            duration = float(max(cols["alloc_s"].max(), np.nanmax(cols["free_s"], initial=0.0)))
        if stacks.modules:
            yield _images(stacks.modules)
        yield from stacks.chunks()
        yield Chunk.build(
            "pool_allocations",
            alloc_seq=alloc_seq,
            alloc_s=cols["alloc_s"],
            free_seq=free_seq,
            free_s=cols["free_s"],
            free_kind=np.where(freed, "freed", "none").astype(object),
            pool_type=cols["pool_type"],
            tag=cols["tag"],
            size_bytes=cols["size_bytes"],
            address=cols["address"],
            session_id=cols["session_id"],
            stack_id=cols["stack_id"],
        )
    if resident:
        chunk, latest = read_resident(resident[0], 4096, notes)
        rows += chunk.rows
        duration = max(duration, latest)
        yield chunk
    yield TraceInfo(
        source_path=source_name(paths),
        source_format="wpa-csv",
        sha256=_sha256(paths),
        duration_s=duration,
        has_resident_set=bool(resident),
        records_total=rows,
        notes=notes,
    )


def _images(modules: set[str]) -> Chunk:
    """Kernel images known from the stacks: a driver on a stack was loaded during the trace.

    The Pool export has no image loads; without these rows a driver whose allocations are
    all charged elsewhere would look absent from the trace.
    """
    names = sorted(m for m in modules if m.endswith(".sys") or m in _KERNEL_IMAGES)
    n = len(names)
    return Chunk.build(
        "images",
        driver=np.asarray(names, dtype=object),
        path=np.asarray(names, dtype=object),
        base_address=np.zeros(n, dtype=np.uint64),
        size_bytes=np.zeros(n, dtype=np.int64),
        load_s=np.full(n, np.nan),
        unload_s=np.full(n, np.nan),
        process_id=np.zeros(n, dtype=np.int64),
        pdb_name=np.full(n, "", dtype=object),
        pdb_guid=np.full(n, "", dtype=object),
        pdb_age=np.full(n, -1, dtype=np.int64),
    )
