"""Split an action input into arguments for `gate check`, NUL-separated on stdout.

Used by action.yml, run by the Python the gate is installed in (standard library only, any OS).

    words.py traces TEXT   glob patterns or paths, one or more per line; each glob is expanded
                           (`**` crosses folders) and must match something; plain paths pass
                           through unchanged, so the gate itself names a missing file.
    words.py args TEXT     extra arguments, split like a shell would (quotes group words).

Backslashes are not escapes, so Windows paths survive. A problem is one `::error::` line on
stderr and exit code 2, the gate's code for bad input.
"""

from __future__ import annotations

import glob
import shlex
import sys
from collections.abc import Sequence

_GLOB_CHARS = frozenset("*?[")


class InputProblem(Exception):
    """An input the action cannot turn into arguments."""


def split_words(text: str) -> list[str]:
    """Words of `text` split at whitespace, quotes grouping, backslashes kept as they are."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as exc:
        raise InputProblem(f"cannot split {text!r}: {exc}") from None


def expand_traces(text: str) -> list[str]:
    """The trace arguments: each glob expanded in sorted order, plain paths as written."""
    traces: list[str] = []
    for word in split_words(text):
        if not _GLOB_CHARS & set(word):
            traces.append(word)
            continue
        matches = sorted(glob.glob(word, recursive=True))
        if not matches:
            raise InputProblem(f"traces: the pattern {word!r} matches no file")
        traces.extend(matches)
    if not traces:
        raise InputProblem("traces: the input names no trace")
    return traces


def main(argv: Sequence[str]) -> int:
    """Command-line entry: print the words NUL-separated, or one error line and return 2."""
    if len(argv) != 2 or argv[0] not in ("traces", "args"):
        sys.stderr.write("::error::usage: words.py traces|args TEXT\n")
        return 2
    mode, text = argv
    try:
        words = expand_traces(text) if mode == "traces" else split_words(text)
    except InputProblem as exc:
        message = str(exc).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        sys.stderr.write(f"::error title=driver memory gate::{message}\n")
        return 2
    sys.stdout.write("".join(f"{w}\0" for w in words))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
