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


def write_text_atomic(
    path: Path, text: str, *, encoding: str = "utf-8", what: str = "report"
) -> None:
    """Replace `path` with `text`, or leave it untouched and raise `OutputError`.

    The bytes are written exactly (no newline translation), so a report is identical on
    Windows and POSIX agents.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write {what}: folder {folder} does not exist")
    if path.is_dir():
        raise OutputError(f"{path}: cannot write {what}: it is a folder")
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise OutputError(f"{path}: cannot write {what}: {exc}") from exc

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
        raise OutputError(f"{path}: cannot write {what}: {problem}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
