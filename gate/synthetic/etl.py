"""Write the `.etl` file of a synthetic scenario, as the kernel would have logged it.

The file holds: image rundown (DCStart) at trace start for images loaded before the trace, Load
(0x030A) and UnLoad (0x1402) at their times, one pool event per scenario event on its processor
at its exact tick, a StackWalk (0x1820) right after each allocation that has a stack (same
timestamp, same thread, absolute frame addresses = image base + offset), and an image rundown
(DCEnd) at `duration_s` so the trace lasts as long as the scenario says. A scenario with a
`resident_set` also gets, at `duration_s`, a SystemConfig CPU record (its page size), the FileIo
name rundown (0x0424) of each file, and one PageInMemory record (0x0223) per page, with the
page list and a page kind and address from which `gate.inputs.etl.resident` derives the category.
Raw timestamps are the scenario's 100 ns ticks plus a nonzero base (perf_freq 10 MHz), so
times round-trip exactly.

Options cover the reader's other paths: PERFINFO headers for pool events (no thread id: stacks
match by processor) and stack caching (key references 0x1825 in place of stack walks, and the
key definitions as an end-of-trace rundown 0x1824).

Payloads come from `gate.inputs.etl.payloads` in bulk (numpy), so only the writer's per-record call
remains per event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gate.inputs.etl import decode as D
from gate.inputs.etl import layouts as L
from gate.inputs.etl import payloads as P
from gate.inputs.etl import resident as R
from gate.inputs.etl.reader import SYNTHETIC_LOGGER_PREFIX
from gate.inputs.scenario.model import ImageSpec, Scenario, SyntheticTrace
from gate.synthetic.writer import EtlWriter
from gate.tables.chunks import POOL_ALLOC
from gate.tables.drivers import driver_name

SYNC_BASE_TICKS = 48_271_000_123  # the logfile header's raw stamp; nonzero like a real QPC
SYSTEM_PROCESS_ID = 4
_STACK_KEY_BASE = 0xFFFF_E000_0000_0000
_IMAGE_VERSION = 3
_POOL_VERSION = 2
_PAGE_VERSION = 2
_FILE_OBJECT_BASE = 0xFFFF_C000_1000_0000
_CACHE_VA_BASE = 0xFFFF_9000_0000_0000  # DriverFile pages: a system-cache address, in no image
_KERNEL_VA_BASE = 0xFFFF_D000_0000_0000  # pages without a file: their virtual address
_FIRST_FRAME = 0x1000


def _stack_keys(stack_ids: np.ndarray) -> np.ndarray:
    return np.uint64(_STACK_KEY_BASE) + np.asarray(stack_ids, dtype=np.uint64) * np.uint64(0x40)


def _os_version(text: str) -> tuple[int, int]:
    parts = ([*text.split("."), "0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return 10, 0


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def resident_records(sc: Scenario) -> tuple[dict[str, int], np.ndarray]:
    """The file objects of the resident set's files, and its page records (n, size) as bytes.

    Raises ValueError for what the reader could not give back: sizes that are not whole pages,
    unknown lists or categories, a file category whose path says otherwise, a path on a page
    kind that has no file.
    """
    assert sc.resident_set is not None
    page_size = sc.page_size_bytes
    files: dict[str, int] = {}
    live = {
        driver_name(img.path): img
        for img in sc.images
        if img.unload_s is None and (img.load_s or 0.0) <= sc.duration_s
    }
    kind_of = {cat: R.PAGE_KINDS.index(k) for k, cat in R.KIND_CATEGORY.items()}
    flags, keys, vas = [], [], []
    cache_va = _CACHE_VA_BASE
    kernel_va = _KERNEL_VA_BASE
    for spec in sc.resident_set:
        where = f"resident_set {spec.path or '(no path)'} {spec.page_list} {spec.category}"
        if spec.size_bytes % page_size:
            raise ValueError(f"{where}: {spec.size_bytes} bytes is not a whole number of pages")
        if spec.page_list not in R.PAGE_LISTS:
            raise ValueError(f"{where}: page list must be one of {', '.join(R.PAGE_LISTS)}")
        n = spec.size_bytes // page_size
        offsets = np.arange(n, dtype=np.uint64) * np.uint64(page_size)
        cat = spec.category
        if cat in R.FILE_CATEGORIES or cat == "MetaFile":
            if not spec.path:
                raise ValueError(f"{where}: file pages need a path")
            by_name = R.file_category(spec.path)
            if cat != "MetaFile" and by_name != ("Driver" if cat == "DriverFile" else cat):
                raise ValueError(f"{where}: the reader would call these pages {by_name}")
            key = files.setdefault(spec.path, _FILE_OBJECT_BASE + 0x100 * len(files))
            kind = R.KIND_METAFILE if cat == "MetaFile" else R.KIND_FILE
            va = np.zeros(n, dtype=np.uint64)
            img = live.get(driver_name(spec.path))
            if cat == "Driver" and img is not None:
                va = np.uint64(img.base) + offsets % np.uint64(img.size)
            elif cat == "DriverFile":
                va = np.uint64(cache_va) + offsets
                cache_va += n * page_size
            keys.append(np.full(n, key, dtype=np.uint64))
        elif cat in kind_of:
            if spec.path:
                raise ValueError(f"{where}: {cat} pages have no file, so no path")
            kind = kind_of[cat]
            keys.append(np.uint64(kernel_va) + offsets)
            kernel_va += n * page_size
            va = np.zeros(n, dtype=np.uint64)
        else:
            known = [*R.FILE_CATEGORIES, *kind_of]
            raise ValueError(f"{where}: category must be one of {', '.join(known)}")
        flags.append(np.full(n, kind | R.PAGE_LISTS.index(spec.page_list) << 4, dtype=np.uint64))
        vas.append(va)
    total = sum(len(f) for f in flags)
    pages = P.encode_fixed(
        P.MEMORY_PAGE_VA,
        sc.pointer_size_bytes,
        total,
        Flags=_concat(flags),
        PageFrameIndex=_FIRST_FRAME + np.arange(total, dtype=np.uint64),
        PageKey=_concat(keys),
        VirtualAddress=_concat(vas),
    )
    return files, pages


class _ScenarioWriter:
    """Writes one synthetic trace's records, section by section, in the order a kernel logs
    them (see the module docstring)."""

    def __init__(
        self,
        trace: SyntheticTrace,
        w: EtlWriter,
        stack_addresses: list[np.ndarray],
        *,
        perfinfo: bool,
        cache: bool,
    ) -> None:
        self.trace = trace
        self.sc = sc = trace.scenario
        self.w = w
        self.ps = ps = sc.pointer_size_bytes
        self.perfinfo_pool = perfinfo
        self.stack_cache = cache
        self.ht_system = L.HT_SYSTEM64 if ps == 8 else L.HT_SYSTEM32
        self.ht_perfinfo = L.HT_PERFINFO64 if ps == 8 else L.HT_PERFINFO32
        self.ticks = trace.ticks.astype(np.int64) + SYNC_BASE_TICKS
        self.end_ts = SYNC_BASE_TICKS + round(sc.duration_s * 10_000_000)
        self.frame_bytes = [a.astype(f"<u{ps}").tobytes() for a in _stack_addresses(trace, ps)]

    def image_record(self, hook: int, ts: int, img: ImageSpec) -> None:
        payload = P.encode(
            P.IMAGE_V3,
            self.ps,
            img.path,
            ImageBase=img.base,
            ImageSize=img.size,
            ProcessId=0,
            DefaultBase=img.base,
        )
        self.w.write_record(
            header_type=self.ht_system,
            hook_id=hook,
            version=_IMAGE_VERSION,
            timestamp=ts,
            payload=payload,
            cpu=0,
        )

    def pdb_identity(self, img: ImageSpec, ident: PdbId) -> None:
        """ImageId then DbgID_RSDS of one image, as WPR's merge logs them (FULL headers of the
        KernelTraceControl provider)."""
        ht = L.HT_FULL_HEADER64 if self.ps == 8 else L.HT_FULL_HEADER32
        common = {"header_type": ht, "version": 2, "timestamp": SYNC_BASE_TICKS, "cpu": 0}
        image_id = P.encode(
            P.IMAGE_ID,
            self.ps,
            img.path.rsplit("\\", 1)[-1],
            ImageBase=img.base,
            ImageSize=img.size,
            ProcessId=0,
        )
        self.w.write_record(
            hook_id=D.OPCODE_IMAGE_ID, payload=image_id, guid=D.KERNEL_TRACE_CONTROL, **common
        )
        dbgid = P.encode(
            P.DBGID_RSDS, self.ps, ident.name, ImageBase=img.base, ProcessId=0,
            GuidSig=ident.guid, Age=ident.age,
        )  # fmt: skip
        self.w.write_record(
            hook_id=D.OPCODE_DBGID_RSDS, payload=dbgid, guid=D.KERNEL_TRACE_CONTROL, **common
        )

    def _timed_images(self) -> list[tuple[int, int, ImageSpec]]:
        """Image loads and unloads by time: they are merged into cpu 0's stream."""
        timed: list[tuple[int, int, ImageSpec]] = []
        for img in self.sc.images:
            if img.load_s is not None:
                timed.append((SYNC_BASE_TICKS + round(img.load_s * 1e7), D.HOOK_IMAGE_LOAD, img))
            if img.unload_s is not None:
                timed.append(
                    (SYNC_BASE_TICKS + round(img.unload_s * 1e7), D.HOOK_IMAGE_UNLOAD, img)
                )
        timed.sort(key=lambda t: t[0])
        return timed

    def _pool_payloads(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per event: the plain and the session payload, the hook id, the stack record head."""
        t, ps, n = self.trace, self.ps, self.trace.event_count
        session = t.session_id >= 0
        alloc = t.event == POOL_ALLOC
        fields = {
            "PoolType": t.pool_type,
            "Tag": P.encode_tags(t.tag) if n else np.zeros(0, np.uint32),
            "NumberOfBytes": t.size_bytes.astype(np.uint64),
            "Entry": t.address,
        }
        plain = P.encode_fixed(P.POOL, ps, n, **fields)
        with_session = P.encode_fixed(P.POOL_SESSION, ps, n, **fields, SessionId=t.session_id)
        hooks = np.where(
            alloc,
            np.where(session, D.HOOK_POOL_ALLOC_SESSION, D.HOOK_POOL_ALLOC),
            np.where(session, D.HOOK_POOL_FREE_SESSION, D.HOOK_POOL_FREE),
        )
        key = {"StackKey": _stack_keys(np.maximum(t.stack_id, 0))} if self.stack_cache else {}
        stack_head = P.encode_fixed(
            P.STACK_KEY_REF if self.stack_cache else P.STACK_WALK,
            ps,
            n,
            EventTimeStamp=self.ticks,
            StackProcess=SYSTEM_PROCESS_ID,
            StackThread=t.thread_id,
            **key,
        )
        return plain, with_session, hooks, stack_head

    def pool_events(self) -> None:
        """Every pool event on its processor at its tick, its stack right after it, and the
        image loads and unloads before the first pool event at or after their time."""
        t, n = self.trace, self.trace.event_count
        plain, with_session, hooks, stack_head = self._pool_payloads()
        timed = self._timed_images()
        image_ticks = np.array([x[0] for x in timed], dtype=np.int64)
        image_at = [*np.searchsorted(self.ticks, image_ticks, side="left").tolist(), n + 1]
        write = self.w.write_record
        pool_ht = self.ht_perfinfo if self.perfinfo_pool else self.ht_system
        # Real traces log stack walks with PERFINFO headers; the payload has the thread.
        stack_hook = D.HOOK_STACK_KEY_KERNEL if self.stack_cache else D.HOOK_STACK_WALK
        with_stack = (t.event == POOL_ALLOC) & (t.stack_id >= 0)
        ticks_l, cpu_l, tid_l = self.ticks.tolist(), t.cpu.tolist(), t.thread_id.tolist()
        hook_l, session_l = hooks.tolist(), (t.session_id >= 0).tolist()
        stack_l = np.where(with_stack, t.stack_id, -1).tolist()
        thread: dict[str, Any] = {} if self.perfinfo_pool else {"process_id": SYSTEM_PROCESS_ID}
        next_image = 0
        for i in range(n):
            while image_at[next_image] <= i:
                self.image_record(timed[next_image][1], timed[next_image][0], timed[next_image][2])
                next_image += 1
            ts, cpu = ticks_l[i], cpu_l[i]
            payload = (with_session[i] if session_l[i] else plain[i]).tobytes()
            if not self.perfinfo_pool:
                thread["thread_id"] = tid_l[i]
            write(
                header_type=pool_ht,
                hook_id=hook_l[i],
                version=_POOL_VERSION,
                timestamp=ts,
                payload=payload,
                cpu=cpu,
                **thread,
            )
            sid = stack_l[i]
            if sid >= 0:
                body = stack_head[i].tobytes()
                if not self.stack_cache:
                    body += self.frame_bytes[sid]
                write(
                    header_type=self.ht_perfinfo,
                    hook_id=stack_hook,
                    version=2,
                    timestamp=ts,
                    payload=body,
                    cpu=cpu,
                )
        for ts, hook, img in timed[next_image:]:
            self.image_record(hook, ts, img)

    def stack_definitions(self) -> None:
        """With stack caching: the key definitions, as an end-of-trace rundown (0x1824)."""
        for sid, fb in enumerate(self.frame_bytes):
            key = P.encode_fixed(
                P.STACK_DEFINITION, self.ps, 1, StackKey=_STACK_KEY_BASE + 0x40 * sid
            )
            self.w.write_record(
                header_type=self.ht_perfinfo,
                hook_id=0x1824,
                version=2,
                timestamp=self.end_ts,
                payload=key.tobytes() + fb,
                cpu=0,
            )

    def resident_set(self) -> None:
        """SystemConfig CPU (the page size), the files' names, one PageInMemory per page."""
        sc, ps, write = self.sc, self.ps, self.w.write_record
        files, pages = resident_records(sc)
        config = P.encode(
            P.SYSCONFIG_CPU, ps, NumberOfProcessors=max(sc.cpus, 1), PageSize=sc.page_size_bytes
        )
        common: dict[str, Any] = {"timestamp": self.end_ts, "cpu": 0}
        write(
            header_type=self.ht_system,
            hook_id=D.HOOK_SYSCONFIG_CPU,
            version=3,
            payload=config,
            **common,
        )
        for file_path, file_object in files.items():
            write(
                header_type=self.ht_system,
                hook_id=D.HOOK_FILE_NAME_RUNDOWN,
                version=2,
                payload=P.encode(P.FILE_NAME, ps, file_path, FileObject=file_object),
                **common,
            )
        for row in pages:
            write(
                header_type=self.ht_perfinfo,
                hook_id=D.HOOK_PAGE_IN_MEMORY,
                version=_PAGE_VERSION,
                payload=row.tobytes(),
                **common,
            )


def _stack_addresses(trace: SyntheticTrace, pointer_size: int) -> list[np.ndarray]:
    """Each stack's frames as absolute addresses (image base + offset)."""
    images = {img.name: img for img in trace.scenario.images}
    out: list[np.ndarray] = []
    for frames in trace.stacks:
        addrs = []
        for f in frames:
            img = images.get(f.module)
            if img is None:
                raise ValueError(f"stack frame {f}: {f.module} is not an image of the scenario")
            addrs.append(img.base + f.rva)
        out.append(np.array(addrs, dtype=np.uint64))
    limit = (1 << (8 * pointer_size)) - 1
    if trace.event_count and int(trace.address.max()) > limit:
        raise ValueError(f"pool addresses do not fit {pointer_size}-byte pointers")
    return out


@dataclass(frozen=True)
class PdbId:
    """The PDB identity an image's DbgID_RSDS event names: file name, GUID and age."""

    name: str
    guid: str
    age: int


def write_scenario_etl(
    trace: SyntheticTrace,
    path: str | os.PathLike[str],
    *,
    compress: bool = False,
    perfinfo_pool: bool = False,
    stack_cache: bool = False,
    buffer_size: int = 65536,
    pdb_ids: Mapping[str, PdbId] | None = None,
) -> Path:
    """Write `trace` as an `.etl` file at `path` (atomically) and return the path.

    `pdb_ids` maps image names (lower-case file names) to the PDB identity that WPR's merge
    would record for them: a KernelTraceControl ImageId and DbgID_RSDS pair at trace start.
    """
    sc = trace.scenario
    # Frames outside every image are refused before the file is created.
    stack_addresses = _stack_addresses(trace, sc.pointer_size_bytes)
    with EtlWriter(
        path,
        pointer_size=sc.pointer_size_bytes,
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
        out = _ScenarioWriter(trace, w, stack_addresses, perfinfo=perfinfo_pool, cache=stack_cache)
        for img in sc.images:
            if img.load_s is None:
                out.image_record(D.HOOK_IMAGE_DC_START, SYNC_BASE_TICKS, img)
        for img in sc.images:
            ident = (pdb_ids or {}).get(img.name)
            if ident is not None:
                out.pdb_identity(img, ident)
        out.pool_events()
        if stack_cache:
            out.stack_definitions()
        if sc.resident_set is not None:
            out.resident_set()
        for img in sc.images:
            if img.unload_s is None:
                out.image_record(D.HOOK_IMAGE_DC_END, out.end_ts, img)
    return Path(path)
