"""MSVC-decorated names back to the qualified name alone: `??1Widget@Contoso@@QEAA@XZ` →
`Contoso::Widget::~Widget`.

DbgHelp does this itself (`SYMOPT_UNDNAME`) for a public symbol, the only record a function
has when its code came from a library built without debug information; symbolic leaves such
names decorated, so its backend undecorates them here. Only the name is read, never the type
that follows it: the grammar is the Microsoft C++ name decoration as described in public
documentation of the scheme (identifiers ending in `@`, the digits 0-9 referring back to the
first ten names of the current context, `?$` template instances with their own context,
`?` and an operator code for special functions, `?A...@` an anonymous namespace).

Template arguments are spelled as Microsoft's undecorator spells them: `class` / `struct` /
`union` / `enum` before a type's name, no blank after a comma, a blank between two closing
brackets. A name this module does not fully understand (pointers or functions as template
arguments, local scopes, conversion operators, data symbols such as string literals) is
returned unchanged: a decorated name is better than a wrong one.
"""

from __future__ import annotations

OPERATORS = {
    "2": "operator new", "3": "operator delete", "4": "operator=", "5": "operator>>",
    "6": "operator<<", "7": "operator!", "8": "operator==", "9": "operator!=",
    "A": "operator[]", "C": "operator->", "D": "operator*", "E": "operator++",
    "F": "operator--", "G": "operator-", "H": "operator+", "I": "operator&",
    "J": "operator->*", "K": "operator/", "L": "operator%", "M": "operator<",
    "N": "operator<=", "O": "operator>", "P": "operator>=", "Q": "operator,",
    "R": "operator()", "S": "operator~", "T": "operator^", "U": "operator|",
    "V": "operator&&", "W": "operator||", "X": "operator*=", "Y": "operator+=",
    "Z": "operator-=", "_0": "operator/=", "_1": "operator%=", "_2": "operator>>=",
    "_3": "operator<<=", "_4": "operator&=", "_5": "operator|=", "_6": "operator^=",
    "_D": "`vbase destructor'", "_E": "`vector deleting destructor'",
    "_F": "`default constructor closure'", "_G": "`scalar deleting destructor'",
    "_H": "`vector constructor iterator'", "_I": "`vector destructor iterator'",
    "_U": "operator new[]", "_V": "operator delete[]",
}  # fmt: skip
PRIMITIVES = {
    "C": "signed char", "D": "char", "E": "unsigned char", "F": "short",
    "G": "unsigned short", "H": "int", "I": "unsigned int", "J": "long",
    "K": "unsigned long", "M": "float", "N": "double", "O": "long double", "X": "void",
    "_J": "__int64", "_K": "unsigned __int64", "_N": "bool", "_W": "wchar_t",
    "_S": "char16_t", "_U": "char32_t", "_Q": "char8_t",
}  # fmt: skip
KEYWORDS = {"T": "union", "U": "struct", "V": "class"}
_CTOR, _DTOR = "\x00ctor", "\x00dtor"


class _Unsupported(Exception):
    """The name uses a part of the scheme this module does not read."""


class _Parser:
    """Reads one decorated name; `names` is the current context's back-reference table."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.names: list[str] = []

    def take(self, n: int = 1) -> str:
        part = self.s[self.i : self.i + n]
        if len(part) < n:
            raise _Unsupported
        self.i += n
        return part

    def peek(self, text: str) -> bool:
        return self.s.startswith(text, self.i)

    def identifier(self, memorize: bool = True) -> str:
        end = self.s.find("@", self.i)
        if end <= self.i:
            raise _Unsupported
        name = self.s[self.i : end]
        self.i = end + 1
        if memorize and name not in self.names and len(self.names) < 10:
            self.names.append(name)
        return name

    def fragment(self) -> str:
        """One scope of a qualified name (innermost first in the decoration)."""
        if self.s[self.i : self.i + 1].isdigit():
            index = int(self.take())
            if index >= len(self.names):
                raise _Unsupported
            return self.names[index]
        if self.peek("?$"):
            name = self.template()
            if name not in self.names and len(self.names) < 10:
                self.names.append(name)
            return name
        if self.peek("?A"):
            self.identifier(memorize=False)
            name = "`anonymous namespace'"
            if name not in self.names and len(self.names) < 10:
                self.names.append(name)
            return name
        if self.peek("?"):
            raise _Unsupported  # local scopes and other nested names
        return self.identifier()

    def scopes(self) -> list[str]:
        """Fragments up to the `@` that ends a qualified name, outermost first."""
        parts = []
        while not self.peek("@"):
            if self.i >= len(self.s):
                raise _Unsupported
            parts.append(self.fragment())
        self.i += 1
        return parts[::-1]

    def template(self) -> str:
        """`?$name@args@`: the name and its arguments, read in a context of their own."""
        self.i += 2
        saved = self.names
        self.names = []
        if self.peek("?"):
            raise _Unsupported  # operator templates
        base = self.identifier()
        args = []
        while not self.peek("@"):
            args.append(self.argument())
        self.i += 1
        self.names = saved
        close = " >" if args and args[-1].endswith(">") else ">"
        return f"{base}<{','.join(args)}{close}"

    def argument(self) -> str:
        """One template argument: a type or an integer constant."""
        c = self.take()
        if c == "$" and self.peek("0"):
            self.i += 1
            return str(self.number())
        if c == "_":
            c += self.take()
        if c in PRIMITIVES:
            out = PRIMITIVES[c]
        elif c in KEYWORDS:
            out = f"{KEYWORDS[c]} {'::'.join(self.scopes())}"
        elif c == "W" and self.take() == "4":
            out = f"enum {'::'.join(self.scopes())}"
        else:
            raise _Unsupported  # pointers, references, functions, arrays, back-references
        return out

    def number(self) -> int:
        """An encoded integer: `?` for negative, 0-9 for 1-10, else hex in A-P ending in `@`."""
        sign = -1 if self.peek("?") else 1
        self.i += 1 if sign < 0 else 0
        c = self.take()
        if c.isdigit():
            return sign * (int(c) + 1)
        value = 0
        while c != "@":
            if not "A" <= c <= "P":
                raise _Unsupported
            value = value * 16 + ord(c) - ord("A")
            c = self.take()
        return sign * value

    def special(self) -> str:
        """The special name after `??`: a constructor or destructor mark, or an operator."""
        code = self.take()
        if code == "_":
            code += self.take()
        if code == "0":
            return _CTOR
        if code == "1":
            return _DTOR
        if code not in OPERATORS:
            raise _Unsupported  # conversion operators, vftables, RTTI, string literals
        return OPERATORS[code]


def undecorated(name: str) -> str:
    """The qualified name of an MSVC-decorated function name; `name` itself when it is not
    decorated or uses a part of the scheme this module does not read."""
    if not name.startswith("?"):
        return name
    p = _Parser(name)
    p.i = 1
    try:
        if p.peek("?$"):
            first = p.template()
        elif p.peek("?"):
            p.i += 1
            first = p.special()
        else:
            first = p.fragment()
        scopes = p.scopes()
    except _Unsupported:
        return name
    if first in (_CTOR, _DTOR):
        if not scopes:
            return name
        own = scopes[-1]
        first = own if first == _CTOR else "~" + own
    return "::".join([*scopes, first])
