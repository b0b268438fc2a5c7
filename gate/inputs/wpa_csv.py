"""WPA CSV exports: the Pool table and the Resident Set table, as wpaexporter writes them.

A trace read from CSV is one Pool export (one row per allocation, already paired by WPA) plus,
optionally, one Resident Set export. `read_wpa_csv` turns those files into the store's chunks;
`wpa_csv_group` decides which files make up one trace (docs/wpa.md, "One trace, one folder").

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

import codecs
import csv
import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gate.errors import CsvFormatError
from gate.tables.chunks import Chunk, TraceInfo
from gate.tables.drivers import DEFAULT_SKIP_MODULES

__all__ = ["POOL_COLUMNS", "RESIDENT_COLUMNS", "read_wpa_csv", "sniff_layout", "wpa_csv_group"]

BATCH_ROWS = 200_000

# Canonical column -> accepted header names, compared after `_key` (case, blanks, unit removed).
POOL_COLUMNS: dict[str, tuple[str, ...]] = {
    "tag": ("Pool Tag", "Tag"),
    "paged": ("Paged",),
    "pool_type": ("Pool Type", "PoolType"),
    "alloc_s": ("AllocTime", "Alloc Time", "Allocation Time"),
    "free_s": ("FreeTime", "Free Time"),
    "size": ("Size",),
    "address": ("Address",),
    "stack": ("Stack",),
    "process": ("Process",),
    "session": ("Session", "Session Id", "SessionId"),
}
POOL_REQUIRED = ("tag", "alloc_s", "free_s", "size", "stack")  # plus Paged or Pool Type

RESIDENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "page_list": ("MMList", "Page List", "Memory List"),
    "category": ("Page Category", "Category"),
    "path": ("Path", "Path Tree", "Description", "File Name", "Path Name"),
    "size": ("Size",),
    "page_count": ("Page Count",),
    "snapshot_s": ("Snapshot Time",),
}
RESIDENT_REQUIRED = ("page_list", "category", "path")  # plus Size or Page Count

# Header names as the messages show them.
_DISPLAY = {
    "tag": "Pool Tag",
    "paged": "Paged",
    "alloc_s": "AllocTime",
    "free_s": "FreeTime",
    "size": "Size",
    "stack": "Stack",
    "page_list": "MMList",
    "category": "Page Category",
    "path": "Path",
}
_EXPECTED = (
    "a Pool export (Pool Tag, Paged, AllocTime, FreeTime, Size, Stack) or a Resident Set "
    "export (MMList, Page Category, Path, Size)"
)

_BYTE_UNITS = {"": 1, "b": 1, "bytes": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}
_TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_NONE = {"", "n/a", "na", "-", "none", "null"}
_TOTAL_WORDS = {"total", "totals", "grand total", "summe", "gesamt", "gesamtsumme", "sum total"}
_KERNEL_IMAGES = set(DEFAULT_SKIP_MODULES)
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

_UNIT = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)\s*$")
_FRAME_OFFSET = re.compile(r"^(?P<module>.+?)\+0x(?P<rva>[0-9a-fA-F]+)$")
_PROCESS = re.compile(r"^(?P<name>.*?)\s*\((?P<pid>-?\d+)\)$")
# Grouping characters that never mean a decimal mark (French and Swiss style).
_ALWAYS_GROUPING = ("\u00a0", "\u202f", " ", "'")


def _key(header: str) -> tuple[str, str]:
    """A header's comparable name and its unit suffix ('Size (KB)' -> ('size', 'kb'))."""
    text = header.strip().lstrip("\ufeff")
    unit = ""
    match = _UNIT.match(text)
    if match:
        text, unit = match.group("name"), match.group("unit").strip().lower()
    return re.sub(r"[\s_]+", "", text).lower(), unit


def _find_columns(header: list[str], spec: dict[str, tuple[str, ...]]) -> dict[str, int]:
    wanted = {_key(alias)[0]: name for name, aliases in spec.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = wanted.get(_key(cell)[0])
        if name is not None and name not in found:
            found[name] = index
    return found


def sniff_layout(header: list[str]) -> str | None:
    """'pool', 'resident' or None, from a header row."""
    pool = _find_columns(header, POOL_COLUMNS)
    if {"tag", "alloc_s", "free_s", "paged", "pool_type"} & set(pool):
        return "pool"
    resident = _find_columns(header, RESIDENT_COLUMNS)
    if {"page_list", "category"} & set(resident):
        return "resident"
    return None


# --- reading the text ---------------------------------------------------------------------------


def _encoding(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _delimiter(first_line: str) -> str:
    # wpaexporter's -delimiter can change the comma; pick the candidate that splits the header most.
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class _CsvFile:
    path: Path
    header: list[str]
    delimiter: str
    encoding: str

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows with their 1-based line numbers; blank lines are skipped."""
        try:
            with self.path.open(encoding=self.encoding, newline="") as fh:
                reader = csv.reader(fh, delimiter=self.delimiter)
                next(reader, None)
                for row in reader:
                    if row and any(cell.strip() for cell in row):
                        yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise CsvFormatError(f"{self.path}: not UTF-8 text ({exc.reason})") from None
        except csv.Error as exc:
            raise CsvFormatError(f"{self.path}: malformed CSV: {exc}") from None


def _open_csv(path: Path) -> _CsvFile:
    try:
        encoding = _encoding(path)
        with path.open(encoding=encoding, newline="") as fh:
            first = fh.readline()
    except OSError as exc:
        raise CsvFormatError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not first.strip():
        raise CsvFormatError(f"{path}: empty file: no header row; expected {_EXPECTED}")
    delimiter = _delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    return _CsvFile(path, [h.strip().lstrip("\ufeff") for h in header], delimiter, encoding)


# --- numbers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberFormat:
    decimal: str  # '.' or ','

    @property
    def grouping(self) -> str:
        return "," if self.decimal == "." else "."

    def describe(self) -> str:
        if self.decimal == ".":
            return "'.' decimal point, ',' thousands separator (English-style)"
        return "',' decimal comma, '.' thousands separator (German-style)"


_GROUPED = {
    ".": re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"),
    ",": re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$"),
}
_PLAIN = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def _decimal_evidence(cell: str, integer: bool) -> str | None:
    """The decimal mark a number cell proves, or None when either reading fits."""
    s = cell.strip()
    for ch in _ALWAYS_GROUPING:
        s = s.replace(ch, "")
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        return "." if s.rfind(".") > s.rfind(",") else ","
    if not (has_dot or has_comma):
        return None
    sep = "." if has_dot else ","
    other = "," if sep == "." else "."
    if integer or s.count(sep) > 1:
        return other  # a whole number can only be grouped
    digits_after = len(s) - s.rfind(sep) - 1
    return sep if digits_after != 3 else None


def _parse_number(cell: str, fmt: NumberFormat) -> float | None:
    """A number cell under a file's format; None when it is not a number."""
    s = cell.strip()
    for ch in _ALWAYS_GROUPING:
        s = s.replace(ch, "")
    if fmt.grouping in s:
        if not _GROUPED[fmt.decimal].match(s):
            return None
        s = s.replace(fmt.grouping, "")
    if fmt.decimal == ",":
        if "." in s:
            return None
        s = s.replace(",", ".")
    if not _PLAIN.match(s):
        return None
    return float(s)


# --- one file ------------------------------------------------------------------------------------


@dataclass
class _Columns:
    """Where each needed column sits, with its unit scale and kind."""

    index: dict[str, int]
    header: list[str]
    byte_scale: int = 1
    time_scale: dict[str, float] = field(default_factory=dict)

    def display(self, name: str) -> str:
        return self.header[self.index[name]]


def _missing(path: Path, header: list[str], name: str) -> CsvFormatError:
    found = ", ".join(h for h in header if h) or "no columns"
    return CsvFormatError(f"{path}: column '{name}' is missing (found: {found})")


def _size_scale(path: Path, header: list[str], index: int) -> int:
    unit = _key(header[index])[1]
    if unit not in _BYTE_UNITS:
        raise CsvFormatError(
            f"{path}: column '{header[index]}': unknown size unit '{unit}' (expected B, KB or MB)"
        )
    return _BYTE_UNITS[unit]


def _time_scale(path: Path, header: list[str], index: int) -> float:
    unit = _key(header[index])[1]
    if unit not in _TIME_UNITS:
        raise CsvFormatError(
            f"{path}: column '{header[index]}': unknown time unit '{unit}' (expected s, ms, µs)"
        )
    return _TIME_UNITS[unit]


class _FileReader:
    """Reads one export's rows into columns, with errors that name file, line and column."""

    def __init__(self, csvf: _CsvFile, cols: _Columns, numeric: dict[str, bool]) -> None:
        self.csvf = csvf
        self.cols = cols
        self.numeric = numeric  # column name -> True when it holds whole numbers only
        self.fmt = NumberFormat(".")
        self.fmt_note = ""
        self.notes: list[str] = []

    @property
    def path(self) -> Path:
        return self.csvf.path

    def error(self, line: int, name: str, problem: str) -> CsvFormatError:
        column = self.cols.index[name] + 1
        return CsvFormatError(f"{self.path}:{line}:{column}: {problem}")

    def cell(self, row: list[str], name: str) -> str:
        index = self.cols.index.get(name)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    def detect_format(self) -> None:
        # Time columns first: WPA prints times with 9 decimals, so the first one usually decides.
        order = sorted(self.numeric, key=lambda n: not n.endswith("_s"))
        for line, row in self.csvf.rows():
            for name in order:
                value = self.cell(row, name)
                if value.lower() in _NONE:
                    continue
                mark = _decimal_evidence(value, self.numeric[name])
                if mark:
                    self.fmt = NumberFormat(mark)
                    self.fmt_note = (
                        f"{self.path.name}: numbers read with {self.fmt.describe()}, from "
                        f"'{self.cols.display(name)}' at line {line}"
                    )
                    return
        self.fmt_note = (
            f"{self.path.name}: no number shows its decimal mark; read with {self.fmt.describe()}"
        )

    def number(self, line: int, row: list[str], name: str) -> float:
        value = self.cell(row, name)
        parsed = _parse_number(value, self.fmt)
        if parsed is None or (self.numeric[name] and not float(parsed).is_integer()):
            kind = "a whole number" if self.numeric[name] else "a number"
            raise self.error(
                line,
                name,
                f"'{self.cols.display(name)}' value {value!r} is not {kind} "
                f"(numbers in this file use {self.fmt.describe()})",
            )
        return parsed

    def optional_number(self, line: int, row: list[str], name: str) -> float | None:
        if name not in self.cols.index or self.cell(row, name).lower() in _NONE:
            return None
        return self.number(line, row, name)

    def is_summary(self, row: list[str], label_columns: tuple[str, ...]) -> bool:
        first = row[0].strip().lower() if row else ""
        if first in _TOTAL_WORDS:
            return True
        return all(self.cell(row, name).lower() in _NONE for name in label_columns)

    def rows(self, label_columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
        """Data rows; a trailing summary row is skipped with a note, an inner one is an error."""
        pending: tuple[int, list[str]] | None = None
        for line, row in self.csvf.rows():
            if pending is not None:
                raise CsvFormatError(
                    f"{self.path}:{pending[0]}: a summary row ({_label(pending[1])}) inside the "
                    "data: export raw rows (a profile with no key columns), not a grouped table"
                )
            if self.is_summary(row, label_columns):
                pending = (line, row)
                continue
            yield line, row
        if pending is not None:
            self.notes.append(
                f"{self.path.name}:{pending[0]}: skipped the summary row ({_label(pending[1])}) "
                "at the end of the export"
            )


def _label(row: list[str]) -> str:
    first = row[0].strip() if row else ""
    return repr(first) if first else "first cell empty"


# --- stacks ------------------------------------------------------------------------------------


@dataclass
class _Stacks:
    """Distinct stacks, numbered in order of first use, as innermost-first frame rows."""

    ids: dict[str, int] = field(default_factory=dict)
    stack_id: list[int] = field(default_factory=list)
    frame_index: list[int] = field(default_factory=list)
    module: list[str] = field(default_factory=list)
    rva: list[int] = field(default_factory=list)
    function: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)

    def intern(self, text: str) -> int:
        text = text.strip()
        if text.lower() in _NONE:
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
        sid = len(self.ids)
        self.ids[text] = sid
        for index, frame in enumerate(reversed(frames)):
            module, rva, function = _parse_frame(frame)
            self.stack_id.append(sid)
            self.frame_index.append(index)
            self.module.append(module)
            self.rva.append(rva)
            self.function.append(function)
            if module:
                self.modules.add(module)
        return sid

    def chunk(self) -> Chunk:
        n = len(self.stack_id)
        return Chunk.build(
            "stack_frames",
            stack_id=np.asarray(self.stack_id, dtype=np.int64),
            frame_index=np.asarray(self.frame_index, dtype=np.int32),
            address=np.zeros(n, dtype=np.uint64),
            module=np.asarray(self.module, dtype=object),
            rva_bytes=np.asarray(self.rva, dtype=np.int64),
            function=np.asarray(self.function, dtype=object),
        )


def _parse_frame(frame: str) -> tuple[str, int, str]:
    """(module, rva or -1, function or '') for 'mod!Func', 'mod+0x1a2b' or an unresolved frame."""
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
                return match.group("module").strip().lower(), int(match.group("rva"), 16), ""
        return module, -1, function
    match = _FRAME_OFFSET.match(frame)
    if match:
        return match.group("module").strip().lower(), int(match.group("rva"), 16), ""
    module = frame.strip().lower()
    return ("" if module in ("?", "unknown") else module), -1, ""


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


def _pool_columns(csvf: _CsvFile) -> _Columns:
    index = _find_columns(csvf.header, POOL_COLUMNS)
    for name in POOL_REQUIRED:
        if name not in index:
            raise _missing(csvf.path, csvf.header, _DISPLAY[name])
    if "paged" not in index and "pool_type" not in index:
        raise _missing(csvf.path, csvf.header, "Paged")
    cols = _Columns(index, csvf.header)
    cols.byte_scale = _size_scale(csvf.path, csvf.header, index["size"])
    for name in ("alloc_s", "free_s"):
        cols.time_scale[name] = _time_scale(csvf.path, csvf.header, index[name])
    return cols


def _read_pool(csvf: _CsvFile, stacks: _Stacks, notes: list[str]) -> dict[str, np.ndarray]:
    cols = _pool_columns(csvf)
    numeric = {"alloc_s": False, "free_s": False, "size": cols.byte_scale == 1}
    if "session" in cols.index:
        numeric["session"] = True
    reader = _FileReader(csvf, cols, numeric)
    reader.detect_format()
    notes.append(reader.fmt_note)
    if cols.byte_scale != 1:
        notes.append(
            f"{csvf.path.name}: sizes in '{cols.display('size')}' are rounded by WPA; export "
            "bytes ('Size (B)', as the gate's profile does) for exact figures"
        )
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
        alloc *= alloc_scale
        free = reader.optional_number(line, row, "free_s")
        free = math.nan if free is None else free * free_scale
        if free < alloc:
            raise reader.error(
                line, "free_s", f"FreeTime {free:.9f} s is before AllocTime {alloc:.9f} s"
            )
        size = reader.number(line, row, "size") * cols.byte_scale
        batch["a"].append(alloc)
        batch["f"].append(free)
        batch["pt"].append(_pool_type(reader, line, row))
        batch["tag"].append(tag)
        batch["size"].append(round(size))
        batch["addr"].append(_address(reader, line, row))
        session = reader.optional_number(line, row, "session")
        batch["ss"].append(-1 if session is None else int(session))
        batch["st"].append(stacks.intern(reader.cell(row, "stack")))
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


def _pool_type(reader: _FileReader, line: int, row: list[str]) -> int:
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
    value = _PAGED_VALUES.get(re.sub(r"\s+", "", text).lower())
    if value is None:
        raise reader.error(
            line,
            "paged",
            f"'{reader.cols.display('paged')}' value {text!r} is neither 'Paged' nor 'NonPaged'",
        )
    return value


def _address(reader: _FileReader, line: int, row: list[str]) -> int:
    text = reader.cell(row, "address")
    if text.lower() in _NONE:
        return 0
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text.replace(",", ""))
    except ValueError:
        raise reader.error(
            line, "address", f"'{reader.cols.display('address')}' value {text!r} is not an address"
        ) from None
    if not 0 <= value < 1 << 64:
        raise reader.error(line, "address", f"address {text} does not fit in 64 bits")
    return value


def _trace_order(alloc_s: np.ndarray, free_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


# --- Resident Set export -----------------------------------------------------------------------


def _read_resident(csvf: _CsvFile, page_size: int, notes: list[str]) -> tuple[Chunk, float]:
    index = _find_columns(csvf.header, RESIDENT_COLUMNS)
    for name in RESIDENT_REQUIRED:
        if name not in index:
            raise _missing(csvf.path, csvf.header, _DISPLAY[name])
    if "size" not in index and "page_count" not in index:
        raise _missing(csvf.path, csvf.header, "Size")
    cols = _Columns(index, csvf.header)
    numeric: dict[str, bool] = {}
    if "size" in index:
        cols.byte_scale = _size_scale(csvf.path, csvf.header, index["size"])
        numeric["size"] = cols.byte_scale == 1
    else:
        numeric["page_count"] = True
    if "snapshot_s" in index:
        cols.time_scale["snapshot_s"] = _time_scale(csvf.path, csvf.header, index["snapshot_s"])
        numeric["snapshot_s"] = False
    reader = _FileReader(csvf, cols, numeric)
    reader.detect_format()
    notes.append(reader.fmt_note)
    if cols.byte_scale != 1:
        notes.append(
            f"{csvf.path.name}: sizes in '{cols.display('size')}' are rounded by WPA; export "
            "bytes ('Size (B)', as the gate's profile does) for exact figures"
        )
    path, page_list, category, size, snap = [], [], [], [], []
    for line, row in reader.rows(("page_list", "category")):
        path.append(reader.cell(row, "path"))
        page_list.append(reader.cell(row, "page_list"))
        category.append(reader.cell(row, "category"))
        if "size" in index:
            size.append(round(reader.number(line, row, "size") * cols.byte_scale))
        else:
            size.append(int(reader.number(line, row, "page_count")) * page_size)
        t = reader.optional_number(line, row, "snapshot_s")
        snap.append(math.nan if t is None else t * cols.time_scale["snapshot_s"])
    notes.extend(reader.notes)
    keep = _last_full_snapshot(np.asarray(snap, dtype=np.float64), page_list)
    if keep is not None:
        notes.append(
            f"{csvf.path.name}: several resident-set snapshots; kept the last one with Active "
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


# --- grouping and the trace ----------------------------------------------------------------------


def wpa_csv_group(path: Path) -> list[Path]:
    """The CSV files that make one trace with `path`: the Pool and Resident Set exports in its
    folder (or in `path` itself when it is a folder). A named file of unknown layout is an error;
    unrelated CSVs beside it are left out (and mentioned in the trace's notes)."""
    if path.is_dir():
        folder, named = path, None
    else:
        folder, named = path.parent, path
        header = _open_csv(path).header
        if sniff_layout(header) is None:
            raise _unknown_layout(path, header)
    group = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() == ".csv" and (p == named or _is_export(p))
    ]
    if not group:
        raise CsvFormatError(f"{folder}: no WPA CSV export in this folder; expected {_EXPECTED}")
    return group


def _is_export(path: Path) -> bool:
    try:
        return sniff_layout(_open_csv(path).header) is not None
    except CsvFormatError:
        return False


def _unknown_layout(path: Path, header: list[str]) -> CsvFormatError:
    found = ", ".join(h for h in header if h) or "no columns"
    return CsvFormatError(
        f"{path}: not a WPA Pool or Resident Set export: expected {_EXPECTED}; found: {found}"
    )


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def source_name(paths: list[Path]) -> str:
    """How a CSV trace is named in reports and recognised when named twice."""
    return " + ".join(str(p) for p in paths)


def read_wpa_csv(paths: list[Path]) -> Iterator[Chunk | TraceInfo]:
    """Read one trace from its WPA CSV exports: at most one Pool and one Resident Set export."""
    if not paths:
        raise CsvFormatError("no WPA CSV export given")
    files = [_open_csv(p) for p in paths]
    pool: list[_CsvFile] = []
    resident: list[_CsvFile] = []
    for f in files:
        layout = sniff_layout(f.header)
        if layout is None:
            raise _unknown_layout(f.path, f.header)
        (pool if layout == "pool" else resident).append(f)
    for kind, found in (("Pool", pool), ("Resident Set", resident)):
        if len(found) > 1:
            names = ", ".join(str(f.path) for f in found)
            raise CsvFormatError(
                f"{names}: {len(found)} {kind} exports for one trace; write each trace's exports "
                "to its own folder (wpaexporter -outputfolder)"
            )
    notes: list[str] = [
        f"{f.path.name}: {'Pool' if f in pool else 'Resident Set'} export" for f in files
    ]
    if not pool:
        notes.append("no Pool export: the trace has no pool allocations")
    stacks = _Stacks()
    duration = 0.0
    rows = 0
    if pool:
        cols = _read_pool(pool[0], stacks, notes)
        n = len(cols["alloc_s"])
        rows += n
        alloc_seq, free_seq = _trace_order(cols["alloc_s"], cols["free_s"])
        freed = ~np.isnan(cols["free_s"])
        if n:
            duration = float(max(cols["alloc_s"].max(), np.nanmax(cols["free_s"], initial=0.0)))
        if stacks.modules:
            yield _images(stacks.modules)
        yield stacks.chunk()
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
        chunk, latest = _read_resident(resident[0], 4096, notes)
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
