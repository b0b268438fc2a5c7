"""One interface for reading functions out of a PDB, whichever library does the reading.

Two backends implement `PdbReader`: `symbolic` (the MIT-licensed symbolic package, where it
installs; it has no Windows wheel) and `dbghelp` (the system's own DbgHelp through ctypes,
on Windows). Both give the same names for the same PDB; the parts that do not depend on the
library are here and shared: the identity comes from the file itself (`pdbfile`), an RVA
outside the image's code sections names no function, and each distinct RVA is looked up
once per reader, however often a trace's stacks repeat it.

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


_MISSING = object()


class CachedReader:
    """What the backends share: the code-section filter and one lookup per distinct RVA.

    A backend implements `_lookup(rva)` for an RVA inside a code section, and `close`.
    """

    def __init__(self, path: Path, info: PdbInfo) -> None:
        self.path = path
        self.info = info
        ranges = info.code_ranges()
        self._starts = np.array([r[0] for r in ranges], dtype=np.int64)
        self._ends = np.array([r[1] for r in ranges], dtype=np.int64)
        self._cache: dict[int, Function | None] = {}
        self._interned: dict[tuple[str, int], Function] = {}

    def identity(self) -> PdbIdentity:
        """The identity the file itself records, with its file name as the name."""
        return PdbIdentity(self.path.name, self.info.guid, self.info.age)

    def functions(self, rvas: Sequence[int] | np.ndarray) -> list[Function | None]:
        """The function containing each RVA, None where none does; in the order given."""
        arr = np.asarray(rvas, dtype=np.int64).ravel()
        if arr.size == 0:
            return []
        distinct, inverse = np.unique(arr, return_inverse=True)
        in_code = self._in_code(distinct)
        cache = self._cache
        found: list[Function | None] = []
        for rva, code in zip(distinct.tolist(), in_code.tolist(), strict=True):
            got = cache.get(rva, _MISSING)
            if got is _MISSING:
                got = self._intern(self._lookup(rva)) if code else None
                cache[rva] = got
            found.append(got)  # type: ignore[arg-type]
        return [found[i] for i in inverse.ravel().tolist()]

    def _in_code(self, rvas: np.ndarray) -> np.ndarray:
        """Which RVAs lie in a code section (all of them when the PDB lists no sections)."""
        if self._starts.size == 0:
            return rvas >= 0
        i = np.searchsorted(self._starts, rvas, side="right") - 1
        ok = i >= 0
        ok[ok] = rvas[ok] < self._ends[i[ok]]
        return ok

    def _intern(self, function: Function | None) -> Function | None:
        """One object per function, however many RVAs fall inside it."""
        if function is None:
            return None
        return self._interned.setdefault((function.name, function.start_rva), function)

    def _lookup(self, rva: int) -> Function | None:
        raise NotImplementedError

    def close(self) -> None:
        """Forget the answers; a backend also releases its library's hold on the file."""
        self._cache.clear()

    def __enter__(self) -> CachedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
