"""A trace's images and a symbol path in, function names and one line per image out."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import CRASH_GUID, CRASH_KEY, copy_pdb, patched

import gate.inputs.symbols.symbolizer as symbolizer_module
from gate.inputs.symbols import (
    AGE_DIFFERS,
    FOUND,
    GUID_DIFFERS,
    NO_IDENTITY,
    NOT_FOUND,
    UNREADABLE,
    Function,
    PdbFormatError,
    PdbIdentity,
    Symbolizer,
    parse_symbol_path,
)

CRASH = PdbIdentity("crash.pdb", CRASH_GUID, 1)
OTHER_GUID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def store(crash_pdb: Path, tmp_path: Path) -> Path:
    """A symbol store with crash.pdb under its identity, and a flat folder of refusals."""
    copy_pdb(crash_pdb, tmp_path / "store" / "crash.pdb" / CRASH_KEY / "crash.pdb")
    patched(crash_pdb, tmp_path / "flat" / "aged.pdb", age=2)
    patched(crash_pdb, tmp_path / "flat" / "other.pdb", guid=OTHER_GUID)
    (tmp_path / "flat" / "broken.pdb").write_bytes(b"Microsoft C/C++ MSF 7.00\r\n")
    return tmp_path


def _images() -> list[tuple[str, PdbIdentity | None]]:
    return [
        ("ContosoNet.sys", CRASH),
        ("contosonet.sys", CRASH),  # the same image seen twice (a rundown, a reload)
        ("aged.sys", PdbIdentity("aged.pdb", CRASH_GUID, 1)),
        ("other.sys", PdbIdentity("other.pdb", CRASH_GUID, 1)),
        ("broken.sys", PdbIdentity("broken.pdb", CRASH_GUID, 1)),
        ("gone.sys", PdbIdentity("gone.pdb", CRASH_GUID, 1)),
        ("bare.sys", None),
    ]


def test_names_labels_and_report(store: Path, backend: str) -> None:
    path = parse_symbol_path([f"{store / 'flat'};srv*{store / 'store'}*https://example.invalid/s"])
    with Symbolizer(_images(), path, backend) as names:
        assert names.backend == backend
        assert names.functions("contosonet.sys", [0x2A3D, 0x4000]) == [
            Function("main", 0x2910),
            None,
        ]
        assert names.names("CONTOSONET.SYS", [0x1011, 0x9000]) == [
            "google_breakpad::CrashGenerationClient::RequestDump",
            None,
        ]
        assert names.labels("contosonet.sys", [0x2910, 0x2A3D, 0x4000]) == [
            "contosonet.sys!main",
            "contosonet.sys!main+0x12d",
            "contosonet.sys+0x4000",
        ]
        assert names.functions("aged.sys", [0x2910]) == [None]
        assert names.functions("unknown.sys", [0x2910, 0x1000]) == [None, None]
        report = {r.driver: r for r in names.report()}
        problems = names.problems()
        notes = names.notes
    flat, st = store / "flat", store / "store"
    assert {d: r.status for d, r in report.items()} == {
        "aged.sys": AGE_DIFFERS,
        "bare.sys": NO_IDENTITY,
        "broken.sys": UNREADABLE,
        "contosonet.sys": FOUND,
        "gone.sys": NOT_FOUND,
        "other.sys": GUID_DIFFERS,
    }
    assert report["contosonet.sys"].line() == (
        f"contosonet.sys: names from {st / 'crash.pdb' / CRASH_KEY / 'crash.pdb'}"
    )
    assert report["contosonet.sys"].identity == CRASH
    assert problems == [
        f"aged.sys: {flat / 'aged.pdb'} refused: its age is 2, the trace's is 1",
        "bare.sys: the trace names no PDB for it (no DbgID_RSDS event)",
        f"broken.sys: {flat / 'broken.pdb'} unreadable: truncated: superblock at offset 0x0 "
        "needs 56 bytes",
        f"gone.sys: no gone.pdb {{{CRASH_GUID}}} age 1 in the 2 symbol folders",
        f"other.sys: {flat / 'other.pdb'} refused: its GUID is {{{OTHER_GUID}}}, "
        f"the trace's is {{{CRASH_GUID}}}",
    ]
    assert notes == [
        "symbol path 'https://example.invalid/s': a symbol server URL; the gate reads local "
        "folders only and downloads nothing"
    ]


def test_problems_for_chosen_drivers_only(store: Path, backend: str) -> None:
    path = parse_symbol_path([str(store / "flat")])
    with Symbolizer(_images(), path, backend) as names:
        assert names.problems(["gone.sys", "ContosoNet.sys"]) == [
            f"gone.sys: no gone.pdb {{{CRASH_GUID}}} age 1 in the 1 symbol folder",
            f"contosonet.sys: no crash.pdb {{{CRASH_GUID}}} age 1 in the 1 symbol folder",
        ]
        assert [r.status for r in names.report(["unknown.sys"])] == [NO_IDENTITY]


def test_each_pdb_is_opened_once(
    store: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    real = symbolizer_module.open_pdb

    def counting(path: Path, *args: object) -> object:
        opened.append(path)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(symbolizer_module, "open_pdb", counting)
    images = [("a.sys", CRASH), ("b.sys", CRASH)]  # two names, one PDB
    with Symbolizer(images, parse_symbol_path([str(store / "store")]), backend) as names:
        for _ in range(3):
            names.functions("a.sys", [0x2910])
            names.functions("b.sys", [0x1000])
        names.problems()
    assert opened == [store / "store" / "crash.pdb" / CRASH_KEY / "crash.pdb"]


def test_a_pdb_the_backend_cannot_read(
    store: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: Path, *args: object) -> object:
        raise PdbFormatError(path, "the reader gave up")

    monkeypatch.setattr(symbolizer_module, "open_pdb", failing)
    with Symbolizer([("a.sys", CRASH)], parse_symbol_path([str(store / "store")]), backend) as n:
        assert n.functions("a.sys", [0x2910]) == [None]
        [result] = n.report()
    pdb = store / "store" / "crash.pdb" / CRASH_KEY / "crash.pdb"
    assert (result.status, result.error) == (UNREADABLE, "the reader gave up")
    assert result.line() == f"a.sys: {pdb} unreadable: the reader gave up"


def test_second_identity_of_a_driver_is_tried(store: Path, backend: str) -> None:
    images = [("x.sys", PdbIdentity("gone.pdb", CRASH_GUID, 1)), ("x.sys", CRASH)]
    with Symbolizer(images, parse_symbol_path([str(store / "store")]), backend) as names:
        assert names.names("x.sys", [0x2910]) == ["main"]
        [result] = names.report()
    assert (result.status, result.identity) == (FOUND, CRASH)
