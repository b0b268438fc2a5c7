"""Scenarios: small descriptions of a boot that expand into an exact synthetic trace.

A scenario names the images of a boot and patterns of pool allocations (how many, which tag,
pool and size, when, how long they live, from which call stack). `parse_scenario` /
`load_scenario` read one (`parse`), `generate` expands it into a `SyntheticTrace`: the events
in trace order with exact times (`expand`). The same `SyntheticTrace` feeds the store directly
(`scenario_chunks`, the scenario input reader) and the `.etl` writer (`gate.synthetic.etl`), so
tests can state the expected metrics by hand and check both paths against them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from gate.inputs.scenario.expand import generate
from gate.inputs.scenario.model import Scenario, SyntheticTrace
from gate.inputs.scenario.parse import load_scenario, parse_scenario
from gate.tables.chunks import POOL_ALLOC, POOL_FREE, Chunk, TraceInfo, frame_chunks
from gate.tables.drivers import driver_name
from gate.tables.pairing import paired_chunks

__all__ = [
    "POOL_ALLOC",
    "POOL_FREE",
    "Scenario",
    "SyntheticTrace",
    "generate",
    "load_scenario",
    "parse_scenario",
    "scenario_chunks",
]


def scenario_chunks(
    trace: SyntheticTrace, batch_rows: int = 1_000_000, *, paired: bool = True
) -> Iterator[Chunk | TraceInfo]:
    """The store's chunks for a synthetic trace, without going through an `.etl` file.

    With `paired=False` the pool events themselves come instead of allocations and unmatched
    frees (`pool_events` chunks in trace order), as `read_etl(paired=False)` gives them.
    """
    sc = trace.scenario
    yield _images_chunk(sc)
    yield from _frames_chunks(trace)
    if paired:
        # The events are in trace order already: pair them here, as the .etl reader does.
        yield from paired_chunks(
            time=trace.time_s,
            event=trace.event,
            pool_type=trace.pool_type,
            tag=trace.tag,
            size_bytes=trace.size_bytes,
            address=trace.address,
            session_id=trace.session_id,
            stack_id=trace.stack_id,
            rows_per_chunk=batch_rows,
        )
    else:
        yield from _event_chunks(trace, batch_rows)
    if sc.resident_set is not None:
        rs = sc.resident_set
        yield Chunk.build(
            "resident_pages",
            path=[r.path for r in rs],
            page_list=[r.page_list for r in rs],
            category=[r.category for r in rs],
            size_bytes=[r.size_bytes for r in rs],
        )
    yield TraceInfo(
        source_path=sc.source,
        source_format="scenario",
        sha256=hashlib.sha256(repr(sc).encode()).hexdigest(),
        os_version=sc.os_version,
        pointer_size_bytes=sc.pointer_size_bytes,
        cpu_count=sc.cpus,
        start_utc=sc.start_utc,
        duration_s=sc.duration_s,
        events_lost=sc.events_lost,
        buffers_lost=sc.buffers_lost,
        page_size_bytes=sc.page_size_bytes,
        has_resident_set=sc.resident_set is not None,
        synthetic=True,
        records_total=trace.event_count,
    )


def _images_chunk(sc: Scenario) -> Chunk:
    images = sc.images
    return Chunk.build(
        "images",
        driver=[driver_name(i.path) for i in images],
        path=[i.path for i in images],
        base_address=[i.base for i in images],
        size_bytes=[i.size for i in images],
        load_s=[np.nan if i.load_s is None else i.load_s for i in images],
        unload_s=[np.nan if i.unload_s is None else i.unload_s for i in images],
        process_id=[0] * len(images),
        pdb_name=[""] * len(images),
        pdb_guid=[""] * len(images),
        pdb_age=[-1] * len(images),
    )


def _frames_chunks(trace: SyntheticTrace) -> tuple[Chunk, Chunk]:
    bases = {driver_name(i.path): i.base for i in trace.scenario.images}
    sid, idx, addr, mod, rva = [], [], [], [], []
    for s, frames in enumerate(trace.stacks):
        for k, f in enumerate(frames):
            sid.append(s)
            idx.append(k)
            addr.append(bases.get(f.module, 0) + f.rva if f.module in bases else 0)
            mod.append(f.module)
            rva.append(f.rva)
    return frame_chunks(
        stack_id=sid,
        frame_index=idx,
        address=addr,
        module=mod,
        rva_bytes=rva,
        function=[""] * len(sid),
    )


def _event_chunks(trace: SyntheticTrace, batch_rows: int) -> Iterator[Chunk]:
    for lo in range(0, trace.event_count, batch_rows):
        hi = min(lo + batch_rows, trace.event_count)
        yield Chunk.build(
            "pool_events",
            seq=np.arange(lo, hi, dtype=np.int64),
            time_s=trace.time_s[lo:hi],
            event=trace.event[lo:hi],
            pool_type=trace.pool_type[lo:hi],
            tag=trace.tag[lo:hi],
            size_bytes=trace.size_bytes[lo:hi],
            address=trace.address[lo:hi],
            session_id=trace.session_id[lo:hi],
            stack_id=trace.stack_id[lo:hi],
            thread_id=trace.thread_id[lo:hi],
            cpu=trace.cpu[lo:hi],
        )
