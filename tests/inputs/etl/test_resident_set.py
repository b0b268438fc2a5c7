"""The resident set from `.etl`: page event layouts, the snapshot, plausibility, round trips."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gate.cli import app
from gate.inputs.etl import decode as D
from gate.inputs.etl import payloads as P
from gate.inputs.etl import resident as R
from gate.inputs.etl.decoder import EtlDecoder
from gate.inputs.etl.reader import inspect_etl, read_etl
from gate.inputs.scenario import generate, parse_scenario
from gate.reports.inspect import render_inspect
from gate.synthetic import etl as synth
from gate.synthetic.etl import write_scenario_etl
from gate.tables.chunks import Chunk, TraceInfo

NT = "\\SystemRoot\\system32\\ntoskrnl.exe"
ACPI = "\\SystemRoot\\System32\\drivers\\ACPI.sys"
PCI = "\\SystemRoot\\System32\\drivers\\pci.sys"
NTDLL = "\\Device\\HarddiskVolume3\\Windows\\System32\\ntdll.dll"
LOG = "\\Device\\HarddiskVolume3\\Windows\\Logs\\boot.log"
ACPI_BASE = 0xFFFFF802_5000_0000
PCI_BASE = 0xFFFFF802_5100_0000
FILE_OBJECT = 0xFFFF_C000_1234_5670
PAGE_HOOKS = (
    D.HOOK_PAGE_IN_MEMORY,
    D.HOOK_PAGE_IN_MEMORY_ACTIVE,
    D.HOOK_PAGE_ACCESS,
    D.HOOK_PAGE_ACCESS_EX,
    D.HOOK_WS_SHAREABLE_RUNDOWN,
    D.HOOK_IN_MEMORY_ACTIVE_RUNDOWN,
)
MARKER_HOOKS = (D.HOOK_WS_SHAREABLE_RUNDOWN, D.HOOK_IN_MEMORY_ACTIVE_RUNDOWN)

runner = CliRunner()


def _batch(*payloads: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = bytearray(b"\xee" * 3)
    starts, sizes = [], []
    for p in payloads:
        starts.append(len(data))
        sizes.append(len(p))
        data += p + b"\xee" * 5
    return (
        np.frombuffer(bytes(data), dtype=np.uint8),
        np.array(starts, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
    )


def _decode(hook: int, ps: int, *payloads: bytes) -> D.Columns:
    fn = D.DECODERS[hook].fn
    assert fn is not None
    data, starts, sizes = _batch(*payloads)
    return fn(data, starts, sizes, ps, np.full(len(starts), 2, dtype=np.uint16))


def _page(ps: int, kind: int, page_list: int, frame: int, key: int, va: int | None) -> bytes:
    """A page record packed by hand: u64 flags, then pointer-sized frame, key, [address]."""
    flags = kind | page_list << 4 | 0x80  # bit 7 (Cold on newer kernels) is not ours to read
    ptr = "Q" if ps == 8 else "I"
    if va is None:
        return struct.pack(f"<Q{ptr}{ptr}", flags, frame, key)
    return struct.pack(f"<Q{ptr}{ptr}{ptr}", flags, frame, key, va)


# --- layouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", PAGE_HOOKS)
@pytest.mark.parametrize("ps", [8, 4])
def test_page_event_layout_every_field(hook: int, ps: int) -> None:
    key = FILE_OBJECT if ps == 8 else 0x8A12_3450
    va = ACPI_BASE + 0x3000 if ps == 8 else 0x8B00_3000
    file_page = _page(ps, 1, 6, 0x1_2345, key | 3, va | 1)  # File, Active; flag bits set
    pool_page = _page(ps, 5, 2, 0x77, va, None)  # NonPagedPool, Standby, no address field
    assert len(file_page) == (32 if ps == 8 else 20) == P.MEMORY_PAGE_VA.fixed_size(ps)
    assert len(pool_page) == (24 if ps == 8 else 16) == P.MEMORY_PAGE.fixed_size(ps)
    cols = _decode(hook, ps, file_page, pool_page)
    assert cols["ok"].tolist() == [True, True]
    assert cols["page"].tolist() == [True, True]
    assert cols["kind"].tolist() == [1, 5]
    assert cols["page_list"].tolist() == [6, 2]
    assert cols["frame"].tolist() == [0x1_2345, 0x77]
    assert cols["key"].tolist() == [key, va]  # low two bits masked
    assert cols["virtual_address"].tolist() == [va, 0]
    enc = P.encode(
        P.MEMORY_PAGE_VA,
        ps,
        Flags=1 | 6 << 4 | 0x80,
        PageFrameIndex=0x1_2345,
        PageKey=key | 3,
        VirtualAddress=va | 1,
    )
    assert enc == file_page


@pytest.mark.parametrize("hook", PAGE_HOOKS)
def test_truncated_page_records_are_malformed(hook: int) -> None:
    good = _page(8, 1, 6, 10, FILE_OBJECT, None)
    cols = _decode(hook, 8, good[:23], good, good[:8])
    assert cols["ok"].tolist() == [False, True, False]
    assert cols["frame"].tolist() == [10]


@pytest.mark.parametrize("hook", PAGE_HOOKS)
def test_empty_payload_is_a_marker_only_for_the_rundown_hooks(hook: int) -> None:
    cols = _decode(hook, 8, b"")
    if hook in MARKER_HOOKS:
        assert cols["ok"].tolist() == [True] and cols["page"].tolist() == [False]
    else:
        assert cols["ok"].tolist() == [False]


def test_sysconfig_cpu_head() -> None:
    raw = struct.pack("<IIIII", 2400, 8, 16384, 4096, 65536) + b"\0" * 64
    cols = _decode(D.HOOK_SYSCONFIG_CPU, 8, raw, raw[:19])
    assert cols["ok"].tolist() == [True, False]
    assert cols["memory_mb"].tolist() == [16384]
    assert cols["page_size"].tolist() == [4096]


def test_truncated_page_events_in_a_file_are_counted_malformed(
    etl_bytes, build: dict[str, Callable[..., bytes]]
) -> None:
    rec = build["perfinfo"]
    good = _page(8, 5, 6, 10, 0xFFFF_D000_0000_0000, None)
    records = [
        rec(0x11, D.HOOK_PAGE_IN_MEMORY, 2, 5_000_100, good),
        rec(0x11, D.HOOK_PAGE_IN_MEMORY, 2, 5_000_100, good[:20]),
        rec(0x11, D.HOOK_IN_MEMORY_ACTIVE_RUNDOWN, 2, 5_000_100, b""),
        rec(0x11, D.HOOK_IN_MEMORY_ACTIVE_RUNDOWN, 2, 5_000_100, good[:4]),
    ]
    path = etl_bytes.write(build["header_buffer"]() + build["buffer"](records))
    dec = EtlDecoder(path)
    dec.run()
    assert dict(dec.malformed) == {"page in memory": 1, "in-memory active rundown": 1}
    rs = dec.resident_set()
    assert rs.present and rs.snapshot_pages == 1
    assert (rs.path, rs.page_list, rs.category, rs.size_bytes) == (
        [""],
        ["Active"],
        ["NonPagedPool"],
        [4096],
    )


# --- the snapshot -----------------------------------------------------------------------------


def _build(
    time_s: list[float],
    lists: list[int],
    *,
    kind: int = 5,
    frame: int = 100,
    key: int = 0,
    files: dict[int, str] | None = None,
    bound: int = 1 << 20,
) -> R.ResidentSet:
    n = len(time_s)
    return R.build_resident_set(
        time_s=np.array(time_s, dtype=float),
        kind=np.full(n, kind, np.uint8),
        page_list=np.array(lists, np.uint8),
        frame=np.full(n, frame, np.uint64),
        key=np.full(n, key, np.uint64),
        virtual_address=np.zeros(n, np.uint64),
        file_names=files or {},
        images=[],
        page_size=4096,
        bound=(bound, "test"),
    )


def test_last_full_snapshot_wins_over_a_later_standby_only_one() -> None:
    active, standby = R.PAGE_LISTS.index("Active"), R.PAGE_LISTS.index("Standby")
    rs = _build(
        [1.0, 1.0, 5.0, 5.0, 5.1, 9.0],
        [active, standby, active, active, standby, standby],
    )
    assert (rs.snapshots, rs.full_snapshots, rs.snapshot_time_s) == (3, 2, 5.0)
    assert dict(zip(rs.page_list, rs.size_bytes, strict=True)) == {
        "Active": 2 * 4096,
        "Standby": 4096,
    }


def test_only_standby_snapshots_are_no_resident_set() -> None:
    rs = _build([1.0, 3.0], [2, 3])
    assert not rs.present and not rs.rejected
    assert "none with more than Standby/Modified" in rs.notes[0]


def test_file_pages_take_their_name_and_a_driver_category() -> None:
    rs = _build([2.0] * 3, [6, 6, 2], kind=1, key=FILE_OBJECT, files={FILE_OBJECT: ACPI})
    assert rs.present
    assert list(zip(rs.path, rs.page_list, rs.category, rs.size_bytes, strict=True)) == [
        (ACPI, "Active", "Driver", 8192),
        (ACPI, "Standby", "Driver", 4096),
    ]


def test_category_mapping_by_name() -> None:
    assert R.file_category(ACPI) == "Driver"
    assert R.file_category("\\Windows\\System32\\DRIVERS\\foo.bin") == "Driver"
    assert R.file_category(NTDLL) == "Image"
    assert R.file_category(LOG) == "MapFile"


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ({"frame": 1 << 20}, "page frame"),
        ({"kind": 14}, "page kind"),
        ({"kind": 1, "key": 0x1234_5670}, "file key"),
    ],
)
def test_each_check_can_reject_the_snapshot(bad: dict, check: str) -> None:
    rs = _build([2.0] * 10, [6] * 10, **bad)
    assert rs.rejected and not rs.present
    assert rs.failed[check] == 1.0 and rs.failed_any == 1.0
    assert any("RESIDENT SET REJECTED" in n for n in rs.notes)


def test_a_few_implausible_pages_are_dropped_and_counted() -> None:
    n = 100
    frames = np.full(n, 50, np.uint64)
    frames[:4] = 1 << 45
    rs = R.build_resident_set(
        time_s=np.zeros(n),
        kind=np.full(n, 5, np.uint8),
        page_list=np.full(n, 6, np.uint8),
        frame=frames,
        key=np.zeros(n, np.uint64),
        virtual_address=np.zeros(n, np.uint64),
        file_names={},
        images=[],
        page_size=4096,
        bound=R.frame_bound(None, 4096, 8),
    )
    assert rs.present and rs.failed["page frame"] == 0.04
    assert rs.size_bytes == [96 * 4096]


def test_frame_bound_from_memory_size_or_architecture() -> None:
    assert R.frame_bound(16384, 4096, 8)[0] == (32 << 30) // 4096 + (4 << 30) // 4096
    assert R.frame_bound(None, 4096, 8)[0] == 1 << 40
    assert R.frame_bound(None, 4096, 4)[0] == 1 << 24


# --- scenario round trips ---------------------------------------------------------------------

RESIDENT = [
    {"path": ACPI, "list": "Active", "category": "Driver", "size": "40 KiB"},
    {"path": ACPI, "list": "Standby", "category": "Driver", "size": "8 KiB"},
    {"path": ACPI, "list": "Active", "category": "DriverFile", "size": "4 KiB"},
    {"path": PCI, "list": "Active", "category": "Driver", "size": "12 KiB"},
    {"path": PCI, "list": "Modified", "category": "Driver", "size": "4 KiB"},
    {"path": NTDLL, "list": "Active", "category": "Image", "size": "16 KiB"},
    {"path": LOG, "list": "Standby", "category": "MapFile", "size": "4 KiB"},
    {"path": "", "list": "Active", "category": "NonPagedPool", "size": "20 KiB"},
    {"path": "", "list": "Active", "category": "DriverLockedSystemPage", "size": "4 KiB"},
]


def _doc(resident: list | None, pointer_size: int = 8) -> dict:
    doc = {
        "scenario": 1,
        "name": "resident",
        "duration_s": 10.0,
        "cpus": 2,
        "seed": 3,
        "images": [
            {"path": NT, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000},
            {"path": ACPI, "base": ACPI_BASE, "size": 0x8_0000},
            {"path": PCI, "base": PCI_BASE, "size": 0x4_0000, "load_s": 1.0},
        ],
        "allocations": [
            {
                "tag": "Acpi",
                "pool": "nonpaged",
                "size": 64,
                "count": 20,
                "start_s": 0.5,
                "end_s": 5.0,
                "stack": ["ntoskrnl.exe+0x1000", "acpi.sys+0x2345"],
            }
        ],
    }
    if resident is not None:
        doc["resident_set"] = resident
    return doc


def _read(path: Path) -> tuple[list[tuple], TraceInfo]:
    rows: list[tuple] = []
    info = None
    for item in read_etl(path):
        if isinstance(item, TraceInfo):
            info = item
        elif isinstance(item, Chunk) and item.table == "resident_pages":
            cols = [item.columns[k].tolist() for k in ("path", "page_list", "category")]
            rows += zip(*cols, item.columns["size_bytes"].tolist(), strict=True)
    assert info is not None
    return sorted(rows), info


@pytest.mark.parametrize("compress", [False, True])
def test_scenario_resident_set_round_trips(tmp_path: Path, compress: bool) -> None:
    sc = parse_scenario(_doc(RESIDENT))
    path = write_scenario_etl(generate(sc), tmp_path / "rs.etl", compress=compress)
    rows, info = _read(path)
    assert sc.resident_set is not None
    assert rows == sorted((r.path, r.page_list, r.category, r.size_bytes) for r in sc.resident_set)
    assert info.has_resident_set and info.page_size_bytes == 4096
    summary = inspect_etl(path)
    assert summary.has_resident_set and summary.resident_pages == sum(
        r.size_bytes // 4096 for r in sc.resident_set
    )
    text = render_inspect(summary)
    assert "resident set     yes (28 pages" in text
    assert "page checks      failed: page kind 0.0 %" in text


def test_scenario_without_resident_set_writes_no_page_events(tmp_path: Path) -> None:
    path = write_scenario_etl(generate(parse_scenario(_doc(None))), tmp_path / "none.etl")
    rows, info = _read(path)
    assert rows == [] and not info.has_resident_set
    summary = inspect_etl(path)
    assert summary.page_records == 0
    assert not any("page" in k for k in summary.events)
    assert "resident set     no  <- active_code_bytes needs" in render_inspect(summary)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"path": ACPI, "list": "Active", "category": "Driver", "size": 100}, "whole number"),
        ({"path": ACPI, "list": "Busy", "category": "Driver", "size": 4096}, "page list"),
        ({"path": ACPI, "list": "Active", "category": "Heap", "size": 4096}, "category"),
        ({"path": ACPI, "list": "Active", "category": "Image", "size": 4096}, "Driver"),
        ({"path": ACPI, "list": "Active", "category": "PagedPool", "size": 4096}, "no path"),
    ],
)
def test_writer_refuses_what_the_reader_cannot_give_back(
    tmp_path: Path, item: dict, message: str
) -> None:
    trace = generate(parse_scenario(_doc([item])))
    with pytest.raises(ValueError, match=message):
        write_scenario_etl(trace, tmp_path / "x.etl")


# --- through `gate check` ---------------------------------------------------------------------

BUDGETS = (
    "drivers:\n  acpi.sys: {active_code_bytes: 64 KiB}\n  pci.sys: {active_code_bytes: 8 KiB}\n"
)


def _check(tmp_path: Path, etl: Path) -> dict[str, dict]:
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS)
    report = tmp_path / f"{etl.stem}.json"
    result = runner.invoke(app, ["check", str(etl), "-b", str(budgets), "--json", str(report)])
    assert result.exit_code in (0, 1), result.output
    checks = json.loads(report.read_text())["checks"]
    return {c["driver"]: c for c in checks if c["metric"] == "active_code_bytes"}


def test_gate_check_measures_active_code_from_page_events(tmp_path: Path) -> None:
    path = write_scenario_etl(generate(parse_scenario(_doc(RESIDENT))), tmp_path / "rs.etl")
    checks = _check(tmp_path, path)
    # Active Driver pages only: not Standby, not DriverFile, not other files.
    assert checks["acpi.sys"]["observed"] == 40 * 1024
    assert checks["acpi.sys"]["outcome"] == "pass"
    assert checks["pci.sys"]["observed"] == 12 * 1024
    assert checks["pci.sys"]["outcome"] == "fail"


def test_gate_check_without_page_events_is_not_evaluated(tmp_path: Path) -> None:
    path = write_scenario_etl(generate(parse_scenario(_doc(None))), tmp_path / "none.etl")
    checks = _check(tmp_path, path)
    for driver in ("acpi.sys", "pci.sys"):
        assert (checks[driver]["outcome"], checks[driver]["observed"]) == ("not_evaluated", None)


def test_garbled_page_events_trip_the_threshold_and_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = synth.resident_records

    def garbled(sc):  # type: ignore[no-untyped-def]
        files, pages = real(sc)
        # What reading a wrong layout looks like: frame numbers that are addresses.
        pages[::2, 8:16] = np.frombuffer(np.uint64(0xFFFF_F802_0000_0000).tobytes(), dtype=np.uint8)
        return files, pages

    monkeypatch.setattr(synth, "resident_records", garbled)
    path = write_scenario_etl(generate(parse_scenario(_doc(RESIDENT))), tmp_path / "bad.etl")
    rows, info = _read(path)
    assert rows == [] and not info.has_resident_set
    assert any("RESIDENT SET REJECTED" in n for n in info.notes)
    summary = inspect_etl(path)
    assert summary.resident_rejected and summary.resident_failed["page frame"] == 0.5
    assert "resident set     REJECTED: 50.0 % of 28 pages" in render_inspect(summary)
    checks = _check(tmp_path, path)
    assert checks["acpi.sys"]["outcome"] == "not_evaluated"
    assert checks["acpi.sys"]["observed"] is None
