"""The Pool table export: one row per allocation, already paired by WPA, with its stack."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from gate.inputs.wpa.columns import DISPLAY, NONE_WORDS, POOL_COLUMNS, POOL_REQUIRED, find_columns
from gate.inputs.wpa.csvfile import (
    Columns,
    CsvFile,
    FileReader,
    missing_column,
    size_scale,
    time_scale,
)
from gate.tables.chunks import Chunk, frame_chunks
from gate.tables.drivers import module_name

BATCH_ROWS = 200_000

# POOL_TYPE names WPA may print instead of the number.
_POOL_TYPE_NAMES = {
    "nonpagedpool": 0,
    "nonpaged": 0,
    "pagedpool": 1,
    "paged": 1,
    "nonpagedpoolmustsucceed": 2,
    "nonpagedpoolcachealigned": 4,
    "pagedpoolcachealigned": 5,
    "nonpagedpoolsession": 32,
    "pagedpoolsession": 33,
    "nonpagedpoolnx": 512,
    "nonpagedpoolsessionnx": 544,
}
_PAGED_VALUES = {"paged": 1, "pagedpool": 1, "nonpaged": 0, "non-paged": 0, "nonpagedpool": 0}

_FRAME_OFFSET = re.compile(r"^(?P<module>.+?)\+0x(?P<rva>[0-9a-fA-F]+)$")


# --- stacks ------------------------------------------------------------------------------------


@dataclass
class Stacks:
    """Distinct stacks, numbered in order of first use, as innermost-first frame rows."""

    ids: dict[str, int] = field(default_factory=dict)
    stack_id: list[int] = field(default_factory=list)
    frame_index: list[int] = field(default_factory=list)
    module: list[str] = field(default_factory=list)
    rva: list[int] = field(default_factory=list)
    function: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)

    def intern(self, text: str) -> int:
        """The stack id of a Stack cell; ValueError for a frame no image can hold."""
        text = text.strip()
        if text.lower() in NONE_WORDS:
            return -1
        found = self.ids.get(text)
        if found is not None:
            return found
        frames = [f.strip() for f in text.split("/")]
        # WPA prints the root first ('[Root]' marks the tree's top); the store wants the
        # allocator first.
        frames = [f for f in frames if f and f.lower() != "[root]"]
        if not frames:
            self.ids[text] = -1
            return -1
        parsed = [_parse_frame(frame) for frame in reversed(frames)]
        sid = len(self.ids)
        self.ids[text] = sid
        for index, (module, rva, function) in enumerate(parsed):
            self.stack_id.append(sid)
            self.frame_index.append(index)
            self.module.append(module)
            self.rva.append(rva)
            self.function.append(function)
            if module:
                self.modules.add(module)
        return sid

    def chunks(self) -> tuple[Chunk, Chunk]:
        """The `frame_modules` and `stack_frames` chunks of the stacks seen."""
        n = len(self.stack_id)
        return frame_chunks(
            stack_id=np.asarray(self.stack_id, dtype=np.int64),
            frame_index=np.asarray(self.frame_index, dtype=np.int32),
            address=np.zeros(n, dtype=np.uint64),
            module=self.module,
            rva_bytes=np.asarray(self.rva, dtype=np.int64),
            function=np.asarray(self.function, dtype=object),
        )


def _parse_frame(frame: str) -> tuple[str, int, str]:
    """(module, rva or -1, function or '') for 'mod!Func', 'mod+0x1a2b' or an unresolved frame.

    Module names go through `module_name`, so a frame of a module named like one of the gate's
    own names can never pass for it. An offset that cannot lie inside an image (images are
    smaller than 4 GiB) raises ValueError.
    """
    if "!" in frame:
        module, _, function = frame.partition("!")
        module = module.strip().lower()
        function = function.strip()
        if module in ("?", "unknown", ""):
            module = ""
        # '<PDB not found>' and '?' are WPA's placeholders, not names.
        if function.startswith("<") or function in ("?", ""):
            function = ""
            match = _FRAME_OFFSET.match(frame.strip())
            if match:
                return _module(match.group("module")), _rva(match.group("rva")), ""
        return _module(module), -1, function
    match = _FRAME_OFFSET.match(frame)
    if match:
        return _module(match.group("module")), _rva(match.group("rva")), ""
    module = frame.strip().lower()
    return ("" if module in ("?", "unknown") else _module(module)), -1, ""


def _module(name: str) -> str:
    name = name.strip()
    return module_name(name) if name else ""


def _rva(digits: str) -> int:
    # Checked on the text: 40 hex digits would overflow the int64 column.
    if len(digits.lstrip("0")) > 8:
        raise ValueError(f"offset 0x{digits[:20]} is past any image (4 GiB at most)")
    return int(digits, 16)


# --- Pool export -------------------------------------------------------------------------------


@dataclass
class _PoolRows:
    alloc_s: list[np.ndarray] = field(default_factory=list)
    free_s: list[np.ndarray] = field(default_factory=list)
    pool_type: list[np.ndarray] = field(default_factory=list)
    tag: list[np.ndarray] = field(default_factory=list)
    size: list[np.ndarray] = field(default_factory=list)
    address: list[np.ndarray] = field(default_factory=list)
    session: list[np.ndarray] = field(default_factory=list)
    stack: list[np.ndarray] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(a) for a in self.alloc_s)


def _pool_columns(csvf: CsvFile) -> Columns:
    index = find_columns(csvf.header, POOL_COLUMNS)
    for name in POOL_REQUIRED:
        if name not in index:
            raise missing_column(csvf.path, csvf.header, DISPLAY[name])
    if "paged" not in index and "pool_type" not in index:
        raise missing_column(csvf.path, csvf.header, "Paged")
    cols = Columns(index, csvf.header)
    cols.byte_scale = size_scale(csvf.path, csvf.header, index["size"])
    for name in ("alloc_s", "free_s"):
        cols.time_scale[name] = time_scale(csvf.path, csvf.header, index[name])
    return cols


def read_pool(csvf: CsvFile, stacks: Stacks, notes: list[str]) -> dict[str, np.ndarray]:
    cols = _pool_columns(csvf)
    numeric = {"alloc_s": False, "free_s": False, "size": cols.byte_scale == 1}
    if "session" in cols.index:
        numeric["session"] = True
    reader = FileReader.opened(csvf, cols, numeric, notes)
    out = _PoolRows()
    batch: dict[str, list] = {k: [] for k in ("a", "f", "pt", "tag", "size", "addr", "ss", "st")}

    def flush() -> None:
        out.alloc_s.append(np.asarray(batch["a"], dtype=np.float64))
        out.free_s.append(np.asarray(batch["f"], dtype=np.float64))
        out.pool_type.append(np.asarray(batch["pt"], dtype=np.uint32))
        out.tag.append(np.asarray(batch["tag"], dtype=object))
        out.size.append(np.asarray(batch["size"], dtype=np.int64))
        out.address.append(np.asarray(batch["addr"], dtype=np.uint64))
        out.session.append(np.asarray(batch["ss"], dtype=np.int64))
        out.stack.append(np.asarray(batch["st"], dtype=np.int64))
        for values in batch.values():
            values.clear()

    alloc_scale, free_scale = cols.time_scale["alloc_s"], cols.time_scale["free_s"]
    for line, row in reader.rows(("tag", "alloc_s")):
        tag = reader.cell(row, "tag")
        alloc = reader.optional_number(line, row, "alloc_s")
        if alloc is None:
            raise reader.error(line, "alloc_s", f"'{cols.display('alloc_s')}' is empty")
        alloc = _time(reader, line, "alloc_s", alloc * alloc_scale)
        free = reader.optional_number(line, row, "free_s")
        free = math.nan if free is None else _time(reader, line, "free_s", free * free_scale)
        if free < alloc:
            raise reader.error(
                line, "free_s", f"FreeTime {free:.9f} s is before AllocTime {alloc:.9f} s"
            )
        batch["a"].append(alloc)
        batch["f"].append(free)
        batch["pt"].append(_pool_type(reader, line, row))
        batch["tag"].append(tag)
        batch["size"].append(_size(reader, line, row))
        batch["addr"].append(_address(reader, line, row))
        has_session = reader.cell(row, "session").lower() not in NONE_WORDS
        session = reader.integer(line, row, "session", 0, MAX_SESSION) if has_session else -1
        batch["ss"].append(session)
        try:
            batch["st"].append(stacks.intern(reader.cell(row, "stack")))
        except ValueError as exc:
            raise reader.error(line, "stack", f"'{cols.display('stack')}': {exc}") from None
        if len(batch["a"]) >= BATCH_ROWS:
            flush()
    flush()
    notes.extend(reader.notes)
    return {
        "alloc_s": np.concatenate(out.alloc_s),
        "free_s": np.concatenate(out.free_s),
        "pool_type": np.concatenate(out.pool_type),
        "tag": np.concatenate(out.tag),
        "size_bytes": np.concatenate(out.size),
        "address": np.concatenate(out.address),
        "session_id": np.concatenate(out.session),
        "stack_id": np.concatenate(out.stack),
    }


# The ranges a Pool export's values may take; outside them a cell is an error naming its
# place. Pool allocations are far below 1 TiB; session ids are 32-bit; times are seconds from
# the trace's start, and a trace is not longer than a few days.
MAX_SIZE = (1 << 40) - 1
MAX_SESSION = (1 << 32) - 1
MAX_TIME_S = 1e9


def _time(reader: FileReader, line: int, name: str, seconds: float) -> float:
    if not abs(seconds) <= MAX_TIME_S:
        raise reader.error(
            line, name, f"'{reader.cols.display(name)}' {seconds:g} s is not a time in a trace"
        )
    return seconds


def _size(reader: FileReader, line: int, row: list[str]) -> int:
    """The Size cell in bytes: exact when the column is in bytes, rounded from KB or MB."""
    if reader.cols.byte_scale == 1:
        return reader.integer(line, row, "size", 0, MAX_SIZE)
    size = round(reader.number(line, row, "size") * reader.cols.byte_scale)
    if not 0 <= size <= MAX_SIZE:
        raise reader.error(
            line, "size", f"'{reader.cols.display('size')}' {size:,} bytes is out of range"
        )
    return size


def _pool_type(reader: FileReader, line: int, row: list[str]) -> int:
    if "pool_type" in reader.cols.index:
        text = reader.cell(row, "pool_type")
        named = _POOL_TYPE_NAMES.get(re.sub(r"[\s_]+", "", text).lower())
        if named is not None:
            return named
        try:
            value = int(text, 0)
        except ValueError:
            raise reader.error(
                line,
                "pool_type",
                f"'{reader.cols.display('pool_type')}' value {text!r} is not "
                "a POOL_TYPE number or name",
            ) from None
        if not 0 <= value < 1 << 32:
            raise reader.error(line, "pool_type", f"POOL_TYPE {value} is out of range")
        return value
    text = reader.cell(row, "paged")
    paged = _PAGED_VALUES.get(re.sub(r"\s+", "", text).lower())
    if paged is None:
        raise reader.error(
            line,
            "paged",
            f"'{reader.cols.display('paged')}' value {text!r} is neither 'Paged' nor 'NonPaged'",
        )
    return paged


def _address(reader: FileReader, line: int, row: list[str]) -> int:
    text = reader.cell(row, "address")
    if text.lower() in NONE_WORDS:
        return 0
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text.replace(",", ""))
    except ValueError:
        raise reader.error(
            line,
            "address",
            f"'{reader.cols.display('address')}' value {text[:40]!r} is not an address",
        ) from None
    if not 0 <= value < 1 << 64:
        raise reader.error(line, "address", f"address {text[:40]} does not fit in 64 bits")
    return value


def trace_order(alloc_s: np.ndarray, free_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """alloc_seq and free_seq: events by time; at the same time allocations before frees, then
    file order.

    The export does not keep the trace's order of same-time events. Putting allocations first
    never understates a peak, and keeps each allocation before its own zero-length free.
    """
    n = len(alloc_s)
    rows = np.arange(n, dtype=np.int64)
    freed = ~np.isnan(free_s)
    times = np.concatenate([alloc_s, free_s[freed]])
    row = np.concatenate([rows, rows[freed]])
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(int(freed.sum()), np.int8)])
    order = np.lexsort((row, kind, times))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    free_seq = np.full(n, -1, dtype=np.int64)
    free_seq[freed] = rank[n:]
    return rank[:n], free_seq
