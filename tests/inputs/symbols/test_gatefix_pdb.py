"""Our own PDB (fixtures/gatefix.pdb, built by fixtures/build.sh from fixtures/gatefix.cpp):
identity, sections and functions by RVA, the same answers from every backend.

The PDB is part of the checkout, so these tests run wherever a PDB reader does: with symbolic
on Linux and macOS, with DbgHelp in CI's Windows job. Every expected value is a literal read
with `llvm-pdbutil dump -summary -section-headers -symbols -publics gatefix.pdb` (see
fixtures/PROVENANCE.md): `addr = 0001:<decimal offset>` is RVA 0x1000 + offset, `code size`
is decimal. Flush has no S_GPROC32 (its file was built without debug information); its public
symbol `?Flush@Queue@Contoso@@QEAAXXZ` is at 0001:0608 and its section contribution is 174
bytes, up to the end of .text (virtual size 0x30E).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pdb_kit import (
    FIXTURES,
    GATEFIX_AGE,
    GATEFIX_GUID,
    GATEFIX_KEY,
    copy_pdb,
    patched,
)

from gate.inputs.symbols import (
    AGE_DIFFERS,
    FOUND,
    GUID_DIFFERS,
    Function,
    PdbFinder,
    PdbIdentity,
    Section,
    Symbolizer,
    open_pdb,
    parse_symbol_path,
    read_pdb_info,
)

GROW = "Contoso::Queue::Grow"
DTOR = "Contoso::Queue::~Queue"
RESERVE = "Contoso::Pool<int>::Reserve"
CALLBACK = "`anonymous namespace'::callback"
FLUSH = "Contoso::Queue::Flush"
# (rva, name, start): first byte, middle, last byte of each function.
FOUND_AT = [
    (0x1000, GROW, 0x1000),  # S_GPROC32 addr = 0001:0000, code size = 94
    (0x102F, GROW, 0x1000),
    (0x105D, GROW, 0x1000),  # 0x1000 + 94 - 1
    (0x1060, "HashSlot", 0x1060),  # S_LPROC32 (static) 0001:0096, code size = 66
    (0x1080, "HashSlot", 0x1060),
    (0x10A1, "HashSlot", 0x1060),
    (0x10B0, DTOR, 0x10B0),  # S_GPROC32 0001:0176, code size = 54
    (0x10C9, DTOR, 0x10B0),
    (0x10E5, DTOR, 0x10B0),
    (0x10F0, "DriverEntry", 0x10F0),  # S_GPROC32 0001:0240, code size = 159
    (0x10F7, "DriverEntry", 0x10F0),  # first byte of inlined Mix (S_INLINESITE code 0x7)
    (0x1119, "DriverEntry", 0x10F0),  # its last byte (code end 0x2A)
    (0x1160, "DriverEntry", 0x10F0),  # inside the second S_INLINESITE (code 0x61..0x83)
    (0x118E, "DriverEntry", 0x10F0),
    (0x1190, RESERVE, 0x1190),  # S_GPROC32 0001:0400, code size = 75
    (0x11B5, RESERVE, 0x1190),
    (0x11DA, RESERVE, 0x1190),
    (0x11E0, CALLBACK, 0x11E0),  # S_LPROC32 0001:0480, code size = 126
    (0x121F, CALLBACK, 0x11E0),
    (0x125D, CALLBACK, 0x11E0),
    (0x1260, FLUSH, 0x1260),  # S_PUB32 only: ?Flush@Queue@Contoso@@QEAAXXZ, 0001:0608
    (0x12B6, FLUSH, 0x1260),
    (0x130D, FLUSH, 0x1260),  # the last byte of .text
]
# Before .text; one past each function's last byte and the padding up to the next function;
# one past .text; .rdata, .data (g_sink at 0003:0008), .pdata; past the image.
NOTHING_AT = [
    0x0, 0xFFF,
    0x105E, 0x105F,
    0x10A2, 0x10AF,
    0x10E6, 0x10EF,
    0x118F,
    0x11DB, 0x11DF,
    0x125E, 0x125F,
    0x130E,
    0x2000, 0x3008, 0x4000, 0x10000000,
]  # fmt: skip
# `dump -section-headers`: name, virtual address, virtual size, flags.
SECTIONS = (
    Section(".text", 0x1000, 0x30E, 0x60000020),
    Section(".rdata", 0x2000, 0xD0, 0x40000040),
    Section(".data", 0x3000, 0x10, 0xC0000040),
    Section(".pdata", 0x4000, 0x24, 0x40000040),
)
IDENTITY = PdbIdentity("gatefix.pdb", GATEFIX_GUID, GATEFIX_AGE)
OTHER_GUID = "00000000-1111-2222-3333-444444444444"


def test_identity_and_sections_as_llvm_pdbutil_reads_them(gatefix_pdb: Path) -> None:
    info = read_pdb_info(gatefix_pdb)
    assert (info.guid, info.age, info.info_age) == (GATEFIX_GUID, GATEFIX_AGE, GATEFIX_AGE)
    assert info.sections == SECTIONS
    assert info.code_ranges() == [(0x1000, 0x130E)]
    assert IDENTITY.store_key == GATEFIX_KEY


def test_backend_identity(gatefix_pdb: Path, backend: str) -> None:
    with open_pdb(gatefix_pdb, backend) as reader:
        assert reader.identity() == IDENTITY


def test_functions_by_rva(gatefix_pdb: Path, backend: str) -> None:
    with open_pdb(gatefix_pdb, backend) as reader:
        got = reader.functions([rva for rva, _, _ in FOUND_AT])
    assert got == [Function(name, start) for _, name, start in FOUND_AT]


def test_no_function_past_an_end_between_functions_or_outside_code(
    gatefix_pdb: Path, backend: str
) -> None:
    with open_pdb(gatefix_pdb, backend) as reader:
        got = reader.functions(NOTHING_AT)
    assert dict(zip(NOTHING_AT, got, strict=True)) == dict.fromkeys(NOTHING_AT)


def test_answers_keep_order_and_repeats(gatefix_pdb: Path, backend: str) -> None:
    rvas = np.array([0x1260, 0x105E, 0x1000, 0x1260, 0x10F7], dtype=np.uint64)
    with open_pdb(gatefix_pdb, backend) as reader:
        got = reader.functions(rvas)
    flush, grow = Function(FLUSH, 0x1260), Function(GROW, 0x1000)
    entry = Function("DriverEntry", 0x10F0)
    assert got == [flush, None, grow, flush, entry]
    assert got[0] is got[3]


def test_frames_as_reports_print_them(gatefix_pdb: Path, backend: str, tmp_path: Path) -> None:
    copy_pdb(gatefix_pdb, tmp_path / "gatefix.pdb")
    path = parse_symbol_path([str(tmp_path)])
    with Symbolizer([("gatefix.sys", IDENTITY)], path, backend) as names:
        labels = names.labels("Gatefix.sys", [0x102F, 0x1000, 0x1160, 0x12B6, 0x105E, 0x2000])
        assert names.problems() == []
    assert labels == [
        "Gatefix.sys!Contoso::Queue::Grow+0x2f",
        "Gatefix.sys!Contoso::Queue::Grow",
        "Gatefix.sys!DriverEntry+0x70",
        "Gatefix.sys!Contoso::Queue::Flush+0x56",
        "Gatefix.sys+0x105e",
        "Gatefix.sys+0x2000",
    ]


def test_found_in_a_flat_folder(gatefix_pdb: Path, tmp_path: Path) -> None:
    pdb = copy_pdb(gatefix_pdb, tmp_path / "out" / "gatefix.pdb")
    search = PdbFinder((tmp_path / "out",)).find(IDENTITY)
    assert (search.status, search.path, search.refused) == (FOUND, pdb, ())


def test_found_in_a_symbol_store(gatefix_pdb: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    pdb = copy_pdb(gatefix_pdb, store / "gatefix.pdb" / GATEFIX_KEY / "gatefix.pdb")
    path = parse_symbol_path([f"srv*{store}*https://example.invalid/symbols"])
    search = PdbFinder(path.folders).find(IDENTITY)
    assert (search.status, search.path) == (FOUND, pdb)


def test_names_from_a_symbol_store(gatefix_pdb: Path, backend: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    copy_pdb(gatefix_pdb, store / "gatefix.pdb" / GATEFIX_KEY / "gatefix.pdb")
    path = parse_symbol_path([f"srv*{store}"])
    with Symbolizer([("gatefix.sys", IDENTITY)], path, backend) as names:
        assert names.names("gatefix.sys", [0x1080, 0x11E0]) == ["HashSlot", CALLBACK]


def test_a_patched_guid_is_refused(gatefix_pdb: Path, backend: str, tmp_path: Path) -> None:
    pdb = patched(gatefix_pdb, tmp_path / "gatefix.pdb", guid=OTHER_GUID, old_guid=GATEFIX_GUID)
    assert read_pdb_info(pdb).guid == OTHER_GUID
    path = parse_symbol_path([str(tmp_path)])
    with Symbolizer([("gatefix.sys", IDENTITY)], path, backend) as names:
        assert names.functions("gatefix.sys", [0x1000]) == [None]
        assert [r.status for r in names.report()] == [GUID_DIFFERS]
        assert names.problems() == [
            f"gatefix.sys: {pdb} refused: its GUID is {{{OTHER_GUID}}}, "
            f"the trace's is {{{GATEFIX_GUID}}}"
        ]


def test_a_patched_age_is_refused(gatefix_pdb: Path, backend: str, tmp_path: Path) -> None:
    pdb = patched(gatefix_pdb, tmp_path / "gatefix.pdb", age=2)
    path = parse_symbol_path([str(tmp_path)])
    with Symbolizer([("gatefix.sys", IDENTITY)], path, backend) as names:
        assert names.functions("gatefix.sys", [0x1000]) == [None]
        assert [r.status for r in names.report()] == [AGE_DIFFERS]
        assert names.problems() == [f"gatefix.sys: {pdb} refused: its age is 2, the trace's is 1"]
    # The file the trace's identity names at age 2 is this one, and the backend agrees.
    with open_pdb(pdb, backend) as reader:
        assert reader.identity() == PdbIdentity("gatefix.pdb", GATEFIX_GUID, 2)
        assert reader.functions([0x1000]) == [Function(GROW, 0x1000)]


def test_the_fixture_stays_small(gatefix_pdb: Path) -> None:
    assert gatefix_pdb.stat().st_size == 73728  # 18 blocks of 4096 bytes (`dump -summary`)


_TOOLS = ("clang-14", "lld-link-14", "llvm-pdbutil-14")


@pytest.mark.skipif(sys.platform == "win32", reason="build.sh is a POSIX shell script")
@pytest.mark.skipif(
    not all(shutil.which(t) for t in _TOOLS),
    reason="rebuilding gatefix.pdb needs clang-14, lld-link-14 and llvm-pdbutil-14 "
    "(apt-get install clang-14 lld-14 llvm-14)",
)
def test_the_committed_pdb_is_what_build_sh_makes(gatefix_pdb: Path, tmp_path: Path) -> None:
    """The PDB in the repository comes from the source beside it: rebuilt elsewhere, it is
    byte for byte the same (and so has the same GUID)."""
    env = {**os.environ, "OUT": str(tmp_path)}
    subprocess.run(
        ["sh", str(FIXTURES / "build.sh")], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    assert (tmp_path / "gatefix.pdb").read_bytes() == gatefix_pdb.read_bytes()
