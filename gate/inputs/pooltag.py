"""pooltag.txt: the tag → driver list the Debugging Tools ship (and teams keep for their own tags).

Format, one tag per line: `Tag - binary - Description`, for example

    8042 - i8042prt.sys - PS/2 kb and mouse
    Afd? - afd.sys      - AFD objects
    CcBc - nt!cc        - Cache Manager Bcb from pool
    Ddk  - <unknown>    - Default for driver allocated memory

Decisions (windows-tools.md §6.2, §6.3):

- Blank lines and lines starting with `//`, `;`, `#` or `rem` are comments; leading blanks are
  ignored (some copies indent sub-entries).
- A tag has one to four characters; shorter tags match the trace's tag with trailing blanks
  removed (`Ddk` matches `Ddk `). Tags are case-sensitive, as pool tags are.
- `?` and `*` in a tag are wildcards (`Afd?`); such lines go to `patterns`, tried in file order
  after the exact tags.
- The binary `nt!<component>` (or `ntoskrnl.exe`) is the kernel itself: the tag maps to
  `(kernel)`. Exactly one `name.sys`/`.exe`/`.dll` maps to that file, lower-cased, with any
  `!component` suffix dropped.
- Anything else (`<unknown>`, several binaries, a name that is not a file) cannot name one driver:
  the line is counted in `ambiguous` and listed in `skipped`, never silently dropped. A tag that
  one file maps to two different drivers is ambiguous too and is removed.
- Several files can be read into one table; a later file's entry replaces an earlier file's
  (a team's own list wins over the shipped one), counted in `overridden`.
- A line that is not `Tag - binary …` is an error `file:line: problem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from gate.errors import InputError
from gate.fileio import path_text
from gate.tables.drivers import KERNEL, KERNEL_IMAGES, module_name

_SPLIT = re.compile(r"\s+-(?:\s+|$)")
_FILE = re.compile(r"^[\w$.~-]+\.(sys|exe|dll)$", re.IGNORECASE)
_KERNEL_FILES = set(KERNEL_IMAGES)
_COMMENT = ("//", ";", "#")
# The shipped pooltag.txt is about 500 KB; a file hundreds of times larger is not one.
_MAX_FILE_BYTES = 64 << 20


@dataclass
class PoolTagTable:
    drivers: dict[str, str] = field(default_factory=dict)  # tag -> lower-case driver file name
    ambiguous: int = 0  # lines (or tags) that name several drivers or none
    sources: list[str] = field(default_factory=list)
    patterns: list[tuple[str, str]] = field(default_factory=list)  # (wildcard tag, driver)
    skipped: list[str] = field(default_factory=list)  # 'file:line: why', one per ambiguous entry
    overridden: int = 0  # entries replaced by a later file

    def lookup(self, tag: str) -> str | None:
        """The driver for a tag as the trace logs it: exact entries first, then wildcards."""
        tag = tag.rstrip()
        if tag in self.drivers:
            return self.drivers[tag]
        for pattern, driver in self.patterns:
            if fnmatchcase(tag, pattern):
                return driver
        return None


def _driver(binary: str) -> str | None:
    """The one driver a pooltag.txt binary field names, or None when it names none or several."""
    text = binary.strip()
    if not text or "," in text or "/" in text or " " in text or text.startswith("<"):
        return None
    module = text.split("!", 1)[0].strip().lower()
    if module in ("nt", *_KERNEL_FILES):
        return KERNEL
    if _FILE.match(module):
        return module_name(module)
    return None


def _is_comment(stripped: str) -> bool:
    if not stripped or stripped.startswith(_COMMENT):
        return True
    return stripped[:3].lower() == "rem" and (len(stripped) == 3 or stripped[3].isspace())


def read_pooltag(path: Path, table: PoolTagTable | None = None) -> PoolTagTable:
    """Read a pooltag.txt into `table` (a new one by default); malformed lines are errors
    naming file and line."""
    table = table if table is not None else PoolTagTable()
    source = path_text(path)
    try:
        size = path.stat().st_size
        if path.is_file() and size > _MAX_FILE_BYTES:
            raise InputError(f"{source}: {size:,} bytes is too large for a pooltag.txt")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    # The shipped file is ANSI text; tags are ASCII, so a stray byte in a description is harmless.
    text = raw.decode("utf-8-sig", errors="replace")
    table.sources.append(source)
    earlier = dict(table.drivers)
    earlier_patterns = {p for p, _ in table.patterns}
    mine: dict[str, tuple[str, int]] = {}  # tag -> (driver, line) from this file
    conflicts: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if _is_comment(stripped):
            continue
        where = f"{source}:{number}"
        tag, rest = _split_line(where, stripped)
        binary = _SPLIT.split(rest, maxsplit=1)[0]
        driver = _driver(binary)
        if driver is None:
            table.ambiguous += 1
            shown = binary.strip()[:60] or "nothing"
            table.skipped.append(f"{where}: tag {tag!r} names {shown}, not one driver")
            continue
        previous = mine.get(tag)
        if previous is not None and previous[0] != driver:
            if tag not in conflicts:
                conflicts.add(tag)
                table.ambiguous += 1
                table.skipped.append(
                    f"{where}: tag {tag!r} maps to {driver} here and to {previous[0]} at line "
                    f"{previous[1]}; used for neither"
                )
            continue
        mine[tag] = (driver, number)
    for tag, (driver, _number) in mine.items():
        if tag in conflicts:
            continue
        wildcard = "*" in tag or "?" in tag
        if (tag in earlier and earlier[tag] != driver) or (wildcard and tag in earlier_patterns):
            table.overridden += 1
        if wildcard:
            table.patterns = [(p, d) for p, d in table.patterns if p != tag]
            table.patterns.append((tag, driver))
        else:
            table.drivers[tag] = driver
    return table


def _split_line(where: str, stripped: str) -> tuple[str, str]:
    """(tag, the rest after its dash) or an InputError naming the line."""
    head, sep, rest = stripped.partition("-")
    # A dash can be part of a tag ('-Ab'): then the separating dash is the next one.
    if sep and not head.strip() and rest[:1] not in (" ", "\t", ""):
        more_head, sep, rest = rest.partition("-")
        head = "-" + more_head
    tag = head.strip()
    if not sep or not tag:
        # The line itself is not quoted: a budget file can name any readable file as its
        # pooltag.txt, and a CI log must not show what that file holds.
        raise InputError(
            f"{where}: expected 'Tag - driver.sys - description', got a line of "
            f"{len(stripped):,} characters without it"
        )
    if len(tag) > 4:
        raise InputError(
            f"{where}: the pool tag has {len(tag):,} characters, more than 4 (expected "
            "'Tag - driver.sys - description')"
        )
    return tag, rest.strip()
