"""Failure classes found by the fuzzer whose fix belongs to code outside the readers this
harness's own checks cover. The in-suite run marks an input hitting one as an expected failure,
so the suite stays green while the class is open; anything else fails it.

Each entry: (kind or '*', a regular expression matched against 'status: signature', where the
fix belongs and what is wrong). Remove an entry when its class is fixed.
"""

from __future__ import annotations

import re

KNOWN: list[tuple[str, str, str]] = []


def known_reason(kind: str, signature: str) -> str | None:
    """Why a failure is expected, or None when it is new."""
    for known_kind, pattern, reason in KNOWN:
        if known_kind in ("*", kind) and re.search(pattern, signature):
            return reason
    return None
