"""Hand-made and patched PDBs for the symbol tests.

`crash.pdb` (corpus/pdb, see its PROVENANCE.md) is a real MSVC PDB. `gatefix.pdb` (fixtures/,
see PROVENANCE.md there) is our own, built by clang-cl and lld-link from our own source, and
is in the repository, so its tests run wherever a PDB reader does (CI's Windows job with
DbgHelp). The facts the tests expect of either were read with `llvm-pdbutil dump -summary
-section-headers -symbols -publics` (offsets there are decimal: `addr = 0001:0288` is RVA
0x1000 + 288 = 0x1120).

`msf_bytes` builds a small PDB from literal struct formats, not from `gate.inputs.symbols`,
so that the tests check the reader's layouts instead of repeating them.
"""

from __future__ import annotations

import shutil
import struct
import uuid
from pathlib import Path

from scenario_kit import CORPUS

CRASH_PDB = CORPUS / "pdb" / "crash.pdb"
CRASH_GUID = "3249d99d-0c40-4931-8610-f4e4fb0b6936"
CRASH_KEY = "3249D99D0C4049318610F4E4FB0B69361"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GATEFIX_PDB = FIXTURES / "gatefix.pdb"
# `llvm-pdbutil dump -summary`: GUID {E4440332-23CB-F23A-4C4C-44205044422E}, Age 1.
GATEFIX_GUID = "e4440332-23cb-f23a-4c4c-44205044422e"
GATEFIX_AGE = 1
GATEFIX_KEY = "E444033223CBF23A4C4C44205044422E1"
DBI_SIGNATURE = b"\xff\xff\xff\xff" + struct.pack("<I", 19990903)
MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"


def copy_pdb(src: Path, dest: Path) -> Path:
    """`src` copied to `dest` (folders made), for tests that lay out a symbol folder."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def patched(
    src: Path,
    dest: Path,
    *,
    guid: str | None = None,
    age: int | None = None,
    old_guid: str = CRASH_GUID,
) -> Path:
    """A copy of `src` whose GUID `old_guid` (every copy of the info stream) or DBI age is
    replaced."""
    data = bytearray(src.read_bytes())
    if guid is not None:
        old = uuid.UUID(old_guid).bytes_le
        hits = [i for i in range(len(data)) if data.startswith(old, i)]
        assert hits, "the GUID is not in the file"
        for i in hits:
            data[i : i + 16] = uuid.UUID(guid).bytes_le
    if age is not None:
        hits = [i for i in range(0, len(data), 4096) if data.startswith(DBI_SIGNATURE, i)]
        assert len(hits) == 1, hits
        data[hits[0] + 8 : hits[0] + 12] = struct.pack("<I", age)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return dest


def section(name: bytes, rva: int, size: int, flags: int) -> bytes:
    """An IMAGE_SECTION_HEADER: name, VirtualSize, VirtualAddress, 4 file fields, 2 counts,
    Characteristics."""
    return struct.pack("<8sIIIIIIHHI", name, size, rva, 0, 0, 0, 0, 0, 0, flags)


def dbi_stream(age: int, section_stream: int, sizes: tuple[int, ...] = (0,) * 6) -> bytes:
    """A DBI stream: the 64-byte header, empty substreams of `sizes` (module info, section
    contributions, section map, source info, type server map, EC), the optional debug
    header with the section header stream in slot 5."""
    mod, contrib, secmap, source, tsmap, ec = sizes
    dbg = struct.pack("<11H", *([0xFFFF] * 5 + [section_stream] + [0xFFFF] * 5))
    header = struct.pack(
        "<iII6H5iIiiHHI",
        -1, 19990903, age, 0, 0, 0, 0, 0, 0,
        mod, contrib, secmap, source, tsmap, 0, len(dbg), ec, 0, 0x8664, 0,
    )  # fmt: skip
    return header + b"\x00" * sum(sizes) + dbg


def msf_bytes(streams: list[bytes], block_size: int = 512) -> bytes:
    """An MSF 7.00 file holding `streams`: superblock in block 0, block map in block 2, the
    directory in block 3, the streams' blocks after it."""
    bs = block_size
    blocks: list[bytes] = []
    lists = []
    next_block = 4
    for data in streams:
        n = -(-len(data) // bs)
        lists.append(list(range(next_block, next_block + n)))
        blocks += [data[i * bs : (i + 1) * bs].ljust(bs, b"\x00") for i in range(n)]
        next_block += n
    directory = struct.pack("<I", len(streams)) + struct.pack(
        f"<{len(streams)}I", *[len(s) for s in streams]
    )
    for block_list in lists:
        directory += struct.pack(f"<{len(block_list)}I", *block_list)
    assert len(directory) <= bs
    superblock = MAGIC + struct.pack("<6I", bs, 1, next_block, len(directory), 0, 2)
    out = [superblock.ljust(bs, b"\x00"), b"\x00" * bs, struct.pack("<I", 3).ljust(bs, b"\x00")]
    out.append(directory.ljust(bs, b"\x00"))
    return b"".join(out + blocks)


HAND_GUID = "00112233-4455-6677-8899-aabbccddeeff"


def hand_pdb(info_age: int = 3, dbi_age: int | None = 4) -> bytes:
    """A PDB with an info stream (GUID HAND_GUID), a DBI stream and two section headers."""
    info = struct.pack("<III", 20000404, 0x5EED, info_age) + uuid.UUID(HAND_GUID).bytes_le
    sections = section(b".text", 0x1000, 0x2345, 0x60000020) + section(
        b".data", 0x4000, 0x100, 0xC0000040
    )
    streams = [b"", info, b""]
    if dbi_age is not None:
        streams += [dbi_stream(dbi_age, 4, (8, 4, 0, 0, 0, 4)), sections]
    return msf_bytes(streams)


# What gatefix.pdb records, as `llvm-pdbutil dump -symbols -publics` reads it: procedures
# (RVA, code size, name) and code publics (RVA, name as SYMOPT_UNDNAME undecorates it).
GATEFIX_PROCEDURES = [
    (0x1000, 94, "Contoso::Queue::Grow"),
    (0x1060, 66, "HashSlot"),
    (0x10B0, 54, "Contoso::Queue::~Queue"),
    (0x10F0, 159, "DriverEntry"),
    (0x1190, 75, "Contoso::Pool<int>::Reserve"),
    (0x11E0, 126, "`anonymous namespace'::callback"),
]
GATEFIX_PUBLICS = [
    (0x1000, "Contoso::Queue::Grow"),
    (0x10B0, "Contoso::Queue::~Queue"),
    (0x10F0, "DriverEntry"),
    (0x1190, "Contoso::Pool<int>::Reserve"),
    (0x1260, "Contoso::Queue::Flush"),
]
_SYMTAG_FUNCTION, _SYMTAG_PUBLIC, _SYMFLAG_PUBLIC_CODE = 5, 10, 0x00400000  # cvconst.h, dbghelp.h


class FakeDbgHelp:
    """dbghelp.dll as its documentation describes it, for the ctypes calls the dbghelp backend
    makes, so that the backend's own logic runs on every system: `SymFromAddrW` answers with
    the procedure containing the address, else with the nearest symbol below it (a public one
    when a public and a procedure start there), whatever its size, as DbgHelp does. It does
    not prove what the real DbgHelp answers; CI's Windows job does that.
    """

    def __init__(
        self,
        procedures: list[tuple[int, int, str]] = GATEFIX_PROCEDURES,
        publics: list[tuple[int, str]] = GATEFIX_PUBLICS,
    ) -> None:
        self.procedures = procedures
        self.publics = publics
        self.options = 0
        self.sessions: dict[int, str] = {}  # handle -> search path
        self.modules: dict[int, tuple[str, int, int]] = {}  # handle -> (image, base, size)
        self.lookups: list[int] = []

    def SymSetOptions(self, options: int) -> int:
        self.options = options
        return options

    def SymInitializeW(self, handle: int, search_path: str, invade: bool) -> bool:
        assert handle not in self.sessions and not invade
        self.sessions[handle] = search_path
        return True

    def SymLoadModuleExW(self, handle: int, file: object, image: str, module: object,
                         base: int, size: int, data: object, flags: int) -> int:  # fmt: skip
        assert handle in self.sessions and size > 0
        self.modules[handle] = (image, base, size)
        return base

    def SymFromAddrW(self, handle: int, address: int, displacement: object, info: object) -> bool:
        import ctypes

        _image, base, size = self.modules[handle]
        rva = address - base
        self.lookups.append(rva)
        if not 0 <= rva < size:
            return False
        inside = [p for p in self.procedures if p[0] <= rva < p[0] + p[1]]
        if inside:
            start, length, name = inside[0]
            public = False
        else:
            below = [(s, 1, n) for s, n in self.publics if s <= rva]
            below += [(s, 0, n) for s, _length, n in self.procedures if s <= rva]
            if not below:
                return False
            start, public_rank, name = max(below)
            public = bool(public_rank)
            length = 0 if public else next(p[1] for p in self.procedures if p[0] == start)
        out = info._obj  # type: ignore[attr-defined]
        out.Address, out.Size, out.ModBase = base + start, length, base
        out.Tag = _SYMTAG_PUBLIC if public else _SYMTAG_FUNCTION
        out.Flags = _SYMFLAG_PUBLIC_CODE if public else 0
        n = min(len(name), out.MaxNameLen - 1)
        raw = name[:n].encode("utf-16-le")
        ctypes.memmove(ctypes.addressof(out) + type(out).Name.offset, raw, len(raw))
        out.NameLen = n
        displacement._obj.value = address - (base + start)  # type: ignore[attr-defined]
        return True

    def SymCleanup(self, handle: int) -> bool:
        self.modules.pop(handle, None)
        return self.sessions.pop(handle, None) is not None
