"""read_etl / inspect_etl on real traces and on hand-built files for the tricky paths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scenario_kit import CORPUS as SHARED_CORPUS

from gate.errors import TraceFormatError
from gate.inputs.etl import decode as D
from gate.inputs.etl import layouts as L
from gate.inputs.etl import payloads as P
from gate.inputs.etl.decoder import EtlDecoder
from gate.inputs.etl.reader import inspect_etl, read_etl
from gate.synthetic.writer import EtlWriter
from gate.tables.chunks import Chunk, TraceInfo, module_names

CORPUS = SHARED_CORPUS / "etl"
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"real .etl corpus not present at {CORPUS}"
)

NO_TS = -(2**63)
END_TS = 2**63 - 1


def _tables(path: Path) -> tuple[dict[str, dict[str, np.ndarray]], TraceInfo]:
    out: dict[str, dict[str, np.ndarray]] = {}
    chunks = list(read_etl(path, paired=False))
    for c in chunks[:-1]:
        assert isinstance(c, Chunk)
        assert c.table not in out or c.table == "pool_events"
        out.setdefault(c.table, {}).update(
            {
                k: np.concatenate([out[c.table][k], v]) if k in out.get(c.table, {}) else v
                for k, v in c.columns.items()
            }
        )
    assert isinstance(chunks[-1], TraceInfo)
    frames = out["stack_frames"]
    frames["module"] = module_names(
        Chunk("frame_modules", out["frame_modules"]), Chunk("stack_frames", frames)
    )
    return out, chunks[-1]


# --- real traces ------------------------------------------------------------------------------


@needs_corpus
def test_shutdown_perfdiag_images() -> None:
    path = CORPUS / "ShutdownPerfDiagLogger.etl"
    tables, info = _tables(path)
    img = tables["images"]
    assert len(img["driver"]) == 196  # kernel images (process 0) only
    drivers = list(img["driver"])
    i = drivers.index("ntoskrnl.exe")
    assert img["base_address"][i] == 0xFFFFF802424AB000  # etl-format.md §5 [measured]
    assert img["size_bytes"][i] == 11231232
    assert img["path"][i] == "\\SystemRoot\\system32\\ntoskrnl.exe"
    a = drivers.index("acpi.sys")
    assert img["base_address"][a] == 0xFFFFF802438D0000
    assert img["size_bytes"][a] == 835584
    assert img["path"][a] == "\\SystemRoot\\System32\\drivers\\ACPI.sys"
    # Everything was loaded before this shutdown trace; three RAS drivers unload during it.
    assert np.isnan(img["load_s"]).all()
    unloaded = sorted(d for d, u in zip(drivers, img["unload_s"], strict=True) if not np.isnan(u))
    assert unloaded == ["rasl2tp.sys", "raspppoe.sys", "raspptp.sys"]
    assert (img["process_id"] == 0).all()
    assert len(tables["pool_events"]["seq"]) == 0
    assert len(tables["stack_frames"]["stack_id"]) == 0
    assert info.records_total == 17078
    assert info.pointer_size_bytes == 8 and info.cpu_count == 2
    assert not info.compressed and not info.synthetic
    assert info.os_version == "10.0"
    assert info.sha256 == "91d5e8c962066abacd9b9433754c83c1dbda9f5dfac1a58b309a26f066cd54c5"
    assert any("6740 user-mode images" in n for n in info.notes)


@needs_corpus
def test_shutdown_perfdiag_inspect_counts() -> None:
    s = inspect_etl(CORPUS / "ShutdownPerfDiagLogger.etl")
    assert s.events["image rundown start (0x1403)"] == 6745
    assert s.events["image unload (0x1402)"] == 4791
    assert s.events["image rundown end (0x1404)"] == 2145
    assert s.events["image load (0x030a)"] == 72
    assert s.pool_events == 0 and not s.stacks_present
    assert len(s.drivers) == 196 and "acpi.sys" in s.drivers
    assert s.logger_name == "PerfDiag Logger"
    assert s.records_malformed == 0


SAWBUCK_MODULES = [  # sawbuck/log_lib/kernel_log_unittest_data.cc (see PROVENANCE.md)
    (0x01160000, 0x0019E000, "C:\\code\\sawbuck\\src\\sawbuck\\Debug\\test_program.exe"),
    (0x76E10000, 0x00127000, "C:\\Windows\\system32\\ntdll.dll"),
    (0x75680000, 0x000DB000, "C:\\Windows\\system32\\kernel32.dll"),
    (0x6C2B0000, 0x00023000, "C:\\PROGRA~1\\GOOGLE\\GO333C~1\\GOEC62~1.DLL"),
    (0x75670000, 0x00007000, "C:\\Windows\\system32\\PSAPI.DLL"),
]


@needs_corpus
@pytest.mark.parametrize("name", ["image_data_64_v2.etl", "image_data_32_v1.etl"])
def test_sawbuck_image_lists(name: str) -> None:
    dec = EtlDecoder(CORPUS / name)
    dec.run()
    rows = [(r.base, r.size, r.path) for r in dec.images]
    # 24 modules from the rundown, then test_program.exe unloaded and loaded again.
    assert len(rows) == 25
    for module in SAWBUCK_MODULES:
        assert module in rows
    assert rows[0] == SAWBUCK_MODULES[0] and rows[-1] == SAWBUCK_MODULES[0]
    assert dec.images[0].load_ts == NO_TS and dec.images[0].unload_ts != END_TS
    assert dec.images[-1].load_ts != NO_TS and dec.images[-1].unload_ts == END_TS
    assert {r.process_id for r in dec.images} == {7644}
    assert rows[-2][2].endswith("\\comctl32.dll")
    assert dec.counts[D.HOOK_IMAGE_DC_START] == 24
    assert not dec.malformed
    tables, _ = _tables(CORPUS / name)
    assert len(tables["images"]["driver"]) == 0  # user-mode images only


@needs_corpus
def test_net_stacks_and_pdb_identity() -> None:
    path = CORPUS / "net.4.5.2.x64.etl"
    s = inspect_etl(path)
    assert s.compressed
    assert s.stack_walks == 252
    assert s.events["stack key kernel (0x1825)"] == 2061
    assert s.events["stack key user (0x1826)"] == 7046
    assert s.events["stack key delete (0x1823)"] == 1909
    assert s.events["stack key rundown (0x1824)"] == 1012
    assert s.stack_key_references == 2061 + 7046
    assert s.stack_key_definitions == 1909 + 1012
    assert s.image_ids == 3590
    assert s.events[D.event_name((D.KERNEL_TRACE_CONTROL, 36))] == 3534
    assert s.events["file name rundown (0x0424)"] == 3054
    assert s.records_total == 179474 and s.records_malformed == 0

    dec = EtlDecoder(path)
    dec.run()
    assert len(dec.file_names) == 3052  # 3054 rundown records, two FileObjects named twice
    tables, info = _tables(path)
    img = tables["images"]
    assert len(img["driver"]) == 141
    nt = list(img["driver"]).index("ntoskrnl.exe")
    assert img["base_address"][nt] == 0xFFFFF80021489000
    assert img["pdb_name"][nt] == "ntkrnlmp.pdb"
    assert img["pdb_guid"][nt] == "72482100-1c1c-4a03-aed8-c4c71c2e8d1d"
    assert img["pdb_age"][nt] == 2
    assert (img["pdb_guid"] != "").sum() == 138
    assert len(tables["pool_events"]["seq"]) == 0
    assert info.compressed and info.records_total == 179474
    assert any("not matched to a pool event" in n for n in info.notes)


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "AMSITrace.etl",
        "SelfDescribingSingleEvent.etl",
        "primitive-types.etl",
        "lxcore_kernel.etl",
        "process_data_64_v3.etl",
    ],
)
def test_files_without_kernel_pool_events_decode_cleanly(name: str) -> None:
    tables, info = _tables(CORPUS / name)
    assert len(tables["pool_events"]["seq"]) == 0
    assert info.records_total > 0
    assert info.records_unknown <= info.records_total
    assert not [n for n in info.notes if "malformed" in n]


# --- hand-built files -------------------------------------------------------------------------

BASE = 0xFFFFF802_4000_0000
SYNC = 1_000_000


def _image(w: EtlWriter, hook: int, ts: int, name: str, base: int, size: int = 0x10000) -> None:
    payload = P.encode(P.IMAGE_V3, 8, name, ImageBase=base, ImageSize=size, ProcessId=0)
    w.write_record(
        header_type=L.HT_SYSTEM64, hook_id=hook, version=3, timestamp=ts, payload=payload, cpu=0
    )


def _alloc(w: EtlWriter, ts: int, address: int, *, thread: int = 100, cpu: int = 0) -> None:
    payload = P.encode(
        P.POOL, 8, PoolType=0, Tag=P.encode_tags(["Test"])[0], NumberOfBytes=16, Entry=address
    )
    w.write_record(
        header_type=L.HT_SYSTEM64,
        hook_id=D.HOOK_POOL_ALLOC,
        version=2,
        timestamp=ts,
        payload=payload,
        thread_id=thread,
        process_id=4,
        cpu=cpu,
    )


def _perfinfo(w: EtlWriter, hook: int, ts: int, payload: bytes, cpu: int = 0) -> None:
    w.write_record(
        header_type=L.HT_PERFINFO64, hook_id=hook, version=2, timestamp=ts, payload=payload, cpu=cpu
    )


def _walk(frames: list[int], ts: int, thread: int = 100) -> bytes:
    return P.encode(P.STACK_WALK, 8, frames, EventTimeStamp=ts, StackProcess=4, StackThread=thread)


def _frames_of(tables: dict[str, dict[str, np.ndarray]]) -> list[list[tuple[str, int, int]]]:
    sf = tables["stack_frames"]
    out = []
    for sid in tables["pool_events"]["stack_id"]:
        rows = np.flatnonzero(sf["stack_id"] == sid)
        rows = rows[np.argsort(sf["frame_index"][rows])]
        out.append(
            [(sf["module"][r], int(sf["rva_bytes"][r]), int(sf["address"][r])) for r in rows]
        )
    return out


def test_frames_resolve_against_images_loaded_at_event_time(tmp_path: Path) -> None:
    path = tmp_path / "reload.etl"
    with EtlWriter(path, cpu_count=2, start_timestamp=SYNC) as w:
        _image(
            w, D.HOOK_IMAGE_DC_START, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000
        )
        _image(w, D.HOOK_IMAGE_LOAD, SYNC + 10, "\\SystemRoot\\drivers\\first.sys", BASE + 0x200000)
        _alloc(w, SYNC + 15, 0x1000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 15, _walk([BASE + 0x50, BASE + 0x200010], SYNC + 15))
        _image(
            w, D.HOOK_IMAGE_UNLOAD, SYNC + 20, "\\SystemRoot\\drivers\\first.sys", BASE + 0x200000
        )
        _image(
            w, D.HOOK_IMAGE_LOAD, SYNC + 30, "\\SystemRoot\\drivers\\Second.SYS", BASE + 0x200000
        )
        _alloc(w, SYNC + 35, 0x2000, cpu=1)
        _perfinfo(
            w, D.HOOK_STACK_WALK, SYNC + 35, _walk([BASE + 0x50, BASE + 0x200010], SYNC + 35), cpu=1
        )
        _alloc(w, SYNC + 25, 0x3000, cpu=1)  # between the two: nothing at that base
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 25, _walk([BASE + 0x200010], SYNC + 25), cpu=1)
    tables, _ = _tables(path)
    pe = tables["pool_events"]
    assert pe["address"].tolist() == [0x1000, 0x3000, 0x2000]  # time order, not file order
    assert pe["time_s"].tolist() == [15e-7, 25e-7, 35e-7]
    assert _frames_of(tables) == [
        [("ntoskrnl.exe", 0x50, BASE + 0x50), ("first.sys", 0x10, BASE + 0x200010)],
        [("", -1, BASE + 0x200010)],
        [("ntoskrnl.exe", 0x50, BASE + 0x50), ("second.sys", 0x10, BASE + 0x200010)],
    ]
    img = tables["images"]
    order = np.argsort(img["load_s"])
    assert [img["driver"][i] for i in order] == ["first.sys", "second.sys", "ntoskrnl.exe"]
    assert img["unload_s"][order].tolist()[0] == pytest.approx(20e-7)
    assert math.isnan(img["unload_s"][order][1])


def test_stack_ids_follow_resolved_frames_not_raw_stacks(tmp_path: Path) -> None:
    """The same raw stack before and after an unrelated driver loads resolves the same: one
    stack id; before any image is known its frames resolve to nothing: another id."""
    path = tmp_path / "epochs.etl"
    frames = [BASE + 0x50, BASE + 0x60]
    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _alloc(w, SYNC + 1, 0x1000)  # no image known yet
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 1, _walk(frames, SYNC + 1))
        _image(w, D.HOOK_IMAGE_LOAD, SYNC + 2, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x1000)
        _alloc(w, SYNC + 3, 0x2000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 3, _walk(frames, SYNC + 3))
        _image(w, D.HOOK_IMAGE_LOAD, SYNC + 4, "\\SystemRoot\\drivers\\other.sys", BASE + 0x9000)
        _alloc(w, SYNC + 5, 0x3000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 5, _walk(frames, SYNC + 5))
    tables, _ = _tables(path)
    assert tables["pool_events"]["stack_id"].tolist() == [0, 1, 1]
    assert _frames_of(tables) == [
        [("", -1, BASE + 0x50), ("", -1, BASE + 0x60)],
        [("ntoskrnl.exe", 0x50, BASE + 0x50), ("ntoskrnl.exe", 0x60, BASE + 0x60)],
        [("ntoskrnl.exe", 0x50, BASE + 0x50), ("ntoskrnl.exe", 0x60, BASE + 0x60)],
    ]


def test_kernel_and_user_parts_are_joined_kernel_first(tmp_path: Path) -> None:
    path = tmp_path / "parts.etl"
    user = [0x7FF6_0000_1000, 0x7FF6_0000_2000]
    with EtlWriter(path, cpu_count=2, start_timestamp=SYNC) as w:
        _image(
            w, D.HOOK_IMAGE_DC_START, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000
        )
        _alloc(w, SYNC + 5, 0x1000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 5, _walk([BASE + 0x10], SYNC + 5))
        _alloc(w, SYNC + 6, 0x2000)
        # The user part arrives later, on another processor (logged on return to user mode).
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 9, _walk(user, SYNC + 5), cpu=1)
    tables, info = _tables(path)
    assert _frames_of(tables) == [
        [("ntoskrnl.exe", 0x10, BASE + 0x10), ("", -1, user[0]), ("", -1, user[1])],
        [],
    ]
    assert not [n for n in info.notes if "not matched" in n]


def test_stack_keys_reused_after_delete(tmp_path: Path) -> None:
    path = tmp_path / "keys.etl"
    key = 0xFFFF_E000_0000_0040

    def ref(ts: int) -> bytes:
        return P.encode(
            P.STACK_KEY_REF, 8, EventTimeStamp=ts, StackProcess=4, StackThread=100, StackKey=key
        )

    def definition(frames: list[int]) -> bytes:
        return P.encode(P.STACK_DEFINITION, 8, frames, StackKey=key)

    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _image(
            w, D.HOOK_IMAGE_DC_START, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000
        )
        _alloc(w, SYNC + 1, 0x1000)
        _perfinfo(w, D.HOOK_STACK_KEY_KERNEL, SYNC + 1, ref(SYNC + 1))
        _perfinfo(w, 0x1823, SYNC + 2, definition([BASE + 0xA]))  # evicted: key free again
        _alloc(w, SYNC + 3, 0x2000)
        _perfinfo(w, D.HOOK_STACK_KEY_KERNEL, SYNC + 3, ref(SYNC + 3))
        _alloc(w, SYNC + 4, 0x3000)  # its key reference never comes
        _perfinfo(w, 0x1824, SYNC + 9, definition([BASE + 0xB, BASE + 0xC]))  # end rundown
    tables, _ = _tables(path)
    assert _frames_of(tables) == [
        [("ntoskrnl.exe", 0xA, BASE + 0xA)],
        [("ntoskrnl.exe", 0xB, BASE + 0xB), ("ntoskrnl.exe", 0xC, BASE + 0xC)],
        [],
    ]


def test_identical_stacks_share_an_id_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "dedup.etl"
    with EtlWriter(path, cpu_count=2, buffer_size=1024, start_timestamp=SYNC) as w:
        _image(
            w, D.HOOK_IMAGE_DC_START, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000
        )
        for i in range(300):
            cpu = i % 2
            frames = [BASE + 0x10, BASE + 0x20 + 0x100 * (i % 3)]
            _alloc(w, SYNC + 10 + i, 0x1000 + 0x40 * i, cpu=cpu, thread=100 + cpu)
            _perfinfo(
                w,
                D.HOOK_STACK_WALK,
                SYNC + 10 + i,
                _walk(frames, SYNC + 10 + i, 100 + cpu),
                cpu=cpu,
            )
    chunks = list(read_etl(path, batch_bytes=4096, paired=False))
    tables = {c.table: c.columns for c in chunks[:-1] if isinstance(c, Chunk)}
    ids = tables["pool_events"]["stack_id"]
    assert len(ids) == 300 and (ids >= 0).all()
    assert ids.tolist()[:3] == [0, 1, 2]  # ids in order of first use
    assert np.array_equal(ids, np.arange(300) % 3)
    assert len(tables["stack_frames"]["stack_id"]) == 6  # 3 stacks × 2 frames, each once
    assert tables["pool_events"]["seq"].tolist() == list(range(300))


def test_truncated_pool_payload_is_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "short.etl"
    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _alloc(w, SYNC + 1, 0x1000)
        w.write_record(
            header_type=L.HT_SYSTEM64,
            hook_id=D.HOOK_POOL_FREE,
            version=2,
            timestamp=SYNC + 2,
            payload=b"\0" * 20,
            thread_id=1,
            cpu=0,
        )
        w.write_record(
            header_type=L.HT_SYSTEM64,
            hook_id=0x0999,
            version=0,
            timestamp=SYNC + 3,
            payload=b"\1\2\3",
            cpu=0,
        )
    tables, info = _tables(path)
    assert tables["pool_events"]["address"].tolist() == [0x1000]
    assert "1 malformed 'pool free' records skipped" in info.notes
    assert info.records_unknown == 1
    assert inspect_etl(path).events["kernel (0x0999)"] == 1


def test_corrupt_file_raises_trace_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.etl"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(TraceFormatError):
        list(read_etl(path))


def test_walks_matched_in_their_batch_follow_the_part_rules(tmp_path: Path) -> None:
    """Walks right after their event are matched as each batch is decoded; those sharing a
    (timestamp, thread) with another part still get what joining parts gives them."""
    path = tmp_path / "batch.etl"
    user = [0x7FF6_0000_1000]
    with EtlWriter(path, cpu_count=2, start_timestamp=SYNC) as w:
        _image(
            w, D.HOOK_IMAGE_DC_START, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000
        )
        # Two events of one thread in one clock tick, each with its own kernel walk: two stacks.
        _alloc(w, SYNC + 5, 0x1000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 5, _walk([BASE + 0x10], SYNC + 5))
        _alloc(w, SYNC + 5, 0x2000)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 5, _walk([BASE + 0x20], SYNC + 5))
        # A kernel walk matched in its batch, joined to a user part logged on another processor.
        _alloc(w, SYNC + 7, 0x3000, thread=200)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 7, _walk([BASE + 0x30], SYNC + 7, thread=200))
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 8, _walk(user, SYNC + 7, thread=200), cpu=1)
        # Another thread in the same tick: its walk stays its own.
        _alloc(w, SYNC + 7, 0x4000, thread=300, cpu=1)
        _perfinfo(w, D.HOOK_STACK_WALK, SYNC + 7, _walk([BASE + 0x40], SYNC + 7, thread=300), cpu=1)
    tables, info = _tables(path)
    assert tables["pool_events"]["address"].tolist() == [0x1000, 0x2000, 0x3000, 0x4000]
    assert _frames_of(tables) == [
        [("ntoskrnl.exe", 0x10, BASE + 0x10)],
        [("ntoskrnl.exe", 0x20, BASE + 0x20)],
        [("ntoskrnl.exe", 0x30, BASE + 0x30), ("", -1, user[0])],
        [("ntoskrnl.exe", 0x40, BASE + 0x40)],
    ]
    assert not [n for n in info.notes if "not matched" in n]
