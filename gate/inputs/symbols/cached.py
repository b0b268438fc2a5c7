"""What both PDB backends share: the code-section filter and one lookup per distinct RVA.

`readers.open_pdb` chooses a backend; each backend (`dbghelp`, `symbolic_backend`) subclasses
`CachedReader` and implements the library call alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gate.inputs.symbols.identity import Function, PdbIdentity
from gate.inputs.symbols.pdbfile import PdbInfo

_MISSING = object()


class CachedReader(ABC):
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

    @abstractmethod
    def _lookup(self, rva: int) -> Function | None:
        """The function containing `rva`, which lies in a code section; None if none does."""

    def close(self) -> None:
        """Forget the answers; a backend also releases its library's hold on the file."""
        self._cache.clear()

    def __enter__(self) -> CachedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
