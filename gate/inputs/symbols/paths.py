"""Symbol paths as users write them: folders, and the `_NT_SYMBOL_PATH` syntax.

Each entry (a `--symbols` value, a path listed in a budget file, the variable's value) is a
list of elements separated by `;`. An element is

- a folder: `C:\\symbols`, `/srv/pdbs`, `build\\pdb` (relative to `base` when one is given);
- `srv*STORE*STORE*...`: symbol stores, the first ones local caches, the last one usually a
  server URL (`srv*C:\\cache*https://msdl.microsoft.com/download/symbols`);
- `symsrv*DLL*STORE*...`: the same with the symbol server DLL named first;
- `cache*FOLDER`: a local cache folder (`cache*` alone is the debugger's default cache).

Only local folders are searched; nothing is ever downloaded. A URL, an empty store (the
debugger's default one), an element of a kind not listed here, a folder that does not exist,
and, off Windows, a drive-letter or UNC path, are left out with a note saying so. Off Windows,
backslashes in a relative path are folder separators, as the author of a Windows-style path
meant them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NT_SYMBOL_PATH = "_NT_SYMBOL_PATH"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_ROOTED = re.compile(r"^(?:[A-Za-z]:|\\\\|//)")


@dataclass(frozen=True)
class SymbolPath:
    """The local folders to search, in order and each once, and what was left out."""

    folders: tuple[Path, ...]
    notes: tuple[str, ...]


def parse_symbol_path(
    entries: Iterable[str], base: Path | None = None, windows: bool | None = None
) -> SymbolPath:
    """The folders that `entries` name, in the order given.

    `base` anchors relative folders (the folder of the budget file that lists them); without it
    they are relative to the working folder. `windows` says whose path rules apply (default:
    this system's).
    """
    on_windows = sys.platform == "win32" if windows is None else windows
    folders: list[Path] = []
    notes: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        for element in (e.strip() for e in entry.split(";")):
            if not element:
                continue
            for text in _local_stores(element, notes):
                folder = _folder(text, base, on_windows, notes)
                if folder is None:
                    continue
                key = os.path.normcase(os.path.abspath(folder))
                if key not in seen:
                    seen.add(key)
                    folders.append(folder)
    return SymbolPath(tuple(folders), tuple(notes))


def _local_stores(element: str, notes: list[str]) -> list[str]:
    """The folder texts one element names; URLs and default stores become notes."""
    if "*" not in element:
        stores = [element]
    else:
        head, *rest = element.split("*")
        kind = head.strip().lower()
        if kind in ("srv", "cache"):
            stores = rest
        elif kind == "symsrv":
            stores = rest[1:]
        else:
            notes.append(
                f"symbol path {element!r}: not a folder, srv*, symsrv* or cache* element; left out"
            )
            return []
        if not any(s.strip() for s in stores):
            notes.append(
                f"symbol path {element!r}: names only the debugger's default store, "
                "which the gate does not search"
            )
    local = []
    for store in (s.strip() for s in stores):
        if _URL.match(store):
            notes.append(
                f"symbol path {store!r}: a symbol server URL; the gate reads local folders "
                "only and downloads nothing"
            )
        elif store:
            local.append(store)
    return local


def _folder(text: str, base: Path | None, on_windows: bool, notes: list[str]) -> Path | None:
    """The existing folder `text` names, or None with a note."""
    if not on_windows:
        if _WINDOWS_ROOTED.match(text):
            notes.append(f"symbol path {text!r}: a Windows drive or network path; not found here")
            return None
        text = text.replace("\\", "/")
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_dir():
        return path
    problem = "a file, not a folder" if path.exists() else "no such folder"
    notes.append(f"symbol path {text!r}: {problem}")
    return None
