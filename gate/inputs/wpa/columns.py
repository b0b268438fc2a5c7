"""Which columns a WPA export has: header names, their aliases and unit suffixes."""

from __future__ import annotations

import re

# Canonical column -> accepted header names, compared after `header_key` (case, blanks and
# unit removed).
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
DISPLAY = {
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
EXPECTED = (
    "a Pool export (Pool Tag, Paged, AllocTime, FreeTime, Size, Stack) or a Resident Set "
    "export (MMList, Page Category, Path, Size)"
)

BYTE_UNITS = {"": 1, "b": 1, "bytes": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}
TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
NONE_WORDS = {"", "n/a", "na", "-", "none", "null"}
TOTAL_WORDS = {"total", "totals", "grand total", "summe", "gesamt", "gesamtsumme", "sum total"}
_UNIT = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)\s*$")


def header_key(header: str) -> tuple[str, str]:
    """A header's comparable name and its unit suffix ('Size (KB)' -> ('size', 'kb'))."""
    text = header.strip().lstrip("\ufeff")
    unit = ""
    match = _UNIT.match(text)
    if match:
        text, unit = match.group("name"), match.group("unit").strip().lower()
    return re.sub(r"[\s_]+", "", text).lower(), unit


def find_columns(header: list[str], spec: dict[str, tuple[str, ...]]) -> dict[str, int]:
    wanted = {header_key(alias)[0]: name for name, aliases in spec.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = wanted.get(header_key(cell)[0])
        if name is not None and name not in found:
            found[name] = index
    return found


def sniff_layout(header: list[str]) -> str | None:
    """'pool', 'resident' or None, from a header row."""
    pool = find_columns(header, POOL_COLUMNS)
    if {"tag", "alloc_s", "free_s", "paged", "pool_type"} & set(pool):
        return "pool"
    resident = find_columns(header, RESIDENT_COLUMNS)
    if {"page_list", "category"} & set(resident):
        return "resident"
    return None
