"""Container reader on hand-made bytes: every header field, and every way a file can be broken."""

from __future__ import annotations

import struct
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest
from etl_stats import container_stats

from gate.errors import TraceFormatError
from gate.inputs.etl import layouts as L
from gate.inputs.etl import records
from gate.inputs.etl.container import open_etl
from gate.inputs.etl.xpress import compress

START_FT = 133_485_408_000_000_000
SYNC = 5_000_000
G1 = uuid.UUID("11111111-2222-3333-4444-555555555555")
G2 = uuid.UUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")


@pytest.fixture(autouse=True, params=["numba", "numpy"])
def header_backend(request, monkeypatch):
    """Every test here runs on both record-header paths: the numba pass and plain numpy."""
    if request.param == "numba" and records._header_numba is None:
        pytest.skip("numba is not installed (the 'fast' extra)")
    if request.param == "numpy":
        monkeypatch.setattr(records, "_header_numba", None)
    return request.param


def _one(etl):
    batches = list(etl.record_batches())
    assert len(batches) == 1
    return batches[0]


def test_layout_sizes_match_the_reference():
    assert L.WMI_BUFFER_HEADER.size == 0x48
    assert L.SYSTEM_TRACE_HEADER.size == 0x20
    assert L.COMPACT_TRACE_HEADER.size == 0x18
    assert L.PERFINFO_TRACE_HEADER.size == 0x10
    assert L.EVENT_TRACE_HEADER.size == 0x30
    assert L.EVENT_INSTANCE_GUID_HEADER.size == 0x48
    assert L.EVENT_HEADER.size == 0x50
    assert L.TRACE_LOGFILE_HEADER64.offset_of("PerfFreq") == 0x100
    assert L.TRACE_LOGFILE_HEADER32.offset_of("PerfFreq") == 0xF8
    assert L.TRACE_LOGFILE_HEADER64.size == 0x118
    assert L.TRACE_LOGFILE_HEADER32.size == 0x110
    assert L.WMI_BUFFER_HEADER.dtype.itemsize == L.WMI_BUFFER_HEADER.struct.size == 0x48


@pytest.mark.parametrize("ptr", [8, 4])
def test_logfile_header_fields(etl_bytes, build, ptr):
    data = build["header_buffer"](ptr, mode=0x04000001, events_lost=5, buffers_lost=2)
    data += build["buffer"]([build["system"](0x02, 0x0E20, 2, 1, 2, SYNC + 10, b"x" * 8)])
    with open_etl(etl_bytes.write(data)) as etl:
        h = etl.header
    assert h.pointer_size_bytes == ptr
    assert h.perf_freq == 10_000_000
    assert h.start_filetime == START_FT
    assert h.start_utc == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert h.end_filetime == START_FT + 20_000_000
    assert h.clock_type == 1
    assert h.timer_resolution == 156250
    assert h.cpu_count == 4
    assert h.cpu_speed_mhz == 2900
    assert h.log_file_mode == 0x04000001
    assert h.compressed is True  # from the mode bit alone
    assert h.buffers_written == 2
    assert h.events_lost == 5
    assert h.buffers_lost == 2
    assert h.os_version == "10.0"
    assert h.os_build == 19041
    assert h.format_version == "1.5"
    assert h.logger_name == "test logger"
    assert h.log_file_name == "C:\\t.etl"
    assert h.sync_timestamp_raw == SYNC
    assert h.boot_time == START_FT - 10**9


def test_buffer_header_fields(etl_bytes, build):
    rec = build["system"](0x02, 0x0E20, 2, 1, 2, SYNC + 10, b"")
    data = build["header_buffer"]()
    data += build["buffer"]([rec, rec], cpu=3, seq=7, flags=0x22)
    data += build["buffer"]([rec], cpu=1, seq=5, flags=0x24, btype=1, size=8192)
    with open_etl(etl_bytes.write(data)) as etl:
        bt = etl.buffers
        assert etl.buffer_count == 3
        batch = _one(etl)
    assert bt["file_offset"].tolist() == [0, 4096, 8192]
    assert bt["BufferSize"].tolist() == [4096, 4096, 8192]
    assert bt["cpu"].tolist() == [0, 3, 1]
    assert bt["sequence"].tolist() == [0, 7, 5]
    assert bt["BufferFlag"].tolist() == [0x1, 0x22, 0x24]
    assert bt["BufferType"].tolist() == [4, 0, 1]
    assert bt["Offset"].tolist()[1:] == [0x48 + 0x40, 0x48 + 0x20]
    info = batch.buffers
    assert info["records"].tolist() == [1, 2, 1]
    assert info["cpu"].tolist() == [0, 3, 1]
    assert info["sequence"].tolist() == [0, 7, 5]
    assert batch.events_lost_buffers == 1
    assert batch.buffer_lost_buffers == 1
    assert batch.cpu.tolist() == [0, 3, 3, 1]
    assert batch.buffer_seq.tolist() == [0, 7, 7, 5]
    assert batch.record_index.tolist() == [0, 0, 1, 0]
    assert batch.buffer_file_offset.tolist() == [0, 4096, 4096, 8192]


def test_every_record_header_type(etl_bytes, build):
    b = build
    pebs_pmc = bytes(range(8)) + bytes(16)  # PEBS word plus two PMC counters
    ext = struct.pack("<HHHH", 0, 5, 0, 4) + b"ABCD" + b"\0" * 4  # one item, 4 data bytes
    recs = [
        b["system"](0x02, 0x1403, 3, 11, 12, SYNC + 1, b"S" * 5),
        b["system"](0x01, 0x1402, 2, 13, 14, SYNC + 2, b"s" * 4),
        b["compact"](0x04, 0x0E20, 2, 15, 16, SYNC + 3, b"C" * 9),
        b["compact"](0x03, 0x0E22, 2, 17, 18, SYNC + 4, b""),
        b["perfinfo"](0x11, 0x0F2E, 0x8202, SYNC + 5, b"P" * 16, ext=pebs_pmc),
        b["perfinfo"](0x10, 0x1820, 2, SYNC + 6, b"p" * 12),
        b["full"](0x14, 0x0A, 2, 19, 20, SYNC + 7, G1, b"F" * 3),
        b["full"](0x0A, 0x03, 1, 21, 22, SYNC + 8, G2, b""),
        b["instance"](0x15, 0x20, 4, 23, 24, SYNC + 9, G2, b"I" * 6),
        b["event"](0x13, 1234, 1, 25, 26, SYNC + 10, G1, b"E" * 7, ext=ext),
        b["event"](0x12, 77, 3, 27, 28, SYNC + 11, G2, b"e" * 2),
    ]
    data = b["header_buffer"]() + b["buffer"](recs, cpu=2, seq=9)
    with open_etl(etl_bytes.write(data)) as etl:
        batch = _one(etl)
    r = slice(1, None)  # skip the logfile header record
    assert batch.header_type[r].tolist() == [2, 1, 4, 3, 0x11, 0x10, 0x14, 0x0A, 0x15, 0x13, 0x12]
    assert batch.hook_id[r].tolist() == [
        0x1403,
        0x1402,
        0x0E20,
        0x0E22,
        0x0F2E,
        0x1820,
        0x0A,
        0x03,
        0x20,
        1234,
        77,
    ]
    assert batch.version[r].tolist() == [3, 2, 2, 2, 2, 2, 2, 1, 4, 1, 3]
    assert batch.timestamp[r].tolist() == [SYNC + i for i in range(1, 12)]
    assert batch.thread_id[r].tolist() == [11, 13, 15, 17, -1, -1, 19, 21, 23, 25, 27]
    assert batch.process_id[r].tolist() == [12, 14, 16, 18, -1, -1, 20, 22, 24, 26, 28]
    assert batch.pointer_size[r].tolist() == [8, 4, 8, 4, 8, 4, 8, 4, 8, 8, 4]
    assert batch.size[r].tolist() == [len(x) for x in recs]
    sizes = [5, 4, 9, 0, 16, 12, 3, 0, 6, 7, 2]
    assert batch.payload_size[r].tolist() == sizes
    payloads = [
        bytes(batch.data[o : o + n]) for o, n in zip(batch.payload_offset[r], sizes, strict=True)
    ]
    assert payloads == [
        b"S" * 5,
        b"s" * 4,
        b"C" * 9,
        b"",
        b"P" * 16,
        b"p" * 12,
        b"F" * 3,
        b"",
        b"I" * 6,
        b"E" * 7,
        b"e" * 2,
    ]
    assert batch.guid_index[r][:6].tolist() == [-1] * 6
    assert [batch.guids[i] for i in batch.guid_index[r][6:]] == [G1, G2, G2, G1, G2]
    assert batch.event_flags[r].tolist()[-2:] == [0x41, 0x20]
    assert (batch.marker_flags == 0xC0).all()
    assert (batch.cpu[r] == 2).all()
    assert batch.record_index.tolist() == [0, *range(11)]
    # Offsets are 8-aligned and each record starts where the previous aligned one ended.
    assert (batch.offset % 8 == 0).all()
    ends = batch.offset[r][:-1] + ((batch.size[r][:-1].astype(np.int64) + 7) & ~7)
    assert ends.tolist() == batch.offset[r][1:].tolist()


def test_time_conversion(etl_bytes, build):
    data = build["header_buffer"]() + build["buffer"](
        [build["system"](0x02, 0x0E20, 2, 1, 2, SYNC + 25_000_000, b"")]
    )
    with open_etl(etl_bytes.write(data)) as etl:
        batch = _one(etl)
        secs = etl.seconds(batch.timestamp)
        utc = etl.to_utc(batch.timestamp)
    assert secs.tolist() == [0.0, 2.5]
    assert utc[1] == np.datetime64("2024-01-01T00:00:02.500000")


def test_batches_are_bounded_and_complete(etl_bytes, build):
    rec = build["system"](0x02, 0x0E20, 2, 1, 2, SYNC, b"z" * 40)
    data = build["header_buffer"]()
    for seq in range(1, 11):
        data += build["buffer"]([rec] * 30, cpu=seq % 2, seq=seq)
    with open_etl(etl_bytes.write(data)) as etl:
        small = list(etl.record_batches(max_bytes=4000))
        whole = list(etl.record_batches())
        stats = container_stats(etl)
    assert len(small) > 3 and len(whole) == 1
    assert all(len(b.data) <= 4000 + 0x1000 for b in small)
    assert sum(len(b) for b in small) == len(whole[0]) == 301
    assert np.concatenate([b.buffer_seq for b in small]).tolist() == whole[0].buffer_seq.tolist()
    assert stats.records == 301
    assert stats.kernel_hooks == {0x0000: 1, 0x0E20: 300}
    assert stats.cpus == [0, 1]


def test_compressed_buffer(etl_bytes, build):
    recs = [build["system"](0x02, 0x0E20, 2, i, 2, SYNC + i, b"q" * 24) for i in range(50)]
    plain = build["buffer"](recs, cpu=1, seq=3)
    end = struct.unpack_from("<I", plain, 0x30)[0]
    comp = compress(plain[0x48:end])
    buf = bytearray(plain[:0x48]) + comp
    struct.pack_into("<I", buf, 0, len(buf))
    struct.pack_into("<H", buf, 0x34, 0x60)
    path = etl_bytes.write(build["header_buffer"]() + bytes(buf))
    with open_etl(path) as etl:
        assert etl.header.compressed is True  # from the buffer flag; the mode bit is clear
        batch = _one(etl)
    assert len(batch) == 51
    assert batch.thread_id[1:].tolist() == list(range(50))


# ---- broken input ---------------------------------------------------------------------------
def _raises_at(path, offset: int | None, words: str) -> TraceFormatError:
    with pytest.raises(TraceFormatError) as info, open_etl(path) as etl:
        list(etl.record_batches())
    err = info.value
    assert err.offset == offset, str(err)
    assert words in err.problem, str(err)
    assert str(path) in str(err)
    return err


def _good(build, records=None) -> bytes:
    recs = records or [build["system"](0x02, 0x0E20, 2, 1, 2, SYNC, b"x" * 8)]
    return build["header_buffer"]() + build["buffer"](recs)


def test_empty_file(etl_bytes):
    _raises_at(etl_bytes.write(b""), 0, "empty")


def test_png_is_not_etl(etl_bytes):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
    err = _raises_at(etl_bytes.write(png), 0, "")
    assert "buffer" in err.problem


def test_truncated_file(etl_bytes, build):
    data = _good(build)
    _raises_at(etl_bytes.write(data[:-1]), 4096, "runs past the end of the file")
    _raises_at(etl_bytes.write(data[:30]), 0, "too short")


def test_buffer_size_past_end_of_file(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, 4096, 1 << 20)
    _raises_at(etl_bytes.write(bytes(data)), 4096, "runs past the end of the file")


def test_buffer_size_too_small(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, 4096, 0x20)
    _raises_at(etl_bytes.write(bytes(data)), 4096, "smaller than its header")


def test_record_size_past_buffer(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<H", data, 4096 + 0x48 + 4, 0x2000)
    _raises_at(etl_bytes.write(bytes(data)), 4096 + 0x48, "runs past the end of its buffer")


def test_record_size_zero_does_not_hang(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<H", data, 4096 + 0x48 + 4, 0)
    _raises_at(etl_bytes.write(bytes(data)), 4096 + 0x48, "smaller than its 32-byte header")
    ev = build["event"](0x13, 1, 0, 1, 2, SYNC, G1, b"")
    data = bytearray(_good(build, [ev]))
    struct.pack_into("<H", data, 4096 + 0x48, 0)
    _raises_at(etl_bytes.write(bytes(data)), 4096 + 0x48, "smaller than its 80-byte header")


def test_unknown_header_type(etl_bytes, build):
    data = bytearray(_good(build))
    data[4096 + 0x48 + 2] = 0x33
    _raises_at(etl_bytes.write(bytes(data)), 4096 + 0x48, "unknown record header type 0x33")


def test_perfinfo_extension_longer_than_record(etl_bytes, build):
    rec = build["perfinfo"](0x11, 0x0F2E, 0x8702, SYNC, b"")  # claims PEBS + 7 PMC counters
    _raises_at(etl_bytes.write(_good(build, [rec])), 4096 + 0x48, "PERFINFO")


def test_event_header_extended_items_past_record(etl_bytes, build):
    ext = struct.pack("<HHHH", 0, 5, 0, 200)
    rec = build["event"](0x13, 1, 0, 1, 2, SYNC, G1, b"", ext=ext)
    _raises_at(etl_bytes.write(_good(build, [rec])), 4096 + 0x48, "extended item")


def test_first_record_not_a_logfile_header(etl_bytes, build):
    rec = build["system"](0x02, 0x0E20, 2, 1, 2, SYNC, b"")
    _raises_at(etl_bytes.write(build["buffer"]([rec], seq=0)), 0x48, "not an ETL file")


def test_logfile_header_cut_short(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<H", data, 0x48 + 4, 0x20 + 0x40)
    _raises_at(etl_bytes.write(bytes(data)), 0x48, "logfile header payload")


def test_corrupt_compressed_buffer(etl_bytes, build):
    recs = [build["system"](0x02, 0x0E20, 2, i, 2, SYNC + i, b"q" * 24) for i in range(50)]
    plain = build["buffer"](recs)
    end = struct.unpack_from("<I", plain, 0x30)[0]
    comp = bytearray(compress(plain[0x48:end]))
    del comp[len(comp) // 2 :]  # truncated stream
    buf = bytearray(plain[:0x48]) + comp
    struct.pack_into("<I", buf, 0, len(buf))
    struct.pack_into("<H", buf, 0x34, 0x60)
    _raises_at(etl_bytes.write(build["header_buffer"]() + bytes(buf)), 4096, "decompress")


def test_compressed_buffer_with_bad_saved_offset(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<H", data, 4096 + 0x34, 0x60)
    struct.pack_into("<I", data, 4096 + 4, 0x10)
    _raises_at(etl_bytes.write(bytes(data)), 4096, "SavedOffset")


def test_trailing_fill_ends_the_walk(etl_bytes, build):
    data = _good(build) + b"\xff" * 5000
    with open_etl(etl_bytes.write(data)) as etl:
        assert sum(len(b) for b in etl.record_batches()) == 2
    data = _good(build) + b"\x00" * 100
    with open_etl(etl_bytes.write(data)) as etl:
        assert etl.buffer_count == 2


def test_garbage_after_last_buffer(etl_bytes, build):
    _raises_at(etl_bytes.write(_good(build) + b"\x01" * 20), 8192, "truncated buffer header")


def test_missing_file_is_an_input_error(tmp_path):
    from gate.errors import InputError

    with pytest.raises(InputError):
        open_etl(tmp_path / "nope.etl")


def test_pure_python_walk_matches(etl_bytes, build, monkeypatch, header_backend):
    recs = [
        build["system"](0x02, 0x0E20 + i % 3, 2, i, 2, SYNC + i, b"w" * (i % 50)) for i in range(90)
    ]
    path = etl_bytes.write(build["header_buffer"]() + build["buffer"](recs, size=8192))
    with open_etl(path) as etl:
        fast = _one(etl)
    monkeypatch.setattr(records, "_header_numba", None)  # the pure-Python walk
    with open_etl(path) as etl:
        slow = _one(etl)
    assert slow.offset.tolist() == fast.offset.tolist()
    assert slow.hook_id.tolist() == fast.hook_id.tolist()
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 4096 + 0x48 + 4, 3)
    _raises_at(etl_bytes.write(bytes(data)), 4096 + 0x48, "smaller than")


# ---- sizes the format does not allow ----------------------------------------------------------
_PAYLOAD = 0x48 + 0x20  # the logfile header payload: after the buffer and record headers


def _compressed(build, records: int = 50) -> bytearray:
    recs = [build["system"](0x02, 0x0E20, 2, i, 2, SYNC + i, b"q" * 24) for i in range(records)]
    plain = build["buffer"](recs, cpu=1, seq=3)
    end = struct.unpack_from("<I", plain, 0x30)[0]
    buf = bytearray(plain[:0x48]) + compress(plain[0x48:end])
    struct.pack_into("<I", buf, 0, len(buf))
    struct.pack_into("<H", buf, 0x34, 0x60)
    return buf


def test_buffer_larger_than_the_logfile_header_states(etl_bytes, build):
    data = build["header_buffer"]() + build["buffer"]([], size=65536 + 4096)
    _raises_at(etl_bytes.write(data), 4096, "more than the BufferSize 65536")


def test_first_buffer_is_checked_against_the_size_it_states(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, _PAYLOAD, 2048)  # the header says 2 KiB; its own buffer is 4 KiB
    _raises_at(etl_bytes.write(bytes(data)), 0, "holds 4096 bytes, more than the BufferSize 2048")


@pytest.mark.parametrize("stated", [0, 0x48, (16 << 20) + 8, 0xFFFFFFF8])
def test_logfile_header_buffer_size_out_of_range(etl_bytes, build, stated):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, _PAYLOAD, stated)
    _raises_at(etl_bytes.write(bytes(data)), _PAYLOAD, f"BufferSize {stated} is not")


def test_compressed_buffer_claiming_more_than_the_stated_size(etl_bytes, build):
    buf = _compressed(build)
    struct.pack_into("<I", buf, 4, 65536 + 8)  # SavedOffset: what it would decompress to
    path = etl_bytes.write(build["header_buffer"]() + bytes(buf))
    _raises_at(path, 4096, "decompresses to 65544 bytes, more than the BufferSize 65536")


def test_uncompressed_buffer_claiming_gigabytes_is_refused_before_reading(etl_bytes, build):
    # A sparse file of 4 GiB whose second buffer claims all of it: refused from its header.
    path = etl_bytes.write(_good(build))
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(struct.pack("<I", 0xFFFFFFF8))
        f.truncate(4096 + 0xFFFFFFF8)
    _raises_at(path, 4096, "buffer size 4294967288 is more than an ETW buffer holds (16 MiB)")


def test_fill_after_the_last_buffer_is_not_read_whole(etl_bytes, build, monkeypatch):
    path = etl_bytes.write(_good(build))
    with path.open("r+b") as f:
        f.truncate(8192 + (64 << 20))  # 64 MiB of zero fill, sparse
    reads: list[int] = []
    real_open = open

    class Counting:
        def __init__(self, f):
            self._f = f

        def read(self, n=-1):
            reads.append(n)
            return self._f.read(n)

        def __getattr__(self, name):
            return getattr(self._f, name)

    import gate.inputs.etl.container as C

    monkeypatch.setattr(C, "open", lambda p, m: Counting(real_open(p, m)), raising=False)
    with open_etl(path) as etl:
        assert etl.buffer_count == 2
    assert -1 not in reads and max(reads) <= 1 << 20


@pytest.mark.parametrize("cpus", [0x80000000, 0xFFFFFFFF, 2049])
def test_number_of_processors_out_of_range(etl_bytes, build, cpus):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, _PAYLOAD + 0x0C, cpus)
    _raises_at(etl_bytes.write(bytes(data)), _PAYLOAD + 0x0C, f"NumberOfProcessors {cpus}")


def test_number_of_processors_at_the_limit_is_read(etl_bytes, build):
    data = bytearray(_good(build))
    struct.pack_into("<I", data, _PAYLOAD + 0x0C, 2048)
    with open_etl(etl_bytes.write(bytes(data))) as etl:
        assert etl.header.cpu_count == 2048
        assert etl.header.buffer_size == 65536
