"""The `.etl` reader's output: the store's chunks (`read_etl`) or a summary (`inspect_etl`).

`read_etl` yields, for one file: images, stack_frames, pool_allocations and
pool_unmatched_frees (the pool events paired by `gate.tables.pairing`), resident_pages, then
the TraceInfo. The decoding itself is `gate.inputs.etl.decoder`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from gate.inputs.etl import decode as D
from gate.inputs.etl import intern
from gate.inputs.etl.batch import NO_TS
from gate.inputs.etl.decoder import EtlDecoder
from gate.inputs.etl.images import END_TS, ResolvedFrames
from gate.inputs.etl.memory import trim_heap
from gate.inputs.etl.payloads import decode_tags
from gate.inputs.etl.resident import PLAUSIBILITY_LIMIT
from gate.tables.chunks import Chunk, Progress, TraceInfo
from gate.tables.drivers import driver_name
from gate.tables.inspect import EtlSummary
from gate.tables.pairing import paired_chunks

SYNTHETIC_LOGGER_PREFIX = "gate synthetic"
CHUNK_ROWS = 1_000_000


def _images_chunk(dec: EtlDecoder) -> Chunk:
    rows = [r for r in dec.images if r.process_id == 0]
    load = np.array([r.load_ts for r in rows], dtype=np.int64)
    unload = np.array([r.unload_ts for r in rows], dtype=np.int64)
    load_s = np.full(len(rows), np.nan)
    unload_s = np.full(len(rows), np.nan)
    if rows:
        has_load = load != NO_TS
        has_unload = unload != END_TS
        load_s[has_load] = dec.seconds(load[has_load])
        unload_s[has_unload] = dec.seconds(unload[has_unload])
    return Chunk.build(
        "images",
        driver=[driver_name(r.path) for r in rows],
        path=[r.path for r in rows],
        base_address=np.array([r.base for r in rows], dtype=np.uint64),
        size_bytes=[r.size for r in rows],
        load_s=load_s,
        unload_s=unload_s,
        process_id=[r.process_id for r in rows],
        pdb_name=[r.pdb_name for r in rows],
        pdb_guid=[r.pdb_guid for r in rows],
        pdb_age=[r.pdb_age for r in rows],
    )


def _frames_chunks(frames: ResolvedFrames) -> Iterator[Chunk]:
    """The `frame_modules` chunk, then `stack_frames` chunks of whole stacks, about CHUNK_ROWS
    frames each. Each frame's module is its number in the resolver's names: a boot's tens of
    millions of frames never become module strings on the way to the store."""
    yield Chunk.build(
        "frame_modules",
        module_id=np.arange(len(frames.names), dtype=np.int32),
        module=np.array(frames.names, dtype=object),
    )
    offsets = frames.offsets
    k = len(frames)
    lo = 0
    while lo < k or (lo == 0 and k == 0):
        # The first stack whose frames end past this chunk's share ends the chunk (at least
        # one stack per chunk, however long).
        hi = int(np.searchsorted(offsets, offsets[lo] + CHUNK_ROWS, side="right")) - 1
        hi = min(max(hi, lo + 1), k)
        part = offsets[lo : hi + 1]
        f0, f1 = int(part[0]), int(part[-1])
        yield Chunk.build(
            "stack_frames",
            stack_id=np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(part)),
            frame_index=intern.within_positions(part),
            address=frames.address[f0:f1],
            module_id=frames.module[f0:f1],
            rva_bytes=frames.rva[f0:f1],
            function=np.full(f1 - f0, "", dtype=object),
        )
        if k == 0:
            return
        lo = hi


def _event_chunks(dec: EtlDecoder, cols: dict[str, np.ndarray]) -> Iterator[Chunk]:
    """`pool_events` chunks of the trace-ordered event columns of `pool_columns`."""
    n = len(cols["ts"])
    for lo in range(0, max(n, 1), CHUNK_ROWS):
        c = {k: v[lo : lo + CHUNK_ROWS] for k, v in cols.items()}
        yield Chunk.build(
            "pool_events",
            seq=np.arange(lo, lo + len(c["ts"]), dtype=np.int64),
            time_s=dec.seconds(c["ts"]),
            event=c["event"],
            pool_type=c["pool_type"],
            tag=decode_tags(c["tag"]),
            size_bytes=c["size_bytes"],
            address=c["address"],
            session_id=c["session_id"].astype(np.int64),
            stack_id=c["stack_id"],
            thread_id=c["thread_id"].astype(np.int64),
            cpu=c["cpu"].astype(np.int64),
        )


def _trace_info(dec: EtlDecoder, path: str, has_resident_set: bool) -> TraceInfo:
    assert dec.etl is not None
    h = dec.etl.header
    events_lost, buffers_lost = dec.lost()
    return TraceInfo(
        source_path=path,
        source_format="etl",
        sha256=dec.sha256(),
        os_version=h.os_version,
        pointer_size_bytes=h.pointer_size_bytes,
        cpu_count=h.cpu_count,
        start_utc=h.start_utc,
        duration_s=dec.duration_s(),
        events_lost=events_lost,
        buffers_lost=buffers_lost,
        page_size_bytes=dec.page_size(),
        has_resident_set=has_resident_set,
        synthetic=h.logger_name.startswith(SYNTHETIC_LOGGER_PREFIX),
        compressed=h.compressed,
        records_total=dec.records_total,
        records_unknown=dec.records_unknown,
        notes=dec.all_notes(),
    )


def read_etl(
    path: str | os.PathLike[str],
    *,
    batch_bytes: int = 32 << 20,
    progress: Progress | None = None,
    paired: bool = True,
) -> Iterator[Chunk | TraceInfo]:
    """Chunks for the store from one `.etl` file: images, stack_frames, pool_allocations,
    pool_unmatched_frees, resident_pages, then TraceInfo.

    With `paired=False` the pool events themselves come instead of allocations and unmatched
    frees (`pool_events` chunks in trace order, every field), for tools and tests that look at
    events; the store pairs those the same way.

    Raises `TraceFormatError` for a corrupt file. A trace without pool events is not an error
    here (the rules report it): it yields no allocations.
    """
    dec = EtlDecoder(path, batch_bytes=batch_bytes, progress=progress)
    dec.run()
    try:
        assert dec.etl is not None
        yield _images_chunk(dec)
        cols, frames_out, pairing = dec.pool_columns(pair=paired)
        yield from _frames_chunks(frames_out)
        del frames_out
        if paired:
            # The events are in trace order and in memory already: pairing them here spares
            # handing millions of events on only to sort them again.
            yield from paired_chunks(
                time=cols.pop("ts"),
                event=cols.pop("event"),
                pool_type=cols.pop("pool_type"),
                tag=cols.pop("tag"),
                size_bytes=cols.pop("size_bytes"),
                address=cols.pop("address"),
                session_id=cols.pop("session_id"),
                stack_id=cols.pop("stack_id"),
                seconds=dec.seconds,
                tag_text=decode_tags,
                rows_per_chunk=CHUNK_ROWS,
                pairing=pairing,
            )
            del cols
            trim_heap()
        else:
            yield from _event_chunks(dec, cols)
        resident = dec.resident_set()
        if resident.present:
            yield Chunk.build(
                "resident_pages",
                path=resident.path,
                page_list=resident.page_list,
                category=resident.category,
                size_bytes=resident.size_bytes,
            )
        yield _trace_info(dec, str(path), resident.present)
    finally:
        dec.close()  # the checksum thread, if the consumer stopped early


def inspect_etl(path: str | os.PathLike[str], *, progress: Progress | None = None) -> EtlSummary:
    """Describe an `.etl` file for `gate inspect` (one full decoding pass, no stack matching)."""
    dec = EtlDecoder(path, progress=progress)
    dec.run()
    assert dec.etl is not None
    h = dec.etl.header
    events_lost, buffers_lost = dec.lost()
    c = dec.counts
    pool = sum(c[k] for k in (0x0E20, 0x0E21, 0x0E22, 0x0E23))
    walks = c[D.HOOK_STACK_WALK]
    refs = c[D.HOOK_STACK_KEY_KERNEL] + c[D.HOOK_STACK_KEY_USER]
    defs = c[0x1822] + c[0x1823] + c[0x1824]
    rs = dec.resident_set()
    return EtlSummary(
        path=str(path),
        sha256=dec.sha256(),
        os_version=h.os_version,
        os_build=h.os_build,
        pointer_size_bytes=h.pointer_size_bytes,
        cpu_count=h.cpu_count,
        start_utc=h.start_utc,
        duration_s=dec.duration_s(),
        compressed=h.compressed,
        logger_name=h.logger_name,
        synthetic=h.logger_name.startswith(SYNTHETIC_LOGGER_PREFIX),
        records_total=dec.records_total,
        records_unknown=dec.records_unknown,
        records_malformed=sum(dec.malformed.values()),
        events={D.event_name(k): v for k, v in c.most_common()},
        events_lost=events_lost,
        buffers_lost=buffers_lost,
        pool_events=pool,
        stacks_present=walks + refs > 0,
        stack_walks=walks,
        stack_key_references=refs,
        stack_key_definitions=defs,
        drivers=sorted({driver_name(r.path) for r in dec.images if r.process_id == 0}),
        image_ids=c[(D.KERNEL_TRACE_CONTROL, D.OPCODE_IMAGE_ID)],
        has_resident_set=rs.present,
        resident_rejected=rs.rejected,
        page_records=rs.page_records,
        resident_snapshots=rs.snapshots,
        resident_pages=rs.snapshot_pages,
        resident_time_s=rs.snapshot_time_s,
        resident_failed=rs.failed,
        resident_failed_any=rs.failed_any,
        page_size_bytes=rs.page_size,
        resident_check_limit=PLAUSIBILITY_LIMIT,
        notes=dec.all_notes(),
    )


__all__ = ["SYNTHETIC_LOGGER_PREFIX", "inspect_etl", "read_etl"]
