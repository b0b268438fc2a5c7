"""Function names as WPA prints them: the qualified name without its argument list.

The PDB's procedure records hold names such as `google_breakpad::ExceptionHandler::Initialize`,
which DbgHelp returns as they are. symbolic formats a procedure with its argument types and
qualifiers from the type stream (`...::IsRegistered() const`), so its names are cut back to
the same form here; names without an argument list (C functions, public symbols) stay as
they are.
"""

from __future__ import annotations

# Qualifiers symbolic may print after a method's argument list.
_QUALIFIERS = (" const", " volatile", " &&", " &", " noexcept", " __ptr64", " __restrict")


def _strip_qualifiers(name: str) -> str:
    """`name` without the qualifiers after its argument list (`name` when none is there)."""
    s = name
    while True:
        q = next((q for q in _QUALIFIERS if s.endswith(q)), None)
        if q is None:
            return s if s.endswith(")") else name
        s = s[: -len(q)].rstrip()


def without_arguments(name: str) -> str:
    """The function name without its trailing argument list and qualifiers.

    The list is the last balanced `(...)` group, so function-pointer arguments and template
    arguments with parentheses inside it are removed whole. An `operator()` keeps its own
    parentheses: `Lambda::operator()(int) const` becomes `Lambda::operator()`.
    """
    s = _strip_qualifiers(name.rstrip())
    if not s.endswith(")"):
        return s
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ")":
            depth += 1
        elif s[i] == "(":
            depth -= 1
            if depth == 0:
                head = s[:i].rstrip()
                # `X::operator()` printed without arguments: its `()` is the name.
                return s if not head or head.endswith("operator") else head
    return s  # unbalanced: not an argument list symbolic wrote
