import pytest

from gate.units import (
    format_bytes,
    format_count,
    format_delta,
    format_window,
    parse_bytes,
    parse_count,
    parse_duration,
    parse_percent,
    parse_window,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (4096, 4096),
        ("4096", 4096),
        ("4_096", 4096),
        (" 4096 ", 4096),
        ("734 B", 734),
        ("512 KiB", 524_288),
        ("512KiB", 524_288),
        ("1.5 MiB", 1_572_864),
        ("2 GiB", 2_147_483_648),
        ("0.5 KiB", 512),
    ],
)
def test_parse_bytes_accepts(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1.5 MB",
            "'1.5 MB' is ambiguous (WPA's \"KB\" means 1024 bytes): write '1.5 MiB' for "
            "1,572,864 bytes or the plain number of bytes",
        ),
        (
            "4 kB",
            "'4 kB' is ambiguous (WPA's \"KB\" means 1024 bytes): write '4 KiB' for "
            "4,096 bytes or the plain number of bytes",
        ),
        (
            "2 G",
            "'2 G' is ambiguous (WPA's \"KB\" means 1024 bytes): write '2 GiB' for "
            "2,147,483,648 bytes or the plain number of bytes",
        ),
        (
            "1.3 KB",
            "'1.3 KB' is ambiguous (WPA's \"KB\" means 1024 bytes): write a size in KiB that "
            "is a whole number of bytes or the plain number of bytes",
        ),
        ("1 kib", "'1 kib': unit names are case-sensitive: write 'KiB'"),
        ("3 TiB", "'3 TiB': unknown unit 'TiB': use B, KiB, MiB or GiB"),
        ("-1", "'-1' is negative: a size is 0 bytes or more"),
        ("-1 KiB", "'-1 KiB' is negative: a size is 0 bytes or more"),
        (-5, "-5 is negative: a size is 0 bytes or more"),
        (
            "1.5",
            "'1.5' is not a whole number of bytes: write a plain integer or add a binary unit, "
            "e.g. '1.5 MiB'",
        ),
        (
            1.5,
            "1.5 is not a whole number of bytes: write a plain integer or a size with a binary "
            "unit, e.g. '1.5 MiB'",
        ),
        ("1.5 B", "'1.5 B' is not a whole number of bytes (1.5 bytes)"),
        ("1.0000001 KiB", "'1.0000001 KiB' is not a whole number of bytes (1024 bytes)"),
        (
            "4,096",
            "'4,096' is not a size: write a plain number of bytes (4096) or a number with a "
            "binary unit (512 KiB, 1.5 MiB, 2 GiB)",
        ),
        (
            "0x1000",
            "'0x1000' is not a size: write a plain number of bytes (4096) or a number with a "
            "binary unit (512 KiB, 1.5 MiB, 2 GiB)",
        ),
        ("9000000000 GiB", "'9000000000 GiB' is too large for a size in bytes"),
        (2**63, f"{2**63} is too large for a size in bytes"),
        (True, "expected a size such as 4096 or '512 KiB', found bool"),
        ([1], "expected a size such as 4096 or '512 KiB', found list"),
    ],
)
def test_parse_bytes_rejects(text, message):
    with pytest.raises(ValueError) as caught:
        parse_bytes(text)
    assert str(caught.value) == message


def test_parse_count():
    assert parse_count("12_000") == 12000
    assert parse_count(7) == 7
    for bad, message in [
        ("1 KiB", "'1 KiB' is not a count: write a plain integer such as 12000, without a unit"),
        ("-3", "'-3' is negative: a count is 0 or more"),
        (-3, "-3 is negative: a count is 0 or more"),
        (1.5, "1.5 is not a count: write a plain integer such as 12000, without a unit"),
    ]:
        with pytest.raises(ValueError) as caught:
            parse_count(bad)
        assert str(caught.value) == message


@pytest.mark.parametrize(
    ("size", "plain", "signed"),
    [
        (0, "0 B", "+0 B"),
        (734, "734 B", "+734 B"),
        (1023, "1023 B", "+1023 B"),
        (1024, "1.00 KiB", "+1.00 KiB"),
        (10234, "9.99 KiB", "+9.99 KiB"),
        (10235, "10.0 KiB", "+10.0 KiB"),
        (65536, "64.0 KiB", "+64.0 KiB"),
        (524_288, "512 KiB", "+512 KiB"),
        (1_048_575, "1.00 MiB", "+1.00 MiB"),
        (1_572_864, "1.50 MiB", "+1.50 MiB"),
        (3 * 2**30, "3.00 GiB", "+3.00 GiB"),
        (-65536, "-64.0 KiB", "-64.0 KiB"),
        (-100, "-100 B", "-100 B"),
        (1536.4, "1.50 KiB", "+1.50 KiB"),
        (2**62, "4.00 EiB", "+4.00 EiB"),
    ],
)
def test_format_bytes(size, plain, signed):
    assert format_bytes(size) == plain
    assert format_bytes(size, signed=True) == signed


def test_format_count_and_delta():
    assert format_count(1234567) == "1,234,567"
    assert format_count(12.6) == "13"
    assert format_delta(589_824, 524_288) == "+64.0 KiB (+12.5%)"
    assert format_delta(458_752, 524_288) == "-64.0 KiB (-12.5%)"
    assert format_delta(4096, 0) == "+4.00 KiB"
    assert format_delta(1100, 1000, count=True) == "+100 (+10.0%)"
    assert format_delta(900, 1000, count=True) == "-100 (-10.0%)"


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        ("80%", {}, 0.8),
        ("12.5%", {}, 0.125),
        ("100%", {}, 1.0),
        ("0%", {}, 0.0),
        (0.8, {}, 0.8),
        ("0.8", {}, 0.8),
        (1, {}, 1.0),
        ("250%", {"maximum": 10.0}, 2.5),
    ],
)
def test_parse_percent_accepts(value, kwargs, expected):
    assert parse_percent(value, **kwargs) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            80,
            "80 is read as a fraction (8000%), more than the allowed 100%: write '80%' for a "
            "percentage",
        ),
        ("150%", "'150%' is more than the allowed 100%"),
        (250, "250 is more than the allowed 100%"),
        ("-5%", "'-5%' is negative: write a percentage such as '80%'"),
        (-0.1, "-0.1 is negative: write a percentage such as '80%'"),
        ("eighty", "'eighty' is not a percentage: write e.g. '80%' or 0.8"),
        (True, "True is not a percentage: write e.g. '80%'"),
        (None, "expected a percentage such as '80%', found NoneType"),
    ],
)
def test_parse_percent_rejects(value, message):
    with pytest.raises(ValueError) as caught:
        parse_percent(value)
    assert str(caught.value) == message


def test_parse_duration():
    assert parse_duration("30s") == 30.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120.0
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("0") == 0.0
    assert parse_duration(0) == 0.0
    for bad, message in [
        ("30", "'30' has no unit: write '30s' for seconds or '30ms'"),
        ("2h", "'2h': unknown time unit 'h': use ms, s or m"),
        ("-1s", "'-1s' is negative: a time is counted from the start of the trace"),
        ("soon", "'soon' is not a duration: write e.g. '30s', '500ms' or '2m'"),
        (30, "30 is not a duration: add a unit, e.g. '30s', '500ms' or '2m'"),
    ]:
        with pytest.raises(ValueError) as caught:
            parse_duration(bad)
        assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s..30s", (0.0, 30.0)),
        ("5s..", (5.0, None)),
        ("..30s", (None, 30.0)),
        (" 500ms .. 2m ", (0.5, 120.0)),
    ],
)
def test_parse_window_accepts(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "..",
            "'..' leaves both ends open: give at least one, or leave the window out for the "
            "whole trace",
        ),
        ("30s..10s", "'30s..10s': the end must be later than the start"),
        ("10s..10s", "'10s..10s': the end must be later than the start"),
        ("0..30", "'0..30': bad end: '30' has no unit: write '30s' for seconds or '30ms'"),
        (
            "x..30s",
            "'x..30s': bad start: 'x' is not a duration: write e.g. '30s', '500ms' or '2m'",
        ),
        (
            "30s",
            "'30s' is not a window: write start..end, e.g. '0s..30s', '5s..' or '..30s'",
        ),
        (
            "0s..10s..20s",
            "'0s..10s..20s' is not a window: write start..end, e.g. '0s..30s', '5s..' or '..30s'",
        ),
        (30, "30 is not a window: write e.g. '0s..30s', '5s..' or '..30s'"),
    ],
)
def test_parse_window_rejects(text, message):
    with pytest.raises(ValueError) as caught:
        parse_window(text)
    assert str(caught.value) == message


def test_format_window_reads_back():
    assert format_window(None, None) == "whole trace"
    for window in [(0.0, 30.0), (5.0, None), (None, 0.5), (0.25, 90.0)]:
        assert parse_window(format_window(*window)) == window
