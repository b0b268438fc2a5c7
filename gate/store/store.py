"""The DuckDB store: creates the schema (schema.sql) and bulk-loads reader chunks.

Rows arrive as numpy column chunks and are inserted with one `INSERT … SELECT` per chunk over
the registered arrays, so loading costs no Python work per row. Readers pair their pool events
into allocations themselves (`gate.tables.pairing`, the one implementation of metrics.md's
pairing rule); a producer that yields raw `pool_events` chunks instead has them kept as numpy
columns until its trace ends, then paired the same way. This module also holds the gate's few
helpers for running SQL text: `sql_text`, `run_script`, `insert_rows`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np

from gate.cores import usable_cores
from gate.errors import GateError, InputError, OutputError
from gate.fileio import path_text
from gate.tables.chunks import Chunk, TraceInfo
from gate.tables.order import stable_argsort
from gate.tables.pairing import paired_chunks

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_NAME = re.compile(r"[A-Z][A-Z0-9_]*(\([0-9, ]+\))?")  # BIGINT, VARCHAR, DECIMAL(18,3)


def sql_text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def run_script(con: duckdb.DuckDBPyConnection, text: str, params: list | None = None) -> None:
    """Run a multi-statement SQL text; statements end with ';' at the end of a line."""
    for statement in split_statements(text):
        if params and "$" in statement:
            con.execute(statement, params).fetchall()
        else:
            con.execute(statement).fetchall()


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[object]]
) -> None:
    """Insert rows into one of the gate's own tables, every value a bound parameter.

    Each column goes in as one bound list, cast to the column's type from the catalog: a
    statement per row (executemany) costs 0.14 s for the 800 rows of a 400-driver budget,
    one statement 6 ms.
    """
    if not _IDENTIFIER.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    if not rows:
        return
    types = [
        t
        for (t,) in con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND schema_name = current_schema() ORDER BY column_index",
            [table],
        ).fetchall()
    ]
    width = len(rows[0])
    if len(types) != width or any(len(r) != width for r in rows):
        raise ValueError(f"{table}: rows of {width} values for {len(types)} columns")
    if any(not _TYPE_NAME.fullmatch(t) for t in types):
        raise ValueError(f"{table}: a column type this insert does not spell: {types}")
    columns = [[r[i] for r in rows] for i in range(width)]
    picks = ", ".join(f"unnest(CAST(${i + 1} AS {t}[]))" for i, t in enumerate(types))
    con.execute(f"INSERT INTO {table} SELECT {picks}", columns).fetchall()


def split_statements(text: str) -> list[str]:
    statements, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            body = "\n".join(current).strip().rstrip(";")
            if _has_code(body):
                statements.append(body)
            current = []
    tail = "\n".join(current).strip()
    if _has_code(tail):
        statements.append(tail)
    return statements


def _has_code(sql: str) -> bool:
    return any(ln.strip() and not ln.strip().startswith("--") for ln in sql.splitlines())


# The store's tables of trace rows (schema.sql), each with a trace_id.
RAW_TABLES = (
    "traces",
    "images",
    "pool_allocations",
    "pool_unmatched_frees",
    "stack_frame_rows",
    "frame_modules",
    "resident_pages",
)

# How each chunk table lands in the store: NaN times and -1 ids become NULL.
_INSERTS = {
    "images": """
        INSERT INTO images SELECT $trace_id, driver, path, base_address, size_bytes,
            CASE WHEN isnan(load_s) THEN NULL ELSE load_s END,
            CASE WHEN isnan(unload_s) THEN NULL ELSE unload_s END,
            process_id, pdb_name, pdb_guid, pdb_age
        FROM chunk""",
    "pool_allocations": """
        INSERT INTO pool_allocations SELECT $trace_id, alloc_seq, alloc_s,
            CASE WHEN free_seq >= 0 THEN free_seq END,
            CASE WHEN isnan(free_s) THEN NULL ELSE free_s END,
            free_kind, pool_type, (pool_type & 1) <> 0, (pool_type & 32) <> 0,
            (pool_type & 512) <> 0, (pool_type & 268435456) <> 0, tag, size_bytes, address,
            CASE WHEN session_id >= 0 THEN session_id END,
            CASE WHEN stack_id >= 0 THEN stack_id END
        FROM chunk""",
    "pool_unmatched_frees": """
        INSERT INTO pool_unmatched_frees SELECT $trace_id, seq, time_s, pool_type, tag,
            size_bytes, address, CASE WHEN session_id >= 0 THEN session_id END
        FROM chunk""",
    "stack_frames": """
        INSERT INTO stack_frame_rows SELECT $trace_id, stack_id, frame_index, address,
            module_id, CASE WHEN rva_bytes >= 0 THEN rva_bytes END, nullif(function, '')
        FROM chunk""",
    "frame_modules": """
        INSERT INTO frame_modules SELECT $trace_id, module_id, module FROM chunk""",
    "resident_pages": """
        INSERT INTO resident_pages SELECT $trace_id, path,
            lower(regexp_extract(path, '[^\\\\/]*$')), page_list, category, size_bytes
        FROM chunk""",
}


def _aside(db_path: Path) -> Path:
    """A fresh file name beside `db_path` to build the database in."""
    folder = db_path.parent
    if not folder.is_dir():
        raise OutputError(
            f"{path_text(db_path)}: cannot write database: folder {folder} does not exist"
        )
    if db_path.exists() and not db_path.is_file():
        raise OutputError(f"{path_text(db_path)}: exists and is not a file; not replacing it")
    fd, name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".building", dir=folder)
    os.close(fd)
    os.unlink(name)  # DuckDB creates the file itself
    return Path(name)


def default_memory_limit() -> str:
    """DuckDB's memory budget: GATE_MEMORY_LIMIT (e.g. '4GB'), else 1 GB.

    Without a limit DuckDB takes up to 80 % of the machine, which a CI agent shares with the
    build; past the limit it spills to a temporary folder instead, a little slower.
    """
    return os.environ.get("GATE_MEMORY_LIMIT", "1GB")


class Store:
    """One DuckDB database holding the traces of a run."""

    def __init__(self, db_path: Path | None = None, *, memory_limit: str | None = None) -> None:
        """An in-memory store, or with `db_path` a database file for later queries. The file
        is built aside and moved into place only when the run completes (`close(keep=True)`,
        or leaving the `with` block without an error), replacing what was there: a database
        holds exactly one run, never a mix of runs or a half-built one."""
        self.db_path = db_path
        limit = memory_limit or default_memory_limit()
        self._spill = tempfile.mkdtemp(prefix="gate-duckdb-")
        self._building: Path | None = None
        if db_path is not None:
            self._building = _aside(db_path)
        # Settings go in as connection config, not as SQL text with the value pasted in.
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": limit,
            "temp_directory": self._spill,
            "preserve_insertion_order": False,
            # DuckDB counts the machine's cores; pinned to fewer (taskset, a cpuset), its
            # extra threads only take turns with the reader's on the same processors.
            "threads": usable_cores(),
        }
        try:
            target = str(self._building) if self._building else ":memory:"
            self.con = duckdb.connect(target, config=config)
        except duckdb.Error as exc:
            shutil.rmtree(self._spill, ignore_errors=True)
            first = str(exc).strip().splitlines()[0]
            if "memory" in first.lower():
                raise InputError(
                    f"GATE_MEMORY_LIMIT={limit!r}: not a memory size DuckDB accepts: {first}"
                ) from None
            raise InputError(f"{path_text(db_path or '')}: cannot open database: {first}") from None
        # DuckDB draws its own progress bar on long queries, terminal or not: CI logs get none.
        self.con.execute("SET enable_progress_bar = false").fetchall()
        run_script(self.con, sql_text("gate.store", "schema.sql"))

    def close(self, *, keep: bool = False) -> None:
        """Close the database; with `keep` and a `db_path`, move the finished file into place."""
        self.con.close()
        shutil.rmtree(self._spill, ignore_errors=True)
        building, self._building = self._building, None
        if building is None:
            return
        try:
            if keep:
                assert self.db_path is not None
                os.replace(building, self.db_path)
        except OSError as exc:
            raise OutputError(
                f"{path_text(self.db_path or '')}: cannot write database: {exc.strerror}"
            ) from None
        finally:
            for leftover in (building, building.with_name(building.name + ".wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(keep=exc_type is None)

    def next_trace_id(self) -> int:
        return int(
            self.con.execute("SELECT coalesce(max(trace_id), 0) + 1 FROM traces").fetchall()[0][0]
        )

    def columns(self, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def add_trace(self, items: Iterable[Chunk | TraceInfo]) -> int:
        """Load one trace from a reader's output; returns its trace id."""
        trace_id = self.next_trace_id()
        info: TraceInfo | None = None
        events: list[Chunk] = []
        try:
            for item in _ahead(items):
                if isinstance(item, TraceInfo):
                    info = item
                elif item.table == "pool_events":
                    events.append(item)
                else:
                    self._insert(item, trace_id)
            if info is None:
                raise GateError("reader yielded no trace information")
            self._insert_trace(trace_id, info)
            for chunk in _paired(events):
                self._insert(chunk, trace_id)
        except BaseException:
            self._forget(trace_id)
            raise
        return trace_id

    def _insert(self, chunk: Chunk, trace_id: int) -> None:
        if chunk.rows == 0:
            return
        self.con.register("chunk", chunk.columns)
        try:
            self.con.execute(_INSERTS[chunk.table], {"trace_id": trace_id}).fetchall()
        finally:
            self.con.unregister("chunk")

    def _forget(self, trace_id: int) -> None:
        for table in RAW_TABLES:
            self.con.execute(f"DELETE FROM {table} WHERE trace_id = ?", [trace_id]).fetchall()

    def _insert_trace(self, trace_id: int, info: TraceInfo) -> None:
        self.con.execute(
            "INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                trace_id,
                info.source_path,
                info.source_format,
                info.sha256,
                info.os_version,
                info.pointer_size_bytes,
                info.cpu_count,
                info.start_utc,
                info.duration_s,
                info.events_lost,
                info.buffers_lost,
                info.page_size_bytes,
                info.has_resident_set,
                info.synthetic,
                info.compressed,
                info.records_total,
                info.records_unknown,
                "\n".join(info.notes),
            ],
        ).fetchall()

    def has_trace(self, source_format: str, source_path: str) -> bool:
        """Whether a trace of this format and source is loaded already."""
        return bool(
            self.con.execute(
                "SELECT count(*) FROM traces WHERE source_format = ? AND source_path = ?",
                [source_format, source_path],
            ).fetchall()[0][0]
        )

    def trace_count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM traces").fetchall()[0][0])


def _paired(events: list[Chunk]) -> Iterator[Chunk]:
    """`pool_allocations` and `pool_unmatched_frees` chunks of a trace's raw pool events."""
    if not events:
        return
    cols = {k: np.concatenate([c.columns[k] for c in events]) for k in events[0].columns}
    order = stable_argsort(cols["seq"])
    cols = {k: v[order] for k, v in cols.items()}
    yield from paired_chunks(
        seq=cols["seq"],
        time=cols["time_s"],
        event=cols["event"],
        pool_type=cols["pool_type"],
        tag=cols["tag"],
        size_bytes=cols["size_bytes"],
        address=cols["address"],
        session_id=cols["session_id"],
        stack_id=cols["stack_id"],
    )


_DONE = object()


def _ahead(items: Iterable[Chunk | TraceInfo]) -> Iterator[Chunk | TraceInfo]:
    """`items`, produced one item ahead on a thread: the reader builds its next chunk while
    DuckDB inserts this one (both release the GIL for their bulk work). The reader's errors
    are raised here, in order. If the consumer stops early (an error, Ctrl-C), the producer
    stops after the item it is working on instead of being waited for."""
    q: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=produce, name="gate-reader", daemon=True).start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got  # type: ignore[misc]
    finally:
        stop.set()


def atomic_dir_swap(tmp: Path, out: Path) -> None:
    """Put a fully written folder `tmp` in place of `out`, never leaving a half-written one."""
    old = None
    if out.exists():
        old = out.with_name(out.name + ".old-" + str(os.getpid()))
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
