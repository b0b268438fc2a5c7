"""XPRESS codec: round trips, every length encoding, corrupt input, and the real corpus buffers."""

from __future__ import annotations

import random
import struct

import pytest
from scenario_kit import CORPUS as SHARED_CORPUS

from gate.inputs.etl import xpress
from gate.inputs.etl.layouts import BUFFER_FLAG_COMPRESSED, WMI_BUFFER_HEADER
from gate.inputs.etl.xpress import XpressError

CORPUS = SHARED_CORPUS / "etl"

DECODERS = [xpress.decompress_python, xpress.decompress]
ENCODERS = [xpress.compress_python, xpress.compress]
if xpress._numba_decompress is not None:
    DECODERS.append(xpress.decompress_numba)
    ENCODERS.append(xpress.compress_numba)


def _samples() -> dict[str, bytes]:
    rnd = random.Random(7)
    text = b"the quick brown fox jumps over the lazy dog " * 50
    return {
        "empty": b"",
        "one": b"a",
        "random": bytes(rnd.getrandbits(8) for _ in range(5000)),
        "zeros": bytes(70_000),  # run longer than 65535+3: the u32 length form
        "text": text,
        "mixed": text[:300] + bytes(rnd.getrandbits(8) for _ in range(300)) + b"ab" * 900,
        "records": b"".join(
            struct.pack("<IIQQ", i % 7, 0x6C6F6F50, 64 * i, i) for i in range(2000)
        ),
    }


@pytest.mark.parametrize("name", list(_samples()))
@pytest.mark.parametrize("enc", ENCODERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_round_trip(name, enc, dec):
    data = _samples()[name]
    assert dec(enc(data), len(data)) == data


def _stream(items: list[tuple[str, object]]) -> bytes:
    """Hand-encode a stream: ("lit", bytes) or ("match", (offset, length)), per MS-XCA."""
    flags = 0
    n = 0
    body = bytearray()
    half = -1
    for kind, val in items:
        if kind == "lit":
            for byte in val:  # type: ignore[attr-defined]
                body.append(byte)
                flags = flags << 1
                n += 1
            continue
        off, length = val  # type: ignore[misc]
        l3 = length - 3
        body += struct.pack("<H", ((off - 1) << 3) | min(l3, 7))
        if l3 >= 7:
            rest = l3 - 7
            nib = min(rest, 15)
            if half < 0:
                half = len(body)
                body.append(nib)
            else:
                body[half] |= nib << 4
                half = -1
            if rest >= 15:
                rest -= 15
                if rest < 255:
                    body.append(rest)
                else:
                    body.append(255)
                    if l3 <= 0xFFFF:
                        body += struct.pack("<H", l3)
                    else:
                        body += struct.pack("<HI", 0, l3)
        flags = (flags << 1) | 1
        n += 1
    assert n <= 32
    flags = (flags << (32 - n)) | ((1 << (32 - n)) - 1)
    return struct.pack("<I", flags & 0xFFFFFFFF) + bytes(body)


@pytest.mark.parametrize(
    "length",
    [3, 9, 10, 11, 24, 25, 26, 200, 279, 280, 281, 5000, 65_538, 65_539, 100_000],
    ids=lambda n: f"len{n}",
)
@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_every_length_encoding(length, dec):
    # 3..9: in the u16; 10..24: nibble; 25..279: +byte; >=280: u16; >65538: u32.
    src = _stream([("lit", b"A"), ("lit", b"B"), ("match", (2, length))])
    expect = (b"AB" * (length // 2 + 2))[: 2 + length]
    assert dec(src, 2 + length) == expect


@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_two_matches_share_one_nibble_byte(dec):
    src = _stream([("lit", b"xyz"), ("match", (3, 12)), ("match", (1, 20)), ("lit", b"!")])
    out = dec(src, 3 + 12 + 20 + 1)
    assert out == b"xyz" + b"xyzxyzxyzxyz" + b"z" * 20 + b"!"
    # Both long matches carry their extra length in the byte after the first match word.
    assert src[4 + 3 + 2] == (20 - 10) << 4 | (12 - 10)


@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_far_offset(dec):
    rnd = random.Random(3)
    head = bytes(rnd.getrandbits(8) for _ in range(8192))
    data = head + head[:100]
    items = [("lit", bytes([b])) for b in head[:31]]
    stream = _stream([*items, ("match", (1, 3))])  # not far, just checks the flag word layout
    assert dec(stream, 34) == head[:31] + bytes([head[30]]) * 3
    assert dec(xpress.compress(data), len(data)) == data


BAD = {
    "truncated flags": (b"\x00\x00", 4),
    "truncated literal": (b"\x00\x00\x00\x00ab", 4),
    "offset before output": (_stream([("lit", b"A"), ("match", (5, 3))]), 4),
    "match past output": (_stream([("lit", b"A"), ("match", (1, 50))]), 10),
    "short output": (_stream([("lit", b"A")]), 2),
    "bad u16 length": (
        b"\x00\x00\x00\x40" + b"A" + struct.pack("<H", 7) + b"\x0f\xff" + b"\x05\x00",
        40,
    ),
    "truncated match word": (b"\x00\x00\x00\x40A\x07", 10),
}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_corrupt_input_raises(case, dec):
    src, size = BAD[case]
    with pytest.raises(XpressError):
        dec(src, size)


@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_truncation_anywhere_raises_or_is_short(dec):
    data = _samples()["mixed"]
    comp = xpress.compress(data)
    for cut in range(0, len(comp) - 1, 37):
        with pytest.raises(XpressError):
            dec(comp[:cut], len(data))


def test_random_garbage_never_hangs_or_overruns():
    rnd = random.Random(11)
    for _ in range(300):
        src = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 64)))
        size = rnd.randrange(0, 200)
        for dec in DECODERS:
            try:
                out = dec(src, size)
            except XpressError:
                continue
            assert len(out) == size


def test_backends_listed():
    assert xpress.available_backends()[-1] == "python"


def _compressed_buffers(name: str) -> list[tuple[int, bytes, int]]:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not present (../shared/corpus/etl is absent)")
    data = path.read_bytes()
    out = []
    off = 0
    while off + 0x48 <= len(data):
        h = WMI_BUFFER_HEADER.unpack(data, off)
        if h["BufferFlag"] & BUFFER_FLAG_COMPRESSED:
            out.append((off, data[off + 0x48 : off + h["BufferSize"]], h["SavedOffset"] - 0x48))
        off += h["BufferSize"]
    return out


@pytest.mark.parametrize(
    ("name", "count"), [("net.4.5.2.x64.etl", 359), ("SelfDescribingSingleEvent.etl", 2)]
)
def test_corpus_buffers_decompress_exactly(name, count):
    bufs = _compressed_buffers(name)
    assert len(bufs) == count
    for _off, src, size in bufs:
        assert len(xpress.decompress(src, size)) == size
    # The reference decoder agrees byte for byte on a sample.
    for _off, src, size in bufs[:: max(1, len(bufs) // 8)]:
        assert xpress.decompress_python(src, size) == xpress.decompress(src, size)


@pytest.mark.parametrize("dec", DECODERS, ids=lambda f: f.__name__)
def test_output_stops_at_the_stated_size(dec):
    # A 4 GiB match in a dozen bytes: refused at the match, nothing of it is written.
    bomb = _stream([("lit", b"A"), ("match", (1, 0xFFFF_FFF0))])
    assert len(bomb) < 16
    with pytest.raises(XpressError, match="runs past output size 64"):
        xpress.decompress_python(bomb, 64)
    with pytest.raises(XpressError):
        dec(bomb, 64)
    # Input that goes on after the stated size is full is not decoded further.
    more = _stream([("lit", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")])
    assert dec(more, 10) == b"ABCDEFGHIJ"
