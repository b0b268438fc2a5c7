"""Normalized folders (`gate.tables.normalized`) written from and loaded into the store."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from gate import __version__
from gate.errors import NormalizedFormatError, OutputError
from gate.fileio import path_text
from gate.store.store import RAW_TABLES, Store, atomic_dir_swap
from gate.tables.drivers import DEFAULT_ENTRY, FILE_PREFIX, RESERVED_NAMES
from gate.tables.normalized import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    REQUIRED_TABLES,
    is_normalized_dir,
)
from gate.tables.normalized import TABLES as NORMALIZED_TABLES

# Rows of these tables are written in this order (the others in the store's, by trace).
_EXPORT_ORDER = {
    "pool_allocations": "trace_id, alloc_seq",
    "stack_frames": "trace_id, stack_id, frame_index",
}


def export_normalized(store: Store, out: Path) -> dict[str, int]:
    """Write every table of the store to `out` atomically; returns row counts per table."""
    out = out.resolve()
    shown = path_text(out)
    if shown != str(out):
        # DuckDB takes paths as UTF-8 text: it cannot name this folder's files.
        raise OutputError(f"{shown}: the folder's name is not valid UTF-8; choose another name")
    try:
        replaceable = is_normalized_dir(out) or (out.is_dir() and not any(out.iterdir()))
        if out.exists() and not replaceable:
            raise OutputError(
                f"{out}: exists and is not a gate normalized folder; not replacing it"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create: {exc.strerror}") from None
    try:
        counts: dict[str, int] = {}
        # zstd level 1: within 2 % of the default level's size, a fifth less writing time.
        for table in NORMALIZED_TABLES:
            target = tmp / f"{table}.parquet"
            order = _EXPORT_ORDER.get(table, "trace_id")
            # The target is a bound parameter: a folder name is never part of the SQL text.
            store.con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY {order}) TO ? "
                "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)",
                [str(target)],
            ).fetchall()
            counts[table] = int(store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "gate_version": __version__,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tables": {t: {"file": f"{t}.parquet", "rows": counts[t]} for t in NORMALIZED_TABLES},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        atomic_dir_swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


# Bounds on what a manifest may be: the gate writes a few hundred bytes, three levels deep.
_MAX_MANIFEST_BYTES = 1 << 20
_MAX_DEPTH = 16
_MAX_FILE_NAME = 255
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_INT32_MAX = (1 << 31) - 1


def _too_deep(text: str) -> int | None:
    """The offset of the first bracket nested deeper than `_MAX_DEPTH`, or None (the JSON
    parser recurses: 100,000 levels end it in RecursionError)."""
    depth = 0
    for match in _TOKENS.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return match.start()
        elif match.group() in "]}":
            depth -= 1
    return None


def _manifest_text(path: Path) -> str:
    shown = path_text(path)
    try:
        size = path.stat().st_size
        if size > _MAX_MANIFEST_BYTES:
            raise NormalizedFormatError(f"{shown}: {size:,} bytes is too large for a manifest")
        raw = path.read_bytes()
    except OSError as exc:
        raise NormalizedFormatError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NormalizedFormatError(f"{shown}: not UTF-8 text (byte offset {exc.start})") from None


def read_manifest(folder: Path) -> dict:
    """The folder's manifest, checked for its format, version and `tables` mapping."""
    path = folder / MANIFEST
    shown = path_text(path)
    text = _manifest_text(path)
    deep = _too_deep(text)
    if deep is not None:
        line = text.count("\n", 0, deep) + 1
        column = deep - text.rfind("\n", 0, deep)
        raise NormalizedFormatError(
            f"{shown}:{line}:{column}: nested more than {_MAX_DEPTH} levels deep"
        )
    try:
        manifest = json.loads(text, parse_int=_small_int)
    except json.JSONDecodeError as exc:
        raise NormalizedFormatError(
            f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise NormalizedFormatError(
            f"{shown}: not a gate normalized manifest (format is not '{FORMAT_NAME}')"
        )
    version = manifest.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        got = repr(version)[:20] if isinstance(version, (int, float, str)) else "not a number"
        raise NormalizedFormatError(
            f"{shown}: format version {got} is not supported (this gate reads version "
            f"{FORMAT_VERSION}); re-run 'gate ingest' with this gate version"
        )
    if not isinstance(manifest.get("tables", {}), dict):
        raise NormalizedFormatError(f"{shown}: key 'tables': expected a mapping of table to file")
    return manifest


def _small_int(text: str) -> int | None:
    # A manifest holds row counts and a version; thousands of digits are refused by Python.
    return int(text) if len(text) <= 30 else None


def _table_file(folder: Path, table: str, entry: object) -> Path | None:
    """The Parquet file the manifest names for `table`, inside `folder`, or None."""
    manifest = path_text(folder / MANIFEST)
    where, file_key = f"{manifest}: key 'tables.{table}'", f"{manifest}: key 'tables.{table}.file'"
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise NormalizedFormatError(f"{where}: expected a mapping with 'file', got {_kind(entry)}")
    name = entry.get("file")
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise NormalizedFormatError(f"{file_key}: expected a file name, got {_kind(name)}")
    if len(name) > _MAX_FILE_NAME or "\x00" in name:
        raise NormalizedFormatError(
            f"{file_key}: not a file name the folder can hold ({len(name):,} characters)"
        )
    try:
        inside = folder.resolve()
        path = (folder / name).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise NormalizedFormatError(f"{file_key}: cannot be followed: {exc}") from None
    # Only files of the folder itself: a manifest naming '../x' or '/etc/x' reads nothing.
    if path.parent != inside:
        raise NormalizedFormatError(
            f"{file_key}: '{path_text(name)}' is not a file in the folder itself"
        )
    if not path.is_file():
        raise NormalizedFormatError(
            f"{path_text(folder / name)}: file named by the manifest does not exist"
        )
    return path


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def import_normalized(store: Store, folder: Path) -> list[int]:
    """Load a normalized folder into the store; returns the new trace ids.

    The manifest may name only files of the folder itself; every file's columns, trace ids and
    value ranges are checked before a row is loaded, so a bad folder leaves the store as it was.
    """
    manifest = read_manifest(folder)
    if path_text(folder.resolve()) != str(folder.resolve()):
        raise NormalizedFormatError(
            f"{path_text(folder)}: the folder's name is not valid UTF-8, which DuckDB cannot "
            "open; rename it"
        )
    tables = manifest.get("tables", {})
    offset = store.next_trace_id() - 1
    files: dict[str, Path] = {}
    for table in NORMALIZED_TABLES:
        path = _table_file(folder, table, tables.get(table))
        if path is None:
            if table in REQUIRED_TABLES:
                raise NormalizedFormatError(
                    f"{path_text(folder / MANIFEST)}: table '{table}' is missing"
                )
            continue
        files[table] = path
    for table, path in files.items():
        _check_columns(store, table, path)
    _check_trace_ids(store, files, offset)
    for table, path in files.items():
        _check_values(store, table, path)
    try:
        for table, path in files.items():
            _insert(store, table, path, offset)
        rows = store.con.execute(
            "SELECT trace_id FROM traces WHERE trace_id > ? ORDER BY trace_id", [offset]
        ).fetchall()
        loaded = [r[0] for r in rows]
    except BaseException:
        for table in RAW_TABLES:
            store.con.execute(f"DELETE FROM {table} WHERE trace_id > ?", [offset]).fetchall()
        raise
    if not loaded:
        raise NormalizedFormatError(f"{path_text(files['traces'])}: holds no trace")
    return loaded


# Columns that hold driver or module names: a name the gate reserves gets the file prefix, as
# every reader gives it (gate.tables.drivers).
_NAME_COLUMNS = {("images", "driver"), ("stack_frames", "module"), ("resident_pages", "driver")}


def _insert(store: Store, table: str, path: Path, offset: int) -> None:
    cols = store.columns(table)
    reserved = [*RESERVED_NAMES, DEFAULT_ENTRY]
    marks = ", ".join("?" * len(reserved))
    select = []
    for c in cols:
        if c == "trace_id":
            select.append(f"CAST(trace_id AS INTEGER) + {int(offset)} AS trace_id")
        elif (table, c) in _NAME_COLUMNS:
            select.append(
                f'CASE WHEN lower("{c}") IN ({marks}) THEN ? || lower("{c}") ELSE "{c}" END '
                f'AS "{c}"'
            )
        else:
            select.append(f'"{c}"')
    params: list[object] = []
    for c in cols:
        if (table, c) in _NAME_COLUMNS:
            params += [*reserved, FILE_PREFIX]
    source = f"(SELECT {', '.join(select)} FROM read_parquet(?)) AS p"
    try:
        if table == "stack_frames":
            _insert_frames(store, source, [*params, str(path)])
        else:
            store.con.execute(
                f"INSERT INTO {table} SELECT * FROM {source}", [*params, str(path)]
            ).fetchall()
    except duckdb.Error as exc:
        raise NormalizedFormatError(f"{path_text(path)}: cannot load: {_first_line(exc)}") from None


def _insert_frames(store: Store, source: str, params: list[object]) -> None:
    """stack_frames.parquet names each frame's module; the store numbers the names per trace
    (frame_modules) and keeps the numbers. A frame without a module finds no number, and the
    store's NOT NULL refuses it, as it refused the name."""
    store.con.execute(
        "INSERT INTO frame_modules SELECT trace_id, "
        "CAST(row_number() OVER (PARTITION BY trace_id ORDER BY module) - 1 AS INTEGER), module "
        f"FROM (SELECT DISTINCT trace_id, module FROM {source} WHERE module IS NOT NULL)",
        params,
    ).fetchall()
    store.con.execute(
        "INSERT INTO stack_frame_rows SELECT p.trace_id, p.stack_id, p.frame_index, p.address, "
        f"m.module_id, p.rva_bytes, p.function FROM {source} "
        "LEFT JOIN frame_modules AS m ON m.trace_id = p.trace_id AND m.module = p.module",
        params,
    ).fetchall()


def _check_trace_ids(store: Store, files: dict[str, Path], offset: int) -> None:
    """Trace ids are 1, 2, ... unique in traces.parquet, and every other table's ids are among
    them: a row with another id would join a trace loaded from a different input."""
    traces = files["traces"]
    count, distinct, low, high = _query(
        store,
        traces,
        "SELECT count(*), count(DISTINCT id), min(id), max(id) "
        "FROM (SELECT CAST(trace_id AS BIGINT) AS id FROM read_parquet(?))",
        [str(traces)],
    )[0]
    if count and (distinct != count or low < 1 or high > _INT32_MAX - offset):
        raise NormalizedFormatError(
            f"{path_text(traces)}: column 'trace_id': expected distinct ids 1, 2, ..., "
            f"found {count:,} rows with {distinct:,} distinct ids from {low} to {high}"
        )
    for table, path in files.items():
        if table == "traces":
            continue
        stray = _query(
            store,
            path,
            "SELECT file_row_number, trace_id FROM read_parquet(?, file_row_number = true) "
            "WHERE trace_id IS NULL OR trace_id NOT IN (SELECT trace_id FROM read_parquet(?)) "
            "ORDER BY file_row_number LIMIT 1",
            [str(path), str(traces)],
        )
        if stray:
            row, trace_id = stray[0]
            raise NormalizedFormatError(
                f"{path_text(path)}: row {row + 1}: trace_id {trace_id} is not a trace of "
                f"{traces.name}"
            )


# Rows no reader produces, per table: (condition of a bad row, what is wrong). The model
# sums sizes and subtracts times; values past these bounds would overflow it or mean nothing.
_BAD_ROWS: dict[str, tuple[tuple[str, str], ...]] = {
    "traces": (
        ("NOT isfinite(duration_s) OR duration_s < 0", "duration_s is not a time"),
        ("pointer_size_bytes NOT IN (4, 8)", "pointer_size_bytes is neither 4 nor 8"),
        ("page_size_bytes NOT IN (4096, 8192, 16384, 65536)", "page_size_bytes is not a page size"),
        ("events_lost < 0 OR buffers_lost < 0", "a count of lost events is negative"),
    ),
    "pool_allocations": (
        ("size_bytes < 0 OR size_bytes >= 1099511627776", "size_bytes is not a pool size"),
        ("NOT isfinite(alloc_s) OR abs(alloc_s) > 1e9", "alloc_s is not a time in a trace"),
        ("NOT isfinite(free_s) OR free_s < alloc_s OR free_s > 1e9", "free_s is not after alloc_s"),
        ("free_kind NOT IN ('freed', 'lost', 'none')", "free_kind is not freed, lost or none"),
        ("session_id < 0 OR session_id > 4294967295", "session_id is out of range"),
    ),
    "pool_unmatched_frees": (
        ("NOT isfinite(time_s) OR abs(time_s) > 1e9", "time_s is not a time in a trace"),
        ("size_bytes < 0 OR size_bytes >= 1099511627776", "size_bytes is not a pool size"),
    ),
    "images": (
        ("size_bytes < 0 OR size_bytes > 4294967295", "size_bytes is not an image size"),
        ("NOT isfinite(load_s) OR NOT isfinite(unload_s)", "load_s or unload_s is not a time"),
    ),
    "stack_frames": (
        ("frame_index < 0", "frame_index is negative"),
        ("rva_bytes < 0 OR rva_bytes > 4294967295", "rva_bytes is not an offset in an image"),
    ),
    "resident_pages": (
        ("size_bytes < 0 OR size_bytes >= 1099511627776", "size_bytes is not a size"),
    ),
}


def _check_values(store: Store, table: str, path: Path) -> None:
    for condition, problem in _BAD_ROWS.get(table, ()):
        bad = _query(
            store,
            path,
            f"SELECT file_row_number FROM read_parquet(?, file_row_number = true) "
            f"WHERE {condition} ORDER BY file_row_number LIMIT 1",
            [str(path)],
        )
        if bad:
            raise NormalizedFormatError(f"{path_text(path)}: row {bad[0][0] + 1}: {problem}")


def _query(store: Store, path: Path, sql: str, params: list[object]) -> list[tuple]:
    try:
        return store.con.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        raise NormalizedFormatError(f"{path_text(path)}: cannot load: {_first_line(exc)}") from None


def _check_columns(store: Store, table: str, path: Path) -> None:
    try:
        described = store.con.execute(
            "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL OR num_children = 0",
            [str(path)],
        ).fetchall()
    except duckdb.Error as exc:
        raise NormalizedFormatError(
            f"{path_text(path)}: not a readable Parquet file: {_first_line(exc)}"
        ) from None
    present = {r[0] for r in described}
    for column in store.columns(table):
        if column not in present:
            raise NormalizedFormatError(f"{path_text(path)}: column '{column}' is missing")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
