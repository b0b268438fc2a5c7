"""Writing output files so that readers see either the old file or the whole new one.

CI steps that publish reports run even when the gate step failed (`if: always()`,
`condition: always()`), so a half-written JUnit file after a crash would be published as a
broken or empty result. The text goes to a temporary file in the target's own folder (so the
final rename stays on one file system) and is moved over the target with `os.replace`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gate.errors import OutputError

# Outputs are meant to be read by other users and CI agents; mkstemp's 0600 would hide them.
OUTPUT_MODE = 0o644


def path_text(path: str | os.PathLike[str]) -> str:
    """A path as text that every consumer can encode (DuckDB, XML, JSON, terminals).

    File names that are not valid in the file system's encoding (a Latin-1 `café.etl` on a
    UTF-8 system) reach Python as lone surrogates; they are shown as `\\xe9` escapes instead,
    so the name stays recognisable and unique.
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(text)
        return raw.decode("utf-8", errors="backslashreplace")
    return text


def check_replaceable(path: Path, what: str) -> None:
    """Refuse an output path that is not a regular file to replace: a folder, a device such as
    /dev/full, a FIFO, a symbolic link (writing through it would replace what it points at),
    or one in a folder that does not exist."""
    shown = path_text(path)
    if not path.parent.is_dir():
        raise OutputError(
            f"{shown}: cannot write {what}: folder {path_text(path.parent)} does not exist"
        )
    if path.is_symlink():
        raise OutputError(
            f"{shown}: cannot write {what}: it is a symbolic link; not writing through it"
        )
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        raise OutputError(f"{shown}: cannot write {what}: it is {kind}; not replacing it")


def refuse_overlap(outputs: Iterable[tuple[str, Path]], inputs: Iterable[Path]) -> None:
    """Refuse, before any work is done, an output that `check_replaceable` refuses, one that
    is one of the run's inputs (the same file after resolving links), or two outputs that are
    the same file: a report must never replace a trace, a budget file or a baseline."""
    seen: dict[str, tuple[str, Path]] = {}
    outputs = list(outputs)
    for what, path in outputs:
        check_replaceable(path, f"the {what} output")
    for path in inputs:
        seen.setdefault(_identity(path), ("input", path))
    for what, path in outputs:
        key = _identity(path)
        if key in seen:
            other_what, other = seen[key]
            role = "an input" if other_what == "input" else f"also the {other_what} output"
            raise OutputError(
                f"{path_text(path)}: the {what} output would replace {path_text(other)}, {role}; "
                "choose another path"
            )
        seen[key] = (what, path)


def _identity(path: Path) -> str:
    """What a path names, after links: the same string for two paths of one file."""
    try:
        st = os.stat(path)
        return f"inode:{st.st_dev}:{st.st_ino}"
    except OSError:
        return "path:" + os.path.normcase(os.path.realpath(path))


def write_text_atomic(
    path: Path, text: str, *, encoding: str = "utf-8", what: str = "report"
) -> None:
    """Replace `path` with `text`, or leave it untouched and raise `OutputError`.

    The bytes are written exactly (no newline translation), so a report is identical on
    Windows and POSIX agents.
    """
    path = Path(path)
    check_replaceable(path, what)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise OutputError(f"{path_text(path)}: cannot write {what}: {exc}") from exc
    folder = path.parent

    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, OUTPUT_MODE)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise OutputError(f"{path_text(path)}: cannot write {what}: {problem}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
