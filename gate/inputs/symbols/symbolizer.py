"""Function names for a trace's frames, from the PDBs of its images.

A `Symbolizer` knows the trace's images (driver name and PDB identity) and a symbol path. The
first question about a driver finds its PDB by identity (`locate`) and opens it with the
backend chosen for the run; the reader stays open for every later question, so each PDB is
opened once. `report` says for each image which PDB gave its names, or why none did, one
short line each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gate.errors import InputError
from gate.inputs.symbols.identity import Function, PdbIdentity, frame_label
from gate.inputs.symbols.locate import FOUND, UNREADABLE, PdbFinder, PdbSearch
from gate.inputs.symbols.paths import SymbolPath
from gate.inputs.symbols.readers import PdbReader, open_pdb, require_backend

NO_IDENTITY = "no PDB identity"


@dataclass(frozen=True)
class ImageSymbols:
    """What became of one driver's PDB."""

    driver: str
    identity: PdbIdentity | None  # what the trace names (the first, if it names several)
    search: PdbSearch | None = None  # None: the trace names no PDB for the image
    error: str = ""  # the PDB matched but the backend could not read it

    @property
    def status(self) -> str:
        """FOUND, NOT_FOUND, GUID_DIFFERS, AGE_DIFFERS, UNREADABLE or NO_IDENTITY."""
        if self.search is None:
            return NO_IDENTITY
        return UNREADABLE if self.error else self.search.status

    def line(self) -> str:
        """One line for a report."""
        s, who = self.search, self.driver
        if s is None or self.identity is None:
            return f"{who}: the trace names no PDB for it (no DbgID_RSDS event)"
        if self.error:
            return f"{who}: {s.path} unreadable: {self.error}"
        if s.path is not None:
            return f"{who}: names from {s.path}"
        if not s.refused:
            where = "symbol folder" if s.folders == 1 else "symbol folders"
            return f"{who}: no {self.identity} in the {s.folders} {where}"
        first = s.refused[0]
        wanted = {"GUID": f"{{{self.identity.guid}}}", "age": str(self.identity.age)}
        kind = first.reason.split(" ")[0]
        tail = f", the trace's is {wanted[kind]}" if kind in wanted else ""
        more = f" ({len(s.refused) - 1} more refused)" if len(s.refused) > 1 else ""
        verb = "unreadable" if first.reason == UNREADABLE else "refused"
        return f"{who}: {first.path} {verb}: {first.detail}{tail}{more}"


class Symbolizer:
    """Answers (driver, RVAs) -> functions for one set of trace images."""

    def __init__(
        self,
        images: Iterable[tuple[str, PdbIdentity | None]],
        path: SymbolPath,
        backend: str | None = None,
    ) -> None:
        """`images` are (driver name, PDB identity or None) pairs, repeats allowed.

        Raises SymbolsUnavailableError, saying what to install, when no PDB reader can run.
        """
        self.backend = require_backend(backend)
        self.notes: list[str] = list(path.notes)
        self._finder = PdbFinder(path.folders)
        self._identities: dict[str, list[PdbIdentity]] = {}
        for driver, identity in images:
            known = self._identities.setdefault(driver.lower(), [])
            if identity is not None and identity not in known:
                known.append(identity)
        self._results: dict[str, ImageSymbols] = {}
        self._readers: dict[str, PdbReader | None] = {}
        self._opened: dict[str, PdbReader] = {}

    def functions(self, driver: str, rvas: Sequence[int] | np.ndarray) -> list[Function | None]:
        """The function at each RVA of `driver`'s image; all None without a usable PDB."""
        reader = self._reader(driver.lower())
        if reader is None:
            return [None] * len(rvas)
        return reader.functions(rvas)

    def names(self, driver: str, rvas: Sequence[int] | np.ndarray) -> list[str | None]:
        """The function name at each RVA (`Class::Method`), None where none is known."""
        return [f.name if f is not None else None for f in self.functions(driver, rvas)]

    def labels(self, driver: str, rvas: Sequence[int] | np.ndarray) -> list[str]:
        """Each frame as a report prints it: `driver.sys!Function+0x1a`, `driver.sys+0x1130`."""
        funcs = self.functions(driver, rvas)
        rows = np.asarray(rvas, dtype=np.int64).tolist()
        return [frame_label(driver, rva, f) for rva, f in zip(rows, funcs, strict=True)]

    def report(self, drivers: Iterable[str] | None = None) -> list[ImageSymbols]:
        """What became of each driver's PDB (every image's by default), by driver name."""
        wanted = sorted(self._identities) if drivers is None else [d.lower() for d in drivers]
        for driver in wanted:
            self._reader(driver)
        return [self._results[d] for d in wanted]

    def problems(self, drivers: Iterable[str] | None = None) -> list[str]:
        """One line per driver (of `drivers`, else all) whose frames stay without names."""
        return [r.line() for r in self.report(drivers) if r.status != FOUND]

    def _reader(self, driver: str) -> PdbReader | None:
        if driver in self._readers:
            return self._readers[driver]
        identities = self._identities.get(driver, [])
        result = ImageSymbols(driver, identities[0] if identities else None)
        reader = None
        for identity in identities:
            search = self._finder.find(identity)
            result = ImageSymbols(driver, identity, search)
            if search.path is None:
                continue
            try:
                reader = self._open(search)
            except InputError as e:
                result = ImageSymbols(driver, identity, search, getattr(e, "problem", str(e)))
                continue
            break
        self._results[driver] = result
        self._readers[driver] = reader
        return reader

    def _open(self, search: PdbSearch) -> PdbReader:
        key = str(search.path)
        reader = self._opened.get(key)
        if reader is None:
            assert search.path is not None
            reader = open_pdb(search.path, self.backend, search.info)
            self._opened[key] = reader
        return reader

    def close(self) -> None:
        """Close every PDB opened."""
        for reader in self._opened.values():
            reader.close()
        self._opened.clear()
        self._readers.clear()

    def __enter__(self) -> Symbolizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
