"""Scenario → .etl → read_etl gives what scenario_chunks gives directly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from gate.inputs.etl.reader import inspect_etl, read_etl
from gate.inputs.scenario import SyntheticTrace, generate, parse_scenario, scenario_chunks
from gate.store import Store
from gate.synthetic.etl import write_scenario_etl
from gate.tables.chunks import Chunk, TraceInfo, module_names

NT = "\\SystemRoot\\system32\\ntoskrnl.exe"
ACPI = "\\SystemRoot\\System32\\drivers\\ACPI.sys"
LATE = "\\SystemRoot\\System32\\drivers\\Late.sys"


def _scenario(cpus: int = 4) -> SyntheticTrace:
    sc = parse_scenario(
        {
            "scenario": 1,
            "name": "roundtrip",
            "duration_s": 10.0,
            "cpus": cpus,
            "seed": 11,
            "images": [
                {"path": NT, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000},
                {"path": ACPI, "base": 0xFFFFF802_5000_0000, "size": 0x8_0000},
                {
                    "path": LATE,
                    "base": 0xFFFFF802_6000_0000,
                    "size": 0x1_0000,
                    "load_s": 2.0,
                    "unload_s": 8.0,
                },
            ],
            "allocations": [
                {
                    "tag": "Acpi",
                    "pool": "nonpaged_nx",
                    "size": 128,
                    "count": 200,
                    "start_s": 0.5,
                    "end_s": 5.0,
                    "lifetime_s": 0.25,
                    "stack": ["ntoskrnl.exe+0x1000", "acpi.sys+0x2345", "ntoskrnl.exe+0x99"],
                },
                {
                    "tag": "Late",
                    "pool": "paged",
                    "size": [16, 4096],
                    "count": 120,
                    "start_s": 2.5,
                    "end_s": 7.5,
                    "stack": ["ntoskrnl.exe+0x1000", "late.sys+0x10"],
                },
                {
                    "tag": "Ses",
                    "pool": "session_paged",
                    "size": 64,
                    "count": 40,
                    "start_s": 1.0,
                    "end_s": 2.0,
                    "session_id": 1,
                    "lifetime_s": 0.1,
                    "stack": ["acpi.sys+0x10"],
                },
                {"tag": "NoSt", "size": 32, "count": 30, "start_s": 0.0, "end_s": 9.0},
            ],
            "events": [
                {"t": 3.0, "op": "free", "address": 0xFFFF_C000_DEAD_0000, "tag": "Gone"},
                # Two allocations at one address and no free between them: a lost free.
                {"t": 3.5, "op": "alloc", "address": 0xFFFF_C000_BEEF_0000, "tag": "Lost"},
                {"t": 4.5, "op": "alloc", "address": 0xFFFF_C000_BEEF_0000, "tag": "Lost"},
            ],
            "events_lost": 2,
            "buffers_lost": 1,
        }
    )
    return generate(sc)


def _tables(chunks: list[Chunk | TraceInfo]) -> tuple[dict[str, dict[str, np.ndarray]], TraceInfo]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for c in chunks[:-1]:
        assert isinstance(c, Chunk)
        if c.table in out:
            out[c.table] = {k: np.concatenate([out[c.table][k], v]) for k, v in c.columns.items()}
        else:
            out[c.table] = dict(c.columns)
    if "stack_frames" in out:
        modules = out["frame_modules"]
        out["stack_frames"]["module"] = module_names(
            Chunk("frame_modules", modules), Chunk("stack_frames", out["stack_frames"])
        )
    info = chunks[-1]
    assert isinstance(info, TraceInfo)
    return out, info


def _stacks_per_event(t: dict[str, dict[str, np.ndarray]]) -> list[tuple]:
    frames: dict[int, list[tuple[str, int]]] = {}
    sf = t["stack_frames"]
    order = np.lexsort((sf["frame_index"], sf["stack_id"]))
    for i in order:
        frames.setdefault(int(sf["stack_id"][i]), []).append(
            (str(sf["module"][i]), int(sf["rva_bytes"][i]))
        )
    return [tuple(frames.get(int(s), ())) for s in t["pool_events"]["stack_id"]]


def _expected(trace: SyntheticTrace) -> tuple[dict[str, dict[str, np.ndarray]], TraceInfo]:
    """The scenario's chunks: the scenario orders same-tick events by processor, as the reader."""
    return _tables(list(scenario_chunks(trace, paired=False)))


def _assert_same_images(got: dict[str, np.ndarray], exp: dict[str, np.ndarray]) -> None:
    assert set(got) == set(exp)
    g_order, e_order = np.argsort(got["base_address"]), np.argsort(exp["base_address"])
    for name in exp:
        assert got[name].dtype == exp[name].dtype, name
        np.testing.assert_array_equal(got[name][g_order], exp[name][e_order], err_msg=name)


VARIANTS = {
    "plain": {},
    "compressed": {"compress": True},
    "perfinfo": {"perfinfo_pool": True},
    "stack-cache": {"stack_cache": True},
    "perfinfo+stack-cache+compressed": {
        "perfinfo_pool": True,
        "stack_cache": True,
        "compress": True,
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_roundtrip_equals_scenario_chunks(variant: str, tmp_path: Path) -> None:
    trace = _scenario()
    opts = VARIANTS[variant]
    path = write_scenario_etl(trace, tmp_path / "t.etl", buffer_size=8192, **opts)
    got, info = _tables(list(read_etl(path, batch_bytes=64 << 10, paired=False)))
    exp, exp_info = _expected(trace)

    _assert_same_images(got["images"], exp["images"])

    gp, ep = got["pool_events"], exp["pool_events"]
    assert len(gp["seq"]) == trace.event_count
    if opts.get("perfinfo_pool"):
        ep["thread_id"] = np.full(len(ep["seq"]), -1, dtype=np.int64)  # PERFINFO: no thread id
    for name in ep:
        if name == "stack_id":
            continue
        assert gp[name].dtype == ep[name].dtype, name
        assert np.array_equal(gp[name], ep[name]), name
    assert np.array_equal(gp["stack_id"] >= 0, ep["stack_id"] >= 0)
    assert _stacks_per_event(got) == _stacks_per_event(exp)
    # Identical resolved stacks share one id; addresses are base + rva.
    assert len(np.unique(gp["stack_id"][gp["stack_id"] >= 0])) == len(trace.stacks)
    sf = got["stack_frames"]
    assert set(zip(sf["module"], sf["rva_bytes"], sf["address"], strict=True)) == set(
        zip(
            exp["stack_frames"]["module"],
            exp["stack_frames"]["rva_bytes"],
            exp["stack_frames"]["address"],
            strict=True,
        )
    )

    assert info.source_format == "etl"
    assert info.synthetic is True
    assert info.compressed is bool(opts.get("compress"))
    assert info.duration_s == exp_info.duration_s
    assert info.start_utc == exp_info.start_utc
    assert (info.cpu_count, info.pointer_size_bytes) == (4, 8)
    assert (info.events_lost, info.buffers_lost) == (2, 1)
    assert info.os_version == exp_info.os_version
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not [n for n in info.notes if "not matched" in n or "malformed" in n]


def test_roundtrip_one_cpu(tmp_path: Path) -> None:
    trace = _scenario(cpus=1)
    path = write_scenario_etl(trace, tmp_path / "one.etl")
    got, _ = _tables(list(read_etl(path, paired=False)))
    # One processor: the scenario order as it is.
    exp, _ = _tables(list(scenario_chunks(trace, paired=False)))
    for name in exp["pool_events"]:
        if name != "stack_id":
            assert np.array_equal(got["pool_events"][name], exp["pool_events"][name]), name
    assert _stacks_per_event(got) == _stacks_per_event(exp)


def test_alloc_and_free_in_one_tick_on_one_thread_keep_their_own_stacks(tmp_path: Path) -> None:
    # The free of the first allocation and the next allocation share a tick, a processor and a
    # thread; only the allocation has a stack, and it must not be given to the free.
    sc = parse_scenario(
        {
            "scenario": 1,
            "duration_s": 1.0,
            "cpus": 1,
            "images": [{"path": NT, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000}],
            "allocations": [
                {
                    "tag": "Tick",
                    "size": 8,
                    "count": 10,
                    "start_s": 0.0,
                    "end_s": 0.1,
                    "lifetime_s": 0.01,
                    "stack": ["ntoskrnl.exe+0x10"],
                }
            ],
        }
    )
    trace = generate(sc)
    for opts in ({}, {"perfinfo_pool": True}):
        path = write_scenario_etl(trace, tmp_path / "tick.etl", **opts)
        got, _ = _tables(list(read_etl(path, paired=False)))
        pe = got["pool_events"]
        assert np.array_equal(pe["stack_id"] >= 0, pe["event"] == 0)


def test_inspect_synthetic(tmp_path: Path) -> None:
    trace = _scenario()
    path = write_scenario_etl(trace, tmp_path / "t.etl", compress=True)
    s = inspect_etl(path)
    assert s.synthetic and s.compressed
    assert s.pointer_size_bytes == 8 and s.cpu_count == 4
    assert s.duration_s == 10.0
    n_alloc = int((trace.event == 0).sum())
    assert s.pool_events == trace.event_count
    assert s.events["pool alloc (0x0e20)"] + s.events["pool session alloc (0x0e21)"] == n_alloc
    assert s.stack_walks == int((trace.stack_id >= 0).sum())
    assert s.stacks_present
    assert s.drivers == ["acpi.sys", "late.sys", "ntoskrnl.exe"]
    assert (s.events_lost, s.buffers_lost) == (2, 1)
    assert s.records_unknown == 0


def test_no_pool_events_is_not_an_error(tmp_path: Path) -> None:
    sc = parse_scenario(
        {
            "scenario": 1,
            "duration_s": 1.0,
            "images": [{"path": NT, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000}],
        }
    )
    path = write_scenario_etl(generate(sc), tmp_path / "empty.etl")
    got, info = _tables(list(read_etl(path, paired=False)))
    assert len(got["pool_events"]["seq"]) == 0
    assert len(got["images"]["driver"]) == 1
    assert info.duration_s == 1.0


def test_unknown_frame_module_is_refused(tmp_path: Path) -> None:
    sc = parse_scenario(
        {
            "scenario": 1,
            "duration_s": 1.0,
            "images": [{"path": NT, "base": 0xFFFFF802_4000_0000, "size": 0x100_0000}],
            "allocations": [{"tag": "X", "size": 8, "stack": ["nosuch.sys+0x10"]}],
        }
    )
    with pytest.raises(ValueError, match=r"nosuch\.sys"):
        write_scenario_etl(generate(sc), tmp_path / "bad.etl")
    assert not (tmp_path / "bad.etl").exists()


def _store_tables(chunks: object) -> dict[str, list[tuple]]:
    with Store() as store:
        store.add_trace(chunks)  # type: ignore[arg-type]
        return {
            t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("pool_allocations", "pool_unmatched_frees")
        }


def test_reader_pairing_equals_store_pairing(tmp_path: Path) -> None:
    """read_etl pairs events itself; the store pairs staged events: the tables are the same,
    and the scenario's oddities (an unmatched free, a lost free, session pool) are there."""
    path = write_scenario_etl(_scenario(), tmp_path / "t.etl")
    paired = _store_tables(read_etl(path))
    staged = _store_tables(read_etl(path, paired=False))
    assert paired == staged
    kinds = [r[5] for r in paired["pool_allocations"]]
    assert kinds.count("lost") == 1 and "freed" in kinds and "none" in kinds
    assert [r[4] for r in paired["pool_unmatched_frees"]] == ["Gone"]
    assert any(r[14] == 1 for r in paired["pool_allocations"])  # session id kept


@pytest.mark.parametrize("batch_bytes", [64 << 10, 32 << 20])
@pytest.mark.parametrize("compress", [False, True])
def test_checksum_covers_the_whole_file(tmp_path: Path, compress: bool, batch_bytes: int) -> None:
    """The file hash is taken from what the reader reads; padding after the last buffer, and
    buffer headers of compressed files (read without them), still count."""
    path = write_scenario_etl(_scenario(), tmp_path / "t.etl", compress=compress)
    with path.open("ab") as f:
        f.write(b"\xff" * 4096)  # preallocated fill after the last buffer
    *_, info = read_etl(path, batch_bytes=batch_bytes)
    assert isinstance(info, TraceInfo)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("variant", ["plain", "perfinfo+stack-cache+compressed"])
def test_worker_threads_do_not_change_what_is_read(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches decoded on several threads and merged in file order give exactly what one
    thread gives: stack ids, trace order, pairing and all."""
    from gate.inputs.etl import container

    path = write_scenario_etl(_scenario(), tmp_path / "t.etl", **VARIANTS[variant])
    got = {}
    for workers in (1, 3):
        monkeypatch.setattr(container, "default_workers", lambda w=workers: w)
        got[workers], _ = _tables(list(read_etl(path, batch_bytes=16 << 10)))
    assert got[1].keys() == got[3].keys()
    for table, cols in got[1].items():
        for name, values in cols.items():
            np.testing.assert_array_equal(values, got[3][table][name], err_msg=f"{table}.{name}")


def test_a_batch_of_a_read_left_early_stops_at_its_next_buffer(tmp_path: Path) -> None:
    """When a read is left early (an error, Ctrl-C) the batches still running on worker
    threads see its event and stop at their next buffer: pure-Python decompression of a batch
    takes seconds, and the process must not wait for it."""
    import threading

    from gate.inputs.etl import container

    path = write_scenario_etl(_scenario(), tmp_path / "t.etl", compress=True, buffer_size=4096)
    with container.open_etl(path) as etl:
        rows = list(range(1, etl.buffer_count))
        raws = [etl._read_raw(etl.buffers[i]) for i in rows]
        assert len(etl._load_batch(rows, raws, threading.Event())) > 0
        left = threading.Event()
        left.set()
        with pytest.raises(container.ReadStopped):
            etl._load_batch(rows, raws, left)


def _set_end_time(path: Path, seconds_after_start: float | None, raw: int | None = None) -> None:
    """Rewrite the logfile header's EndTime in place (the writer stamps the last event)."""
    from gate.inputs.etl import layouts as L

    data = bytearray(path.read_bytes())
    payload = L.BUFFER_HEADER_SIZE + L.SYSTEM_TRACE_HEADER.size
    fields = L.TRACE_LOGFILE_HEADER64.unpack(bytes(data), payload)
    end = raw if raw is not None else fields["StartTime"] + round(seconds_after_start * 1e7)
    at = payload + L.TRACE_LOGFILE_HEADER64.offset_of("EndTime")
    data[at : at + 8] = end.to_bytes(8, "little", signed=True)
    path.write_bytes(bytes(data))


def test_duration_is_the_headers_end_time_when_the_logger_stopped_later(tmp_path: Path) -> None:
    path = write_scenario_etl(_scenario(), tmp_path / "stopped-late.etl")
    _set_end_time(path, 12.0)
    assert inspect_etl(path).duration_s == 12.0
    _, info = _tables(list(read_etl(path, paired=False)))
    assert info.duration_s == 12.0


@pytest.mark.parametrize(
    ("seconds", "raw"),
    [(4.0, None), (None, 0), (None, -1), (30 * 24 * 3600.0, None)],
    ids=["before-last-event", "zero", "negative", "a-month"],
)
def test_an_end_time_before_the_last_event_or_implausible_is_not_used(
    tmp_path: Path, seconds: float | None, raw: int | None
) -> None:
    path = write_scenario_etl(_scenario(), tmp_path / "odd-end.etl")
    _set_end_time(path, seconds, raw)
    assert inspect_etl(path).duration_s == 10.0  # the last event (DCEnd at duration_s)
