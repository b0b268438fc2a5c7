"""Writer -> reader round trips: every header field and record field comes back."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from etl_stats import container_stats

from gate.inputs.etl import layouts as L
from gate.inputs.etl.container import open_etl
from gate.synthetic.writer import EtlWriter

START = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
GUID = uuid.UUID("2cb15d1d-5fc1-11d2-abe1-00a0c911f518")


def _records(path):
    with open_etl(path) as etl:
        batches = list(etl.record_batches())
    return batches


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("ptr", [8, 4])
def test_header_round_trip(tmp_path, compress, ptr):
    path = tmp_path / "h.etl"
    with EtlWriter(
        path,
        pointer_size=ptr,
        cpu_count=6,
        perf_freq=3_000_000,
        start_utc=START,
        buffer_size=8192,
        compress=compress,
        events_lost=4,
        buffers_lost=1,
        os_version=(6, 3),
        build=9600,
        logger_name="round trip",
        start_timestamp=1_000,
    ) as w:
        w.system_record(0x0E20, 2, 1_000 + 3_000_000, b"p" * 24, cpu=5)
    with open_etl(path) as etl:
        h = etl.header
        batches = list(etl.record_batches())
        flags = etl.buffers["BufferFlag"]
    assert h.pointer_size_bytes == ptr
    assert h.perf_freq == 3_000_000
    assert h.start_utc == START
    assert h.end_filetime - h.start_filetime == 10_000_000
    assert h.clock_type == 1
    assert h.cpu_count == 6
    assert h.compressed is compress
    assert bool(h.log_file_mode & L.EVENT_TRACE_COMPRESSED_MODE) is compress
    assert h.format_version == ("2.0" if compress else "1.5")
    assert h.buffers_written == 2
    assert h.events_lost == 4
    assert h.buffers_lost == 1
    assert h.os_version == "6.3"
    assert h.os_build == 9600
    assert h.logger_name == "round trip"
    assert h.log_file_name == "h.etl"
    assert h.sync_timestamp_raw == 1_000
    assert flags[0] & L.BUFFER_FLAG_COMPRESSED == 0  # header buffer never compressed
    assert bool(flags[1] & L.BUFFER_FLAG_COMPRESSED) is compress
    assert flags[1] & L.BUFFER_FLAG_EVENTS_LOST and flags[1] & L.BUFFER_FLAG_BUFFER_LOST
    assert etl.buffers["BufferType"].tolist() == [L.BUFFER_TYPE_HEADER, L.BUFFER_TYPE_GENERIC]
    b = batches[0]
    assert b.events_lost_buffers == 1 and b.buffer_lost_buffers == 1
    assert etl.seconds(b.timestamp).tolist() == [0.0, 1.0]
    assert b.pointer_size.tolist() == [ptr, ptr]


@pytest.mark.parametrize("compress", [False, True])
def test_record_fields_round_trip(tmp_path, compress):
    path = tmp_path / "r.etl"
    rng = np.random.default_rng(5)
    expect = []
    kinds = [
        (L.HT_SYSTEM64, None),
        (L.HT_COMPACT64, None),
        (L.HT_PERFINFO64, None),
        (L.HT_SYSTEM32, None),
        (L.HT_FULL_HEADER64, GUID),
        (L.HT_INSTANCE32, GUID),
        (L.HT_EVENT_HEADER64, GUID),
        (L.HT_EVENT_HEADER32, uuid.UUID(int=7)),
    ]
    with EtlWriter(path, buffer_size=4096, compress=compress) as w:
        for i in range(3000):
            ht, guid = kinds[i % len(kinds)]
            evh = ht in (L.HT_EVENT_HEADER64, L.HT_EVENT_HEADER32)
            hook = int(rng.integers(0, 0x10000)) if guid is None or evh else i % 256
            if ht in (L.HT_EVENT_HEADER64, L.HT_EVENT_HEADER32):
                ver = i % 256
            else:
                ver = int(rng.integers(0, 0x100))
            payload = rng.integers(0, 256, int(rng.integers(0, 90)), dtype=np.uint8).tobytes()
            cpu = int(rng.integers(0, 4))
            w.write_record(
                header_type=ht,
                hook_id=hook,
                version=ver,
                timestamp=10_000 + i,
                payload=payload,
                thread_id=i,
                process_id=i * 2,
                cpu=cpu,
                guid=guid,
            )
            expect.append((ht, hook, ver, 10_000 + i, payload, i, i * 2, cpu, guid))
    got = []
    for b in _records(path):
        for k in range(len(b)):
            if b.hook_id[k] == 0 and b.header_type[k] in (1, 2) and b.timestamp[k] == 0:
                continue  # the logfile header record
            po, ps = int(b.payload_offset[k]), int(b.payload_size[k])
            gi = int(b.guid_index[k])
            has_ids = b.header_type[k] not in (L.HT_PERFINFO32, L.HT_PERFINFO64)
            got.append(
                (
                    int(b.header_type[k]),
                    int(b.hook_id[k]),
                    int(b.version[k]),
                    int(b.timestamp[k]),
                    bytes(b.data[po : po + ps]),
                    int(b.thread_id[k]) if has_ids else None,
                    int(b.process_id[k]) if has_ids else None,
                    int(b.cpu[k]),
                    b.guids[gi] if gi >= 0 else None,
                )
            )
    got.sort(key=lambda r: r[3])
    for g, e in zip(got, expect, strict=True):
        e = list(e)
        if g[0] in (L.HT_PERFINFO32, L.HT_PERFINFO64):
            e[5] = e[6] = None
        assert g == tuple(e)


def test_cpus_interleave_with_increasing_sequence(tmp_path):
    path = tmp_path / "cpus.etl"
    with EtlWriter(path, cpu_count=3, buffer_size=1024) as w:
        for i in range(2000):
            w.system_record(0x0E20, 2, 100 + i, b"x" * 40, cpu=(i * 7) % 3)
    with open_etl(path) as etl:
        (b,) = list(etl.record_batches())
        table = etl.buffers
    data = slice(1, None)
    cpus = table["cpu"][data]
    assert set(cpus.tolist()) == {0, 1, 2}
    assert len(set(cpus[:6].tolist())) > 1  # file order interleaves processors
    for cpu in range(3):
        seqs = table["sequence"][data][cpus == cpu]
        assert (np.diff(seqs) > 0).all()
    # Within a cpu, (buffer_seq, record_index) order is timestamp order.
    for cpu in range(3):
        sel = b.cpu == cpu
        order = np.lexsort((b.record_index[sel], b.buffer_seq[sel]))
        ts = b.timestamp[sel][order]
        assert (np.diff(ts[1:]) > 0).all()
    # A global sort recovers the writing order.
    order = np.lexsort((b.record_index, b.buffer_seq, b.cpu, b.timestamp))
    assert b.timestamp[order][1:].tolist() == list(range(100, 2100))


def test_mark_events_lost(tmp_path):
    path = tmp_path / "lost.etl"
    with EtlWriter(path, cpu_count=2) as w:
        w.system_record(0x0E20, 2, 5, b"", cpu=1)
        w.mark_events_lost(cpu=1)
        w.system_record(0x0E20, 2, 6, b"", cpu=0)
    with open_etl(path) as etl:
        st = container_stats(etl)
    assert st.events_lost_buffers == 1
    assert st.records == 3


def test_output_is_atomic(tmp_path):
    path = tmp_path / "a.etl"
    with pytest.raises(RuntimeError), EtlWriter(path) as w:
        w.system_record(0x0E20, 2, 5, b"")
        raise RuntimeError("boom")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_bad_records_are_refused(tmp_path):
    with EtlWriter(tmp_path / "b.etl", cpu_count=2, buffer_size=1024) as w:
        with pytest.raises(ValueError):
            w.system_record(0x0E20, 2, 5, b"", cpu=2)
        with pytest.raises(ValueError):
            w.system_record(0x0E20, 2, 5, b"x" * 2000)
        with pytest.raises(ValueError):
            w.write_record(
                header_type=L.HT_FULL_HEADER64, hook_id=1, version=1, timestamp=1, payload=b""
            )


@pytest.mark.parametrize("size", [1016, 1028, (16 << 20) + 8])
def test_buffer_sizes_etw_cannot_write_are_refused(tmp_path: Path, size: int) -> None:
    with pytest.raises(
        ValueError, match="buffer_size must be a multiple of 8 from 1024 to 16777216"
    ):
        EtlWriter(tmp_path / "t.etl", buffer_size=size)
    assert not (tmp_path / "t.etl").exists()


def test_the_largest_etw_buffer_is_written_and_read(tmp_path: Path) -> None:
    with EtlWriter(tmp_path / "t.etl", buffer_size=16 << 20) as w:
        w.write_record(
            header_type=L.HT_SYSTEM64, hook_id=0x0E20, version=2, timestamp=1, payload=b""
        )
    assert open_etl(tmp_path / "t.etl").header.buffer_size == 16 << 20
