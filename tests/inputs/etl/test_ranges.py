"""Values past the range their column holds, in traces made with the project's writer: image
ends past 2**64, and pool sizes whose sums pass BIGINT."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.errors import InputError
from gate.inputs.etl import decode as D
from gate.inputs.etl import layouts as L
from gate.inputs.etl import payloads as P
from gate.inputs.etl.decoder import EtlDecoder
from gate.inputs.etl.reader import read_etl
from gate.sql import ModelConfig, build_model
from gate.store import Store
from gate.synthetic.writer import EtlWriter
from gate.tables.chunks import TraceInfo, module_names

BASE = 0xFFFFF802_4000_0000
SYNC = 1_000_000
TOP = 0xFFFFFFFF_FFFF_0000  # 64 KiB below the end of the address space


def _image(w: EtlWriter, ts: int, name: str, base: int, size: int) -> None:
    payload = P.encode(P.IMAGE_V3, 8, name, ImageBase=base, ImageSize=size, ProcessId=0)
    w.write_record(
        header_type=L.HT_SYSTEM64,
        hook_id=D.HOOK_IMAGE_DC_START,
        version=3,
        timestamp=ts,
        payload=payload,
        cpu=0,
    )


def _alloc(w: EtlWriter, ts: int, address: int, size: int, frames: list[int] | None = None) -> None:
    payload = P.encode(
        P.POOL, 8, PoolType=0, Tag=P.encode_tags(["Test"])[0], NumberOfBytes=size, Entry=address
    )
    w.write_record(
        header_type=L.HT_SYSTEM64,
        hook_id=D.HOOK_POOL_ALLOC,
        version=2,
        timestamp=ts,
        payload=payload,
        thread_id=100,
        process_id=4,
        cpu=0,
    )
    if frames:
        walk = P.encode(P.STACK_WALK, 8, frames, EventTimeStamp=ts, StackProcess=4, StackThread=100)
        w.write_record(
            header_type=L.HT_PERFINFO64,
            hook_id=D.HOOK_STACK_WALK,
            version=2,
            timestamp=ts,
            payload=walk,
            cpu=0,
        )


def _images_trace(path: Path) -> Path:
    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _image(w, SYNC, "\\SystemRoot\\system32\\ntoskrnl.exe", BASE, 0x100000)
        _image(w, SYNC, "\\SystemRoot\\drivers\\past.sys", TOP, 0x20000)  # ends past 2**64
        _image(w, SYNC, "\\SystemRoot\\drivers\\huge.sys", BASE + (1 << 33), 1 << 40)  # not PE
        _image(w, SYNC, "\\SystemRoot\\drivers\\end.sys", TOP, 0x10000)  # ends at 2**64
        _image(w, SYNC, "\\SystemRoot\\drivers\\last.sys", TOP, 0xFFFF)  # the last that fits
        _alloc(w, SYNC + 5, 0x1000, 64, [BASE + 0x50, TOP + 0x10, BASE + (1 << 33) + 0x10])
    return path


def test_images_ending_past_the_address_space_are_skipped_with_a_note(tmp_path: Path) -> None:
    dec = EtlDecoder(_images_trace(tmp_path / "images.etl"))
    dec.run()
    try:
        names = sorted(r.path.rsplit("\\", 1)[-1] for r in dec.images)
        assert names == ["last.sys", "ntoskrnl.exe"]
        assert dec.image_tracker.notes == [
            "3 image events skipped: size past 4294967295 bytes or image ending at or past 2**64"
        ]
    finally:
        dec.close()


def test_frames_resolve_against_the_images_in_range(tmp_path: Path) -> None:
    chunks = list(read_etl(_images_trace(tmp_path / "images.etl")))
    stack_frames = next(c for c in chunks if getattr(c, "table", "") == "stack_frames")
    modules = next(c for c in chunks if getattr(c, "table", "") == "frame_modules")
    assert list(module_names(modules, stack_frames)) == ["ntoskrnl.exe", "last.sys", ""]
    frames = stack_frames.columns
    assert frames["rva_bytes"].tolist() == [0x50, 0x10, -1]
    images = next(c for c in chunks if getattr(c, "table", "") == "images").columns
    assert sorted(images["driver"]) == ["last.sys", "ntoskrnl.exe"]


def test_the_skipped_images_note_reaches_the_trace(tmp_path: Path) -> None:
    chunks = list(read_etl(_images_trace(tmp_path / "images.etl")))
    (info,) = [c for c in chunks if isinstance(c, TraceInfo)]
    assert (
        "3 image events skipped: size past 4294967295 bytes or image ending at or past 2**64"
        in info.notes
    )


def _model(paths: list[Path]) -> None:
    with Store() as store:
        for path in paths:
            store.add_trace(read_etl(path))
        build_model(store.con, ModelConfig())


def _pool_trace(path: Path, sizes: list[int], name: str = "big.sys") -> Path:
    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _image(w, SYNC, f"\\SystemRoot\\drivers\\{name}", BASE, 0x100000)
        for i, size in enumerate(sizes):
            _alloc(w, SYNC + 10 + i, 0x1000 * (i + 1), size, [BASE + 0x40])
    return path


def test_pool_sizes_adding_up_past_bigint_refuse_the_trace(tmp_path: Path) -> None:
    path = _pool_trace(tmp_path / "bomb.etl", [1 << 62, 1 << 62])
    with pytest.raises(InputError) as info:
        _model([path])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: driver 'big.sys': ")
    assert f"add up to {1 << 63} bytes, past the 8.00 EiB (2**63 - 1 bytes)" in message


def test_sizes_that_fit_alone_but_not_over_all_traces_are_refused(tmp_path: Path) -> None:
    one = _pool_trace(tmp_path / "one.etl", [(1 << 62) + 1])
    two = _pool_trace(tmp_path / "two.etl", [1 << 62])
    _model([one])  # alone, it fits
    with pytest.raises(InputError, match=r"one\.etl: driver 'big\.sys': .* over all traces"):
        _model([one, two])


def test_a_trace_with_the_largest_sum_that_fits_is_modelled(tmp_path: Path) -> None:
    half = 1 << 62
    path = _pool_trace(tmp_path / "edge.etl", [half, half - 1])
    with Store() as store:
        store.add_trace(read_etl(path))
        build_model(store.con, ModelConfig())
        got = dict(
            store.con.execute(
                "SELECT metric, value FROM driver_metrics WHERE driver = 'big.sys'"
            ).fetchall()
        )
    assert got["nonpaged_impacting_bytes"] == (1 << 63) - 1
    assert got["nonpaged_peak_outstanding_bytes"] == (1 << 63) - 1


def test_drivers_that_fit_alone_but_not_together_refuse_the_trace(tmp_path: Path) -> None:
    path = tmp_path / "two.etl"
    with EtlWriter(path, cpu_count=1, start_timestamp=SYNC) as w:
        _image(w, SYNC, "\\SystemRoot\\drivers\\a.sys", BASE, 0x100000)
        _image(w, SYNC, "\\SystemRoot\\drivers\\b.sys", BASE + 0x100000, 0x100000)
        _alloc(w, SYNC + 10, 0x1000, 1 << 62, [BASE + 0x40])
        _alloc(w, SYNC + 11, 0x2000, (1 << 62) + 5, [BASE + 0x100040])
    with pytest.raises(InputError) as info:
        _model([path])
    assert str(info.value).startswith(
        f"{path}: the drivers' pool allocations and resident pages add up to {(1 << 63) + 5} "
        "bytes (the most: driver 'b.sys'), past"
    )
