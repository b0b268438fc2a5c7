"""Sizes, counts, percentages and windows far outside any sensible range: one short ValueError
each, never an OverflowError, never Python's own refusal to convert thousands of digits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.units import parse_bytes, parse_count, parse_duration, parse_percent, parse_window

HUGE = "9" * 400


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_bytes, HUGE, f"'{'9' * 30}...' (400 characters) has too many digits"),
        (parse_bytes, HUGE + " KiB", "(400 characters) has too many digits"),
        (parse_bytes, 10**5000, "an integer of about 5,001 digits is too large for a size"),
        (parse_bytes, -(10**5000), "-an integer of about 5,001 digits is negative"),
        (parse_bytes, "9223372036854775808", "'9223372036854775808' is too large for a size"),
        (parse_bytes, "8 EiB", "unknown unit 'EiB'"),
        (parse_bytes, "1 " + "K" * 1000, "unknown unit 'KKKKKKKKKK': use B"),
        (parse_count, "9" * 5000, "(5,000 characters) has too many digits"),
        (parse_count, "9223372036854775808", "'9223372036854775808' is too large for a count"),
        (parse_count, 1 << 63, "9223372036854775808 is too large for a count"),
        (parse_duration, HUGE + "s", "(400 characters) has too many digits"),
        (parse_duration, "9" * 30 + "s", "is longer than a century"),
        (parse_duration, 10**5000, "an integer of about 5,001 digits is not a duration"),
        (parse_window, "0s.." + HUGE + "ms", "bad end: '" + "9" * 30 + "...' (400 characters)"),
        (parse_percent, HUGE + "%", "(400 characters) has too many digits"),
        (parse_percent, float("inf"), "inf is not a percentage"),
        (parse_percent, float("nan"), "nan is not a percentage"),
        (parse_percent, 10**5000, "an integer of about 5,001 digits is not a sensible percentage"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "v",
)
def test_values_out_of_range_are_one_short_value_error(parse, value, message) -> None:
    with pytest.raises(ValueError) as caught:
        parse(value)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text and len(text) < 200


def test_the_largest_size_and_count_still_parse() -> None:
    assert parse_bytes(str((1 << 63) - 1)) == (1 << 63) - 1
    assert parse_bytes("8589934591 GiB") == (8589934591 << 30)
    assert parse_count("9_223_372_036_854_775_807") == (1 << 63) - 1
    assert parse_duration("52560000m") == 3153600000.0
    assert parse_window("0s..3153600000s") == (0.0, 3153600000.0)


_TEXT = st.text(alphabet=st.sampled_from("0123456789_. -%smKiBMG"), max_size=80)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.one_of(_TEXT, st.integers(), st.floats(), st.booleans(), st.none()))
def test_parsers_raise_nothing_but_value_error(value: object) -> None:
    for parse in (parse_bytes, parse_count, parse_duration, parse_percent, parse_window):
        try:
            parse(value)  # type: ignore[arg-type]
        except ValueError as exc:
            assert "\n" not in str(exc)
