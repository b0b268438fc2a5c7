"""A PDB's own identity and sections, read from its MSF container; and the identity type."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

import pytest
from pdb_kit import CRASH_GUID, HAND_GUID, dbi_stream, hand_pdb, msf_bytes, patched

from gate.errors import InputError
from gate.inputs.symbols import PdbFormatError, PdbIdentity, Section, read_pdb_info


def _write(tmp_path: Path, data: bytes, name: str = "x.pdb") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_hand_made_pdb_every_field(tmp_path: Path) -> None:
    info = read_pdb_info(_write(tmp_path, hand_pdb(info_age=3, dbi_age=4)))
    assert info.guid == HAND_GUID
    assert info.age == 4  # the DBI stream's age is the one images carry
    assert info.info_age == 3
    assert info.sections == (
        Section(".text", 0x1000, 0x2345, 0x60000020),
        Section(".data", 0x4000, 0x100, 0xC0000040),
    )
    assert [s.is_code for s in info.sections] == [True, False]
    assert info.code_ranges() == [(0x1000, 0x3345)]


def test_without_dbi_stream_the_info_age_counts(tmp_path: Path) -> None:
    info = read_pdb_info(_write(tmp_path, hand_pdb(info_age=7, dbi_age=None)))
    assert (info.guid, info.age, info.info_age, info.sections) == (HAND_GUID, 7, 7, ())
    assert info.code_ranges() == []


def test_dbi_without_section_headers(tmp_path: Path) -> None:
    info_stream = struct.pack("<III", 20000404, 1, 2) + uuid.UUID(HAND_GUID).bytes_le
    no_slot = dbi_stream(5, 0xFFFF)
    short = no_slot[:48] + struct.pack("<i", 4) + no_slot[52:64] + b"\xff" * 4
    for dbi in (no_slot, short):
        path = _write(tmp_path, msf_bytes([b"", info_stream, b"", dbi]))
        info = read_pdb_info(path)
        assert (info.guid, info.age, info.info_age, info.sections) == (HAND_GUID, 5, 2, ())


def test_crash_pdb_identity_and_sections(crash_pdb: Path) -> None:
    info = read_pdb_info(crash_pdb)
    assert (info.guid, info.age, info.info_age) == (CRASH_GUID, 1, 1)
    # llvm-pdbutil dump -section-headers: name, virtual address, virtual size, flags
    assert [(s.name, s.rva, s.size, s.characteristics) for s in info.sections] == [
        (".text", 0x1000, 0x291B, 0x60000020),
        (".rdata", 0x4000, 0x175E, 0x40000040),
        (".data", 0x6000, 0x424, 0xC0000040),
        (".rsrc", 0x7000, 0x1E0, 0x40000040),
        (".reloc", 0x8000, 0x38C, 0x42000040),
    ]
    assert info.code_ranges() == [(0x1000, 0x391B)]


def test_patched_dbi_age_is_read(crash_pdb: Path, tmp_path: Path) -> None:
    info = read_pdb_info(patched(crash_pdb, tmp_path / "a.pdb", age=2))
    assert (info.guid, info.age, info.info_age) == (CRASH_GUID, 2, 1)


def test_patched_guid_is_read(crash_pdb: Path, tmp_path: Path) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    info = read_pdb_info(patched(crash_pdb, tmp_path / "g.pdb", guid=other))
    assert (info.guid, info.age) == (other, 1)


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (0, "truncated: superblock at offset 0x0 needs 56 bytes"),
        (40, "truncated: superblock at offset 0x0 needs 56 bytes"),
        (600, "truncated: block map block 2 at offset 0x400 needs 512 bytes"),
        (1024 + 100, "truncated: block map block 2 at offset 0x400 needs 512 bytes"),
        (4 * 512 + 10, "truncated: stream 1 block 4 at offset 0x800 needs 512 bytes"),
    ],
)
def test_truncated_pdb(tmp_path: Path, cut: int, problem: str) -> None:
    path = _write(tmp_path, hand_pdb()[:cut])
    with pytest.raises(PdbFormatError) as e:
        read_pdb_info(path)
    assert str(e.value) == f"{path}: {problem}"
    assert (e.value.path, e.value.problem) == (path, problem)


def _corrupt(offset: int, value: bytes) -> bytes:
    data = bytearray(hand_pdb())
    data[offset : offset + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"MZ" + b"\x00" * 600, "not a PDB (no MSF 7.00 signature at offset 0)"),
        (
            _corrupt(32, struct.pack("<I", 1000)),
            "superblock: block size 1000 is not a valid MSF size",
        ),
        (_corrupt(44, struct.pack("<I", 0)), "superblock: stream directory of 0 bytes"),
        (_corrupt(44, struct.pack("<I", 600000)), "superblock: stream directory of 600000 bytes"),
        (_corrupt(52, struct.pack("<I", 99)), "block map: block 99 beyond the file's 7 blocks"),
        (
            _corrupt(3 * 512, struct.pack("<I", 1000)),
            "stream directory: 1000 streams do not fit it",
        ),
        (
            _corrupt(3 * 512 + 8, struct.pack("<I", 5000)),
            "stream directory: stream 1 runs past its end",
        ),
        (
            _corrupt(3 * 512 + 24, struct.pack("<I", 77)),
            "stream 1: block 77 beyond the file's 7 blocks",
        ),
        (
            _corrupt(5 * 512 + 24, struct.pack("<i", -4)),
            "DBI stream: a substream has a negative size",
        ),
    ],
)
def test_corrupt_pdb(tmp_path: Path, data: bytes, problem: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(PdbFormatError) as e:
        read_pdb_info(path)
    assert str(e.value) == f"{path}: {problem}"


def test_short_info_stream(tmp_path: Path) -> None:
    path = _write(tmp_path, msf_bytes([b"", b"\x01\x02\x03"]))
    with pytest.raises(PdbFormatError, match=r"PDB info stream has 3 bytes, needs 28$"):
        read_pdb_info(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "gone.pdb"
    with pytest.raises(InputError, match=r"gone\.pdb: cannot read: "):
        read_pdb_info(path)


def test_identity_normalizes_its_parts() -> None:
    braced = "{3249D99D-0C40-4931-8610-F4E4FB0B6936}"
    ident = PdbIdentity.of(r"d:\build\x64\ContosoNet.pdb", braced, 1)
    assert ident == PdbIdentity("ContosoNet.pdb", CRASH_GUID, 1)
    assert ident.store_key == "3249D99D0C4049318610F4E4FB0B69361"
    assert PdbIdentity.of("/o/a.pdb", "3249d99d0c4049318610f4e4fb0b6936", 26).store_key == (
        "3249D99D0C4049318610F4E4FB0B69361A"
    )
    assert str(ident) == "ContosoNet.pdb {3249d99d-0c40-4931-8610-f4e4fb0b6936} age 1"


def test_identity_from_store_columns() -> None:
    assert PdbIdentity.from_columns("a.pdb", CRASH_GUID, 3) == PdbIdentity("a.pdb", CRASH_GUID, 3)
    assert PdbIdentity.from_columns("", "", -1) is None
    assert PdbIdentity.from_columns("a.pdb", CRASH_GUID, -1) is None
    assert PdbIdentity.from_columns("a.pdb", "", 1) is None


@pytest.mark.parametrize(
    ("guid", "age", "message"),
    [
        ("not-a-guid", 1, "PDB 'a.pdb': 'not-a-guid' is not a GUID"),
        (CRASH_GUID, -2, "PDB 'a.pdb': age -2 is negative"),
    ],
)
def test_identity_rejects_bad_parts(guid: str, age: int, message: str) -> None:
    with pytest.raises(InputError) as e:
        PdbIdentity.of("a.pdb", guid, age)
    assert str(e.value) == message
