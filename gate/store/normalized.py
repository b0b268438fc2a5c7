"""Normalized folders (`gate.tables.normalized`) written from and loaded into the store."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from gate import __version__
from gate.errors import NormalizedFormatError, OutputError
from gate.store.store import Store, atomic_dir_swap
from gate.tables.normalized import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    REQUIRED_TABLES,
    is_normalized_dir,
)
from gate.tables.normalized import TABLES as NORMALIZED_TABLES


def export_normalized(store: Store, out: Path) -> dict[str, int]:
    """Write every table of the store to `out` atomically; returns row counts per table."""
    out = out.resolve()
    replaceable = is_normalized_dir(out) or (out.is_dir() and not any(out.iterdir()))
    if out.exists() and not replaceable:
        raise OutputError(f"{out}: exists and is not a gate normalized folder; not replacing it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create: {exc.strerror}") from None
    try:
        counts: dict[str, int] = {}
        # zstd level 1: within 2 % of the default level's size, a fifth less writing time.
        for table in NORMALIZED_TABLES:
            target = tmp / f"{table}.parquet"
            order = "trace_id" if table != "pool_allocations" else "trace_id, alloc_seq"
            store.con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY {order}) TO '{target}' "
                "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
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


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NormalizedFormatError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise NormalizedFormatError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise NormalizedFormatError(
            f"{path}: not a gate normalized manifest (format is not '{FORMAT_NAME}')"
        )
    version = manifest.get("version")
    if version != FORMAT_VERSION:
        raise NormalizedFormatError(
            f"{path}: format version {version!r} is not supported (this gate reads version "
            f"{FORMAT_VERSION}); re-run 'gate ingest' with this gate version"
        )
    return manifest


def import_normalized(store: Store, folder: Path) -> list[int]:
    """Load a normalized folder into the store; returns the new trace ids."""
    manifest = read_manifest(folder)
    tables = manifest.get("tables", {})
    offset = store.next_trace_id() - 1
    files: dict[str, Path] = {}
    for table in NORMALIZED_TABLES:
        entry = tables.get(table)
        name = entry.get("file") if isinstance(entry, dict) else None
        if name is None:
            if table in REQUIRED_TABLES:
                raise NormalizedFormatError(f"{folder / MANIFEST}: table '{table}' is missing")
            continue
        path = folder / name
        if not path.is_file():
            raise NormalizedFormatError(f"{path}: file named by the manifest does not exist")
        files[table] = path
    for table, path in files.items():
        _check_columns(store, table, path)
    loaded: list[int] = []
    try:
        for table, path in files.items():
            cols = store.columns(table)
            select = ", ".join(
                f"CAST(trace_id AS INTEGER) + {offset}" if c == "trace_id" else f'"{c}"'
                for c in cols
            )
            try:
                store.con.execute(
                    f"INSERT INTO {table} SELECT {select} FROM read_parquet(?)", [str(path)]
                ).fetchall()
            except duckdb.Error as exc:
                raise NormalizedFormatError(f"{path}: cannot load: {_first_line(exc)}") from None
        rows = store.con.execute(
            "SELECT trace_id FROM traces WHERE trace_id > ? ORDER BY trace_id", [offset]
        ).fetchall()
        loaded = [r[0] for r in rows]
    except BaseException:
        for table in NORMALIZED_TABLES:
            store.con.execute(f"DELETE FROM {table} WHERE trace_id > ?", [offset]).fetchall()
        raise
    if not loaded:
        raise NormalizedFormatError(f"{files['traces']}: holds no trace")
    return loaded


def _check_columns(store: Store, table: str, path: Path) -> None:
    try:
        described = store.con.execute(
            "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL OR num_children = 0",
            [str(path)],
        ).fetchall()
    except duckdb.Error as exc:
        raise NormalizedFormatError(
            f"{path}: not a readable Parquet file: {_first_line(exc)}"
        ) from None
    present = {r[0] for r in described}
    for column in store.columns(table):
        if column not in present:
            raise NormalizedFormatError(f"{path}: column '{column}' is missing")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
