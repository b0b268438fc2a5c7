"""Functions by RVA from the real MSVC PDB, the same answers from every backend.

The expected names and start RVAs come from `llvm-pdbutil dump -symbols` (S_GPROC32 /
S_LPROC32: `addr = 0001:<decimal offset>`, `code size`) and `dump -publics`; .text starts at
RVA 0x1000 and ends at 0x391B.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pdb_kit import CRASH_GUID, hand_pdb, patched

from gate import DISTRIBUTION
from gate.errors import GateError
from gate.inputs.symbols import (
    Function,
    PdbFormatError,
    PdbIdentity,
    Symbolizer,
    SymbolPath,
    SymbolsUnavailableError,
    available_backends,
    open_pdb,
    read_pdb_info,
    require_backend,
)

REQUEST_DUMP = "google_breakpad::CrashGenerationClient::RequestDump"
WSTRING = "std::basic_string<wchar_t,std::char_traits<wchar_t>,std::allocator<wchar_t> >"
# (rva, function name, function start): starts, insides, inlined call sites, last bytes.
FOUND = [
    (0x1000, REQUEST_DUMP, 0x1000),  # first byte (addr 0001:0000, code size 276)
    (0x1011, REQUEST_DUMP, 0x1000),  # where IsRegistered() is inlined
    (0x1113, REQUEST_DUMP, 0x1000),  # last byte
    (
        0x1120,
        f"{WSTRING}::~basic_string<wchar_t,std::char_traits<wchar_t>,std::allocator<wchar_t> >",
        0x1120,
    ),
    (
        0x1134,
        f"{WSTRING}::~basic_string<wchar_t,std::char_traits<wchar_t>,std::allocator<wchar_t> >",
        0x1120,
    ),
    (0x12E5, f"{WSTRING}::operator=", 0x12E0),
    (0x1A80, "google_breakpad::ExceptionHandler::ExceptionHandlerThreadMain", 0x1A80),
    (0x26F4, "google_breakpad::CrashGenerationClient::`scalar deleting destructor'", 0x26F0),
    (0x28E0, "`anonymous namespace'::callback", 0x28D0),  # S_LPROC32
    (0x2910, "main", 0x2910),
    (0x2A3D, "main", 0x2910),  # inside inlined `anonymous namespace'::crash()
    (0x2A84, "operator new", 0x2A7F),
    (0x2F2E, "std::exception::what", 0x2F2E),  # a const method
    (0x3000, "__scrt_initialize_onexit_tables", 0x2FED),
    (0x37F2, "memcpy", 0x37F2),  # an import thunk: only a public symbol (_memcpy) names it
]
# Before .text, padding after RequestDump's last byte, data sections, past the image.
NOTHING = [0x0, 0xFFF, 0x1114, 0x111F, 0x4000, 0x6010, 0x9000, 0x10000000]


def test_functions_by_rva(crash_pdb: Path, backend: str) -> None:
    with open_pdb(crash_pdb, backend) as reader:
        got = reader.functions([rva for rva, _, _ in FOUND])
    assert got == [Function(name, start) for _, name, start in FOUND]


def test_no_function_outside_code(crash_pdb: Path, backend: str) -> None:
    with open_pdb(crash_pdb, backend) as reader:
        assert reader.functions(NOTHING) == [None] * len(NOTHING)


def test_order_repeats_and_array_input(crash_pdb: Path, backend: str) -> None:
    rvas = np.array([0x2910, 0x4000, 0x1000, 0x2910, 0x1011], dtype=np.uint64)
    with open_pdb(crash_pdb, backend) as reader:
        got = reader.functions(rvas)
        assert reader.functions([]) == []
    main, dump = Function("main", 0x2910), Function(REQUEST_DUMP, 0x1000)
    assert got == [main, None, dump, main, dump]
    assert got[0] is got[3] and got[2] is got[4]  # one object per function


def test_each_distinct_rva_is_looked_up_once(crash_pdb: Path, backend: str) -> None:
    with open_pdb(crash_pdb, backend) as reader:
        calls: list[int] = []
        real = reader._lookup  # type: ignore[attr-defined]
        reader._lookup = lambda rva: calls.append(rva) or real(rva)  # type: ignore[attr-defined]
        reader.functions([0x1000] * 1000 + [0x1011] * 5 + [0x4000] * 7)
        reader.functions([0x1011, 0x2910, 0x1000])
    assert calls == [0x1000, 0x1011, 0x2910]  # nothing asked outside the code section


def test_identity_agrees_with_the_file(crash_pdb: Path, backend: str) -> None:
    with open_pdb(crash_pdb, backend) as reader:
        assert reader.identity() == PdbIdentity("crash.pdb", CRASH_GUID, 1)


def test_backend_reads_a_patched_age_like_the_gate(
    crash_pdb: Path, backend: str, tmp_path: Path
) -> None:
    copy = patched(crash_pdb, tmp_path / "aged.pdb", age=9)
    info = read_pdb_info(copy)
    with open_pdb(copy, backend) as reader:
        assert (
            reader.identity()
            == PdbIdentity("aged.pdb", CRASH_GUID, 9)
            == PdbIdentity("aged.pdb", info.guid, info.age)
        )
        assert reader.functions([0x2910]) == [Function("main", 0x2910)]


def _renamed(src: Path, dest: Path) -> Path:
    """crash.pdb with the import thunk at 0x37B0 renamed: its public symbol to the decorated
    `??1Widget@Contoso@@QEAA@XZ`, its thunk record to the undecorated name, so that either
    record a backend prefers gives the same answer."""
    data = src.read_bytes()
    public = b"__register_thread_local_exe_atexit_callback\x00"
    thunk = public[1:]
    assert data.count(public) == 2
    data = data.replace(public, b"??1Widget@Contoso@@QEAA@XZ".ljust(len(public), b"\x00"))
    data = data.replace(thunk, b"Contoso::Widget::~Widget".ljust(len(thunk), b"\x00"))
    dest.write_bytes(data)
    return dest


def test_decorated_public_symbol_is_undecorated(
    crash_pdb: Path, backend: str, tmp_path: Path
) -> None:
    with open_pdb(_renamed(crash_pdb, tmp_path / "renamed.pdb"), backend) as reader:
        assert (
            reader.functions([0x37B0, 0x37B3]) == [Function("Contoso::Widget::~Widget", 0x37B0)] * 2
        )


def test_a_file_no_backend_can_read(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "hand.pdb"
    path.write_bytes(hand_pdb())
    try:
        reader = open_pdb(path, backend)
    except PdbFormatError as e:
        assert e.path == path and "\n" not in str(e)
        assert str(e).startswith(f"{path}: ")
    else:  # a backend may accept a PDB without symbol streams: then it names nothing
        with reader:
            assert reader.functions([0x1000, 0x2000]) == [None, None]


def _no_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "symbolic", None)  # `import symbolic` now fails


MISSING = (
    "function names from PDBs: no PDB reader on this system (the symbolic package is not "
    f"installed); install it with python -m pip install '{DISTRIBUTION}[symbols]'"
)


def test_without_the_library_asking_for_symbols_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_backend(monkeypatch)
    assert available_backends() == []
    for ask in (
        require_backend,
        lambda: open_pdb(tmp_path / "x.pdb"),
        lambda: Symbolizer([("a.sys", None)], SymbolPath((), ())),
    ):
        with pytest.raises(SymbolsUnavailableError) as e:
            ask()
        assert str(e.value) == MISSING
        assert isinstance(e.value, GateError)
    assert DISTRIBUTION == "driver-memory-gate"


def test_asking_for_a_backend_that_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_backend(monkeypatch)
    with pytest.raises(SymbolsUnavailableError) as e:
        require_backend("dbghelp")
    assert str(e.value) == "PDB reader 'dbghelp': not on this system (it runs only on Windows)"
    with pytest.raises(SymbolsUnavailableError) as e:
        require_backend("symbolic")
    assert str(e.value) == (
        "PDB reader 'symbolic': not on this system (it runs after "
        f"python -m pip install '{DISTRIBUTION}[symbols]')"
    )
    with pytest.raises(SymbolsUnavailableError) as e:
        require_backend("dia")
    assert str(e.value) == "PDB reader 'dia': unknown; the readers are dbghelp, symbolic"


def test_the_preferred_backend_here() -> None:
    expected = (["dbghelp"] if sys.platform == "win32" else []) + (
        ["symbolic"] if "symbolic" in available_backends() else []
    )
    assert available_backends() == expected


def test_importing_the_package_loads_no_pdb_library() -> None:
    code = (
        "import sys, gate.inputs.symbols, gate.inputs\n"
        "loaded = [m for m in ('symbolic', 'gate.inputs.symbols.dbghelp',"
        " 'gate.inputs.symbols.symbolic_backend') if m in sys.modules]\n"
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
