"""The `symbolic` backend: PDBs read by the symbolic package (MIT; not on Windows).

symbolic turns the PDB into a symcache once when the file is opened; a lookup then gives the
chain of functions at an address, inlined ones first and the function whose code it is last.
WPA names the frame by that last one. Its name is cut back to the form DbgHelp and WPA use
(`names.without_arguments`), and a public symbol symbolic leaves in its MSVC-decorated form is
undecorated (`undecorate.undecorated`).
"""

from __future__ import annotations

from pathlib import Path

import symbolic

from gate.inputs.symbols.cached import CachedReader
from gate.inputs.symbols.identity import Function, PdbIdentity
from gate.inputs.symbols.names import without_arguments
from gate.inputs.symbols.pdbfile import PdbFormatError, PdbInfo
from gate.inputs.symbols.undecorate import undecorated

# symbolic's start address for an inlined function, which has no start of its own.
_NO_ADDRESS = 0xFFFFFFFF


class SymbolicReader(CachedReader):
    """A PDB opened with symbolic."""

    def __init__(self, path: Path, info: PdbInfo) -> None:
        super().__init__(path, info)
        try:
            archive = symbolic.Archive.open(str(path))  # type: ignore[attr-defined]
            obj = next(o for o in archive.iter_objects() if o.file_format == "pdb")
            self._debug_id = obj.debug_id
            self._symcache = obj.make_symcache()
        except StopIteration:
            raise PdbFormatError(path, "symbolic finds no PDB object in it") from None
        except symbolic.SymbolicError as e:  # type: ignore[attr-defined]
            # symbolic's messages add a line per cause; a gate error is one line.
            causes = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
            raise PdbFormatError(path, f"symbolic cannot read it: {causes}") from None

    def identity(self) -> PdbIdentity:
        """The identity as symbolic reads it (its debug id: GUID, '-', age in hex)."""
        guid, _, age = self._debug_id.rpartition("-")
        return PdbIdentity(self.path.name, guid.lower(), int(age, 16))

    def _lookup(self, rva: int) -> Function | None:
        chain = self._symcache.lookup(rva)
        outer = next((s for s in reversed(chain) if s.sym_addr != _NO_ADDRESS), None)
        if outer is None:
            return None
        return Function(without_arguments(undecorated(outer.symbol)), int(outer.sym_addr))

    def close(self) -> None:
        """Drop the symcache."""
        super().close()
        self._symcache = None
