"""One interface for reading functions out of a PDB, whichever library does the reading.

Two backends implement `PdbReader`: `symbolic` (the MIT-licensed symbolic package, where it
installs; it has no Windows wheel) and `dbghelp` (the system's own DbgHelp through ctypes,
on Windows). Both give the same names for the same PDB; the parts that do not depend on the
library are shared (`cached.CachedReader`): the identity comes from the file itself
(`pdbfile`), an RVA outside the image's code sections names no function, and each distinct
RVA is looked up once per reader, however often a trace's stacks repeat it.

Neither library is imported before a PDB is opened, so the rest of the gate runs without them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from gate import DISTRIBUTION
from gate.errors import GateError
from gate.inputs.symbols.identity import Function, PdbIdentity
from gate.inputs.symbols.pdbfile import PdbInfo, read_pdb_info

SYMBOLIC = "symbolic"
DBGHELP = "dbghelp"
BACKENDS = (DBGHELP, SYMBOLIC)
INSTALL_HINT = f"python -m pip install '{DISTRIBUTION}[symbols]'"


class SymbolsUnavailableError(GateError):
    """Function names were asked for, but no PDB reader can run on this system."""


class PdbReader(Protocol):
    """An open PDB: its identity and the functions at RVAs of its image."""

    path: Path

    def identity(self) -> PdbIdentity:
        """The PDB's own GUID and age, with its file name as the name."""
        ...

    def functions(self, rvas: Sequence[int] | np.ndarray) -> list[Function | None]:
        """The function containing each RVA, None where none does; in the order given."""
        ...

    def close(self) -> None:
        """Release the library's hold on the file."""
        ...

    def __enter__(self) -> PdbReader: ...

    def __exit__(self, *exc: object) -> None: ...


def available_backends() -> list[str]:
    """The backends that can run here, preferred first: DbgHelp on Windows (it is always
    there), symbolic wherever it is installed."""
    found = [DBGHELP] if sys.platform == "win32" else []
    try:
        if importlib.util.find_spec(SYMBOLIC) is not None:
            found.append(SYMBOLIC)
    except (ImportError, ValueError):  # a broken or blocked install
        pass
    return found


def require_backend(backend: str | None = None) -> str:
    """`backend` if it can run here, else the preferred one that can.

    Raises SymbolsUnavailableError, saying what to install, when none can.
    """
    found = available_backends()
    if backend is not None and backend not in BACKENDS:
        raise SymbolsUnavailableError(
            f"PDB reader {backend!r}: unknown; the readers are {', '.join(BACKENDS)}"
        )
    if backend is not None and backend not in found:
        where = "only on Windows" if backend == DBGHELP else f"after {INSTALL_HINT}"
        raise SymbolsUnavailableError(
            f"PDB reader {backend!r}: not on this system (it runs {where})"
        )
    if not found:
        raise SymbolsUnavailableError(
            f"function names from PDBs: no PDB reader on this system (the symbolic package is "
            f"not installed); install it with {INSTALL_HINT}"
        )
    return backend or found[0]


def open_pdb(path: Path, backend: str | None = None, info: PdbInfo | None = None) -> PdbReader:
    """The PDB at `path`, opened with `backend` (default: the preferred one here).

    `info` is the file's identity and sections when the caller has read them already.
    Raises SymbolsUnavailableError without a backend, PdbFormatError (an InputError) when the
    file cannot be read as a PDB.
    """
    name = require_backend(backend)
    info = info if info is not None else read_pdb_info(path)
    if name == DBGHELP:
        from gate.inputs.symbols.dbghelp import DbgHelpReader

        return DbgHelpReader(path, info)
    try:
        from gate.inputs.symbols.symbolic_backend import SymbolicReader
    except ImportError as e:
        raise SymbolsUnavailableError(
            f"PDB reader 'symbolic': cannot be loaded ({e}); reinstall it with {INSTALL_HINT}"
        ) from None
    return SymbolicReader(path, info)
