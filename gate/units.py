"""Sizes, counts, percentages and time windows: parsing what people write, formatting for reports.

Parsers take what a budget file or the command line holds and return plain numbers; they raise
`ValueError` with a one-line message and no location, because the caller (the budget loader,
the CLI) knows the file, line and key and prefixes them.

Sizes are binary and exact: `KiB`, `MiB` and `GiB` are 1024-based, and a size must come to a
whole number of bytes. `KB`, `MB` and `GB` are rejected because WPA prints "KB" for 1024 bytes
while most people read it as 1000; a budget must not depend on which reading was meant.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TypeGuard

__all__ = [
    "BINARY_UNITS",
    "format_bytes",
    "format_count",
    "format_delta",
    "format_duration",
    "format_window",
    "parse_bytes",
    "parse_count",
    "parse_duration",
    "parse_percent",
    "parse_window",
]

BINARY_UNITS: dict[str, int] = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

# Units that people write for sizes but that do not say whether 1000 or 1024 is meant. Each maps
# to the binary unit the message suggests.
_AMBIGUOUS_UNITS: dict[str, str] = {
    "K": "KiB",
    "k": "KiB",
    "KB": "KiB",
    "kB": "KiB",
    "kb": "KiB",
    "Kb": "KiB",
    "M": "MiB",
    "MB": "MiB",
    "mb": "MiB",
    "Mb": "MiB",
    "G": "GiB",
    "GB": "GiB",
    "gb": "GiB",
    "Gb": "GiB",
}

# DuckDB stores metric values as BIGINT; a larger limit could never be compared exactly.
_MAX_BYTES = (1 << 63) - 1
_MAX_COUNT = (1 << 63) - 1
# Times are compared with trace times in seconds; past a century a window or time is a typo.
_MAX_SECONDS = 100 * 365 * 24 * 3600
# The longest number text worth converting: a size in bytes has at most 19 digits, and a
# fraction of a unit needs no more than 30 decimals. Longer text is refused before it is
# converted (int() of thousands of digits is slow, and Python refuses 4,300 or more).
_MAX_NUMBER_TEXT = 50
# How much of an input a message quotes.
_SHOWN_TEXT = 40

_NUMBER = r"(?P<number>[0-9]+(?:_[0-9]+)*(?:\.[0-9]+)?)"
_SIZE_RE = re.compile(rf"{_NUMBER}\s*(?P<unit>[A-Za-z]+)?")
_COUNT_RE = re.compile(r"[0-9]+(?:_[0-9]+)*")
_PERCENT_RE = re.compile(rf"{_NUMBER}\s*%")
_PLAIN_NUMBER_RE = re.compile(_NUMBER)
_DURATION_RE = re.compile(rf"{_NUMBER}\s*(?P<unit>[A-Za-z]+)?")
_DURATION_UNITS: dict[str, Fraction] = {
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
}


def _number(text: str) -> Fraction:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValueError(f"{_shown(text)} has too many digits to be a sensible value")
    return Fraction(text.replace("_", ""))


def _is_integer_like(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(text: str) -> str:
    """`text` quoted for a message, cut short when it is long."""
    if len(text) <= _SHOWN_TEXT:
        return f"'{text}'"
    return f"'{text[: _SHOWN_TEXT - 10]}...' ({len(text):,} characters)"


def _shown_value(value: object) -> str:
    """A value that is not text, for a message, cut short when its repr is long."""
    if _is_integer_like(value):
        return _shown_int(value)  # type: ignore[arg-type]
    text = repr(value)
    return text if len(text) <= _SHOWN_TEXT else f"{text[: _SHOWN_TEXT - 10]}..."


def _shown_int(value: int) -> str:
    """An integer for a message; huge ones by their size (str() of 4,300+ digits fails)."""
    if value.bit_length() <= 128:
        return str(value)
    sign = "-" if value < 0 else ""
    return f"{sign}an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"


# --- sizes and counts -------------------------------------------------------------------------


def parse_bytes(value: int | str) -> int:
    """A size in bytes from `4096`, `"4_096"`, `"512 KiB"`, `"1.5 MiB"` or `"2GiB"`.

    Unit names are case-sensitive; decimals are allowed with a unit as long as the result is a
    whole number of bytes. Negative sizes, decimal units (`KB`, `MB`, ...) and anything else
    raise `ValueError`.
    """
    if _is_integer_like(value):
        if value < 0:
            raise ValueError(f"{_shown_int(value)} is negative: a size is 0 bytes or more")
        if value > _MAX_BYTES:
            raise ValueError(f"{_shown_int(value)} is too large for a size in bytes")
        return value
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is not a whole number of bytes: write a plain integer or a size with a "
            "binary unit, e.g. '1.5 MiB'"
        )
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as 4096 or '512 KiB', found {type(value).__name__}")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"{_shown(text)} is negative: a size is 0 bytes or more")
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{_shown(text)} is not a size: write a plain number of bytes (4096) or a number "
            "with a binary unit (512 KiB, 1.5 MiB, 2 GiB)"
        )
    number_text, unit = match.group("number"), match.group("unit")
    number = _number(number_text)
    if unit is None:
        if number.denominator != 1:
            raise ValueError(
                f"{_shown(text)} is not a whole number of bytes: write a plain integer or add a "
                "binary unit, e.g. '1.5 MiB'"
            )
        return _checked_size(text, int(number))
    if unit in _AMBIGUOUS_UNITS:
        binary = _AMBIGUOUS_UNITS[unit]
        exact = number * BINARY_UNITS[binary]
        suggestion = (
            f"write '{number_text} {binary}' for {int(exact):,} bytes"
            if exact.denominator == 1
            else f"write a size in {binary} that is a whole number of bytes"
        )
        raise ValueError(
            f'{_shown(text)} is ambiguous (WPA\'s "KB" means 1024 bytes): {suggestion} '
            "or the plain number of bytes"
        )
    if unit not in BINARY_UNITS:
        folded = {name.lower(): name for name in BINARY_UNITS}
        if unit.lower() in folded:
            raise ValueError(
                f"{_shown(text)}: unit names are case-sensitive: write '{folded[unit.lower()]}'"
            )
        raise ValueError(f"{_shown(text)}: unknown unit '{unit[:10]}': use B, KiB, MiB or GiB")
    exact = number * BINARY_UNITS[unit]
    if exact.denominator != 1:
        raise ValueError(f"{_shown(text)} is not a whole number of bytes ({float(exact):g} bytes)")
    return _checked_size(text, int(exact))


def _checked_size(text: str, size: int) -> int:
    if size > _MAX_BYTES:
        raise ValueError(f"{_shown(text)} is too large for a size in bytes")
    return size


def parse_count(value: int | str) -> int:
    """A count such as an allocation count: a plain non-negative integer, `_` separators allowed.

    Units are refused on purpose: a count given as `'1 KiB'` is almost certainly a size written
    in the wrong place.
    """
    if _is_integer_like(value):
        if value < 0:
            raise ValueError(f"{_shown_int(value)} is negative: a count is 0 or more")
        if value > _MAX_COUNT:
            raise ValueError(f"{_shown_int(value)} is too large for a count")
        return value
    if isinstance(value, str):
        text = value.strip()
        if _COUNT_RE.fullmatch(text):
            count = _number(text)
            if count > _MAX_COUNT:
                raise ValueError(f"{_shown(text)} is too large for a count")
            return int(count)
        if text.startswith("-"):
            raise ValueError(f"{_shown(text)} is negative: a count is 0 or more")
        shown = _shown(text)
    else:
        shown = _shown_value(value)
    raise ValueError(f"{shown} is not a count: write a plain integer such as 12000, without a unit")


def format_bytes(n: int | float, *, signed: bool = False) -> str:
    """Binary units with three significant digits: `734 B`, `64.0 KiB`, `512 KiB`, `1.50 MiB`.

    Negative values keep their `-`; `signed=True` also puts `+` before zero and positive values,
    which is how deltas are shown.
    """
    size = round(n)
    sign = "-" if size < 0 else ("+" if signed else "")
    size = abs(size)
    if size < 1024:
        return f"{sign}{size} B"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    for power, unit in enumerate(units, start=1):
        value = size / 1024**power
        for decimals, bound in ((2, 10), (1, 100), (0, 1024)):
            # Decide on the rounded value so that 9.996 KiB becomes "10.0 KiB", not "10.00 KiB",
            # and 1023.7 KiB moves on to "1.00 MiB" instead of showing "1024 KiB".
            if round(value, decimals) < bound:
                return f"{sign}{value:.{decimals}f} {unit}"
        if unit == units[-1]:
            return f"{sign}{value:.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_count(n: int | float) -> str:
    """A count with thousands separators: `12,345`."""
    return f"{round(n):,}"


def format_delta(observed: int | float, baseline: int | float, *, count: bool = False) -> str:
    """The change from a baseline: `+64.0 KiB (+12.5%)`, or `+120 (+3.4%)` for a count.

    Without a percentage when the baseline is zero, since growth from nothing has no ratio.
    """
    diff = round(observed) - round(baseline)
    text = f"{diff:+,}" if count else format_bytes(diff, signed=True)
    if baseline == 0:
        return text
    return f"{text} ({diff / baseline * 100:+.1f}%)"


# --- percentages ------------------------------------------------------------------------------


def parse_percent(value: int | float | str, *, maximum: float = 1.0) -> float:
    """A fraction from `"80%"` or from a plain fraction `0.8`; both give 0.8.

    `maximum` is the largest fraction allowed (1.0 for thresholds such as `warn_at`; larger for
    tolerances). A plain number greater than 1 is refused with a hint, because `80` was meant as
    `80%` far more often than as 8000%.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a percentage: write e.g. '80%'")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a percentage: write e.g. '80%'")
        if isinstance(value, int) and abs(value) > _MAX_COUNT:
            raise ValueError(f"{_shown_int(value)} is not a sensible percentage")
        fraction = Fraction(value)
        shown = repr(value)
        plain = True
    elif isinstance(value, str):
        text = value.strip()
        shown = _shown(text)
        if text.startswith("-"):
            raise ValueError(f"{shown} is negative: write a percentage such as '80%'")
        percent = _PERCENT_RE.fullmatch(text)
        if percent is not None:
            fraction = _number(percent.group("number")) / 100
            plain = False
        elif _PLAIN_NUMBER_RE.fullmatch(text):
            fraction = _number(text)
            plain = True
        else:
            raise ValueError(f"{shown} is not a percentage: write e.g. '80%' or 0.8")
    else:
        raise ValueError(f"expected a percentage such as '80%', found {type(value).__name__}")
    if fraction < 0:
        raise ValueError(f"{shown} is negative: write a percentage such as '80%'")
    if fraction > Fraction(maximum):
        if plain and fraction <= 100:
            raise ValueError(
                f"{shown} is read as a fraction ({float(fraction) * 100:g}%), more than the "
                f"allowed {maximum * 100:g}%: write '{float(fraction):g}%' for a percentage"
            )
        raise ValueError(f"{shown} is more than the allowed {maximum * 100:g}%")
    return float(fraction)


# --- durations and windows --------------------------------------------------------------------


def parse_duration(value: str | int | float) -> float:
    """Seconds from `"30s"`, `"500ms"`, `"2m"` or `"1.5s"`; a bare `0` is zero.

    Other numbers need a unit: a window end of `30` could be seconds or milliseconds.
    """
    if _is_integer_like(value) and value == 0:
        return 0.0
    if not isinstance(value, str):
        shown = _shown_value(value)
        raise ValueError(f"{shown} is not a duration: add a unit, e.g. '30s', '500ms' or '2m'")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(
            f"{_shown(text)} is negative: a time is counted from the start of the trace"
        )
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{_shown(text)} is not a duration: write e.g. '30s', '500ms' or '2m'")
    number, unit = _number(match.group("number")), match.group("unit")
    if unit is None:
        if number == 0:
            return 0.0
        raise ValueError(f"'{text}' has no unit: write '{text}s' for seconds or '{text}ms'")
    if unit not in _DURATION_UNITS:
        raise ValueError(f"{_shown(text)}: unknown time unit '{unit[:10]}': use ms, s or m")
    seconds = number * _DURATION_UNITS[unit]
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{_shown(text)} is longer than a century: not a time in a trace")
    return float(seconds)


def parse_window(text: str) -> tuple[float | None, float | None]:
    """`"0s..30s"` → `(0.0, 30.0)` seconds from trace start; either side may be left out.

    `"5s.."` means from 5 s to the end of the trace, `"..30s"` from the start to 30 s. The end
    must be later than the start.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"{_shown_value(text)} is not a window: write e.g. '0s..30s', '5s..' or '..30s'"
        )
    stripped = text.strip()
    if stripped.count("..") != 1:
        raise ValueError(
            f"{_shown(stripped)} is not a window: write start..end, "
            "e.g. '0s..30s', '5s..' or '..30s'"
        )
    start_text, end_text = (part.strip() for part in stripped.split(".."))
    if not start_text and not end_text:
        raise ValueError(
            "'..' leaves both ends open: give at least one, or leave the window out for the "
            "whole trace"
        )
    start = _window_side(stripped, "start", start_text)
    end = _window_side(stripped, "end", end_text)
    if start is not None and end is not None and end <= start:
        raise ValueError(f"{_shown(stripped)}: the end must be later than the start")
    return start, end


def _window_side(window: str, side: str, text: str) -> float | None:
    if not text:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{_shown(window)}: bad {side}: {exc}") from None


def format_duration(seconds: float) -> str:
    """`30s`, `0.5s`: the shortest text that `parse_duration` reads back to the same value."""
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


def format_window(start: float | None, end: float | None) -> str:
    """`0s..30s`, `5s..`, `..30s`, or `whole trace` when both ends are open."""
    if start is None and end is None:
        return "whole trace"
    low = "" if start is None else format_duration(start)
    high = "" if end is None else format_duration(end)
    return f"{low}..{high}"
