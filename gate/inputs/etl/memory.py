"""Keeping the reader's memory bounded and its loops lean: heap tuning, compact column tables,
and the garbage collector paused while a trace is read.

The reader holds a few dozen bytes per pool event until the end of the file and frees large
batch arrays all the time; these helpers keep both from inflating its RSS.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()
_M_MMAP_THRESHOLD = -3
_HEAP_MMAP_BYTES = 4 << 20


def bound_heap() -> None:
    """Keep glibc from hoarding freed arrays (a no-op elsewhere).

    glibc raises its mmap threshold to the size of the largest block freed, up to 32 MiB, so
    once a 32 MiB batch is freed every decoded column is carved from the heap, and the heap
    holes left behind are not given back: the reader's RSS then grows by hundreds of MiB of
    freed memory. A fixed 4 MiB threshold keeps big arrays in their own mappings, returned on
    free, and small ones on the heap, where they are fast.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _HEAP_MMAP_BYTES)


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_GC_LOCK = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block, as it was before afterwards
    (also when the block raises). Nested and concurrent blocks: the last one out restores it.

    The reader creates few objects that form cycles, but millions of small ones while it works;
    each time the collector runs it walks every tracked object, which cost about a tenth of the
    reading time. Objects freed by reference counting are freed as always.
    """
    global _gc_pauses, _gc_was_enabled
    with _GC_LOCK:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def narrow(a: np.ndarray) -> np.ndarray:
    """`a` in the smallest integer type of its kind (signed or not) that holds its values."""
    if len(a) == 0 or a.dtype.kind not in "iu":
        return a
    lo, hi = int(a.min()), int(a.max())
    for t in (np.int8, np.int16, np.int32) if a.dtype.kind == "i" else (np.uint8, np.uint16):
        info = np.iinfo(t)
        if info.bits >= a.dtype.itemsize * 8:
            break
        if info.min <= lo and hi <= info.max:
            return a.astype(t)
    return a


class ColumnTable:
    """Equal-length numpy columns, rows selected by index like a structured array.

    Columns are kept apart because gathering rows of a packed structured array is several times
    slower than gathering each column.
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    @classmethod
    def empty(cls, dtype: np.dtype, n: int = 0) -> ColumnTable:
        return cls({name: np.empty(n, dtype=dtype[name]) for name in dtype.names or ()})

    @classmethod
    def concat(
        cls, tables: list[ColumnTable], dtype: np.dtype, *, consume: bool = False
    ) -> ColumnTable:
        """One table of all rows. With `consume`, each part's column is released once copied,
        so the peak is the result plus one column rather than twice the data."""
        if not tables:
            return cls.empty(dtype)
        out: dict[str, np.ndarray] = {}
        for k in dtype.names or ():
            out[k] = np.concatenate([t.columns[k] for t in tables])
            if consume:
                for t in tables:
                    del t.columns[k]
                trim_heap()  # the parts were small enough to live on the heap
        return cls(out)

    def take(self, order: np.ndarray) -> ColumnTable:
        """Reorder the rows in place, column by column: one extra column at a time."""
        for k in list(self.columns):
            self.columns[k] = self.columns[k][order]
        return self

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, key: str | np.ndarray | slice) -> Any:
        if isinstance(key, str):
            return self.columns[key]
        return ColumnTable({k: v[key] for k, v in self.columns.items()})

    def __setitem__(self, key: str, value: object) -> None:
        self.columns[key][...] = value

    def copy(self) -> ColumnTable:
        return ColumnTable({k: v.copy() for k, v in self.columns.items()})
