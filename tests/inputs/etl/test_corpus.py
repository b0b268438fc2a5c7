"""Real `.etl` files from public projects (../shared/corpus/etl): exact record counts.

Counts were measured with this reader and agree with the corpus PROVENANCE notes (written with an
independent parser) wherever those give a number.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from etl_stats import container_stats
from scenario_kit import CORPUS as SHARED_CORPUS

from gate.inputs.etl.container import open_etl

CORPUS = SHARED_CORPUS / "etl"


def _path(name: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real-trace corpus not present at {CORPUS}")
    p = CORPUS / name
    if not p.exists():
        pytest.skip(f"corpus file {name} missing from {CORPUS}")
    return p


# name: (records, buffers, compressed buffers, header types, pointer size, os, build, format,
#        logger name, compressed, cpus in header)
FILES = {
    "ShutdownPerfDiagLogger.etl": (
        17_078,
        49,
        0,
        {0x02: 8433, 0x11: 8645},
        8,
        "10.0",
        18362,
        "1.5",
        "PerfDiag Logger",
        False,
        2,
    ),
    "net.4.5.2.x64.etl": (
        179_474,
        360,
        359,
        {0x01: 2, 0x02: 3189, 0x0A: 27, 0x11: 100_157, 0x12: 33_378, 0x13: 34_765, 0x14: 7956},
        8,
        "6.2",
        9200,
        "2.0",
        "Relogger",
        True,
        8,
    ),
    "SelfDescribingSingleEvent.etl": (
        23,
        3,
        2,
        {0x02: 4, 0x13: 1, 0x14: 18},
        8,
        "10.0",
        22000,
        "2.0",
        "Relogger",
        True,
        12,
    ),
    "primitive-types.etl": (
        7,
        2,
        0,
        {0x02: 2, 0x13: 5},
        8,
        "10.0",
        19043,
        "1.5",
        "solar_system",
        False,
        8,
    ),
    "AMSITrace.etl": (
        21,
        6,
        0,
        {0x02: 2, 0x13: 19},
        8,
        "10.0",
        18362,
        "1.5",
        "AMSITraceSession",
        False,
        8,
    ),
    "lxcore_kernel.etl": (
        4,
        3,
        0,
        {0x02: 2, 0x13: 2},
        8,
        "10.0",
        19041,
        "1.5",
        "lxcore_kernel",
        False,
        6,
    ),
    # Sawbuck's generator logs a 32-bit logfile header (PointerSize 4) and FULL_HEADER32 records.
    "image_data_64_v2.etl": (
        27,
        3,
        0,
        {0x01: 1, 0x0A: 26},
        4,
        "6.1",
        7600,
        "1.5",
        "Make Test Data Session",
        False,
        16,
    ),
    "image_data_32_v1.etl": (
        27,
        3,
        0,
        {0x01: 1, 0x0A: 26},
        4,
        "6.1",
        7600,
        "1.5",
        "Make Test Data Session",
        False,
        16,
    ),
    "process_data_64_v3.etl": (
        9,
        2,
        0,
        {0x01: 1, 0x0A: 8},
        4,
        "6.1",
        7600,
        "1.5",
        "Make Test Data Session",
        False,
        16,
    ),
}


@pytest.mark.parametrize("name", list(FILES))
def test_counts_and_header(name):
    (
        records,
        buffers,
        compressed_buffers,
        header_types,
        ptr,
        os_version,
        build,
        fmt,
        logger,
        compressed,
        cpus,
    ) = FILES[name]
    with open_etl(_path(name)) as etl:
        h = etl.header
        st = container_stats(etl)
    assert st.records == records
    assert st.buffers == buffers
    assert st.compressed_buffers == compressed_buffers
    assert st.header_types == header_types
    assert h.pointer_size_bytes == ptr
    assert h.os_version == os_version
    assert h.os_build == build
    assert h.format_version == fmt
    assert h.logger_name == logger
    assert h.compressed is compressed
    assert h.cpu_count == cpus
    assert h.clock_type == 1
    if name.startswith(("image_data", "process_data")):
        assert h.perf_freq == 2_337_949  # a Windows 7 machine's QPC rate
    else:
        assert h.perf_freq == 10_000_000


def test_shutdown_kernel_hooks():
    with open_etl(_path("ShutdownPerfDiagLogger.etl")) as etl:
        st = container_stats(etl)
    assert st.kernel_hooks == {
        0x0000: 1, 0x0005: 3, 0x0008: 2, 0x0020: 2, 0x0050: 1,
        0x0302: 60, 0x0303: 94, 0x0304: 37, 0x030A: 72, 0x030B: 60, 0x0327: 5,
        0x0501: 350, 0x0502: 1032, 0x0503: 1175, 0x0504: 501,
        0x1402: 4791, 0x1403: 6745, 0x1404: 2145, 0x1421: 1, 0x1422: 1,
    }  # fmt: skip
    assert st.cpus == [0, 1]
    assert st.events_lost_buffers == 0 and st.buffer_lost_buffers == 0


def test_shutdown_record_fields():
    with open_etl(_path("ShutdownPerfDiagLogger.etl")) as etl:
        batches = list(etl.record_batches(max_bytes=1 << 20))
        assert len(batches) > 1
        b = batches[0]
        assert b.hook_id[0] == 0 and b.timestamp[0] == etl.header.sync_timestamp_raw
        assert etl.seconds(b.timestamp[:1]).tolist() == [0.0]
    perf = next(x for x in batches if (x.header_type == 0x11).any())
    sel = perf.header_type == 0x11
    assert (perf.thread_id[sel] == -1).all()
    assert (perf.payload_offset[sel] - perf.offset[sel] == 0x10).all()


def test_net_kernel_hooks_and_providers():
    with open_etl(_path("net.4.5.2.x64.etl")) as etl:
        st = container_stats(etl)
    k = st.kernel_hooks
    assert k[0x0F2E] == 79_528
    assert k[0x0424] == 3054
    assert k[0x1826] == 7046 and k[0x1825] == 2061 and k[0x1823] == 1909 and k[0x1824] == 1012
    assert k[0x1403] == 1763 and k[0x1404] == 1766
    assert st.providers[uuid.UUID("b3e675d7-2554-4f18-830b-2762732560de")] == 7885  # ImageId
    assert st.cpus == list(range(8))
