"""Payload layouts and decoders against hand-packed byte fixtures (struct, not the layouts)."""

from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest

from gate.inputs.etl import decode as D
from gate.inputs.etl import payloads as P


def _batch(
    *payloads: bytes, gap: int = 3, align: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Payloads laid out in one buffer at odd offsets (or at multiples of `align`)."""
    data = bytearray(b"\xee" * gap)
    starts, sizes = [], []
    for p in payloads:
        data += b"\xee" * (-len(data) % align)
        starts.append(len(data))
        sizes.append(len(p))
        data += p + b"\xee" * gap
    return (
        np.frombuffer(bytes(data), dtype=np.uint8),
        np.array(starts, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
    )


def _run(fn: D.DecodeFn, ps: int, *payloads: bytes, version: int = 0, align: int = 1) -> D.Columns:
    data, starts, sizes = _batch(*payloads, align=align)
    return fn(data, starts, sizes, ps, np.full(len(starts), version, dtype=np.uint16))


def _tag(s: str) -> int:
    return int.from_bytes(s.encode("latin-1"), "little")


KERNEL_ADDR = 0xFFFF_C000_0000_0040


# --- pool -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ps", [4, 8])
def test_pool_alloc_and_free(ps: int) -> None:
    fmt = "<IIQQ" if ps == 8 else "<IIII"
    addr = KERNEL_ADDR if ps == 8 else 0x8A00_1040
    a = struct.pack(fmt, 512, _tag("Abcd"), 0x1234, addr)
    f = struct.pack(fmt, 1, _tag("Fat "), 0x10, addr + 0x40)
    assert len(a) == (24 if ps == 8 else 16) == P.POOL.fixed_size(ps)
    cols = D.DECODERS[D.HOOK_POOL_ALLOC].fn(*_batch(a, f), ps, np.zeros(2, np.uint16))  # type: ignore[misc]
    assert cols["ok"].tolist() == [True, True]
    assert cols["pool_type"].tolist() == [512, 1]
    assert P.decode_tags(cols["tag"]).tolist() == ["Abcd", "Fat"]
    assert cols["size_bytes"].tolist() == [0x1234, 0x10]
    assert cols["address"].tolist() == [addr, addr + 0x40]
    assert cols["session_id"].tolist() == [-1, -1]
    # The encoder used by the synthetic writer produces the same bytes.
    enc = P.encode(P.POOL, ps, PoolType=512, Tag=_tag("Abcd"), NumberOfBytes=0x1234, Entry=addr)
    assert enc == a


@pytest.mark.parametrize("ps", [4, 8])
def test_pool_session(ps: int) -> None:
    fmt = "<IIQQI" if ps == 8 else "<IIIII"
    addr = KERNEL_ADDR if ps == 8 else 0x9100_0000
    raw = struct.pack(fmt, 33, _tag("Gh10"), 4096, addr, 2)
    assert len(raw) == (28 if ps == 8 else 20)
    for hook in (D.HOOK_POOL_ALLOC_SESSION, D.HOOK_POOL_FREE_SESSION):
        cols = _run(D.DECODERS[hook].fn, ps, raw)  # type: ignore[arg-type]
        assert cols["ok"].tolist() == [True]
        assert cols["pool_type"].tolist() == [33]
        assert P.decode_tags(cols["tag"]).tolist() == ["Gh10"]
        assert cols["size_bytes"].tolist() == [4096]
        assert cols["address"].tolist() == [addr]
        assert cols["session_id"].tolist() == [2]


def test_pool_truncated_is_malformed_not_fatal() -> None:
    good = struct.pack("<IIQQ", 0, _tag("Good"), 8, KERNEL_ADDR)
    cols = _run(D.DECODERS[D.HOOK_POOL_ALLOC].fn, 8, good[:23], good, b"")  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [False, True, False]
    assert cols["address"].tolist() == [KERNEL_ADDR]
    sess = struct.pack("<IIQQI", 33, _tag("Sess"), 8, KERNEL_ADDR, 1)
    cols = _run(D.DECODERS[D.HOOK_POOL_ALLOC_SESSION].fn, 8, sess[:24])  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [False]


def test_tags_trailing_nul_and_blank_removed() -> None:
    values = np.array([_tag("Ab\0\0"), _tag("Ab  "), _tag("Ntf\0"), _tag("a b ")], np.uint32)
    assert P.decode_tags(values).tolist() == ["Ab", "Ab", "Ntf", "a b"]
    assert P.encode_tags(["Ab", "Fat", "Abcd"]).tolist() == [
        _tag("Ab  "),
        _tag("Fat "),
        _tag("Abcd"),
    ]
    with pytest.raises(ValueError, match="longer than 4"):
        P.encode_tags(["Abcde"])


def test_pool_snapshot_rundowns_are_counted_not_read() -> None:
    """Allocations outstanding at trace start were made before it: the metrics count what the
    trace allocates (metrics.md), so the snapshot rundowns are counted for inspect only."""
    for hook in D.POOL_SNAPSHOT_HOOKS:
        assert D.DECODERS[hook].fn is None and D.DECODERS[hook].category is None


def test_every_decoder_category_has_a_handler_and_every_handler_a_decoder() -> None:
    from gate.inputs.etl.batch import HANDLERS

    categories = {d.category for d in D.DECODERS.values() if d.category is not None}
    assert categories == set(HANDLERS)
    for dec in D.DECODERS.values():
        assert (dec.fn is None) == (dec.category is None), dec.name


def test_a_decoder_without_a_category_or_function_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a decode function"):
        D.Decoder("pool alloc", "pool_alloc")
    with pytest.raises(ValueError, match="needs a decode function"):
        D.Decoder("pool alloc", None, D.DECODERS[D.HOOK_POOL_ALLOC].fn)


# --- images -----------------------------------------------------------------------------------

NAME = "\\SystemRoot\\System32\\drivers\\ACPI.sys"


def _w(s: str) -> bytes:
    return s.encode("utf-16-le") + b"\0\0"


def _image_fixture(version: int, ps: int) -> bytes:
    p = "Q" if ps == 8 else "I"
    base = 0xFFFFF802_4000_0000 if ps == 8 else 0x8A40_0000
    if version == 0:
        return struct.pack(f"<{p}I", base, 0x5000) + _w(NAME)
    if version == 1:
        return struct.pack(f"<{p}{p}I", base, 0x5000, 0) + _w(NAME)
    if version == 2:
        fixed = struct.pack(
            f"<{p}{p}IIII{p}IIII", base, 0x5000, 0, 0xC0DE, 0x5F00_0000, 0, base, 0, 0, 0, 0
        )
        return fixed + _w(NAME)
    fixed = struct.pack(
        f"<{p}{p}IIIBBH{p}IIII",
        base,
        0x5000,
        4,
        0xC0DE,
        0x5F00_0000,
        0x0C,
        0x01,
        0,
        base,
        0,
        0,
        0,
        0,
    )
    return fixed + _w(NAME)


@pytest.mark.parametrize("ps", [4, 8])
@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_image_versions(version: int, ps: int) -> None:
    raw = _image_fixture(version, ps)
    layout = P.IMAGE_BY_VERSION[version]
    assert layout.offset("FileName", ps) == len(raw) - len(_w(NAME))
    base = 0xFFFFF802_4000_0000 if ps == 8 else 0x8A40_0000
    for hook in (D.HOOK_IMAGE_LOAD, D.HOOK_IMAGE_UNLOAD, D.HOOK_IMAGE_DC_START, 0x1404):
        cols = _run(D.DECODERS[hook].fn, ps, raw, version=version)  # type: ignore[arg-type]
        assert cols["ok"].tolist() == [True]
        assert cols["base"].tolist() == [base]
        assert cols["size"].tolist() == [0x5000]
        assert cols["process_id"].tolist() == [{0: -1, 1: 0, 2: 0, 3: 4}[version]]
        assert cols["checksum"].tolist() == [0xC0DE if version >= 2 else 0]
        assert cols["time_date_stamp"].tolist() == [0x5F00_0000 if version >= 2 else 0]
        assert cols["file_name"] == [NAME]
    enc_fields = {"ImageBase": base, "ImageSize": 0x5000}
    if version >= 1:
        enc_fields["ProcessId"] = {1: 0, 2: 0, 3: 4}[version]
    if version >= 2:
        enc_fields |= {"ImageChecksum": 0xC0DE, "TimeDateStamp": 0x5F00_0000, "DefaultBase": base}
    if version == 3:
        enc_fields |= {"SignatureLevel": 0x0C, "SignatureType": 0x01}
    assert P.encode(layout, ps, NAME, **enc_fields) == raw


def test_image_mixed_versions_and_truncation() -> None:
    v3 = _image_fixture(3, 8)
    v1 = _image_fixture(1, 8)
    data, starts, sizes = _batch(v3, v1, v3[:40], v3[:60])
    cols = D.decode_image(data, starts, sizes, 8, np.array([3, 1, 3, 3], np.uint16))
    assert cols["ok"].tolist() == [True, True, False, True]
    assert cols["file_name"][:2] == [NAME, NAME]
    assert cols["file_name"][2] == "\\S"  # a cut-off name ends where the payload ends
    assert cols["process_id"].tolist() == [4, 0, 4]


def test_image_name_without_terminator_ends_at_payload_end() -> None:
    raw = _image_fixture(3, 8)[:-2]
    cols = _run(D.decode_image, 8, raw, version=3)
    assert cols["file_name"] == [NAME]


# --- stacks -----------------------------------------------------------------------------------


def _stacks(cols: dict) -> list[list[int]]:
    """Each record's frames, from the distinct stacks and the per-record index."""
    flat, offsets = cols["frames"].tolist(), cols["frame_offsets"].tolist()
    return [flat[offsets[i] : offsets[i + 1]] for i in cols["stack_index"].tolist()]


@pytest.fixture(params=["numba", "numpy"])
def stack_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Stack de-duplication on both paths: the numba kernels and plain numpy."""
    if request.param == "numba" and D._hash_rows is None:
        pytest.skip("numba is not installed (the 'fast' extra)")
    if request.param == "numpy":
        monkeypatch.setattr(D, "_hash_rows", None)
    return request.param


def _zero_hashes(words: object, starts: np.ndarray, counts: object, out: np.ndarray) -> None:
    out[:] = 0


def test_distinct_stacks_survive_hash_collisions(
    stack_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal hashes never merge different stacks: rows are compared value by value."""
    if stack_backend == "numba":
        monkeypatch.setattr(D, "_hash_rows", _zero_hashes)
    monkeypatch.setattr(D, "_row_hashes", lambda m: np.zeros(len(m), dtype=np.uint64))
    stacks = [[1, 2, 3], [1, 2, 4], [1, 2, 3], [9, 9, 9], [1, 2, 4], [5, 6]]
    payloads = [struct.pack("<QII", 0, 0, 0) + struct.pack(f"<{len(f)}Q", *f) for f in stacks]
    cols = _run(D.DECODERS[D.HOOK_STACK_WALK].fn, 8, *payloads, align=8)  # type: ignore[arg-type]
    assert _stacks(cols) == stacks
    assert len(cols["frame_offsets"]) - 1 == 4
    index = cols["stack_index"].tolist()
    assert index[0] == index[2] and index[1] == index[4] and len(set(index)) == 4


@pytest.mark.parametrize("align", [1, 8], ids=["odd-offsets", "aligned"])
@pytest.mark.parametrize("ps", [4, 8])
def test_stack_walk(ps: int, align: int, stack_backend: str) -> None:
    p = "Q" if ps == 8 else "I"
    frames = [0xFFFFF802_4000_1234, 0xFFFFF802_4100_0010, 0x7FF6_0000_1000]
    if ps == 4:
        frames = [0x8A40_1234, 0x8B00_0010, 0x0040_1000]
    a = struct.pack(f"<QII{len(frames)}{p}", 123456789, 4, 1008, *frames)
    b = struct.pack("<QII", 5, 6, 7)  # no frames at all
    c = struct.pack(f"<QII{p}", 9, 10, 11, frames[0]) + b"\x01"  # a stray byte is ignored
    cols = _run(D.DECODERS[D.HOOK_STACK_WALK].fn, ps, a, b, c, b[:15], a, align=align)  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [True, True, True, False, True]
    assert cols["event_timestamp"].tolist() == [123456789, 5, 9, 123456789]
    assert cols["stack_process"].tolist() == [4, 6, 10, 4]
    assert cols["stack_thread"].tolist() == [1008, 7, 11, 1008]
    assert _stacks(cols) == [frames, [], [frames[0]], frames]
    # Distinct stacks are stored once: the first and last record share theirs.
    assert len(cols["frame_offsets"]) == 3 + 1
    assert cols["stack_index"][0] == cols["stack_index"][3]
    assert len(set(cols["stack_index"].tolist())) == 3
    assert (
        P.encode(
            P.STACK_WALK, ps, frames, EventTimeStamp=123456789, StackProcess=4, StackThread=1008
        )
        == a
    )


@pytest.mark.parametrize("ps", [4, 8])
def test_stack_key_reference_and_definition(ps: int, stack_backend: str) -> None:
    p = "Q" if ps == 8 else "I"
    key = 0xFFFF_A000_0000_1230 if ps == 8 else 0x9000_1230
    ref = struct.pack(f"<QII{p}", 777, 4, 1012, key)
    cols = _run(D.DECODERS[D.HOOK_STACK_KEY_KERNEL].fn, ps, ref, ref[:-1])  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [True, False]
    assert cols["event_timestamp"].tolist() == [777]
    assert cols["stack_process"].tolist() == [4]
    assert cols["stack_thread"].tolist() == [1012]
    assert cols["key"].tolist() == [key]
    assert D.DECODERS[D.HOOK_STACK_KEY_USER].fn is D.DECODERS[D.HOOK_STACK_KEY_KERNEL].fn

    frames = [key + 1, key + 2]
    definition = struct.pack(f"<{p}2{p}", key, *frames)
    for hook in (0x1822, 0x1823, 0x1824):
        cols = _run(D.DECODERS[hook].fn, ps, definition, definition[: ps - 1])  # type: ignore[arg-type]
        assert cols["ok"].tolist() == [True, False]
        assert cols["key"].tolist() == [key]
        assert _stacks(cols) == [frames]
        assert cols["frame_offsets"].tolist() == [0, 2]
    assert P.encode(P.STACK_DEFINITION, ps, frames, StackKey=key) == definition
    assert (
        P.encode(
            P.STACK_KEY_REF, ps, EventTimeStamp=777, StackProcess=4, StackThread=1012, StackKey=key
        )
        == ref
    )


# --- names and PDB identity -------------------------------------------------------------------


@pytest.mark.parametrize("ps", [4, 8])
def test_file_name_rundown(ps: int) -> None:
    p = "Q" if ps == 8 else "I"
    obj = 0xFFFF_8000_1234_5670 if ps == 8 else 0x8123_4560
    raw = struct.pack(f"<{p}", obj) + _w("\\Device\\HarddiskVolume3\\Windows\\x.dll")
    cols = _run(D.DECODERS[D.HOOK_FILE_NAME_RUNDOWN].fn, ps, raw, raw[: ps - 1])  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [True, False]
    assert cols["file_object"].tolist() == [obj]
    assert cols["file_name"] == ["\\Device\\HarddiskVolume3\\Windows\\x.dll"]


@pytest.mark.parametrize("ps", [4, 8])
def test_image_id_and_dbgid(ps: int) -> None:
    p = "Q" if ps == 8 else "I"
    base = 0xFFFFF802_4000_0000 if ps == 8 else 0x8A40_0000
    image_id = struct.pack(f"<{p}{p}II", base, 0x5000, 0, 0x5F00_0000) + _w("ACPI.sys")
    cols = _run(D.DECODERS[(D.KERNEL_TRACE_CONTROL, 0)].fn, ps, image_id)  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [True]
    assert cols["base"].tolist() == [base]
    assert cols["size"].tolist() == [0x5000]
    assert cols["process_id"].tolist() == [0]
    assert cols["time_date_stamp"].tolist() == [0x5F00_0000]
    assert cols["file_name"] == ["ACPI.sys"]

    guid = uuid.UUID("12345678-9abc-def0-1122-334455667788")
    dbg = struct.pack(f"<{p}I", base, 0) + guid.bytes_le + struct.pack("<I", 3) + b"acpi.pdb\0"
    cols = _run(D.DECODERS[(D.KERNEL_TRACE_CONTROL, 36)].fn, ps, dbg, dbg[: ps + 20])  # type: ignore[arg-type]
    assert cols["ok"].tolist() == [True, False]
    assert cols["base"].tolist() == [base]
    assert cols["process_id"].tolist() == [0]
    assert cols["pdb_guid"] == [str(guid)]
    assert cols["pdb_age"].tolist() == [3]
    assert cols["pdb_name"] == ["acpi.pdb"]
    assert P.encode(P.DBGID_RSDS, ps, "acpi.pdb", ImageBase=base, GuidSig=guid, Age=3) == dbg


# --- layouts and dispatch ---------------------------------------------------------------------


def test_layout_sizes_match_reference() -> None:
    # etl-format.md §2.1–2.3: pool 24/28 bytes on x64, image v3 name at 56, stack frames at 16.
    assert P.POOL.fixed_size(8) == 24 and P.POOL_SESSION.fixed_size(8) == 28
    assert P.POOL.fixed_size(4) == 16 and P.POOL_SESSION.offset("SessionId", 4) == 16
    assert P.IMAGE_V3.offset("FileName", 8) == 56
    assert P.IMAGE_V3.offset("DefaultBase", 8) == 32
    assert P.STACK_WALK.offset("Stack", 8) == 16 == P.STACK_WALK.offset("Stack", 4)
    assert P.STACK_KEY_REF.fixed_size(8) == 24
    for layout in P.LAYOUTS:
        assert layout.source


def test_event_codes_map_guid_headers_to_kernel_hooks() -> None:
    from gate.inputs.etl import layouts as L

    image_guid = L.KERNEL_GROUP_GUIDS[0x14]
    other = uuid.uuid4()
    header_type = np.array(
        [
            L.HT_SYSTEM64,
            L.HT_PERFINFO64,
            L.HT_FULL_HEADER32,
            L.HT_FULL_HEADER32,
            L.HT_FULL_HEADER64,
            L.HT_FULL_HEADER64,
            L.HT_EVENT_HEADER64,
        ],
        dtype=np.uint8,
    )
    hook = np.array([0x0E20, 0x1403, 10, 3, 36, 1, 5], dtype=np.uint16)
    gidx = np.array([-1, -1, 0, 0, 1, 2, 1], dtype=np.int32)
    guids = [image_guid, D.KERNEL_TRACE_CONTROL, other]
    codes, keys = D.event_codes(header_type, hook, gidx, guids)
    resolved = [D.key_for_code(int(c), keys) for c in codes]
    assert resolved == [
        0x0E20,
        0x1403,
        0x030A,
        0x1403,
        (D.KERNEL_TRACE_CONTROL, 36),
        (other, 1),
        None,
    ]
    assert D.event_name(0x0E20) == "pool alloc (0x0e20)"
    assert D.event_name(0x0999).endswith("(0x0999)")
