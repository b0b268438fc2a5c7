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
