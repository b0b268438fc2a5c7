"""Symbol paths: folders and the `_NT_SYMBOL_PATH` syntax, local folders only."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.inputs.symbols import NT_SYMBOL_PATH, SymbolPath, parse_symbol_path

MS = "https://msdl.microsoft.com/download/symbols"
URL_NOTE = f"symbol path {MS!r}: a symbol server URL; the gate reads local folders only and downloads nothing"  # noqa: E501


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    made = (tmp_path / "symbols", tmp_path / "cache", tmp_path / "build pdb")
    for f in made:
        f.mkdir()
    return made


def test_plain_folders_in_order_each_once(folders: tuple[Path, Path, Path]) -> None:
    a, b, c = folders
    got = parse_symbol_path([str(a), f"{b};{c}", f" {a} ;;"])
    assert got == SymbolPath((a, b, c), ())


def test_srv_with_cache_and_server(folders: tuple[Path, Path, Path]) -> None:
    a, b, _ = folders
    got = parse_symbol_path([f"srv*{b}*{MS}", f"SRV*{a}"])
    assert got == SymbolPath((b, a), (URL_NOTE,))


def test_symsrv_skips_the_dll_name(folders: tuple[Path, Path, Path]) -> None:
    a, _, _ = folders
    got = parse_symbol_path([f"symsrv*symsrv.dll*{a}*{MS}"])
    assert got == SymbolPath((a,), (URL_NOTE,))


def test_cache_element(folders: tuple[Path, Path, Path]) -> None:
    _, b, c = folders
    got = parse_symbol_path([f"cache*{b};{c}"])
    assert got == SymbolPath((b, c), ())


def test_default_stores_and_server_only_are_notes() -> None:
    got = parse_symbol_path([f"srv*{MS}", "cache*", "srv**" + MS])
    assert got.folders == ()
    assert got.notes == (
        URL_NOTE,
        "symbol path 'cache*': names only the debugger's default store, which the gate does "
        "not search",
        URL_NOTE,
    )


def test_unknown_element_kind() -> None:
    got = parse_symbol_path(["foo*bar"])
    assert got == SymbolPath(
        (), ("symbol path 'foo*bar': not a folder, srv*, symsrv* or cache* element; left out",)
    )


def test_missing_folder_and_file_are_notes(tmp_path: Path) -> None:
    (tmp_path / "f.pdb").write_bytes(b"x")
    got = parse_symbol_path([str(tmp_path / "nope"), str(tmp_path / "f.pdb")])
    assert got == SymbolPath(
        (),
        (
            f"symbol path {str(tmp_path / 'nope')!r}: no such folder",
            f"symbol path {str(tmp_path / 'f.pdb')!r}: a file, not a folder",
        ),
    )


def test_relative_folders_use_the_base(tmp_path: Path) -> None:
    (tmp_path / "budgets" / "pdb").mkdir(parents=True)
    got = parse_symbol_path(["pdb", "srv*pdb"], base=tmp_path / "budgets")
    assert got == SymbolPath((tmp_path / "budgets" / "pdb",), ())


def test_windows_paths_off_windows_are_not_found_not_broken(tmp_path: Path) -> None:
    (tmp_path / "out" / "pdb").mkdir(parents=True)
    entries = [r"C:\symbols", r"srv*D:\cache*" + MS, r"\\server\share\syms", r"out\pdb"]
    got = parse_symbol_path(entries, base=tmp_path, windows=False)
    assert got.folders == (tmp_path / "out" / "pdb",)  # backslashes separate folders here
    assert got.notes == (
        r"symbol path 'C:\\symbols': a Windows drive or network path; not found here",
        URL_NOTE,
        r"symbol path 'D:\\cache': a Windows drive or network path; not found here",
        r"symbol path '\\\\server\\share\\syms': a Windows drive or network path; not found here",
    )


def test_windows_rules_keep_drive_paths(tmp_path: Path) -> None:
    got = parse_symbol_path([r"Q:\no\such\symbols"], windows=True)
    assert got.folders == ()
    assert got.notes == (r"symbol path 'Q:\\no\\such\\symbols': no such folder",)


def test_environment_variable_name() -> None:
    assert NT_SYMBOL_PATH == "_NT_SYMBOL_PATH"
