"""Write the `.etl` file of a synthetic scenario, as the kernel would have logged it.

The file holds: image rundown (DCStart) at trace start for images loaded before the trace, Load
(0x030A) and UnLoad (0x1402) at their times, one pool event per scenario event on its processor
at its exact tick, a StackWalk (0x1820) right after each allocation that has a stack (same
timestamp, same thread, absolute frame addresses = image base + offset), and an image rundown
(DCEnd) at `duration_s` so the trace lasts as long as the scenario says. Raw timestamps are the
scenario's 100 ns ticks plus a nonzero base (perf_freq 10 MHz), so times round-trip exactly.

Options cover the reader's other paths: PERFINFO headers for pool events (no thread id: stacks
match by processor) and stack caching (key references 0x1825 in place of stack walks, and the
key definitions as an end-of-trace rundown 0x1824).

Payloads come from `gate.etl.payloads` in bulk (numpy), so only the writer's per-record call
remains per event.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gate.etl import decode as D
from gate.etl import layouts as L
from gate.etl import payloads as P
from gate.etl.reader import SYNTHETIC_LOGGER_PREFIX
from gate.etl.writer import EtlWriter
from gate.inputs.chunks import POOL_ALLOC
from gate.inputs.scenario import SyntheticTrace

SYNC_BASE_TICKS = 48_271_000_123  # the logfile header's raw stamp; nonzero like a real QPC
SYSTEM_PROCESS_ID = 4
_STACK_KEY_BASE = 0xFFFF_E000_0000_0000
_IMAGE_VERSION = 3
_POOL_VERSION = 2


def _stack_keys(stack_ids: np.ndarray) -> np.ndarray:
    return np.uint64(_STACK_KEY_BASE) + np.asarray(stack_ids, dtype=np.uint64) * np.uint64(0x40)


def _os_version(text: str) -> tuple[int, int]:
    parts = ([*text.split("."), "0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return 10, 0


def write_scenario_etl(
    trace: SyntheticTrace,
    path: str | os.PathLike[str],
    *,
    compress: bool = False,
    perfinfo_pool: bool = False,
    stack_cache: bool = False,
    buffer_size: int = 65536,
) -> Path:
    """Write `trace` as an `.etl` file at `path` (atomically) and return the path."""
    sc = trace.scenario
    ps = sc.pointer_size_bytes
    limit = (1 << (8 * ps)) - 1
    images = {img.name: img for img in sc.images}
    stack_addresses: list[np.ndarray] = []
    for frames in trace.stacks:
        addrs = []
        for f in frames:
            img = images.get(f.module)
            if img is None:
                raise ValueError(f"stack frame {f}: {f.module} is not an image of the scenario")
            addrs.append(img.base + f.rva)
        stack_addresses.append(np.array(addrs, dtype=np.uint64))
    if trace.event_count and int(trace.address.max()) > limit:
        raise ValueError(f"pool addresses do not fit {ps}-byte pointers")

    ticks = trace.ticks.astype(np.int64) + SYNC_BASE_TICKS
    n = trace.event_count
    session = trace.session_id >= 0
    alloc = trace.event == POOL_ALLOC
    tags = P.encode_tags(trace.tag) if n else np.zeros(0, np.uint32)
    fields = {
        "PoolType": trace.pool_type,
        "Tag": tags,
        "NumberOfBytes": trace.size_bytes.astype(np.uint64),
        "Entry": trace.address,
    }
    plain = P.encode_fixed(P.POOL, ps, n, **fields)
    with_session = P.encode_fixed(P.POOL_SESSION, ps, n, **fields, SessionId=trace.session_id)
    hooks = np.where(
        alloc,
        np.where(session, D.HOOK_POOL_ALLOC_SESSION, D.HOOK_POOL_ALLOC),
        np.where(session, D.HOOK_POOL_FREE_SESSION, D.HOOK_POOL_FREE),
    )
    with_stack = alloc & (trace.stack_id >= 0)
    stack_head = P.encode_fixed(
        P.STACK_KEY_REF if stack_cache else P.STACK_WALK,
        ps,
        n,
        EventTimeStamp=ticks,
        StackProcess=SYSTEM_PROCESS_ID,
        StackThread=trace.thread_id,
        **({"StackKey": _stack_keys(np.maximum(trace.stack_id, 0))} if stack_cache else {}),
    )
    frame_bytes = [a.astype(f"<u{ps}").tobytes() for a in stack_addresses]

    ht_system = L.HT_SYSTEM64 if ps == 8 else L.HT_SYSTEM32
    ht_perfinfo = L.HT_PERFINFO64 if ps == 8 else L.HT_PERFINFO32
    pool_ht = ht_perfinfo if perfinfo_pool else ht_system
    end_ts = SYNC_BASE_TICKS + round(sc.duration_s * 10_000_000)

    with EtlWriter(
        path,
        pointer_size=ps,
        cpu_count=max(sc.cpus, 1),
        perf_freq=10_000_000,
        start_utc=sc.start_utc,
        buffer_size=buffer_size,
        compress=compress,
        events_lost=sc.events_lost,
        buffers_lost=sc.buffers_lost,
        os_version=_os_version(sc.os_version),
        build=sc.os_build,
        logger_name=f"{SYNTHETIC_LOGGER_PREFIX}: {sc.name}",
        start_timestamp=SYNC_BASE_TICKS,
    ) as w:

        def image_record(hook: int, ts: int, img: object) -> None:
            payload = P.encode(
                P.IMAGE_V3,
                ps,
                img.path,  # type: ignore[attr-defined]
                ImageBase=img.base,  # type: ignore[attr-defined]
                ImageSize=img.size,  # type: ignore[attr-defined]
                ProcessId=0,
                DefaultBase=img.base,  # type: ignore[attr-defined]
            )
            w.write_record(
                header_type=ht_system,
                hook_id=hook,
                version=_IMAGE_VERSION,
                timestamp=ts,
                payload=payload,
                cpu=0,
            )

        for img in sc.images:
            if img.load_s is None:
                image_record(D.HOOK_IMAGE_DC_START, SYNC_BASE_TICKS, img)

        # Image loads and unloads are merged into cpu 0's stream by time.
        timed: list[tuple[int, int, object]] = []
        for img in sc.images:
            if img.load_s is not None:
                timed.append((SYNC_BASE_TICKS + round(img.load_s * 1e7), D.HOOK_IMAGE_LOAD, img))
            if img.unload_s is not None:
                timed.append(
                    (SYNC_BASE_TICKS + round(img.unload_s * 1e7), D.HOOK_IMAGE_UNLOAD, img)
                )
        timed.sort(key=lambda t: t[0])
        image_ticks = np.array([t[0] for t in timed], dtype=np.int64)
        # Index of the first pool event at or after each image event: write the image first.
        image_at = [*np.searchsorted(ticks, image_ticks, side="left").tolist(), n + 1]

        write = w.write_record
        ticks_l = ticks.tolist()
        cpu_l = trace.cpu.tolist()
        tid_l = trace.thread_id.tolist()
        hook_l = hooks.tolist()
        session_l = session.tolist()
        stack_l = np.where(with_stack, trace.stack_id, -1).tolist()
        stack_hook = D.HOOK_STACK_KEY_KERNEL if stack_cache else D.HOOK_STACK_WALK
        next_image = 0
        for i in range(n):
            while image_at[next_image] <= i:
                image_record(timed[next_image][1], timed[next_image][0], timed[next_image][2])
                next_image += 1
            ts, cpu, tid = ticks_l[i], cpu_l[i], tid_l[i]
            payload = (with_session[i] if session_l[i] else plain[i]).tobytes()
            if perfinfo_pool:
                write(
                    header_type=pool_ht,
                    hook_id=hook_l[i],
                    version=_POOL_VERSION,
                    timestamp=ts,
                    payload=payload,
                    cpu=cpu,
                )
            else:
                write(
                    header_type=pool_ht,
                    hook_id=hook_l[i],
                    version=_POOL_VERSION,
                    timestamp=ts,
                    payload=payload,
                    thread_id=tid,
                    process_id=SYSTEM_PROCESS_ID,
                    cpu=cpu,
                )
            sid = stack_l[i]
            if sid >= 0:
                body = stack_head[i].tobytes()
                if not stack_cache:
                    body += frame_bytes[sid]
                # Real traces log stack walks with PERFINFO headers; the payload has the thread.
                write(
                    header_type=ht_perfinfo,
                    hook_id=stack_hook,
                    version=2,
                    timestamp=ts,
                    payload=body,
                    cpu=cpu,
                )
        while next_image < len(timed):
            image_record(timed[next_image][1], timed[next_image][0], timed[next_image][2])
            next_image += 1

        if stack_cache:
            for sid, fb in enumerate(frame_bytes):
                key = P.encode_fixed(
                    P.STACK_DEFINITION, ps, 1, StackKey=_STACK_KEY_BASE + 0x40 * sid
                )
                write(
                    header_type=ht_perfinfo,
                    hook_id=0x1824,
                    version=2,
                    timestamp=end_ts,
                    payload=key.tobytes() + fb,
                    cpu=0,
                )
        for img in sc.images:
            if img.unload_s is None:
                image_record(D.HOOK_IMAGE_DC_END, end_ts, img)
    return Path(path)
