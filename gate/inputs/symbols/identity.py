"""What names a PDB and what a lookup gives: `PdbIdentity` and `Function`.

A trace names the PDB of each image in its KernelTraceControl DbgID_RSDS event: the PDB's file
name, its GUID and its age. The store keeps the GUID lower-case and hyphenated
(`3249d99d-0c40-4931-8610-f4e4fb0b6936`) and the age as an integer; symbol stores spell the
same identity as one folder name, the GUID's 32 upper-case hex digits followed by the age in
upper-case hex without leading zeros (`3249D99D0C4049318610F4E4FB0B69361`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gate.errors import InputError


@dataclass(frozen=True)
class PdbIdentity:
    """A PDB as an image names it: file name (no folder), GUID (lower-case, hyphenated), age."""

    name: str
    guid: str
    age: int

    @classmethod
    def of(cls, name: str, guid: str, age: int) -> PdbIdentity:
        """The identity with its parts normalized: the file name without any folder (the
        DbgID_RSDS event may carry the linker's full path, with either separator), the GUID
        in the store's spelling whatever spelling it came in (braces, upper case, no hyphens).

        Raises InputError when the GUID is not one or the age is negative.
        """
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            parsed = uuid.UUID(guid.strip())
        except ValueError:
            raise InputError(f"PDB {base or name!r}: {guid!r} is not a GUID") from None
        if age < 0:
            raise InputError(f"PDB {base or name!r}: age {age} is negative")
        return cls(base, str(parsed), int(age))

    @classmethod
    def from_columns(cls, name: str, guid: str, age: int) -> PdbIdentity | None:
        """The identity of an `images` row (pdb_name, pdb_guid, pdb_age), or None when the
        trace carried none for the image (empty name or GUID, age -1)."""
        if not name or not guid or age < 0:
            return None
        return cls.of(name, guid, age)

    @property
    def store_key(self) -> str:
        """The symbol-store folder of this identity: GUID as 32 upper-case hex digits, then
        the age in upper-case hex without leading zeros."""
        return f"{uuid.UUID(self.guid).hex.upper()}{self.age:X}"

    def __str__(self) -> str:
        return f"{self.name} {{{self.guid}}} age {self.age}"


@dataclass(frozen=True)
class Function:
    """A function as WPA names it: its undecorated name (`Class::Method`, a C name as it is)
    and the RVA of its first byte."""

    name: str
    start_rva: int

    def offset(self, rva: int) -> int:
        """How far `rva` lies into the function."""
        return rva - self.start_rva


def frame_label(driver: str, rva: int, function: Function | None, offsets: bool = True) -> str:
    """A frame as a report prints it: `driver.sys!Function+0x1a` (`driver.sys!Function` at the
    function's start or with `offsets` off), `driver.sys+0x1130` when no function is known."""
    if function is None:
        return f"{driver}+{rva:#x}"
    delta = function.offset(rva)
    if not offsets or delta == 0:
        return f"{driver}!{function.name}"
    return f"{driver}!{function.name}+{delta:#x}"
