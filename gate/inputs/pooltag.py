"""pooltag.txt: the tag → driver list the Debugging Tools ship (and teams keep for their own tags).

Format, one tag per line: `Tag - driver.sys - Description`, e.g.
`AcpA - acpi.sys      - ACPI arbiter data`. Lines starting with `//`, `;` or `#` and blank
lines are comments. A tag may map to several drivers (`a.sys, b.sys`) or to none (`- <unknown>`);
only lines naming exactly one file are used for attribution, the rest are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import InputError

_LINE = re.compile(r"^(?P<tag>.{1,4}?)\s*-\s*(?P<driver>[^-]*?)\s*(?:-\s*(?P<desc>.*))?$")
_FILE = re.compile(r"^[\w$.~-]+\.(sys|exe|dll)$", re.IGNORECASE)


@dataclass
class PoolTagTable:
    drivers: dict[str, str] = field(default_factory=dict)  # tag -> lower-case driver file name
    ambiguous: int = 0  # lines naming several drivers or none
    sources: list[str] = field(default_factory=list)


def read_pooltag(path: Path, table: PoolTagTable | None = None) -> PoolTagTable:
    """Read a pooltag.txt; malformed lines are errors naming file and line."""
    table = table or PoolTagTable()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    table.sources.append(str(path))
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", ";", "#")):
            continue
        match = _LINE.match(stripped)
        if not match or not match.group("tag").strip():
            raise InputError(
                f"{path}:{number}: expected 'Tag - driver.sys - description', got {stripped[:60]!r}"
            )
        tag = match.group("tag").rstrip()
        names = [n.strip() for n in match.group("driver").split(",") if n.strip()]
        if len(names) == 1 and _FILE.match(names[0]):
            table.drivers[tag] = names[0].lower()
        else:
            table.ambiguous += 1
    return table
