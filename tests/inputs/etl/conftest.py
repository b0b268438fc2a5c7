"""Hand-made `.etl` bytes for the container tests.

The records and headers here are packed with literal struct formats and offsets, not with
`gate.inputs.etl.layouts`, so the tests check the layout declarations instead of repeating them.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_FT = 133_485_408_000_000_000  # 2024-01-01T00:00:00Z as FILETIME
SYNC = 5_000_000
PROVIDER = uuid.UUID("11111111-2222-3333-4444-555555555555")


def system_rec(ht: int, hook: int, ver: int, tid: int, pid: int, ts: int, payload: bytes) -> bytes:
    return (
        struct.pack("<HBBHHIIqII", ver, ht, 0xC0, 0x20 + len(payload), hook, tid, pid, ts, 7, 9)
        + payload
    )


def compact_rec(ht: int, hook: int, ver: int, tid: int, pid: int, ts: int, payload: bytes) -> bytes:
    return (
        struct.pack("<HBBHHIIq", ver, ht, 0xC0, 0x18 + len(payload), hook, tid, pid, ts) + payload
    )


def perfinfo_rec(ht: int, hook: int, ver: int, ts: int, payload: bytes, ext: bytes = b"") -> bytes:
    size = 0x10 + len(ext) + len(payload)
    return struct.pack("<HBBHHq", ver, ht, 0xC0, size, hook, ts) + ext + payload


def full_rec(
    ht: int, typ: int, ver: int, tid: int, pid: int, ts: int, guid: uuid.UUID, payload: bytes
) -> bytes:
    return (
        struct.pack(
            "<HBBBBHIIq16sII",
            0x30 + len(payload),
            ht,
            0xC0,
            typ,
            4,
            ver,
            tid,
            pid,
            ts,
            guid.bytes_le,
            0,
            0,
        )
        + payload
    )


def instance_rec(
    ht: int, typ: int, ver: int, tid: int, pid: int, ts: int, guid: uuid.UUID, payload: bytes
) -> bytes:
    head = struct.pack(
        "<HBBBBHIIq16sII",
        0x48 + len(payload),
        ht,
        0xC0,
        typ,
        4,
        ver,
        tid,
        pid,
        ts,
        guid.bytes_le,
        0,
        0,
    )
    return head + struct.pack("<II16s", 3, 2, b"\x00" * 16) + payload


def event_rec(
    ht: int,
    eid: int,
    ver: int,
    tid: int,
    pid: int,
    ts: int,
    guid: uuid.UUID,
    payload: bytes,
    ext: bytes = b"",
) -> bytes:
    flags = (0x40 if ht == 0x13 else 0x20) | (0x1 if ext else 0)
    head = struct.pack(
        "<HBBHHIIq16sHBBBBHQII16s",
        0x50 + len(ext) + len(payload),
        ht,
        0xC0,
        flags,
        0,
        tid,
        pid,
        ts,
        guid.bytes_le,
        eid,
        ver,
        0,
        4,
        1,
        0,
        0,
        0,
        0,
        b"\x00" * 16,
    )
    return head + ext + payload


def logfile_payload(
    ptr: int = 8,
    *,
    mode: int = 1,
    buffers: int = 2,
    name: str = "test logger",
    events_lost: int = 0,
    buffers_lost: int = 0,
) -> bytes:
    d = 0 if ptr == 8 else -8
    p = bytearray(0x118 + d)
    struct.pack_into("<I", p, 0x00, 65536)
    p[4:8] = bytes([10, 0, 1, 5])
    struct.pack_into("<IIqIIII", p, 0x08, 19041, 4, START_FT + 20_000_000, 156250, 0, mode, buffers)
    struct.pack_into("<IIII", p, 0x28, 0, ptr, events_lost, 2900)
    struct.pack_into("<qqqII", p, 0xF8 + d, START_FT - 10**9, 10_000_000, START_FT, 1, buffers_lost)
    return bytes(p) + (name + "\0" + "C:\\t.etl\0").encode("utf-16-le")


def buffer(
    records: list[bytes],
    *,
    cpu: int = 0,
    seq: int = 1,
    flags: int = 0x20,
    btype: int = 0,
    size: int = 4096,
    offset: int | None = None,
) -> bytes:
    body = bytearray()
    for r in records:
        body += r
        body += b"\x00" * (-len(r) % 8)
    end = 0x48 + len(body)
    if offset is None:
        offset = end
    out = bytearray(b"\xff" * max(size, end))
    struct.pack_into(
        "<IIIiqqQHHIIHH",
        out,
        0,
        len(out),
        end,
        end,
        0,
        123,
        seq,
        0,
        cpu,
        1,
        3,
        offset,
        flags,
        btype,
    )
    out[0x48:end] = body
    return bytes(out)


def header_buffer(ptr: int = 8, **kw: object) -> bytes:
    ht = 0x02 if ptr == 8 else 0x01
    rec = system_rec(ht, 0x0000, 2, 0, 0, SYNC, logfile_payload(ptr, **kw))  # type: ignore[arg-type]
    return buffer([rec], seq=0, flags=0x1, btype=4)


@dataclass
class EtlBytes:
    """Writes hand-made files into a temporary folder."""

    folder: Path
    count: int = 0
    made: list[Path] = field(default_factory=list)

    def write(self, data: bytes, name: str | None = None) -> Path:
        self.count += 1
        p = self.folder / (name or f"t{self.count}.etl")
        p.write_bytes(data)
        return p


@pytest.fixture
def etl_bytes(tmp_path: Path) -> EtlBytes:
    return EtlBytes(tmp_path)


@pytest.fixture
def build() -> dict[str, Callable[..., bytes]]:
    return {
        "system": system_rec,
        "compact": compact_rec,
        "perfinfo": perfinfo_rec,
        "full": full_rec,
        "instance": instance_rec,
        "event": event_rec,
        "buffer": buffer,
        "header_buffer": header_buffer,
        "logfile_payload": logfile_payload,
    }
