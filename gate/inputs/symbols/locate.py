"""Finding the PDB an image names, by its identity and never by its name alone.

In each folder of the symbol path, in order, the candidates are

- `FOLDER/name.pdb` (a flat folder, such as a build's output);
- `FOLDER/name.pdb/KEY/name.pdb` (a symbol store, KEY as in `PdbIdentity.store_key`);
- `FOLDER/na/name.pdb/KEY/name.pdb` when the folder holds `index2.txt` (a two-tier store,
  the first two characters of the name as the extra level).

Names are matched without regard to case, as Windows does, on every system. Each candidate is
opened and its own GUID and age compared with the image's; the first that matches is used.
Every candidate refused says why: its GUID differs, its age differs, or it cannot be read
(not a PDB, truncated, or a compressed `name.pd_` that symstore left unexpanded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gate.errors import InputError
from gate.inputs.symbols.identity import PdbIdentity
from gate.inputs.symbols.pdbfile import PdbInfo, read_pdb_info

FOUND = "found"
NOT_FOUND = "not found"
GUID_DIFFERS = "GUID differs"
AGE_DIFFERS = "age differs"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Refusal:
    """A candidate file that is not the image's PDB, and why."""

    path: Path
    reason: str  # GUID_DIFFERS, AGE_DIFFERS or UNREADABLE
    detail: str  # one line: what differs, or what is wrong with the file


@dataclass(frozen=True)
class PdbSearch:
    """Where the PDB of one identity was looked for, and what was found."""

    identity: PdbIdentity
    folders: int  # how many folders were searched
    path: Path | None = None  # the matching PDB
    info: PdbInfo | None = None  # its identity and sections
    refused: tuple[Refusal, ...] = ()

    @property
    def status(self) -> str:
        """FOUND, NOT_FOUND, or the reason the first candidate was refused."""
        if self.path is not None:
            return FOUND
        return self.refused[0].reason if self.refused else NOT_FOUND


class PdbFinder:
    """Looks identities up in a list of folders; folder listings are read once and kept."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders
        self._listings: dict[Path, dict[str, str]] = {}

    def find(self, identity: PdbIdentity) -> PdbSearch:
        """The search for `identity` in every folder, stopping at the first match."""
        refused: list[Refusal] = []
        for path in self._candidates(identity):
            info, refusal = _check(path, identity)
            if refusal is not None:
                refused.append(refusal)
                continue
            return PdbSearch(identity, len(self.folders), path, info, tuple(refused))
        return PdbSearch(identity, len(self.folders), refused=tuple(refused))

    def _candidates(self, identity: PdbIdentity) -> list[Path]:
        name = identity.name
        out: list[Path] = []
        for folder in self.folders:
            roots = [folder]
            if self._child(folder, "index2.txt") is not None:
                tier = self._child(folder, name[:2])
                roots += [tier] if tier is not None else []
            flat = self._child(folder, name)
            if flat is not None and flat.is_file():
                out.append(flat)
            for root in roots:
                out += self._in_store(root, name, identity.store_key)
        return out

    def _in_store(self, root: Path, name: str, key: str) -> list[Path]:
        entry = self._child(root, name)
        keyed = self._child(entry, key) if entry is not None and entry.is_dir() else None
        if keyed is None:
            return []
        found = [p for p in (self._child(keyed, name),) if p is not None and p.is_file()]
        packed = self._child(keyed, name[:-1] + "_")
        return found or ([packed] if packed is not None else [])

    def _child(self, folder: Path, name: str) -> Path | None:
        """`folder/name` matched without regard to case, or None."""
        exact = folder / name
        if exact.exists():
            return exact
        listing = self._listings.get(folder)
        if listing is None:
            try:
                listing = {n.lower(): n for n in os.listdir(folder)}
            except OSError:
                listing = {}
            self._listings[folder] = listing
        real = listing.get(name.lower())
        return folder / real if real is not None else None


def _check(path: Path, wanted: PdbIdentity) -> tuple[PdbInfo | None, Refusal | None]:
    """The file's identity when it is `wanted`, else why it is refused."""
    if path.suffix.lower() == ".pd_":
        return None, Refusal(path, UNREADABLE, "compressed by symstore; expand it to read it")
    try:
        info = read_pdb_info(path)
    except InputError as e:
        return None, Refusal(path, UNREADABLE, str(e).removeprefix(f"{path}: "))
    if info.guid != wanted.guid:
        return None, Refusal(path, GUID_DIFFERS, f"its GUID is {{{info.guid}}}")
    if info.age != wanted.age:
        return None, Refusal(path, AGE_DIFFERS, f"its age is {info.age}")
    return info, None
