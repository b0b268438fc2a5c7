"""The resident set of an `.etl` trace: the last full snapshot of the Memory-group page events.

Evidence is thin (`etl-format.md` §2.4): the page layout is TraceEvent's, which its own authors
doubt, and which page events WPA uses for its Resident Set table is not published. This module
therefore decides as little as it must, says what it decided, and checks the result.

Snapshot. Page records of the rundown hooks (0x0223 PageInMemory, 0x0275 InMemoryActive, and
0x0284/0x0285 when they carry a page) are ordered by time and cut into snapshots wherever no page
record was logged for `SNAPSHOT_GAP_S` seconds. The snapshot used is the last one that holds a
page on a list other than Standby, Modified or ModifiedNoWrite: MemoryUsageChecker calls
Standby/Modified-only snapshots "a side-effect of the main snapshot". PageAccess events
(0x0276/0x0282) are single accesses during the trace and never part of a snapshot.

Page categories (WPA's "Page Category") from the page kind (MMPFNUSE_*):

* File page of a driver image (`.sys`, or under `\\drivers\\`) -> Driver, unless the page's
  virtual address is logged and lies outside every kernel image of that file -> DriverFile.
  Inferred: WPA's Driver is "code pages for a driver" (the image mapping), DriverFile is "read
  from the driver executable and mapped as data". A page logged without an address (a short
  record, or address 0, as pages mapped nowhere may be) counts as Driver.
* Other File pages -> Image for image extensions (.exe .dll .ocx .cpl .scr .drv .efi .mui), else
  MapFile. Inferred from the name alone.
* PageFileMapped -> PFMappedSection, PagedPool/NonPagedPool -> the same names, DriverLockPage ->
  DriverLockedSystemPage (name matches), SystemPTE -> SystemPage (inferred).
* ProcessPrivate, PageTable, SessionPrivate, MetaFile, AwePage, KernelStack, WSMetaData,
  LargePage keep the kind's name: WPA splits them further (VirtualAlloc, Win32Heap, UserStack
  ...) with information the page record does not carry.

Only File and MetaFile pages have a path (the FileIo name of their file key); other pages have
path ''.

Plausibility. Each page of the chosen snapshot is checked: page kind within the 14 kinds
TraceEvent names (0-13); page list within the 8 lists (a 3-bit field cannot fail this on its own,
the check is there for layouts with wider fields); page frame number below a bound on physical
memory; for File/MetaFile pages, a file key that a FileIo name rundown names. The bound is
2 x MemSize + 4 GiB when the SystemConfig CPU event gives the machine's memory (room for the
holes and remapping of a physical address map), else the architecture's limit (2^40 pages on
x64: 52-bit physical addresses; 2^24 on x86 with PAE) - generous, so it catches garbage (such as
virtual addresses read as frame numbers), not subtle errors. Pages that fail are left out and
counted; when more than `PLAUSIBILITY_LIMIT` (5 %) of them fail any check, the layout does not
fit the trace and no resident set is emitted at all, so that `active_code_bytes` is reported
*not evaluated* rather than a wrong number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gate.tables.drivers import driver_name

SNAPSHOT_GAP_S = 1.0
PLAUSIBILITY_LIMIT = 0.05
DEFAULT_PAGE_SIZE = 4096

# MMPFNLIST_* values [PHNT ntmmapi.h]; WPA's MMList names (Zeroed/Free/Bad from TraceProcessing).
PAGE_LISTS = (
    "Zeroed",
    "Free",
    "Standby",
    "Modified",
    "ModifiedNoWrite",
    "Bad",
    "Active",
    "Transition",
)
PARTIAL_LISTS = frozenset({"Standby", "Modified", "ModifiedNoWrite"})

# MMPFNUSE_* 0-11 [PHNT ntmmapi.h]; 12 and 13 as TraceEvent's PageKind enum names them.
PAGE_KINDS = (
    "ProcessPrivate",
    "File",
    "PageFileMapped",
    "PageTable",
    "PagedPool",
    "NonPagedPool",
    "SystemPTE",
    "SessionPrivate",
    "MetaFile",
    "AwePage",
    "DriverLockPage",
    "KernelStack",
    "WSMetaData",
    "LargePage",
)
KIND_FILE = 1
KIND_METAFILE = 8
# Category of each non-file kind (File is decided by name and address, see the module docstring).
KIND_CATEGORY = {
    "ProcessPrivate": "ProcessPrivate",
    "PageFileMapped": "PFMappedSection",
    "PageTable": "PageTable",
    "PagedPool": "PagedPool",
    "NonPagedPool": "NonPagedPool",
    "SystemPTE": "SystemPage",
    "SessionPrivate": "SessionPrivate",
    "MetaFile": "MetaFile",
    "AwePage": "AwePage",
    "DriverLockPage": "DriverLockedSystemPage",
    "KernelStack": "KernelStack",
    "WSMetaData": "WSMetaData",
    "LargePage": "LargePage",
}
FILE_CATEGORIES = ("Driver", "DriverFile", "Image", "MapFile")
IMAGE_EXTENSIONS = (".exe", ".dll", ".ocx", ".cpl", ".scr", ".drv", ".efi", ".mui")

CHECKS = ("page kind", "page list", "page frame", "file key")


def is_driver_path(path: str) -> bool:
    low = path.lower().replace("/", "\\")
    return low.endswith(".sys") or "\\drivers\\" in low


def file_category(path: str) -> str:
    """The category of a File page of `path` when no address says otherwise."""
    if is_driver_path(path):
        return "Driver"
    return "Image" if path.lower().endswith(IMAGE_EXTENSIONS) else "MapFile"


def frame_bound(memory_mb: int | None, page_size: int, pointer_size: int) -> tuple[int, str]:
    """Page frame numbers at or above the result are implausible; and where the bound is from."""
    if memory_mb:
        limit = (2 * memory_mb * (1 << 20) + (4 << 30)) // page_size
        return limit, f"2 x the {memory_mb:,} MB of memory the trace reports + 4 GiB"
    if pointer_size == 8:
        return 1 << 40, "no memory size in the trace: x64 limit of 2^40 page frames"
    return 1 << 24, "no memory size in the trace: x86 PAE limit of 2^24 page frames"


@dataclass
class ResidentSet:
    """The outcome for one trace: rows for `resident_pages` when `present`, and what was found."""

    present: bool = False
    rejected: bool = False
    path: list[str] = field(default_factory=list)
    page_list: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    size_bytes: list[int] = field(default_factory=list)
    page_size: int = DEFAULT_PAGE_SIZE
    page_records: int = 0  # page records of the rundown hooks, all snapshots
    snapshots: int = 0
    full_snapshots: int = 0
    snapshot_pages: int = 0  # pages in the chosen snapshot, before checks
    snapshot_time_s: float = float("nan")
    failed: dict[str, float] = field(default_factory=dict)  # check -> share of snapshot pages
    failed_any: float = 0.0
    notes: list[str] = field(default_factory=list)


def _split(time_s: np.ndarray) -> np.ndarray:
    """Start index of each snapshot in time-ordered records."""
    gaps = np.flatnonzero(np.diff(time_s) > SNAPSHOT_GAP_S) + 1
    return np.concatenate([[0], gaps]).astype(np.int64)


@dataclass
class _Pages:
    """Page records as columns (one row per page), selectable like a table."""

    kind: np.ndarray
    page_list: np.ndarray
    frame: np.ndarray
    key: np.ndarray
    virtual_address: np.ndarray

    def __getitem__(self, rows: np.ndarray | slice) -> _Pages:
        return _Pages(*(getattr(self, f)[rows] for f in _Pages.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.kind)


def build_resident_set(
    *,
    time_s: np.ndarray,
    kind: np.ndarray,
    page_list: np.ndarray,
    frame: np.ndarray,
    key: np.ndarray,
    virtual_address: np.ndarray,
    file_names: dict[int, str],
    images: list[tuple[int, int, str, float, float]],
    page_size: int,
    bound: tuple[int, str],
) -> ResidentSet:
    """The resident set from the page records of the rundown hooks (any order).

    `images`: kernel images as (base, size, path, load_s, unload_s), NaN for "before/after the
    trace". All per-page work is numpy; Python runs once per snapshot, file name and image.
    """
    out = ResidentSet(page_size=page_size, page_records=len(time_s))
    if len(time_s) == 0:
        return out
    order = np.argsort(time_s, kind="stable")
    pages = _Pages(kind, page_list, frame, key, virtual_address)[order]
    snapshot = _last_full_snapshot(out, time_s[order], pages.page_list)
    if snapshot is None:
        return out
    pages = pages[snapshot]
    known_keys = np.array(sorted(file_names), dtype=np.uint64)
    good, pos = _check_pages(out, pages, known_keys, bound)
    if out.rejected:
        return out
    names = [file_names[int(k)] for k in known_keys.tolist()]
    pages, pos = pages[good], pos[good]
    category = _categories(pages, pos, names, images, out.snapshot_time_s)
    _aggregate(out, pages, pos, names, category, page_size)
    return out


def _last_full_snapshot(
    out: ResidentSet, time_s: np.ndarray, page_list: np.ndarray
) -> slice | None:
    """The rows of the last snapshot with a page on another list than Standby/Modified."""
    starts = _split(time_s)
    ends = np.append(starts[1:], len(time_s))
    out.snapshots = len(starts)
    partial_codes = np.array([PAGE_LISTS.index(n) for n in PARTIAL_LISTS], dtype=np.uint8)
    full = [
        bool((~np.isin(page_list[a:b], partial_codes)).any())
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
    out.full_snapshots = sum(full)
    if not any(full):
        out.notes.append(
            f"resident set: {out.snapshots} page snapshot(s), none with more than Standby/"
            "Modified pages (side effects of a main snapshot): no resident-set data"
        )
        return None
    last = max(i for i, f in enumerate(full) if f)
    sl = slice(int(starts[last]), int(ends[last]))
    out.snapshot_pages = sl.stop - sl.start
    out.snapshot_time_s = float(time_s[sl][0])
    return sl


def _check_pages(
    out: ResidentSet, pages: _Pages, known_keys: np.ndarray, bound: tuple[int, str]
) -> tuple[np.ndarray, np.ndarray]:
    """The plausibility checks: the mask of pages that pass, and each page's index into the
    sorted file keys. Sets `out.rejected` when too many fail."""
    n = len(pages)
    is_file = (pages.kind == KIND_FILE) | (pages.kind == KIND_METAFILE)
    pos = np.minimum(np.searchsorted(known_keys, pages.key), max(len(known_keys) - 1, 0))
    resolved = np.zeros(n, dtype=bool)
    if len(known_keys):
        resolved = known_keys[pos] == pages.key
    bad = {
        "page kind": pages.kind >= len(PAGE_KINDS),
        "page list": pages.page_list >= len(PAGE_LISTS),
        "page frame": pages.frame >= np.uint64(bound[0]),
        "file key": is_file & ~resolved,
    }
    any_bad = np.zeros(n, dtype=bool)
    for mask in bad.values():
        any_bad |= mask
    out.failed = {name: float(mask.mean()) for name, mask in bad.items()}
    out.failed_any = float(any_bad.mean())
    shares = ", ".join(f"{name} {100 * share:.1f} %" for name, share in out.failed.items())
    out.notes.append(
        f"resident-set plausibility: {n:,} pages in the last full snapshot at "
        f"{out.snapshot_time_s:.3f} s ({out.snapshots} snapshot(s)); failed: {shares}; "
        f"{100 * out.failed_any:.1f} % in all, limit {100 * PLAUSIBILITY_LIMIT:.0f} %; "
        f"page-frame bound {bound[0]:,} ({bound[1]})"
    )
    if out.failed_any > PLAUSIBILITY_LIMIT:
        out.rejected = True
        out.notes.append(
            f"RESIDENT SET REJECTED: {100 * out.failed_any:.1f} % of the snapshot's pages fail "
            "the plausibility checks, so the page-event layout does not fit this trace; "
            "active_code_bytes is not evaluated"
        )
    return ~any_bad, np.where(is_file, pos, -1)


def _categories(
    pages: _Pages,
    pos: np.ndarray,
    names: list[str],
    images: list[tuple[int, int, str, float, float]],
    t: float,
) -> np.ndarray:
    """Category per page: non-file kinds by table, file pages by their file and address."""
    kind_cat = np.array([KIND_CATEGORY.get(k, k) for k in PAGE_KINDS], dtype=object)
    category = kind_cat[pages.kind]
    file_page = np.flatnonzero(pages.kind == KIND_FILE)
    if len(file_page) == 0:
        return category
    by_name = np.array([file_category(nm) for nm in names], dtype=object)
    category[file_page] = by_name[pos[file_page]]
    driver_page = file_page[category[file_page] == "Driver"]
    va = pages.virtual_address
    mapped = driver_page[va[driver_page] != 0]
    if len(mapped):
        live = sorted(
            (b, b + s, driver_name(p))
            for b, s, p, lo, hi in images
            if not (lo > t) and not (hi <= t)
        )
        bases = np.array([x[0] for x in live], dtype=np.uint64)
        ends = np.array([x[1] for x in live], dtype=np.uint64)
        j = np.searchsorted(bases, va[mapped], side="right") - 1
        inside = j >= 0
        inside[inside] &= va[mapped][inside] < ends[j[inside]]
        live_driver = np.array([x[2] for x in live] + [""], dtype=object)
        file_driver = np.array([driver_name(nm) for nm in names], dtype=object)
        same = inside & (live_driver[np.where(inside, j, -1)] == file_driver[pos[mapped]])
        category[mapped[~same]] = "DriverFile"
    return category


def _aggregate(
    out: ResidentSet,
    pages: _Pages,
    pos: np.ndarray,
    names: list[str],
    category: np.ndarray,
    page_size: int,
) -> None:
    """The rows of `resident_pages`: bytes per (path, page list, category)."""
    cat_names = sorted(set(category.tolist()))
    cat_code = np.searchsorted(np.array(cat_names, dtype=object), category)
    page_list = pages.page_list.astype(np.int64)
    combo = (pos.astype(np.int64) + 1) * 64 * 8 + cat_code * 8 + page_list
    uniq, counts = np.unique(combo, return_counts=True)
    all_names = ["", *names]
    rows = sorted(
        (all_names[int(u) // 512], PAGE_LISTS[int(u) % 8], cat_names[(int(u) // 8) % 64], int(c))
        for u, c in zip(uniq.tolist(), counts.tolist(), strict=True)
    )
    out.path = [r[0] for r in rows]
    out.page_list = [r[1] for r in rows]
    out.category = [r[2] for r in rows]
    out.size_bytes = [r[3] * page_size for r in rows]
    out.present = True
