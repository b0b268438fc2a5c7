"""Vectorized payload decoders and the dispatch table that picks them.

`DECODERS` maps an event key to a `Decoder`. The key is the kernel hook id (Group<<8 | Type) for
kernel events, whatever header carries them (SYSTEM/COMPACT/PERFINFO, or an EVENT_TRACE_HEADER
whose GUID is a kernel group's), and `(provider GUID, opcode)` for other classic providers such
as KernelTraceControl. `event_keys` computes those keys for a whole `RecordBatch` at once.

A decoder takes the records of one key and one pointer size as arrays (`data`, payload `starts`
and `sizes`, the header `version`s) and returns numpy columns plus `ok`, the mask of records whose
payload was long enough. Fixed fields are gathered with one fancy index over a byte-strided view
of the batch, so decoding costs a few numpy calls per group, never a Python step per pool event.
Strings (image and file names) are decoded per record: there are thousands, not millions.
Decoders never raise on short payloads; the reader counts them as malformed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gate.inputs.etl import jit
from gate.inputs.etl import layouts as L
from gate.inputs.etl import payloads as P

KERNEL_TRACE_CONTROL = uuid.UUID("b3e675d7-2554-4f18-830b-2762732560de")

HOOK_POOL_ALLOC = 0x0E20
HOOK_POOL_ALLOC_SESSION = 0x0E21
HOOK_POOL_FREE = 0x0E22
HOOK_POOL_FREE_SESSION = 0x0E23
HOOK_IMAGE_LOAD = 0x030A  # under the Process group [NTWMI]
HOOK_IMAGE_LOAD_IMAGE_GROUP = 0x140A  # the same event when a GUID header names the Image provider
HOOK_IMAGE_UNLOAD = 0x1402
HOOK_IMAGE_DC_START = 0x1403
HOOK_IMAGE_DC_END = 0x1404
HOOK_STACK_WALK = 0x1820
HOOK_STACK_KEY_KERNEL = 0x1825
HOOK_STACK_KEY_USER = 0x1826
HOOK_FILE_NAME_RUNDOWN = 0x0424
HOOK_PAGE_IN_MEMORY = 0x0223
HOOK_MEMINFO = 0x0270
HOOK_PAGE_IN_MEMORY_ACTIVE = 0x0275
HOOK_PAGE_ACCESS = 0x0276
HOOK_PAGE_ACCESS_EX = 0x0282
HOOK_WS_SHAREABLE_RUNDOWN = 0x0284
HOOK_IN_MEMORY_ACTIVE_RUNDOWN = 0x0285
HOOK_SYSCONFIG_CPU = 0x0B0A
# Page events that describe what is in memory at one moment (rundowns); PageAccess events
# (0x0276/0x0282) record single accesses during the trace and are not part of a snapshot.
RESIDENT_SNAPSHOT_HOOKS = (
    HOOK_PAGE_IN_MEMORY,
    HOOK_PAGE_IN_MEMORY_ACTIVE,
    HOOK_WS_SHAREABLE_RUNDOWN,
    HOOK_IN_MEMORY_ACTIVE_RUNDOWN,
)
# Pool snapshot rundowns: allocations outstanding when the trace started (counted, not read).
POOL_SNAPSHOT_HOOKS = tuple(range(0x0E28, 0x0E30))
OPCODE_IMAGE_ID = 0
OPCODE_DBGID_RSDS = 36

# A decoder's output by field name: an array per numeric field, a list per string field (a
# decoder's names say which); typed loosely, as a handler reads the fields it knows.
Columns = dict[str, Any]
DecodeFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray], Columns]
EventKey = int | tuple[uuid.UUID, int]


@dataclass(frozen=True)
class Decoder:
    """How records of one event key are read: counted only, or decoded by `fn` into columns
    that the reader's handler for `category` takes (`gate.inputs.etl.batch.HANDLERS`)."""

    name: str  # what `gate inspect` prints, e.g. "pool alloc"
    category: str | None = None  # None: counted only
    fn: DecodeFn | None = None

    def __post_init__(self) -> None:
        if (self.category is None) != (self.fn is None):
            raise ValueError(f"decoder {self.name!r}: a category needs a decode function")


# --- gathering --------------------------------------------------------------------------------


def _strided(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A view of `data` where element i is `dtype` read at byte offset i (unaligned reads)."""
    n = len(data) - dtype.itemsize + 1
    if n <= 0:
        return np.zeros(0, dtype=dtype)
    return np.ndarray((n,), dtype=dtype, buffer=data, offset=0, strides=(1,))


def gather(data: np.ndarray, positions: np.ndarray, dtype: np.dtype | str) -> np.ndarray:
    """Read one `dtype` value (plain or structured) at each byte position of `data`."""
    dt = np.dtype(dtype)
    if len(positions) == 0:
        return np.zeros(0, dtype=dt)
    data = np.ascontiguousarray(data)
    if dt.names is None:
        return _strided(data, dt)[positions]
    # Structured values are copied as rows of bytes, then viewed: numpy copies raw byte rows
    # about twice as fast as it copies unaligned structured elements.
    rows = np.lib.stride_tricks.as_strided(
        data, shape=(max(len(data) - dt.itemsize + 1, 0), dt.itemsize), strides=(1, 1),
        writeable=False,
    )  # fmt: skip
    return rows[positions].view(dt).reshape(-1)


def gather_fixed(
    layout: P.Layout, data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, pointer_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The fixed part of each payload long enough to hold it, and the mask of those payloads."""
    dt = layout.dtype(pointer_size)
    ok = sizes >= dt.itemsize
    return gather(data, starts[ok], dt), ok


def _pointer_rows(
    data: np.ndarray, starts: np.ndarray, count: int, pointer_size: int
) -> np.ndarray:
    """A (len(starts), count) uint64 matrix: `count` pointers read from each start.

    One fancy index over a 2-D strided view picks whole rows, so no per-pointer index array is
    built; the rows are copied out contiguously.
    """
    flat = _strided(np.ascontiguousarray(data), np.dtype(f"<u{pointer_size}"))
    rows = len(flat) - (count - 1) * pointer_size
    view = np.lib.stride_tricks.as_strided(
        flat, shape=(max(rows, 0), count), strides=(1, pointer_size), writeable=False
    )
    return view[starts].astype(np.uint64, copy=False)


def _row_hashes(m: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of a uint64 matrix that depends on every value and position."""
    with np.errstate(over="ignore"):
        # One odd multiplier per position, so that swapped values hash differently.
        k = np.arange(1, 2 * m.shape[1], 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x = m * (k | np.uint64(1))
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        return x.sum(axis=1, dtype=np.uint64)


_HASH_SEED = np.uint64(0x9E3779B97F4A7C15)
_HASH_MUL = np.uint64(0xBF58476D1CE4E5B9)
_HASH_SHIFT = np.uint64(31)


def _hash_rows_kernel(words: Any, starts: Any, counts: Any, out: Any) -> None:
    """A 64-bit hash of each array `words[starts[i] : starts[i] + counts[i]]` (numba only)."""
    for i in range(len(starts)):
        s = starts[i]
        h = _HASH_SEED * np.uint64(counts[i] + 1)
        for j in range(counts[i]):
            h = (h ^ np.uint64(words[s + j])) * _HASH_MUL
            h ^= h >> _HASH_SHIFT
        out[i] = h


def _dedup_rows_kernel(
    words: Any, starts: Any, counts: Any, hashes: Any, slots: Any, local: Any, reps: Any
) -> int:
    """Each array's number among the distinct arrays, in order of first occurrence (numba
    only): an open-addressing table over the hashes (linear probing, at most half full), every
    match confirmed value by value. Returns how many are distinct; `reps[:k]` are their first
    occurrences."""
    mask = len(slots) - 1
    k = 0
    for i in range(len(starts)):
        h = hashes[i]
        pos = np.int64(h & np.uint64(mask))
        while True:
            r = slots[pos]
            if r < 0:
                slots[pos] = i
                local[i] = k
                reps[k] = i
                k += 1
                break
            if hashes[r] == h and counts[r] == counts[i]:
                a = starts[i]
                b = starts[r]
                same = True
                for j in range(counts[i]):
                    if words[a + j] != words[b + j]:
                        same = False
                        break
                if same:
                    local[i] = local[r]
                    break
            pos = (pos + 1) & mask
    return k


def _gather_arrays_kernel(
    words: Any, starts: Any, counts: Any, rows: Any, offsets: Any, out: Any
) -> None:
    """The arrays `rows` one after another into `out` at `offsets` (numba only)."""
    for t in range(len(rows)):
        s = starts[rows[t]]
        o = offsets[t]
        for j in range(counts[rows[t]]):
            out[o + j] = words[s + j]


_hash_rows = jit.kernel(_hash_rows_kernel)
_dedup_rows = jit.kernel(_dedup_rows_kernel)
_gather_arrays = jit.kernel(_gather_arrays_kernel)


def _distinct_by_kernels(
    data: np.ndarray, starts: np.ndarray, counts: np.ndarray, pointer_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`distinct_pointer_arrays` with the numba kernels: one pass to hash each array where it
    lies in the batch, one to number the distinct ones through a hash table, one to copy them
    out. None when the kernels are not available or an array is not aligned to its pointer
    size (then numpy does it)."""
    if _hash_rows is None or _dedup_rows is None or _gather_arrays is None:
        return None
    if (starts % pointer_size).any():
        return None
    words = np.ascontiguousarray(data)[: len(data) - len(data) % pointer_size]
    words = words.view(f"<u{pointer_size}")
    at = starts // pointer_size
    n = len(starts)
    hashes = np.empty(n, dtype=np.uint64)
    _hash_rows(words, at, counts, hashes)
    slots = np.full(1 << max(int(2 * n).bit_length(), 4), -1, dtype=np.int64)
    local = np.empty(n, dtype=np.int64)
    reps = np.empty(n, dtype=np.int64)
    k = int(_dedup_rows(words, at, counts, hashes, slots, local, reps))
    del slots, hashes
    rows = reps[:k]
    offsets = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(counts[rows], out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=np.uint64)
    _gather_arrays(words, at, counts, rows, offsets, flat)
    return local, flat, offsets


def distinct_pointer_arrays(
    data: np.ndarray, starts: np.ndarray, counts: np.ndarray, pointer_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointer arrays of varying length, de-duplicated: (index, flat, offsets).

    `flat` and `offsets` (CSR, len k+1) hold the k distinct arrays; `index[i]` is the one that
    record i has. Call stacks repeat heavily (a call site allocates thousands of times), so
    rows of one length are read as a matrix, grouped by a row hash and confirmed equal to their
    group's first row value by value; only distinct rows are kept. A hash collision is resolved
    exactly, row by row.
    """
    counts = counts.astype(np.int64)
    fast = _distinct_by_kernels(data, starts.astype(np.int64), counts, pointer_size)
    if fast is not None:
        return fast
    n = len(counts)
    index = np.empty(n, dtype=np.int64)
    distinct: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    found = 0
    for count in np.unique(counts).tolist():
        sel = np.flatnonzero(counts == count)
        if count == 0:
            index[sel] = found
            distinct.append(np.zeros(0, dtype=np.uint64))
            lengths.append(np.zeros(1, dtype=np.int64))
            found += 1
            continue
        m = _pointer_rows(data, starts[sel], count, pointer_size)
        _, first, inverse = np.unique(_row_hashes(m), return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        local = inverse.copy()
        rows = [m[first]]
        differ = np.flatnonzero((m != m[first[inverse]]).any(axis=1))
        if len(differ):  # hash collisions: exact identity by the row's bytes
            extra: dict[bytes, int] = {}
            for r in differ.tolist():
                key = m[r].tobytes()
                if key not in extra:
                    extra[key] = len(first) + len(extra)
                    rows.append(m[r : r + 1])
                local[r] = extra[key]
        block = np.concatenate(rows) if len(rows) > 1 else rows[0]
        index[sel] = found + local
        distinct.append(block.reshape(-1))
        lengths.append(np.full(len(block), count, dtype=np.int64))
        found += len(block)
    offsets = np.zeros(found + 1, dtype=np.int64)
    if found:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    flat = np.concatenate(distinct) if distinct else np.zeros(0, dtype=np.uint64)
    return index, flat.astype(np.uint64, copy=False), offsets


def read_wstr(data: np.ndarray, start: int, end: int) -> str:
    """A NUL-terminated UTF-16LE string in data[start:end]; a missing terminator ends at `end`."""
    raw = data[start:end].tobytes()
    return raw[: len(raw) & ~1].decode("utf-16-le", errors="replace").split("\0", 1)[0]


def read_astr(data: np.ndarray, start: int, end: int) -> str:
    raw = data[start:end].tobytes()
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _tails(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, fixed: int, kind: str
) -> list[str]:
    read = read_wstr if kind == "wstr" else read_astr
    return [read(data, int(s) + fixed, int(s) + int(n)) for s, n in zip(starts, sizes, strict=True)]


# --- decoders ---------------------------------------------------------------------------------


def _pool(session: bool) -> DecodeFn:
    layout = P.POOL_SESSION if session else P.POOL

    def decode(
        data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
    ) -> Columns:
        rec, ok = gather_fixed(layout, data, starts, sizes, ps)
        return {
            "ok": ok,
            "pool_type": rec["PoolType"],
            "tag": rec["Tag"],
            "size_bytes": rec["NumberOfBytes"].astype(np.int64),
            "address": rec["Entry"].astype(np.uint64),
            "session_id": (
                rec["SessionId"].astype(np.int64) if session else np.full(len(rec), -1, np.int64)
            ),
        }

    return decode


def _decode_image_as(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> dict[str, np.ndarray | list]:
    """Image payloads read with pointer size `ps`; `fits`: the name ends exactly at the end."""
    n = len(starts)
    out: dict[str, np.ndarray | list] = {
        "ok": np.zeros(n, dtype=bool),
        "fits": np.zeros(n, dtype=bool),
        "base": np.zeros(n, dtype=np.uint64),
        "size": np.zeros(n, dtype=np.int64),
        "process_id": np.full(n, -1, dtype=np.int64),
        "checksum": np.zeros(n, dtype=np.int64),
        "time_date_stamp": np.zeros(n, dtype=np.int64),
        "file_name": [""] * n,
    }
    vers = np.minimum(version.astype(np.int64), 3)
    for v in np.unique(vers):
        layout = P.IMAGE_BY_VERSION[int(v)]
        sel = np.flatnonzero(vers == v)
        rec, good = gather_fixed(layout, data, starts[sel], sizes[sel], ps)
        sel = sel[good]
        out["ok"][sel] = True  # type: ignore[index]
        out["base"][sel] = rec["ImageBase"]  # type: ignore[index]
        out["size"][sel] = rec["ImageSize"]  # type: ignore[index]
        fields = rec.dtype.names or ()
        if "ProcessId" in fields:
            out["process_id"][sel] = rec["ProcessId"]  # type: ignore[index]
        if "ImageChecksum" in fields:
            out["checksum"][sel] = rec["ImageChecksum"]  # type: ignore[index]
            out["time_date_stamp"][sel] = rec["TimeDateStamp"]  # type: ignore[index]
        fixed = layout.fixed_size(ps)
        names = _tails(data, starts[sel], sizes[sel], fixed, "wstr")
        for i, name in zip(sel.tolist(), names, strict=True):
            out["file_name"][i] = name  # type: ignore[index]
            out["fits"][i] = fixed + 2 * len(name) + 2 == int(sizes[i])  # type: ignore[index]
    return out


def decode_image(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    """Image Load/UnLoad/DCStart/DCEnd, versions 0–3 (later versions read as 3).

    The header type normally gives the pointer size, but some writers put 64-bit payloads under
    32-bit headers (Sawbuck's test files do). The file name ends the payload, so when it does
    not end exactly at the payload's end with the header's pointer size but does with the
    other, the other is right.
    """
    cols = _decode_image_as(data, starts, sizes, ps, version)
    wrong = np.flatnonzero(~np.asarray(cols["fits"]))
    if len(wrong):
        alt = _decode_image_as(data, starts[wrong], sizes[wrong], 12 - ps, version[wrong])
        use = np.flatnonzero(np.asarray(alt["fits"]))
        for key, value in alt.items():
            if isinstance(value, list):
                for j in use.tolist():
                    cols[key][wrong[j]] = value[j]  # type: ignore[index]
            else:
                cols[key][wrong[use]] = value[use]  # type: ignore[index]
    ok = np.asarray(cols.pop("ok"))
    cols.pop("fits")
    keep = np.flatnonzero(ok)
    result: Columns = {"ok": ok}
    for key, value in cols.items():
        result[key] = [value[i] for i in keep] if isinstance(value, list) else value[keep]
    return result


def decode_stack_walk(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.STACK_WALK, data, starts, sizes, ps)
    fixed = P.STACK_WALK.fixed_size(ps)
    counts = (sizes[ok].astype(np.int64) - fixed) // ps
    index, frames, offsets = distinct_pointer_arrays(data, starts[ok] + fixed, counts, ps)
    return {
        "ok": ok,
        "event_timestamp": rec["EventTimeStamp"].astype(np.int64),
        "stack_process": rec["StackProcess"].astype(np.int64),
        "stack_thread": rec["StackThread"].astype(np.int64),
        "stack_index": index,
        "frames": frames,
        "frame_offsets": offsets,
    }


def decode_stack_key_ref(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.STACK_KEY_REF, data, starts, sizes, ps)
    return {
        "ok": ok,
        "event_timestamp": rec["EventTimeStamp"].astype(np.int64),
        "stack_process": rec["StackProcess"].astype(np.int64),
        "stack_thread": rec["StackThread"].astype(np.int64),
        "key": rec["StackKey"].astype(np.uint64),
    }


def decode_stack_definition(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.STACK_DEFINITION, data, starts, sizes, ps)
    fixed = P.STACK_DEFINITION.fixed_size(ps)
    counts = (sizes[ok].astype(np.int64) - fixed) // ps
    index, frames, offsets = distinct_pointer_arrays(data, starts[ok] + fixed, counts, ps)
    return {
        "ok": ok,
        "key": rec["StackKey"].astype(np.uint64),
        "stack_index": index,
        "frames": frames,
        "frame_offsets": offsets,
    }


def decode_file_name(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.FILE_NAME, data, starts, sizes, ps)
    fixed = P.FILE_NAME.fixed_size(ps)
    return {
        "ok": ok,
        "file_object": rec["FileObject"].astype(np.uint64),
        "file_name": _tails(data, starts[ok], sizes[ok], fixed, "wstr"),
    }


def decode_image_id(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.IMAGE_ID, data, starts, sizes, ps)
    fixed = P.IMAGE_ID.fixed_size(ps)
    return {
        "ok": ok,
        "base": rec["ImageBase"].astype(np.uint64),
        "size": rec["ImageSize"].astype(np.int64),
        "process_id": rec["ProcessId"].astype(np.int64),
        "time_date_stamp": rec["TimeDateStamp"].astype(np.int64),
        "file_name": _tails(data, starts[ok], sizes[ok], fixed, "wstr"),
    }


def decode_dbgid(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.DBGID_RSDS, data, starts, sizes, ps)
    fixed = P.DBGID_RSDS.fixed_size(ps)
    return {
        "ok": ok,
        "base": rec["ImageBase"].astype(np.uint64),
        "process_id": rec["ProcessId"].astype(np.int64),
        "pdb_guid": [str(uuid.UUID(bytes_le=g.tobytes())) for g in rec["GuidSig"]],
        "pdb_age": rec["Age"].astype(np.int64),
        "pdb_name": _tails(data, starts[ok], sizes[ok], fixed, "astr"),
    }


def _memory_page(marker: bool) -> DecodeFn:
    """Memory-group page events (`P.MEMORY_PAGE`, with `P.MEMORY_PAGE_VA` when long enough).

    With `marker`, an empty payload is a valid record without a page (the 0x0284/0x0285
    rundowns, which TraceEvent knows only as empty events); any other payload shorter than a
    page record is malformed. Columns hold one row per valid record; `page` says which rows
    carry a page. `key` and `virtual_address` have their low 2 bits (flags) masked.
    """

    def decode(
        data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
    ) -> Columns:
        rec, fits = gather_fixed(P.MEMORY_PAGE, data, starts, sizes, ps)
        ok = fits | (sizes == 0) if marker else fits
        page = fits[ok]
        n = int(ok.sum())
        flags = np.zeros(n, dtype=np.uint64)
        frame = np.zeros(n, dtype=np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        va = np.zeros(n, dtype=np.uint64)
        flags[page] = rec["Flags"]
        frame[page] = rec["PageFrameIndex"]
        key[page] = rec["PageKey"]
        long_ = sizes[ok] >= P.MEMORY_PAGE_VA.fixed_size(ps)
        if long_.any():
            rec_va, _ = gather_fixed(
                P.MEMORY_PAGE_VA, data, starts[ok][long_], sizes[ok][long_], ps
            )
            va[long_] = rec_va["VirtualAddress"]
        low = ~np.uint64(3)
        return {
            "ok": ok,
            "page": page,
            "kind": (flags & np.uint64(0xF)).astype(np.uint8),
            "page_list": ((flags >> np.uint64(4)) & np.uint64(7)).astype(np.uint8),
            "frame": frame,
            "key": key & low,
            "virtual_address": va & low,
        }

    return decode


def decode_sysconfig_cpu(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ps: int, version: np.ndarray
) -> Columns:
    rec, ok = gather_fixed(P.SYSCONFIG_CPU, data, starts, sizes, ps)
    return {
        "ok": ok,
        "memory_mb": rec["MemSize"].astype(np.int64),
        "page_size": rec["PageSize"].astype(np.int64),
    }


# --- dispatch ---------------------------------------------------------------------------------

_pool_alloc = _pool(False)
_pool_alloc_session = _pool(True)

DECODERS: dict[EventKey, Decoder] = {
    0x0000: Decoder("logfile header"),
    HOOK_POOL_ALLOC: Decoder("pool alloc", "pool_alloc", _pool_alloc),
    HOOK_POOL_ALLOC_SESSION: Decoder("pool session alloc", "pool_alloc", _pool_alloc_session),
    HOOK_POOL_FREE: Decoder("pool free", "pool_free", _pool_alloc),
    HOOK_POOL_FREE_SESSION: Decoder("pool session free", "pool_free", _pool_alloc_session),
    0x0E24: Decoder("pool add page"),
    0x0E25: Decoder("pool add page session"),
    0x0E26: Decoder("big pool page"),
    0x0E27: Decoder("big pool page session"),
    0x0E28: Decoder("pool snapshot start"),
    0x0E29: Decoder("pool snapshot end"),
    0x0E2A: Decoder("big pool snapshot start"),
    0x0E2B: Decoder("big pool snapshot end"),
    0x0E2C: Decoder("session pool snapshot start"),
    0x0E2D: Decoder("session pool snapshot end"),
    0x0E2E: Decoder("session big pool snapshot start"),
    0x0E2F: Decoder("session big pool snapshot end"),
    HOOK_IMAGE_LOAD: Decoder("image load", "image", decode_image),
    HOOK_IMAGE_LOAD_IMAGE_GROUP: Decoder("image load", "image", decode_image),
    HOOK_IMAGE_UNLOAD: Decoder("image unload", "image", decode_image),
    HOOK_IMAGE_DC_START: Decoder("image rundown start", "image", decode_image),
    HOOK_IMAGE_DC_END: Decoder("image rundown end", "image", decode_image),
    0x1421: Decoder("image kernel base"),
    0x1422: Decoder("image hypercall page"),
    HOOK_STACK_WALK: Decoder("stack walk", "stack", decode_stack_walk),
    0x1822: Decoder("stack key create", "stack_definition", decode_stack_definition),
    0x1823: Decoder("stack key delete", "stack_definition", decode_stack_definition),
    0x1824: Decoder("stack key rundown", "stack_definition", decode_stack_definition),
    HOOK_STACK_KEY_KERNEL: Decoder("stack key kernel", "stack_ref", decode_stack_key_ref),
    HOOK_STACK_KEY_USER: Decoder("stack key user", "stack_ref", decode_stack_key_ref),
    HOOK_PAGE_IN_MEMORY: Decoder("page in memory", "memory_page", _memory_page(False)),
    HOOK_PAGE_IN_MEMORY_ACTIVE: Decoder(
        "page in memory active", "memory_page", _memory_page(False)
    ),
    HOOK_PAGE_ACCESS: Decoder("page access", "memory_page", _memory_page(False)),
    HOOK_PAGE_ACCESS_EX: Decoder("page access ex", "memory_page", _memory_page(False)),
    HOOK_WS_SHAREABLE_RUNDOWN: Decoder(
        "shareable working set rundown", "memory_page", _memory_page(True)
    ),
    HOOK_IN_MEMORY_ACTIVE_RUNDOWN: Decoder(
        "in-memory active rundown", "memory_page", _memory_page(True)
    ),
    HOOK_MEMINFO: Decoder("memory info"),
    HOOK_SYSCONFIG_CPU: Decoder("system config cpu", "sysconfig_cpu", decode_sysconfig_cpu),
    0x0301: Decoder("process start"),
    0x0302: Decoder("process end"),
    0x0303: Decoder("process rundown start"),
    0x0304: Decoder("process rundown end"),
    0x0501: Decoder("thread start"),
    0x0502: Decoder("thread end"),
    0x0503: Decoder("thread rundown start"),
    0x0504: Decoder("thread rundown end"),
    HOOK_FILE_NAME_RUNDOWN: Decoder("file name rundown", "file_name", decode_file_name),
    (KERNEL_TRACE_CONTROL, OPCODE_IMAGE_ID): Decoder("image id", "image_id", decode_image_id),
    (KERNEL_TRACE_CONTROL, OPCODE_DBGID_RSDS): Decoder("image pdb id", "dbgid", decode_dbgid),
}

_GUID_TO_GROUP = {g: group for group, g in L.KERNEL_GROUP_GUIDS.items()}
_GUID_HEADER_TYPES = (L.HT_FULL_HEADER32, L.HT_FULL_HEADER64, L.HT_INSTANCE32, L.HT_INSTANCE64)
# Non-kernel codes live above the 16-bit hook range: 1<<16 | guid_index<<8 | opcode.
_GUID_CODE_BASE = 1 << 16
_UNDECODABLE = -1


def event_codes(
    header_type: np.ndarray, hook_id: np.ndarray, guid_index: np.ndarray, guids: list[uuid.UUID]
) -> tuple[np.ndarray, dict[int, EventKey]]:
    """One int64 code per record and the map from codes to `DECODERS` keys.

    Kernel headers give their hook id. EVENT_TRACE_HEADER records whose GUID is a kernel group's
    become that group's hook (Sawbuck's Win7-era files log kernel Image events that way); other
    GUID records get a code per (GUID, opcode). EVENT_HEADER records have no opcode in the batch
    and nothing here decodes them: they get code -1.
    """
    codes = np.full(len(header_type), _UNDECODABLE, dtype=np.int64)
    kernel = np.isin(header_type, list(L.KERNEL_HEADER_TYPES))
    codes[kernel] = hook_id[kernel]
    keys: dict[int, EventKey] = {}
    guided = np.isin(header_type, _GUID_HEADER_TYPES) & (guid_index >= 0)
    if guided.any():
        opcode = hook_id.astype(np.int64) & 0xFF
        gcode = _GUID_CODE_BASE + guid_index.astype(np.int64) * 256 + opcode
        for code in np.unique(gcode[guided]):
            gi, op = divmod(int(code) - _GUID_CODE_BASE, 256)
            guid = guids[gi]
            group = _GUID_TO_GROUP.get(guid)
            if group is not None:
                hook = group << 8 | op
                if hook == HOOK_IMAGE_LOAD_IMAGE_GROUP:
                    hook = HOOK_IMAGE_LOAD
                codes[guided & (gcode == code)] = hook
            else:
                keys[int(code)] = (guid, op)
        codes[guided & (codes == _UNDECODABLE)] = gcode[guided & (codes == _UNDECODABLE)]
    return codes, keys


def key_for_code(code: int, guid_keys: dict[int, EventKey]) -> EventKey | None:
    if code == _UNDECODABLE:
        return None
    if code < _GUID_CODE_BASE:
        return code
    return guid_keys.get(code)


def group_indices(codes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(code, record indices in record order) for each distinct code."""
    if len(codes) == 0:
        return []
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    uniq, first = np.unique(sorted_codes, return_index=True)
    return list(zip(uniq.tolist(), np.split(order, first[1:]), strict=True))


def event_name(key: EventKey) -> str:
    """A readable name for an event key, known or not: 'pool alloc (0x0e20)'."""
    dec = DECODERS.get(key)
    if isinstance(key, int):
        label = dec.name if dec else L.KERNEL_GROUP_NAMES.get(key >> 8, "kernel")
        return f"{label} (0x{key:04x})"
    guid, op = key
    label = dec.name if dec else str(guid)
    return f"{label} ({{{guid}}} opcode {op})"
