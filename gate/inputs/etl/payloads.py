"""Kernel event payload layouts, declared once for both pointer sizes.

Every layout lists its fixed fields in order; MOF payloads are packed (no alignment padding), so
offsets follow from the field sizes, with pointer-sized fields (`SIZE_T`, `PVOID`) 4 or 8 bytes
as the record's header type says. A layout may end in a variable tail: a NUL-terminated UTF-16LE
or ANSI string, or an array of pointers. Source tags name where each layout comes from (see
`etl-format.md` §7); the decoder (`gate.inputs.etl.decode`) and the synthetic writer
(`gate.synthetic.etl`) both use these declarations, so a layout mistake cannot hide in one of
them alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["u1", "u2", "u4", "u8", "ptr", "guid"]
Tail = Literal["wstr", "astr", "ptrs"] | None

_FIXED_SIZES = {"u1": 1, "u2": 2, "u4": 4, "u8": 8, "guid": 16}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind

    def size(self, pointer_size: int) -> int:
        return pointer_size if self.kind == "ptr" else _FIXED_SIZES[self.kind]

    def dtype(self, pointer_size: int) -> np.dtype | tuple:
        if self.kind == "guid":
            return ("u1", (16,))
        if self.kind == "ptr":
            return np.dtype(f"<u{pointer_size}")
        return np.dtype(f"<{self.kind}")


@dataclass(frozen=True)
class Layout:
    """One payload layout: fixed fields in order, then an optional variable tail."""

    name: str
    source: str
    fields: tuple[Field, ...]
    tail: Tail = None
    tail_name: str = ""

    def offset(self, name: str, pointer_size: int) -> int:
        off = 0
        for f in self.fields:
            if f.name == name:
                return off
            off += f.size(pointer_size)
        if name == self.tail_name and self.tail is not None:
            return off
        raise KeyError(f"{self.name} has no field {name!r}")

    def fixed_size(self, pointer_size: int) -> int:
        return sum(f.size(pointer_size) for f in self.fields)

    def dtype(self, pointer_size: int) -> np.dtype:
        """Packed little-endian structured dtype of the fixed part."""
        _check_pointer_size(pointer_size)
        names, formats, offsets = [], [], []
        off = 0
        for f in self.fields:
            names.append(f.name)
            formats.append(f.dtype(pointer_size))
            offsets.append(off)
            off += f.size(pointer_size)
        return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": off})


def _check_pointer_size(pointer_size: int) -> None:
    if pointer_size not in (4, 8):
        raise ValueError(f"pointer size must be 4 or 8, got {pointer_size}")


def _f(spec: str) -> tuple[Field, ...]:
    """'Name:kind Name:kind' → fields; keeps the declarations below one line per layout."""
    out = []
    for item in spec.split():
        name, kind = item.split(":")
        out.append(Field(name, kind))  # type: ignore[arg-type]
    return tuple(out)


# --- Pool (group 0x0E) ------------------------------------------------------------------------

# ETW_POOL_EVENT [NTWMI]; x64 24 bytes, x86 16 bytes.
POOL = Layout(
    "ETW_POOL_EVENT", "NTWMI ETW_POOL_EVENT", _f("PoolType:u4 Tag:u4 NumberOfBytes:ptr Entry:ptr")
)
# Session variants carry a trailing SessionId [DISSECT pool manifest]; NTWMI's struct lacks it.
POOL_SESSION = Layout(
    "ETW_POOL_EVENT+SessionId",
    "DISSECT pool manifest (TDH-derived)",
    _f("PoolType:u4 Tag:u4 NumberOfBytes:ptr Entry:ptr SessionId:u4"),
)

# --- Image (group 0x14, Load under the Process group as 0x030A) -------------------------------

IMAGE_V0 = Layout(
    "Image_Load_V0",
    "DISSECT image manifest",
    _f("ImageBase:ptr ImageSize:u4"),
    "wstr",
    "FileName",
)
IMAGE_V1 = Layout(
    "Image_Load_V1",
    "DISSECT image manifest",
    _f("ImageBase:ptr ImageSize:ptr ProcessId:u4"),
    "wstr",
    "FileName",
)
IMAGE_V2 = Layout(
    "Image_Load_V2",
    "DISSECT image manifest",
    _f(
        "ImageBase:ptr ImageSize:ptr ProcessId:u4 ImageChecksum:u4 TimeDateStamp:u4 "
        "Reserved0:u4 DefaultBase:ptr Reserved1:u4 Reserved2:u4 Reserved3:u4 Reserved4:u4"
    ),
    "wstr",
    "FileName",
)
# WMI_IMAGELOAD_INFORMATION [NTWMI][SNAIL image.hpp]: v2 with Reserved0 split into signature bytes.
IMAGE_V3 = Layout(
    "Image_Load_V3",
    "NTWMI WMI_IMAGELOAD_INFORMATION",
    _f(
        "ImageBase:ptr ImageSize:ptr ProcessId:u4 ImageChecksum:u4 TimeDateStamp:u4 "
        "SignatureLevel:u1 SignatureType:u1 Reserved0:u2 DefaultBase:ptr "
        "Reserved1:u4 Reserved2:u4 Reserved3:u4 Reserved4:u4"
    ),
    "wstr",
    "FileName",
)
IMAGE_BY_VERSION = {0: IMAGE_V0, 1: IMAGE_V1, 2: IMAGE_V2, 3: IMAGE_V3}

# --- StackWalk (group 0x18) -------------------------------------------------------------------

# STACK_WALK_EVENT_DATA [MS-SW][NTWMI]: frames follow, count = (size - 16) / P.
STACK_WALK = Layout(
    "StackWalk_Event",
    "MS-SW stackwalk-event; NTWMI STACK_WALK_EVENT_DATA",
    _f("EventTimeStamp:u8 StackProcess:u4 StackThread:u4"),
    "ptrs",
    "Stack",
)
# Stack-cache reference 0x1825 (kernel part) / 0x1826 (user part) [SNAIL][TE StackWalkRefTraceData].
STACK_KEY_REF = Layout(
    "StackWalk_Key",
    "SNAIL stackwalk_v2_key_event_view; TE StackWalkRefTraceData",
    _f("EventTimeStamp:u8 StackProcess:u4 StackThread:u4 StackKey:ptr"),
)
# Stack-cache definitions 0x1822 create / 0x1823 delete / 0x1824 rundown [SNAIL][ZHENTAR].
STACK_DEFINITION = Layout(
    "StackWalk_KeyDefinition",
    "SNAIL stackwalk_v2_type_group1_event_view; ZHENTAR stack caching",
    _f("StackKey:ptr"),
    "ptrs",
    "Stack",
)

# --- Others -----------------------------------------------------------------------------------

# FileIo name rundown 0x0424 PERFINFO_LOG_TYPE_FILENAME_RUNDOWN [NTWMI][DISSECT].
FILE_NAME = Layout(
    "FileIo_Name", "NTWMI FILENAME_RUNDOWN", _f("FileObject:ptr"), "wstr", "FileName"
)
# KernelTraceControl {b3e675d7-2554-4f18-830b-2762732560de} opcode 0 [SNAIL image_id.hpp].
IMAGE_ID = Layout(
    "KernelTraceControl_ImageId",
    "SNAIL image_id.hpp",
    _f("ImageBase:ptr ImageSize:ptr ProcessId:u4 TimeDateStamp:u4"),
    "wstr",
    "OriginalFileName",
)
# KernelTraceControl opcode 36 DbgID_RSDS [SNAIL image_id.hpp].
DBGID_RSDS = Layout(
    "KernelTraceControl_DbgID_RSDS",
    "SNAIL image_id.hpp",
    _f("ImageBase:ptr ProcessId:u4 GuidSig:guid Age:u4"),
    "astr",
    "PdbFileName",
)

# --- Memory pages (group 0x02) and system configuration ---------------------------------------

# One physical page, as TraceEvent decodes PageInMemory 0x0223, InMemoryActive 0x0275 and
# PageAccess 0x0276/0x0282 (one layout for all four) [TE MemoryPageAccessTraceData]; TraceEvent's
# own comment says it "easily may not be correct", and no public trace checks it.
# Flags (8 bytes on both pointer sizes): bits 0-3 page kind (MMPFNUSE_*), bits 4-6 page list
# (MMPFNLIST_*), the packing of the kernel's MEMORY_FRAME_INFORMATION [PHNT ntmmapi.h]; bit 7
# (Cold) and bit 8 (Pinned) there are not read.
# PageKey: for File/MetaFile pages the FILE_OBJECT (low 2 bits are flags, masked), the key of the
# FileIo name events; for other kinds the virtual address. x64 24 bytes, x86 16 bytes.
MEMORY_PAGE = Layout(
    "Memory_Page", "TE MemoryPageAccessTraceData", _f("Flags:u8 PageFrameIndex:ptr PageKey:ptr")
)
# The longer variant TraceEvent also accepts (x64 32 bytes, x86 20 bytes): File/MetaFile pages
# then carry their virtual address after the key [TE MemoryPageAccessTraceData].
MEMORY_PAGE_VA = Layout(
    "Memory_Page+VirtualAddress",
    "TE MemoryPageAccessTraceData",
    _f("Flags:u8 PageFrameIndex:ptr PageKey:ptr VirtualAddress:ptr"),
)
# WSSHAREABLE_RUNDOWN 0x0284 and INMEMORYACTIVE_RUNDOWN 0x0285 [NTWMI] have no published payload:
# TraceEvent gives them an empty template. The reader treats an empty payload as a rundown marker
# and a page-sized one as MEMORY_PAGE(_VA) [inferred from the names: rundowns of pages].

# SystemConfig CPU 0x0B0A, the fixed head of it [TE SystemConfigCPUTraceData]: MemSize in MB,
# PageSize in bytes. The computer and domain names that follow are not read.
SYSCONFIG_CPU = Layout(
    "SystemConfig_CPU",
    "TE SystemConfigCPUTraceData",
    _f("MHz:u4 NumberOfProcessors:u4 MemSize:u4 PageSize:u4 AllocationGranularity:u4"),
)

LAYOUTS: tuple[Layout, ...] = (
    POOL,
    POOL_SESSION,
    IMAGE_V0,
    IMAGE_V1,
    IMAGE_V2,
    IMAGE_V3,
    STACK_WALK,
    STACK_KEY_REF,
    STACK_DEFINITION,
    FILE_NAME,
    IMAGE_ID,
    DBGID_RSDS,
    MEMORY_PAGE,
    MEMORY_PAGE_VA,
    SYSCONFIG_CPU,
)

# --- Encoding (used by the synthetic writer and by tests) -------------------------------------


def encode_fixed(layout: Layout, pointer_size: int, n: int, **values: object) -> np.ndarray:
    """The fixed parts of `n` payloads as an (n, fixed_size) uint8 array.

    Values are scalars or length-n arrays; fields not given are zero. Vectorized so that the
    synthetic writer can build millions of pool payloads without a Python loop.
    """
    dt = layout.dtype(pointer_size)
    unknown = set(values) - set(dt.names or ())
    if unknown:
        raise KeyError(f"{layout.name} has no field(s) {sorted(unknown)}")
    rec = np.zeros(n, dtype=dt)
    for name, value in values.items():
        rec[name] = value
    return rec.view(np.uint8).reshape(n, dt.itemsize)


def encode_tail(
    layout: Layout, value: str | Sequence[int] | np.ndarray, pointer_size: int
) -> bytes:
    if layout.tail == "wstr":
        assert isinstance(value, str)
        return value.encode("utf-16-le") + b"\0\0"
    if layout.tail == "astr":
        assert isinstance(value, str)
        return value.encode("latin-1") + b"\0"
    if layout.tail == "ptrs":
        return np.asarray(value, dtype=np.uint64).astype(f"<u{pointer_size}").tobytes()
    raise ValueError(f"{layout.name} has no variable tail")


def encode(
    layout: Layout,
    pointer_size: int,
    tail: str | Sequence[int] | np.ndarray | None = None,
    **values: object,
) -> bytes:
    """One payload: the fixed fields, then the tail (string or frame addresses) if any."""
    if "GuidSig" in values and isinstance(values["GuidSig"], (str, uuid.UUID)):
        values["GuidSig"] = np.frombuffer(guid_bytes(values["GuidSig"]), np.uint8)
    out = encode_fixed(layout, pointer_size, 1, **values).tobytes()
    if tail is not None:
        out += encode_tail(layout, tail, pointer_size)
    elif layout.tail in ("wstr", "astr"):
        out += encode_tail(layout, "", pointer_size)
    return out


def guid_bytes(guid: str | uuid.UUID) -> bytes:
    """A GUID as Windows stores it (first three fields little-endian)."""
    return (guid if isinstance(guid, uuid.UUID) else uuid.UUID(guid)).bytes_le


def encode_tags(tags: Sequence[str] | np.ndarray) -> np.ndarray:
    """Pool tags as the u32 the kernel logs: first character in the lowest byte.

    Short tags are padded with blanks, as Windows tags such as 'Fat ' are; the reader strips them.
    """
    arr = np.asarray(tags, dtype=object)
    uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    values = np.empty(len(uniq), dtype=np.uint32)
    for i, tag in enumerate(uniq):
        raw = str(tag).encode("latin-1")
        if len(raw) > 4:
            raise ValueError(f"pool tag {tag!r} is longer than 4 characters")
        values[i] = int.from_bytes(raw.ljust(4, b" "), "little")
    return values[inverse.reshape(-1)]


def decode_tags(values: np.ndarray) -> np.ndarray:
    """u32 tags → strings (object array), trailing NULs and blanks removed.

    Only the distinct tags are decoded in Python; a trace has a few thousand at most.
    """
    values = np.asarray(values, dtype=np.uint32)
    if len(values) == 0:
        return np.zeros(0, dtype=object)
    uniq, inverse = np.unique(values, return_inverse=True)
    names = np.array(
        [int(v).to_bytes(4, "little").decode("latin-1").rstrip("\0 ") for v in uniq],
        dtype=object,
    )
    return names[inverse.reshape(-1)]
