"""Reading one WPA CSV export: encoding, delimiter, locale number formats, and cells with
errors that name the file, line and column."""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import CsvFormatError
from gate.fileio import path_text
from gate.inputs.wpa.columns import (
    BYTE_UNITS,
    EXPECTED,
    NONE_WORDS,
    TIME_UNITS,
    TOTAL_WORDS,
    header_key,
)

# Grouping characters that never mean a decimal mark (French and Swiss style).
_ALWAYS_GROUPING = ("\u00a0", "\u202f", " ", "'")


# --- reading the text ---------------------------------------------------------------------------


def _encoding(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _shown_encoding(path: Path) -> str:
    return "UTF-16" if _encoding(path) == "utf-16" else "UTF-8"


def _delimiter(first_line: str) -> str:
    # wpaexporter's -delimiter can change the comma; pick the candidate that splits the header most.
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# The header is one line of column names; a "header" longer than this is not an export's
# (and reading it whole could take all memory on a multi-gigabyte single-line file).
_MAX_HEADER_CHARS = 1 << 20
_MAX_LINE_BYTES = 4 << 20


@dataclass
class CsvFile:
    path: Path
    header: list[str]
    delimiter: str
    encoding: str

    @property
    def name(self) -> str:
        """The path as messages and notes show it (`gate.fileio.path_text`)."""
        return path_text(self.path)

    @property
    def short(self) -> str:
        """The file name alone, as notes show it."""
        return path_text(self.path.name)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows with their 1-based line numbers; blank lines are skipped."""
        lines = _Lines(self)
        try:
            reader = csv.reader(lines, delimiter=self.delimiter)
            next(reader, None)
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    yield reader.line_num, row
        except csv.Error as exc:
            raise CsvFormatError(f"{self.name}:{lines.number}: malformed CSV: {exc}") from None


class _Lines:
    """The file's lines as text, each decoded on its own so that bad bytes are reported with
    their line, and none longer than `_MAX_LINE_BYTES` (a single-line file of gigabytes would
    otherwise be read whole)."""

    def __init__(self, csvf: CsvFile) -> None:
        self.csvf = csvf
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        csvf = self.csvf
        utf16 = csvf.encoding == "utf-16"
        try:
            handle = csvf.path.open(encoding="utf-16", newline="") if utf16 else None
            with handle or csvf.path.open("rb") as fh:
                while True:
                    raw = fh.readline(_MAX_LINE_BYTES + 1)
                    if not raw:
                        return
                    self.number += 1
                    if len(raw) > _MAX_LINE_BYTES:
                        raise CsvFormatError(f"{csvf.name}:{self.number}: the line is over 4 MiB")
                    codec = "utf-8-sig" if self.number == 1 else "utf-8"
                    yield raw if isinstance(raw, str) else raw.decode(codec)
        except UnicodeDecodeError as exc:
            where = f"{csvf.name}:{self.number}" if not utf16 else f"{csvf.name}"
            raise CsvFormatError(
                f"{where}: not {_shown_encoding(csvf.path)} text ({exc.reason})"
            ) from None
        except OSError as exc:
            raise CsvFormatError(f"{csvf.name}: cannot read: {exc.strerror}") from None


def open_csv(path: Path) -> CsvFile:
    """The file's header row, encoding and delimiter; CsvFormatError when it has none."""
    shown = path_text(path)
    try:
        encoding = _encoding(path)
        if encoding == "utf-16":
            with path.open(encoding=encoding, newline="") as fh:
                first = fh.readline(_MAX_HEADER_CHARS + 1)
        else:
            # The header line alone: bad bytes further down are reported with their line.
            with path.open("rb") as raw:
                first = raw.readline(_MAX_HEADER_CHARS + 1).decode(encoding)
    except OSError as exc:
        raise CsvFormatError(f"{shown}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CsvFormatError(
            f"{shown}:1: not {_shown_encoding(path)} text ({exc.reason})"
        ) from None
    if not first.strip():
        raise CsvFormatError(f"{shown}: empty file: no header row; expected {EXPECTED}")
    if len(first) > _MAX_HEADER_CHARS:
        raise CsvFormatError(f"{shown}:1: the first line is over 1 MiB: not an export's header")
    delimiter = _delimiter(first)
    try:
        header = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        raise CsvFormatError(f"{shown}:1: malformed CSV header: {exc}") from None
    return CsvFile(path, [h.strip().lstrip("\ufeff") for h in header], delimiter, encoding)


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
# No cell of an export needs more characters than this (20 digits, 9 decimals, signs).
_MAX_NUMBER_TEXT = 40


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


def _number_text(cell: str, fmt: NumberFormat) -> str | None:
    """A number cell under a file's format as plain `[+-]digits[.digits]`, or None."""
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
    if not _PLAIN.match(s) or len(s) > _MAX_NUMBER_TEXT:
        return None
    return s


def _parse_number(cell: str, fmt: NumberFormat) -> float | None:
    """A number cell under a file's format; None when it is not a finite number."""
    text = _number_text(cell, fmt)
    if text is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


# --- one file ------------------------------------------------------------------------------------


@dataclass
class Columns:
    """Where each needed column sits, with its unit scale and kind."""

    index: dict[str, int]
    header: list[str]
    byte_scale: int = 1
    time_scale: dict[str, float] = field(default_factory=dict)

    def display(self, name: str) -> str:
        return shown_name(self.header[self.index[name]], 80)


def shown_name(text: str, limit: int = 40) -> str:
    """A header name as an error line shows it: its first `limit` characters, with those that
    are not printable (form feeds, U+2028 and the like break a line) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])


def shown_header(header: list[str]) -> str:
    """The first names of a header line, for an error line."""
    return ", ".join(shown_name(h) for h in header[:20] if h) or "no columns"


def missing_column(path: Path, header: list[str], name: str) -> CsvFormatError:
    found = shown_header(header)
    return CsvFormatError(f"{path_text(path)}: column '{name}' is missing (found: {found})")


def size_scale(path: Path, header: list[str], index: int) -> int:
    unit = header_key(header[index])[1]
    if unit not in BYTE_UNITS:
        raise CsvFormatError(
            f"{path_text(path)}: column '{shown_name(header[index])}': unknown size unit "
            f"'{shown_name(unit, 20)}' "
            "(expected B, KB or MB)"
        )
    return BYTE_UNITS[unit]


def time_scale(path: Path, header: list[str], index: int) -> float:
    unit = header_key(header[index])[1]
    if unit not in TIME_UNITS:
        raise CsvFormatError(
            f"{path_text(path)}: column '{shown_name(header[index])}': unknown time unit "
            f"'{shown_name(unit, 20)}' "
            "(expected s, ms, µs)"
        )
    return TIME_UNITS[unit]


class FileReader:
    """Reads one export's rows into columns, with errors that name file, line and column."""

    def __init__(self, csvf: CsvFile, cols: Columns, numeric: dict[str, bool]) -> None:
        self.csvf = csvf
        self.cols = cols
        self.numeric = numeric  # column name -> True when it holds whole numbers only
        self.fmt = NumberFormat(".")
        self.fmt_note = ""
        self.notes: list[str] = []

    @classmethod
    def opened(
        cls, csvf: CsvFile, cols: Columns, numeric: dict[str, bool], notes: list[str]
    ) -> FileReader:
        """A reader whose number format is decided, with what was decided in `notes`."""
        reader = cls(csvf, cols, numeric)
        reader.detect_format()
        notes.append(reader.fmt_note)
        if cols.byte_scale != 1:
            notes.append(
                f"{csvf.path.name}: sizes in '{cols.display('size')}' are rounded by WPA; "
                "export bytes ('Size (B)', as the gate's profile does) for exact figures"
            )
        return reader

    @property
    def path(self) -> Path:
        return self.csvf.path

    def error(self, line: int, name: str, problem: str) -> CsvFormatError:
        column = self.cols.index[name] + 1
        return CsvFormatError(f"{self.csvf.name}:{line}:{column}: {problem}")

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
                if value.lower() in NONE_WORDS:
                    continue
                mark = _decimal_evidence(value, self.numeric[name])
                if mark:
                    self.fmt = NumberFormat(mark)
                    self.fmt_note = (
                        f"{self.csvf.short}: numbers read with {self.fmt.describe()}, from "
                        f"'{self.cols.display(name)}' at line {line}"
                    )
                    return
        self.fmt_note = (
            f"{self.csvf.short}: no number shows its decimal mark; read with {self.fmt.describe()}"
        )

    def number(self, line: int, row: list[str], name: str) -> float:
        value = self.cell(row, name)
        parsed = _parse_number(value, self.fmt)
        if parsed is None or (self.numeric[name] and not float(parsed).is_integer()):
            raise self._not_a_number(line, name, value)
        return parsed

    def integer(self, line: int, row: list[str], name: str, low: int, high: int) -> int:
        """A whole-number cell, exactly (no float rounding), within `low`..`high`."""
        value = self.cell(row, name)
        text = _number_text(value, self.fmt)
        whole, _, fraction = (text or "").partition(".")
        if text is None or fraction.strip("0"):
            raise self._not_a_number(line, name, value)
        number = int(whole)
        if not low <= number <= high:
            raise self.error(
                line,
                name,
                f"'{self.cols.display(name)}' value {value[:40]!r} is out of range "
                f"({low:,} to {high:,})",
            )
        return number

    def _not_a_number(self, line: int, name: str, value: str) -> CsvFormatError:
        kind = "a whole number" if self.numeric[name] else "a number"
        shown = repr(value) if len(value) <= 40 else f"{value[:30]!r}... ({len(value):,} chars)"
        return self.error(
            line,
            name,
            f"'{self.cols.display(name)}' value {shown} is not {kind} "
            f"(numbers in this file use {self.fmt.describe()})",
        )

    def optional_number(self, line: int, row: list[str], name: str) -> float | None:
        if name not in self.cols.index or self.cell(row, name).lower() in NONE_WORDS:
            return None
        return self.number(line, row, name)

    def is_summary(self, row: list[str], label_columns: tuple[str, ...]) -> bool:
        first = row[0].strip().lower() if row else ""
        if first in TOTAL_WORDS:
            return True
        return all(self.cell(row, name).lower() in NONE_WORDS for name in label_columns)

    def rows(self, label_columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
        """Data rows; a trailing summary row is skipped with a note, an inner one is an error."""
        pending: tuple[int, list[str]] | None = None
        for line, row in self.csvf.rows():
            if pending is not None:
                raise CsvFormatError(
                    f"{self.csvf.name}:{pending[0]}: a summary row ({_label(pending[1])}) "
                    "inside the data: export raw rows (a profile with no key columns), not a "
                    "grouped table"
                )
            if self.is_summary(row, label_columns):
                pending = (line, row)
                continue
            yield line, row
        if pending is not None:
            self.notes.append(
                f"{self.csvf.short}:{pending[0]}: skipped the summary row ({_label(pending[1])}) "
                "at the end of the export"
            )


def _label(row: list[str]) -> str:
    first = row[0].strip() if row else ""
    return repr(first) if first else "first cell empty"
