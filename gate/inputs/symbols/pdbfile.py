"""A PDB file's own identity and section table, read from its MSF container.

The gate reads these few fields itself, without a PDB library: to refuse a PDB whose GUID or
age differs before any library loads it (loading a large PDB costs seconds), to name the
same identity whichever backend reads the functions, and to know which RVAs are code (a
lookup outside the image's code sections names no function, whatever the backend would
guess).

Layouts (LLVM's "The MSF File Format", "The PDB Info Stream", "The DBI Stream" pages, and
`IMAGE_SECTION_HEADER` in winnt.h), all little-endian:

- superblock at offset 0: a 32-byte magic, then u32 block size, free block map block, block
  count, stream directory bytes, (unused), block map block;
- the block map block lists the directory's blocks; the directory is a u32 stream count, each
  stream's u32 size (0xFFFFFFFF: no stream), then each stream's block numbers in turn;
- stream 1 (PDB info): u32 version, u32 signature, u32 age, 16-byte GUID (Windows GUID layout);
- stream 3 (DBI): a 64-byte header (age at 0x08; substream sizes at 0x18..0x37), substreams in
  the order module info, section contributions, section map, source info, type server map,
  EC, optional debug header; the optional debug header is u16 stream numbers, the sixth of
  which (index 5) is the section header stream: 40-byte `IMAGE_SECTION_HEADER`s.

The age that matches an image's RSDS record is the DBI stream's: the PDB info stream's age can
be bumped by later writes to the file (symbolic and DbgHelp compare the DBI age too). A PDB
without a DBI stream falls back to the info stream's age.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gate.errors import InputError

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"
_SUPERBLOCK = struct.Struct("<32s6I")
_INFO = struct.Struct("<III16s")
_DBI_HEADER = struct.Struct("<iII6H5iIiiHHI")
_SECTION = struct.Struct("<8s6I2HI")
_NIL_STREAM = 0xFFFFFFFF
_NO_STREAM16 = 0xFFFF
INFO_STREAM = 1
DBI_STREAM = 3
_SECTION_HEADER_SLOT = 5  # index of the section header stream in the optional debug header
_IMAGE_SCN_CNT_CODE = 0x20
_IMAGE_SCN_MEM_EXECUTE = 0x20000000
_BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768)


class PdbFormatError(InputError):
    """A file that should be a PDB is not one, or is truncated or corrupt."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Section:
    """One section of the image, as the PDB records it."""

    name: str
    rva: int
    size: int
    characteristics: int

    @property
    def is_code(self) -> bool:
        """Whether the section holds code (IMAGE_SCN_CNT_CODE or IMAGE_SCN_MEM_EXECUTE)."""
        return bool(self.characteristics & (_IMAGE_SCN_CNT_CODE | _IMAGE_SCN_MEM_EXECUTE))


@dataclass(frozen=True)
class PdbInfo:
    """What the gate reads from a PDB file itself."""

    guid: str  # lower-case, hyphenated
    age: int  # the DBI stream's age (the info stream's when there is no DBI stream)
    info_age: int  # the PDB info stream's age
    sections: tuple[Section, ...]  # () when the PDB carries no section headers

    def code_ranges(self) -> list[tuple[int, int]]:
        """[start, end) RVA ranges of the code sections, sorted."""
        return sorted((s.rva, s.rva + s.size) for s in self.sections if s.is_code)


class _Msf:
    """Streams of an open MSF file, read block by block on demand."""

    def __init__(self, path: Path, f: BinaryIO) -> None:
        self.path = path
        self.f = f
        self.length = f.seek(0, 2)
        head = self._read_at(0, _SUPERBLOCK.size, "superblock")
        magic, bs, _free, nblocks, dir_bytes, _unused, map_block = _SUPERBLOCK.unpack(head)
        if magic != MSF_MAGIC:
            raise PdbFormatError(path, "not a PDB (no MSF 7.00 signature at offset 0)")
        if bs not in _BLOCK_SIZES:
            raise PdbFormatError(path, f"superblock: block size {bs} is not a valid MSF size")
        self.block_size = bs
        self.blocks = nblocks
        n_dir = -(-dir_bytes // bs)
        if dir_bytes < 4 or n_dir * 4 > bs:
            raise PdbFormatError(path, f"superblock: stream directory of {dir_bytes} bytes")
        dir_blocks = struct.unpack(f"<{n_dir}I", self._block(map_block, "block map")[: n_dir * 4])
        directory = b"".join(self._block(b, "stream directory") for b in dir_blocks)[:dir_bytes]
        self.sizes, self.stream_blocks = self._parse_directory(directory)

    def _parse_directory(self, d: bytes) -> tuple[list[int], list[tuple[int, ...]]]:
        (count,) = struct.unpack_from("<I", d, 0)
        if 4 + 4 * count > len(d):
            raise PdbFormatError(self.path, f"stream directory: {count} streams do not fit it")
        sizes = [0 if s == _NIL_STREAM else s for s in struct.unpack_from(f"<{count}I", d, 4)]
        pos = 4 + 4 * count
        lists = []
        for i, size in enumerate(sizes):
            n = -(-size // self.block_size)
            if pos + 4 * n > len(d):
                raise PdbFormatError(self.path, f"stream directory: stream {i} runs past its end")
            lists.append(struct.unpack_from(f"<{n}I", d, pos))
            pos += 4 * n
        return sizes, lists

    def _read_at(self, offset: int, size: int, what: str) -> bytes:
        self.f.seek(offset)
        data = self.f.read(size)
        if len(data) < size:
            raise PdbFormatError(
                self.path, f"truncated: {what} at offset {offset:#x} needs {size} bytes"
            )
        return data

    def _block(self, index: int, what: str) -> bytes:
        if index >= self.blocks:
            raise PdbFormatError(
                self.path, f"{what}: block {index} beyond the file's {self.blocks} blocks"
            )
        return self._read_at(index * self.block_size, self.block_size, f"{what} block {index}")

    def stream(self, index: int, limit: int | None = None) -> bytes:
        """The bytes of stream `index` (its first `limit` bytes); b'' for a missing stream."""
        if index >= len(self.sizes):
            return b""
        size = self.sizes[index] if limit is None else min(limit, self.sizes[index])
        blocks = self.stream_blocks[index][: -(-size // self.block_size)]
        what = f"stream {index}"
        return b"".join(self._block(b, what) for b in blocks)[:size]


def read_pdb_info(path: Path) -> PdbInfo:
    """The GUID, age and sections of the PDB at `path`.

    Raises PdbFormatError when the file is not a PDB or is truncated or corrupt, InputError
    when it cannot be opened.
    """
    try:
        with path.open("rb") as f:
            msf = _Msf(path, f)
            info = msf.stream(INFO_STREAM, _INFO.size)
            if len(info) < _INFO.size:
                raise PdbFormatError(path, f"PDB info stream has {len(info)} bytes, needs 28")
            _version, _signature, info_age, guid = _INFO.unpack(info)
            dbi_age, sections = _dbi(msf)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    age = info_age if dbi_age is None else dbi_age
    return PdbInfo(str(uuid.UUID(bytes_le=guid)), age, info_age, sections)


def _dbi(msf: _Msf) -> tuple[int | None, tuple[Section, ...]]:
    """The DBI stream's age and the section headers it points at (None, () without DBI)."""
    dbi = msf.stream(DBI_STREAM)
    if len(dbi) < _DBI_HEADER.size:
        return None, ()
    fields = _DBI_HEADER.unpack_from(dbi, 0)
    age = fields[2]
    substreams = (*fields[9:14], fields[16])  # module info ... type server map, EC
    dbg_size = fields[15]
    if min(*substreams, dbg_size) < 0:
        raise PdbFormatError(msf.path, "DBI stream: a substream has a negative size")
    at = _DBI_HEADER.size + sum(substreams)
    slot = at + 2 * _SECTION_HEADER_SLOT
    if dbg_size < 2 * (_SECTION_HEADER_SLOT + 1) or slot + 2 > len(dbi):
        return age, ()
    (index,) = struct.unpack_from("<H", dbi, slot)
    if index == _NO_STREAM16:
        return age, ()
    raw = msf.stream(index)
    sections = []
    for pos in range(0, len(raw) - _SECTION.size + 1, _SECTION.size):
        name, vsize, rva, *_rest, flags = _SECTION.unpack_from(raw, pos)
        label = name.rstrip(b"\x00").decode("latin-1")
        sections.append(Section(label, rva, vsize, flags))
    return age, tuple(sections)
