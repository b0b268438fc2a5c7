"""Finding a PDB by identity: flat folders, symbol stores, refusals and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import HAND_GUID, hand_pdb

from gate.inputs.symbols import (
    AGE_DIFFERS,
    FOUND,
    GUID_DIFFERS,
    NOT_FOUND,
    UNREADABLE,
    PdbFinder,
    PdbIdentity,
    Refusal,
)

WANTED = PdbIdentity("contosonet.pdb", HAND_GUID, 4)
KEY = "00112233445566778899AABBCCDDEEFF4"


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_store_key_spelling() -> None:
    assert WANTED.store_key == KEY


def test_flat_folder(tmp_path: Path) -> None:
    pdb = _put(tmp_path / "out" / "contosonet.pdb", hand_pdb())
    search = PdbFinder((tmp_path / "out",)).find(WANTED)
    assert (search.status, search.path, search.folders, search.refused) == (FOUND, pdb, 1, ())
    assert search.info is not None and (search.info.guid, search.info.age) == (HAND_GUID, 4)
    assert search.identity == WANTED


def test_symbol_store_layout(tmp_path: Path) -> None:
    pdb = _put(tmp_path / "store" / "contosonet.pdb" / KEY / "contosonet.pdb", hand_pdb())
    search = PdbFinder((tmp_path / "empty", tmp_path / "store")).find(WANTED)
    assert (search.status, search.path, search.folders) == (FOUND, pdb, 2)


def test_two_tier_store(tmp_path: Path) -> None:
    _put(tmp_path / "store" / "index2.txt", b"")
    pdb = _put(tmp_path / "store" / "co" / "contosonet.pdb" / KEY / "contosonet.pdb", hand_pdb())
    assert PdbFinder((tmp_path / "store",)).find(WANTED).path == pdb


def test_names_match_without_regard_to_case(tmp_path: Path) -> None:
    pdb = _put(tmp_path / "s" / "ContosoNet.PDB" / KEY.lower() / "CONTOSONET.pdb", hand_pdb())
    wanted = PdbIdentity("contosonet.pdb", HAND_GUID, 4)
    assert PdbFinder((tmp_path / "s",)).find(wanted).path == pdb


def test_not_found(tmp_path: Path) -> None:
    _put(tmp_path / "s" / "other.pdb", hand_pdb())
    search = PdbFinder((tmp_path / "s",)).find(WANTED)
    assert (search.status, search.path, search.info, search.refused) == (NOT_FOUND, None, None, ())


def test_guid_differs_is_refused_then_the_right_one_found(tmp_path: Path) -> None:
    stale = _put(tmp_path / "a" / "contosonet.pdb", hand_pdb())
    other = PdbIdentity("contosonet.pdb", "00112233-4455-6677-8899-aabbccddee00", 4)
    right = _put(tmp_path / "b" / "contosonet.pdb" / other.store_key / "contosonet.pdb", b"")
    search = PdbFinder((tmp_path / "a", tmp_path / "b")).find(other)
    assert search.path is None  # the store copy of that identity is an empty file
    assert search.status == GUID_DIFFERS
    assert search.refused == (
        Refusal(stale, GUID_DIFFERS, "its GUID is {00112233-4455-6677-8899-aabbccddeeff}"),
        Refusal(right, UNREADABLE, "truncated: superblock at offset 0x0 needs 56 bytes"),
    )


def test_age_differs(tmp_path: Path) -> None:
    pdb = _put(tmp_path / "contosonet.pdb", hand_pdb(dbi_age=5))
    search = PdbFinder((tmp_path,)).find(WANTED)
    assert search.status == AGE_DIFFERS
    assert search.refused == (Refusal(pdb, AGE_DIFFERS, "its age is 5"),)


def test_first_match_wins_after_refusals(tmp_path: Path) -> None:
    old = _put(tmp_path / "a" / "contosonet.pdb", hand_pdb(dbi_age=3))
    good = _put(tmp_path / "b" / "contosonet.pdb" / KEY / "contosonet.pdb", hand_pdb())
    _put(tmp_path / "c" / "contosonet.pdb", hand_pdb())
    search = PdbFinder(tuple(tmp_path / x for x in "abc")).find(WANTED)
    assert (search.status, search.path) == (FOUND, good)
    assert search.refused == (Refusal(old, AGE_DIFFERS, "its age is 3"),)


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"not a pdb at all" * 8, "not a PDB (no MSF 7.00 signature at offset 0)"),
        (hand_pdb()[:700], "truncated: block map block 2 at offset 0x400 needs 512 bytes"),
    ],
)
def test_unreadable(tmp_path: Path, data: bytes, detail: str) -> None:
    pdb = _put(tmp_path / "contosonet.pdb", data)
    search = PdbFinder((tmp_path,)).find(WANTED)
    assert search.status == UNREADABLE
    assert search.refused == (Refusal(pdb, UNREADABLE, detail),)


def test_compressed_store_file_is_unreadable(tmp_path: Path) -> None:
    packed = _put(tmp_path / "contosonet.pdb" / KEY / "contosonet.pd_", b"MSCF")
    search = PdbFinder((tmp_path,)).find(WANTED)
    assert search.refused == (
        Refusal(packed, UNREADABLE, "compressed by symstore; expand it to read it"),
    )
