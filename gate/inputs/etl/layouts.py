"""Binary layouts of the `.etl` container, declared once.

Every structure the reader parses and the writer produces is a `Layout`: a table of fields with
offset, size, kind and the source the fact comes from (tags as in the reference's source list:
[NTWMI] ntwmi.h, [GC-WBH] WMI_BUFFER_HEADER notes, [MS-TLH] TRACE_LOGFILE_HEADER docs,
[VERG] 32-bit offsets, [ETLP] and [SNAIL] reader projects, [GC-HOOK] hook ids, [measured]).
From that one table derive the numpy structured dtype (vectorized reads) and the `struct.Struct`
(single reads and the writer's `pack_into`), so reader and writer cannot drift apart.

All integers are little-endian. Offsets are relative to the start of the structure.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

# kind -> (struct code, numpy dtype string); "guid" and "bytes" are raw byte ranges.
_KINDS: dict[str, tuple[str, str]] = {
    "u1": ("B", "u1"),
    "u2": ("H", "<u2"),
    "u4": ("I", "<u4"),
    "u8": ("Q", "<u8"),
    "i4": ("i", "<i4"),
    "i8": ("q", "<i8"),
}


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    size: int
    kind: str  # u1 u2 u4 u8 i4 i8 guid bytes
    source: str = ""


class Layout:
    """A fixed-size structure: named fields at fixed offsets.

    `dtype` reads many instances at once with numpy; `struct`/`unpack`/`pack_into` handle one.
    Gaps between fields are padding the writer leaves zero.
    """

    def __init__(self, name: str, size: int, fields: list[Field]) -> None:
        self.name = name
        self.size = size
        self.fields = tuple(sorted(fields, key=lambda f: f.offset))
        self.by_name = {f.name: f for f in self.fields}
        fmt = ["<"]
        pos = 0
        for f in self.fields:
            if f.offset < pos:
                raise ValueError(f"{name}.{f.name} overlaps the previous field")
            if f.offset > pos:
                fmt.append(f"{f.offset - pos}x")
            if f.kind in _KINDS:
                code = _KINDS[f.kind][0]
                if struct.calcsize("<" + code) != f.size:
                    raise ValueError(f"{name}.{f.name}: size {f.size} does not fit kind {f.kind}")
                fmt.append(code)
            else:
                fmt.append(f"{f.size}s")
            pos = f.offset + f.size
        if pos > size:
            raise ValueError(f"{name}: fields end at {pos:#x}, past size {size:#x}")
        if size > pos:
            fmt.append(f"{size - pos}x")
        self.struct = struct.Struct("".join(fmt))
        self.names = tuple(f.name for f in self.fields)
        self.dtype = np.dtype(
            {
                "names": list(self.names),
                "formats": [
                    _KINDS[f.kind][1] if f.kind in _KINDS else f"V{f.size}" for f in self.fields
                ],
                "offsets": [f.offset for f in self.fields],
                "itemsize": size,
            }
        )

    def unpack(self, buf: bytes | bytearray | memoryview, offset: int = 0) -> dict[str, Any]:
        """Decode one instance; raises struct.error when `buf` is too short (callers wrap it)."""
        return dict(zip(self.names, self.struct.unpack_from(buf, offset), strict=True))

    def pack_into(self, buf: bytearray | memoryview, offset: int, **values: Any) -> None:
        """Encode one instance; fields not given are written as zero."""
        args = []
        for f in self.fields:
            v = values.pop(f.name, None)
            if v is None:
                v = 0 if f.kind in _KINDS else b""
            elif isinstance(v, uuid.UUID):
                v = v.bytes_le
            args.append(v)
        if values:
            raise TypeError(f"{self.name}: unknown fields {sorted(values)}")
        self.struct.pack_into(buf, offset, *args)

    def pack(self, **values: Any) -> bytes:
        out = bytearray(self.size)
        self.pack_into(out, 0, **values)
        return bytes(out)

    def offset_of(self, name: str) -> int:
        return self.by_name[name].offset


def _f(name: str, offset: int, size: int, kind: str, source: str) -> Field:
    return Field(name, offset, size, kind, source)


# --------------------------------------------------------------------------------------------
# WMI_BUFFER_HEADER: 0x48 bytes on 32- and 64-bit loggers alike.   # [NTWMI] static_assert 0x48
WMI_BUFFER_HEADER = Layout(
    "WMI_BUFFER_HEADER",
    0x48,
    [
        _f("BufferSize", 0x00, 4, "u4", "[NTWMI][measured] on-disk size; compressed size if 0x40"),
        _f("SavedOffset", 0x04, 4, "u4", "[NTWMI] uncompressed end of data; 0 in Win7 headers"),
        _f("CurrentOffset", 0x08, 4, "u4", "[GC-WBH] unreliable on disk"),
        _f("ReferenceCount", 0x0C, 4, "i4", "[NTWMI]"),
        _f("TimeStamp", 0x10, 8, "i8", "[NTWMI] flush time, raw clock"),
        _f("SequenceNumber", 0x18, 8, "i8", "[NTWMI] per-logger sequence"),
        _f("ClockTypeFrequency", 0x20, 8, "u8", "[NTWMI] ClockType:3 Frequency:61 (Win8+)"),
        _f("ProcessorIndex", 0x28, 2, "u2", "[NTWMI] ClientContext; mask 0x07FF"),
        _f("LoggerId", 0x2A, 2, "u2", "[NTWMI] ClientContext"),
        _f("State", 0x2C, 4, "u4", "[NTWMI] ETW_BUFFER_STATE, 3 = flush"),
        _f("Offset", 0x30, 4, "u4", "[NTWMI][measured] end of filled bytes: use this"),
        _f("BufferFlag", 0x34, 2, "u2", "[NTWMI]"),
        _f("BufferType", 0x36, 2, "u2", "[NTWMI]"),
        _f("StartTime", 0x38, 8, "i8", "[NTWMI] ReferenceTime.StartTime (union)"),
        _f("StartPerfClock", 0x40, 8, "i8", "[NTWMI] ReferenceTime.StartPerfClock (union)"),
    ],
)
BUFFER_HEADER_SIZE = WMI_BUFFER_HEADER.size
# ETW's largest buffer: EVENT_TRACE_PROPERTIES.BufferSize is at most 16384 KB since Windows 8
# (1024 KB before). [MS-ETW] EVENT_TRACE_PROPERTIES
MAX_BUFFER_BYTES = 16 << 20
PROCESSOR_INDEX_MASK = 0x07FF  # [NTWMI] ETW_PROCESSOR_INDEX_MASK

# BufferFlag bits.  # [NTWMI]
BUFFER_FLAG_FLUSH_MARKER = 0x0001
BUFFER_FLAG_EVENTS_LOST = 0x0002
BUFFER_FLAG_BUFFER_LOST = 0x0004
BUFFER_FLAG_RTBACKUP_CORRUPT = 0x0008
BUFFER_FLAG_RTBACKUP = 0x0010
BUFFER_FLAG_PROC_INDEX = 0x0020
BUFFER_FLAG_COMPRESSED = 0x0040

# BufferType values.  # [NTWMI]
BUFFER_TYPE_GENERIC = 0
BUFFER_TYPE_RUNDOWN = 1
BUFFER_TYPE_CTX_SWAP = 2
BUFFER_TYPE_REFTIME = 3
BUFFER_TYPE_HEADER = 4
BUFFER_TYPE_BATCHED = 5
BUFFER_TYPE_EMPTY_MARKER = 6
BUFFER_TYPE_DBG_INFO = 7

# Padding marker: an unused buffer tail is 0xFF bytes.  # [NTWMI][measured]
PADDING_MARKER = 0xFFFFFFFF
RECORD_ALIGNMENT = 8  # [SNAIL][measured] records are 8-byte aligned

# --------------------------------------------------------------------------------------------
# Record header types: byte 2 of every record's first ULONG (the "marker").  # [NTWMI]
HT_SYSTEM32 = 0x01
HT_SYSTEM64 = 0x02
HT_COMPACT32 = 0x03
HT_COMPACT64 = 0x04
HT_FULL_HEADER32 = 0x0A
HT_INSTANCE32 = 0x0B
HT_TIMED = 0x0C  # not used  # [NTWMI]
HT_ERROR = 0x0D
HT_WNODE_HEADER = 0x0E  # not used  # [NTWMI]
HT_MESSAGE = 0x0F
HT_PERFINFO32 = 0x10
HT_PERFINFO64 = 0x11
HT_EVENT_HEADER32 = 0x12
HT_EVENT_HEADER64 = 0x13
HT_FULL_HEADER64 = 0x14
HT_INSTANCE64 = 0x15

HEADER_TYPE_NAMES: dict[int, str] = {
    HT_SYSTEM32: "SYSTEM32",
    HT_SYSTEM64: "SYSTEM64",
    HT_COMPACT32: "COMPACT32",
    HT_COMPACT64: "COMPACT64",
    HT_FULL_HEADER32: "FULL_HEADER32",
    HT_INSTANCE32: "INSTANCE32",
    HT_ERROR: "ERROR",
    HT_MESSAGE: "MESSAGE",
    HT_PERFINFO32: "PERFINFO32",
    HT_PERFINFO64: "PERFINFO64",
    HT_EVENT_HEADER32: "EVENT_HEADER32",
    HT_EVENT_HEADER64: "EVENT_HEADER64",
    HT_FULL_HEADER64: "FULL_HEADER64",
    HT_INSTANCE64: "INSTANCE64",
}

# The 64-bit variants; every other known type logs 4-byte pointers.  # [NTWMI][ETLP]
HEADER_TYPES_64 = frozenset(
    {HT_SYSTEM64, HT_COMPACT64, HT_PERFINFO64, HT_EVENT_HEADER64, HT_FULL_HEADER64, HT_INSTANCE64}
)
# Kernel ("classic" MOF) headers: size at @4, HookId at @6.  # [NTWMI] WMI_TRACE_PACKET
KERNEL_HEADER_TYPES = frozenset(
    {HT_SYSTEM32, HT_SYSTEM64, HT_COMPACT32, HT_COMPACT64, HT_PERFINFO32, HT_PERFINFO64}
)

# Marker high byte.  # [NTWMI]
TRACE_HEADER_FLAG = 0x80  # 0x80000000 >> 24: set on every record
TRACE_HEADER_EVENT_TRACE = 0x40  # 0x40000000 >> 24
TRACE_MESSAGE_FLAG = 0x10  # 0x10000000 >> 24: WPP message records
KERNEL_MARKER_FLAGS = TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE  # 0xC0

# PERFINFO Version bits announcing extension bytes before the payload.  # [NTWMI][SNAIL]
PERFINFO_VERSION_PEBS = 0x8000  # +8 bytes
PERFINFO_VERSION_PMC_MASK = 0x0700  # +8 bytes per counter, count = (v & mask) >> 8
PERFINFO_VERSION_EXT_MASK = PERFINFO_VERSION_PEBS | PERFINFO_VERSION_PMC_MASK

_KERNEL_PREFIX = [
    _f("Version", 0x00, 2, "u2", "[NTWMI] WMI_TRACE_PACKET marker low word"),
    _f("HeaderType", 0x02, 1, "u1", "[NTWMI]"),
    _f("MarkerFlags", 0x03, 1, "u1", "[NTWMI] 0xC0"),
    _f("Size", 0x04, 2, "u2", "[NTWMI] Packet.Size, header included"),
    _f("HookId", 0x06, 2, "u2", "[NTWMI] Group<<8 | Type"),
]

SYSTEM_TRACE_HEADER = Layout(
    "SYSTEM_TRACE_HEADER",
    0x20,
    [
        *_KERNEL_PREFIX,
        _f("ThreadId", 0x08, 4, "u4", "[NTWMI]"),
        _f("ProcessId", 0x0C, 4, "u4", "[NTWMI]"),
        _f("SystemTime", 0x10, 8, "i8", "[NTWMI] raw clock"),
        _f("KernelTime", 0x18, 4, "u4", "[NTWMI]"),
        _f("UserTime", 0x1C, 4, "u4", "[NTWMI]"),
    ],
)

# The SYSTEM header cut after SystemTime.  # [NTWMI] COMPACT_HEADER_SIZE
COMPACT_TRACE_HEADER = Layout(
    "COMPACT_TRACE_HEADER",
    0x18,
    [
        *_KERNEL_PREFIX,
        _f("ThreadId", 0x08, 4, "u4", "[NTWMI]"),
        _f("ProcessId", 0x0C, 4, "u4", "[NTWMI]"),
        _f("SystemTime", 0x10, 8, "i8", "[NTWMI] raw clock"),
    ],
)

PERFINFO_TRACE_HEADER = Layout(
    "PERFINFO_TRACE_HEADER",
    0x10,
    [
        *_KERNEL_PREFIX,
        _f("SystemTime", 0x08, 8, "i8", "[NTWMI] raw clock; no thread/process id"),
    ],
)

# EVENT_TRACE_HEADER as logged (FULL_HEADER32/64).  # [NTWMI][ETLP]
EVENT_TRACE_HEADER = Layout(
    "EVENT_TRACE_HEADER",
    0x30,
    [
        _f("Size", 0x00, 2, "u2", "[NTWMI] header included"),
        _f("HeaderType", 0x02, 1, "u1", "[NTWMI]"),
        _f("MarkerFlags", 0x03, 1, "u1", "[NTWMI]"),
        _f("Type", 0x04, 1, "u1", "[ETLP] Class.Type (opcode)"),
        _f("Level", 0x05, 1, "u1", "[ETLP] Class.Level"),
        _f("Version", 0x06, 2, "u2", "[ETLP] Class.Version"),
        _f("ThreadId", 0x08, 4, "u4", "[ETLP]"),
        _f("ProcessId", 0x0C, 4, "u4", "[ETLP]"),
        _f("TimeStamp", 0x10, 8, "i8", "[ETLP] raw clock"),
        _f("Guid", 0x18, 16, "guid", "[ETLP] provider/class GUID"),
        _f("KernelTime", 0x28, 4, "u4", "[ETLP]"),
        _f("UserTime", 0x2C, 4, "u4", "[ETLP]"),
    ],
)

# EVENT_INSTANCE_GUID_HEADER (INSTANCE32/64).  # [NTWMI]
EVENT_INSTANCE_GUID_HEADER = Layout(
    "EVENT_INSTANCE_GUID_HEADER",
    0x48,
    [
        *EVENT_TRACE_HEADER.fields,
        _f("InstanceId", 0x30, 4, "u4", "[NTWMI]"),
        _f("ParentInstanceId", 0x34, 4, "u4", "[NTWMI]"),
        _f("ParentGuid", 0x38, 16, "guid", "[NTWMI]"),
    ],
)

# EVENT_HEADER as logged (EVENT_HEADER32/64): Size u16 + marker instead of the API's HeaderType u16.
EVENT_HEADER = Layout(
    "EVENT_HEADER",
    0x50,
    [
        _f("Size", 0x00, 2, "u2", "[ETLP] header, extended items and payload"),
        _f("HeaderType", 0x02, 1, "u1", "[NTWMI]"),
        _f("MarkerFlags", 0x03, 1, "u1", "[NTWMI]"),
        _f("Flags", 0x04, 2, "u2", "[ETLP] EVENT_HEADER_FLAG_*"),
        _f("EventProperty", 0x06, 2, "u2", "[ETLP]"),
        _f("ThreadId", 0x08, 4, "u4", "[ETLP]"),
        _f("ProcessId", 0x0C, 4, "u4", "[ETLP]"),
        _f("TimeStamp", 0x10, 8, "i8", "[ETLP] raw clock"),
        _f("ProviderId", 0x18, 16, "guid", "[ETLP]"),
        _f("Id", 0x28, 2, "u2", "[ETLP] EVENT_DESCRIPTOR.Id"),
        _f("Version", 0x2A, 1, "u1", "[ETLP] EVENT_DESCRIPTOR.Version"),
        _f("Channel", 0x2B, 1, "u1", "[ETLP]"),
        _f("Level", 0x2C, 1, "u1", "[ETLP]"),
        _f("Opcode", 0x2D, 1, "u1", "[ETLP]"),
        _f("Task", 0x2E, 2, "u2", "[ETLP]"),
        _f("Keyword", 0x30, 8, "u8", "[ETLP]"),
        _f("KernelTime", 0x38, 4, "u4", "[ETLP] or ProcessorTime (u64)"),
        _f("UserTime", 0x3C, 4, "u4", "[ETLP]"),
        _f("ActivityId", 0x40, 16, "guid", "[ETLP]"),
    ],
)

# EVENT_HEADER.Flags bits.  # [ETLP]
EH_FLAG_EXTENDED_INFO = 0x0001
EH_FLAG_PRIVATE_SESSION = 0x0002
EH_FLAG_STRING_ONLY = 0x0004
EH_FLAG_TRACE_MESSAGE = 0x0008
EH_FLAG_NO_CPUTIME = 0x0010
EH_FLAG_32_BIT_HEADER = 0x0020
EH_FLAG_64_BIT_HEADER = 0x0040
EH_FLAG_CLASSIC_HEADER = 0x0100
EH_FLAG_PROCESSOR_INDEX = 0x0200

# One extended data item after the EVENT_HEADER, each item 8-byte aligned.  # [ETLP event.py]
EVENT_HEADER_EXTENDED_ITEM = Layout(
    "EVENT_HEADER_EXTENDED_ITEM",
    0x08,
    [
        _f("Reserved1", 0x00, 2, "u2", "[ETLP]"),
        _f("ExtType", 0x02, 2, "u2", "[ETLP] EVENT_HEADER_EXT_TYPE_*"),
        _f("Linkage", 0x04, 2, "u2", "[ETLP] bit 0: another item follows"),
        _f("DataSize", 0x06, 2, "u2", "[ETLP] bytes of data after this 8-byte item header"),
    ],
)
EXT_LINKAGE_MORE = 0x0001

# WPP message records.  # [NTWMI] MESSAGE_TRACE_HEADER
MESSAGE_TRACE_HEADER = Layout(
    "MESSAGE_TRACE_HEADER",
    0x08,
    [
        _f("Size", 0x00, 2, "u2", "[NTWMI]"),
        _f("HeaderType", 0x02, 1, "u1", "[NTWMI]"),
        _f("MarkerFlags", 0x03, 1, "u1", "[NTWMI]"),
        _f("MessageNumber", 0x04, 2, "u2", "[NTWMI]"),
        _f("OptionFlags", 0x06, 2, "u2", "[NTWMI]"),
    ],
)

# Header-type table used by the record walker, one row per known type:
# (layout, size field offset, timestamp offset, has thread/process id)
HEADER_LAYOUTS: dict[int, Layout] = {
    HT_SYSTEM32: SYSTEM_TRACE_HEADER,
    HT_SYSTEM64: SYSTEM_TRACE_HEADER,
    HT_COMPACT32: COMPACT_TRACE_HEADER,
    HT_COMPACT64: COMPACT_TRACE_HEADER,
    HT_PERFINFO32: PERFINFO_TRACE_HEADER,
    HT_PERFINFO64: PERFINFO_TRACE_HEADER,
    HT_FULL_HEADER32: EVENT_TRACE_HEADER,
    HT_FULL_HEADER64: EVENT_TRACE_HEADER,
    HT_INSTANCE32: EVENT_INSTANCE_GUID_HEADER,
    HT_INSTANCE64: EVENT_INSTANCE_GUID_HEADER,
    HT_EVENT_HEADER32: EVENT_HEADER,
    HT_EVENT_HEADER64: EVENT_HEADER,
    HT_MESSAGE: MESSAGE_TRACE_HEADER,
    # ERROR records carry only the common marker + size.  # [NTWMI]
    HT_ERROR: MESSAGE_TRACE_HEADER,
}


# --------------------------------------------------------------------------------------------
# TRACE_LOGFILE_HEADER: payload of the first record (SYSTEM header, hook 0x0000).
# Two layouts because LoggerName/LogFileName are pointers of the logger's width.
def _logfile_header(name: str, ptr: int) -> Layout:
    d = 0 if ptr == 8 else -8  # 32-bit layout: two 4-byte pointers, no alignment pad after TZ
    return Layout(
        name,
        0x118 + d,
        [
            _f("BufferSize", 0x00, 4, "u4", "[MS-TLH]"),
            _f("VersionOsMajor", 0x04, 1, "u1", "[MS-TLH][NTWMI] Version byte 0"),
            _f("VersionOsMinor", 0x05, 1, "u1", "[MS-TLH][NTWMI] Version byte 1"),
            _f("VersionFmtMajor", 0x06, 1, "u1", "[NTWMI] SubVersion"),
            _f("VersionFmtMinor", 0x07, 1, "u1", "[NTWMI] SubMinorVersion"),
            _f("ProviderVersion", 0x08, 4, "u4", "[MS-TLH] OS build"),
            _f("NumberOfProcessors", 0x0C, 4, "u4", "[MS-TLH]"),
            _f("EndTime", 0x10, 8, "i8", "[MS-TLH] FILETIME"),
            _f("TimerResolution", 0x18, 4, "u4", "[MS-TLH] 100 ns units"),
            _f("MaximumFileSize", 0x1C, 4, "u4", "[MS-TLH]"),
            _f("LogFileMode", 0x20, 4, "u4", "[MS-TLH]"),
            _f("BuffersWritten", 0x24, 4, "u4", "[MS-TLH]"),
            _f("StartBuffers", 0x28, 4, "u4", "[MS-TLH] union with LogInstanceGuid"),
            _f("PointerSize", 0x2C, 4, "u4", "[MS-TLH]"),
            _f("EventsLost", 0x30, 4, "u4", "[MS-TLH]"),
            _f("CpuSpeedInMHz", 0x34, 4, "u4", "[MS-TLH]"),
            _f("LoggerNamePtr", 0x38, ptr, "u8" if ptr == 8 else "u4", "[MS-TLH] meaningless"),
            _f("LogFileNamePtr", 0x38 + ptr, ptr, "u8" if ptr == 8 else "u4", "[MS-TLH]"),
            _f("TimeZone", 0x38 + 2 * ptr, 172, "bytes", "[MS-TLH] TIME_ZONE_INFORMATION"),
            _f("BootTime", 0xF8 + d, 8, "i8", "[MS-TLH][VERG]"),
            _f("PerfFreq", 0x100 + d, 8, "i8", "[MS-TLH][VERG]"),
            _f("StartTime", 0x108 + d, 8, "i8", "[MS-TLH][VERG] FILETIME"),
            _f("ReservedFlags", 0x110 + d, 4, "u4", "[MS-TLH] clock type"),
            _f("BuffersLost", 0x114 + d, 4, "u4", "[MS-TLH][VERG]"),
        ],
    )


TRACE_LOGFILE_HEADER64 = _logfile_header("TRACE_LOGFILE_HEADER64", 8)  # strings follow at 0x118
TRACE_LOGFILE_HEADER32 = _logfile_header("TRACE_LOGFILE_HEADER32", 4)  # strings follow at 0x110

# LogFileMode bits.  # [NTWMI][MS-TLH]
EVENT_TRACE_FILE_MODE_SEQUENTIAL = 0x00000001
EVENT_TRACE_FILE_MODE_CIRCULAR = 0x00000002
EVENT_TRACE_FILE_MODE_APPEND = 0x00000004
EVENT_TRACE_FILE_MODE_NEWFILE = 0x00000008
EVENT_TRACE_FILE_MODE_PREALLOCATE = 0x00000020
EVENT_TRACE_NONSTOPPABLE_MODE = 0x00000040
EVENT_TRACE_SECURE_MODE = 0x00000080
EVENT_TRACE_REAL_TIME_MODE = 0x00000100
EVENT_TRACE_BUFFERING_MODE = 0x00000400
EVENT_TRACE_INDEPENDENT_SESSION_MODE = 0x08000000
EVENT_TRACE_SYSTEM_LOGGER_MODE = 0x02000000
EVENT_TRACE_RELOG_MODE = 0x00010000
EVENT_TRACE_COMPRESSED_MODE = 0x04000000

# ReservedFlags = clock type.  # [TE][NTWMI] EVENT_TRACE_CLOCK_*
CLOCK_RAW = 0
CLOCK_QPC = 1
CLOCK_SYSTEM_TIME = 2
CLOCK_CPU_CYCLES = 3

HOOK_LOGFILE_HEADER = 0x0000  # group 0, type 0, version 2  # [SNAIL][NTWMI]

# FILETIME epoch offset: 100-ns ticks from 1601-01-01 to 1970-01-01.
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000

# --------------------------------------------------------------------------------------------
# Kernel event group byte -> provider GUID (what TDH reports as ProviderId).  # [GC-HOOK][NTWMI]
KERNEL_GROUP_GUIDS: dict[int, uuid.UUID] = {
    0x00: uuid.UUID("68fdd900-4a3e-11d1-84f4-0000f80464e3"),  # EventTraceEvent (header)
    0x01: uuid.UUID("3d6fa8d4-fe05-11d0-9dda-00c04fd7ba7c"),  # DiskIo
    0x02: uuid.UUID("3d6fa8d3-fe05-11d0-9dda-00c04fd7ba7c"),  # PageFault / Memory
    0x03: uuid.UUID("3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c"),  # Process (Type 0x0A = image Load)
    0x04: uuid.UUID("90cbdc39-4a3e-11d1-84f4-0000f80464e3"),  # FileIo
    0x05: uuid.UUID("3d6fa8d1-fe05-11d0-9dda-00c04fd7ba7c"),  # Thread
    0x0E: uuid.UUID("0268a8b6-74fd-4302-9dd0-6e8f1795c0cf"),  # Pool
    0x0F: uuid.UUID("ce1dbfb4-137e-4da6-87b0-3f59aa102cbc"),  # PerfInfo
    0x14: uuid.UUID("2cb15d1d-5fc1-11d2-abe1-00a0c911f518"),  # Image
    0x18: uuid.UUID("def2fe46-7bd6-4b80-bd94-f57fe20d0ce3"),  # StackWalk
}
KERNEL_GROUP_NAMES: dict[int, str] = {
    0x00: "EventTrace",
    0x01: "DiskIo",
    0x02: "PageFault",
    0x03: "Process",
    0x04: "FileIo",
    0x05: "Thread",
    0x0E: "Pool",
    0x0F: "PerfInfo",
    0x14: "Image",
    0x18: "StackWalk",
}
