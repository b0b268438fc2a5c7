"""Function names for allocating call sites, from the build's own PDB files.

A trace names each image's PDB by identity (file name, GUID, age: `PdbIdentity`). Given a
symbol path (`parse_symbol_path`: folders and the local parts of `_NT_SYMBOL_PATH`), a
`Symbolizer` finds each image's PDB by that identity, never by name alone, opens it once and
answers `(driver, RVAs) -> Function` (`driver.sys!Class::Method`, as WPA shows frames); its
`problems()` say, one line per image, why an image has no names (not found, GUID differs,
age differs, unreadable).

PDBs are read by the symbolic package where it installs, and by Windows' own DbgHelp on
Windows, behind one `PdbReader` interface; neither is imported until a PDB is opened. Without
either, asking for names raises `SymbolsUnavailableError`, which says what to install.

    path = parse_symbol_path(["srv*C:\\symbols*https://msdl.microsoft.com/download/symbols"])
    with Symbolizer([("contosonet.sys", identity)], path) as names:
        names.functions("contosonet.sys", [0x1130, 0x1a2c])   # [Function(...), None]
        names.problems()                                         # ['...: why', ...]
"""

from __future__ import annotations

from gate.inputs.symbols.identity import Function, PdbIdentity, frame_label
from gate.inputs.symbols.locate import (
    AGE_DIFFERS,
    FOUND,
    GUID_DIFFERS,
    NOT_FOUND,
    UNREADABLE,
    PdbFinder,
    PdbSearch,
    Refusal,
)
from gate.inputs.symbols.paths import NT_SYMBOL_PATH, SymbolPath, parse_symbol_path
from gate.inputs.symbols.pdbfile import PdbFormatError, PdbInfo, Section, read_pdb_info
from gate.inputs.symbols.readers import (
    BACKENDS,
    DBGHELP,
    INSTALL_HINT,
    SYMBOLIC,
    PdbReader,
    SymbolsUnavailableError,
    available_backends,
    open_pdb,
    require_backend,
)
from gate.inputs.symbols.symbolizer import NO_IDENTITY, ImageSymbols, Symbolizer

__all__ = [
    "AGE_DIFFERS",
    "BACKENDS",
    "DBGHELP",
    "FOUND",
    "GUID_DIFFERS",
    "INSTALL_HINT",
    "NOT_FOUND",
    "NO_IDENTITY",
    "NT_SYMBOL_PATH",
    "SYMBOLIC",
    "UNREADABLE",
    "Function",
    "ImageSymbols",
    "PdbFinder",
    "PdbFormatError",
    "PdbIdentity",
    "PdbInfo",
    "PdbReader",
    "PdbSearch",
    "Refusal",
    "Section",
    "SymbolPath",
    "Symbolizer",
    "SymbolsUnavailableError",
    "available_backends",
    "frame_label",
    "open_pdb",
    "parse_symbol_path",
    "read_pdb_info",
    "require_backend",
]
