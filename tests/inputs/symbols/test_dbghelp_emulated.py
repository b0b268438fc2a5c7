"""The dbghelp backend's own logic on every system, against a DbgHelp that answers as its
documentation says (`pdb_kit.FakeDbgHelp`: the procedure containing an address, else the
nearest symbol below, whatever its size): the same functions as test_gatefix_pdb.py expects of
every backend, and the session kept to the PDB's folder and ended on close.

What the real dbghelp.dll answers is checked by test_gatefix_pdb.py in CI's Windows job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pdb_kit import FakeDbgHelp
from test_gatefix_pdb import FOUND_AT, NOTHING_AT

from gate.inputs.symbols import DBGHELP, Function, dbghelp, open_pdb, readers
from gate.inputs.symbols.dbghelp import (
    FAKE_BASE,
    SYMOPT_AUTO_PUBLICS,
    SYMOPT_NO_PROMPTS,
    SYMOPT_UNDNAME,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDbgHelp:
    dll = FakeDbgHelp()
    monkeypatch.setattr(dbghelp, "_dbghelp", lambda: dll)
    monkeypatch.setattr(readers, "available_backends", lambda: [DBGHELP])
    return dll


def test_functions_by_rva(gatefix_pdb: Path, fake: FakeDbgHelp) -> None:
    with open_pdb(gatefix_pdb, DBGHELP) as reader:
        got = reader.functions([rva for rva, _, _ in FOUND_AT])
    assert got == [Function(name, start) for _, name, start in FOUND_AT]


def test_nothing_past_an_end_between_functions_or_outside_code(
    gatefix_pdb: Path, fake: FakeDbgHelp
) -> None:
    with open_pdb(gatefix_pdb, DBGHELP) as reader:
        got = reader.functions(NOTHING_AT)
    assert dict(zip(NOTHING_AT, got, strict=True)) == dict.fromkeys(NOTHING_AT)
    # DbgHelp is asked about the padding inside .text (and the starts of the symbols it
    # answers with), never about data or addresses outside .text.
    assert all(0x1000 <= rva < 0x130E for rva in fake.lookups), fake.lookups
    assert {0x105E, 0x105F, 0x118F, 0x125E} <= set(fake.lookups)


def test_a_public_symbol_past_a_sized_function_names_nothing(
    gatefix_pdb: Path, fake: FakeDbgHelp
) -> None:
    """Padding after a function whose public symbol DbgHelp prefers: the answer is the public
    (no size), the procedure at its address ends before the RVA, so nothing is named."""
    with open_pdb(gatefix_pdb, DBGHELP) as reader:
        assert reader.functions([0x105E, 0x1060 - 1, 0x1000]) == [
            None,
            None,
            Function("Contoso::Queue::Grow", 0x1000),
        ]
    assert (
        fake.lookups.count(0x1000) >= 2
    )  # the public's own address asked again, for its procedure


def test_the_session_is_the_pdbs_own_and_ends_on_close(
    gatefix_pdb: Path, fake: FakeDbgHelp
) -> None:
    reader = open_pdb(gatefix_pdb, DBGHELP)
    assert fake.options & SYMOPT_UNDNAME and fake.options & SYMOPT_AUTO_PUBLICS
    assert fake.options & SYMOPT_NO_PROMPTS
    (handle,) = fake.sessions
    # The PDB's folder only: never _NT_SYMBOL_PATH, never a symbol server.
    assert fake.sessions[handle] == str(gatefix_pdb.parent)
    assert fake.modules[handle] == (str(gatefix_pdb), FAKE_BASE, 0x130E)  # up to .text's end
    reader.close()
    assert fake.sessions == {} and fake.modules == {}
    assert reader.functions([0x1000]) == [None]  # a closed reader names nothing
