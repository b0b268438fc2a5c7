"""Scenarios: small descriptions of a boot that expand into an exact synthetic trace.

A scenario names the images of a boot and patterns of pool allocations (how many, which tag,
pool and size, when, how long they live, from which call stack). `generate` expands it into a
`SyntheticTrace`: the events in trace order with exact times. The same `SyntheticTrace` feeds
the store directly (`scenario_chunks`) and the `.etl` writer (`gate.synthetic.etl`), so tests can
state the expected metrics by hand and check both paths against them.

Times are quantized to 100 ns ticks so that an `.etl` round trip at 10 MHz is exact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gate.errors import InputError
from gate.tables.chunks import POOL_ALLOC, POOL_FREE, Chunk, TraceInfo
from gate.tables.drivers import driver_name
from gate.tables.pairing import paired_chunks

TICKS_PER_SECOND = 10_000_000
SCENARIO_VERSION = 1

POOL_TYPES = {
    "nonpaged": 0,
    "paged": 1,
    "nonpaged_nx": 512,
    "session_nonpaged": 32,
    "session_paged": 33,
    "session_nonpaged_nx": 544,
}

# Where synthetic allocations live: one address range per pool family so addresses never collide.
_ADDRESS_BASE = {0: 0xFFFF_C000_0000_0000, 1: 0xFFFF_D000_0000_0000}
_ADDRESS_STRIDE = 0x40


@dataclass(frozen=True)
class ImageSpec:
    name: str
    path: str
    base: int
    size: int
    load_s: float | None = None  # None: loaded before the trace started (rundown)
    unload_s: float | None = None


@dataclass(frozen=True)
class Frame:
    module: str
    rva: int

    def __str__(self) -> str:
        return f"{self.module}+0x{self.rva:x}"


@dataclass(frozen=True)
class AllocPattern:
    tag: str
    pool_type: int
    size: tuple[int, int]  # inclusive range; equal ends for a fixed size
    count: int
    start_s: float
    end_s: float
    lifetime_s: float | None  # None: never freed
    stack: tuple[Frame, ...]
    session_id: int = -1


@dataclass(frozen=True)
class ExplicitEvent:
    time_s: float
    event: int  # POOL_ALLOC or POOL_FREE
    address: int
    tag: str = ""
    pool_type: int = 0
    size: int = 0
    session_id: int = -1
    stack: tuple[Frame, ...] = ()
    cpu: int = 0


@dataclass(frozen=True)
class ResidentSpec:
    path: str
    page_list: str
    category: str
    size_bytes: int


@dataclass(frozen=True)
class Scenario:
    name: str
    duration_s: float
    cpus: int
    seed: int
    start_utc: datetime
    images: tuple[ImageSpec, ...]
    patterns: tuple[AllocPattern, ...] = ()
    events: tuple[ExplicitEvent, ...] = ()
    resident_set: tuple[ResidentSpec, ...] | None = None  # None: the trace has no resident set
    events_lost: int = 0
    buffers_lost: int = 0
    page_size_bytes: int = 4096
    pointer_size_bytes: int = 8
    os_version: str = "10.0"
    os_build: int = 22621
    source: str = "<scenario>"


@dataclass
class SyntheticTrace:
    """An expanded scenario: pool events in trace order, with their stacks resolved."""

    scenario: Scenario
    time_s: np.ndarray  # f8, quantized to ticks
    ticks: np.ndarray  # i8, 100 ns ticks from trace start
    event: np.ndarray  # u1
    pool_type: np.ndarray  # u4
    tag: np.ndarray  # object (str)
    size_bytes: np.ndarray  # i8
    address: np.ndarray  # u8
    session_id: np.ndarray  # i8
    stack_id: np.ndarray  # i8, -1 for none
    cpu: np.ndarray  # i8
    thread_id: np.ndarray  # i8
    stacks: list[tuple[Frame, ...]] = field(default_factory=list)

    @property
    def event_count(self) -> int:
        return len(self.time_s)

    def image(self, name: str) -> ImageSpec:
        for img in self.scenario.images:
            if img.name == name:
                return img
        raise KeyError(name)


def _quantize(t: float | np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(t, dtype=np.float64) * TICKS_PER_SECOND).astype(np.int64)


def generate(scenario: Scenario) -> SyntheticTrace:
    """Expand a scenario into events in trace order (deterministic for a given seed)."""
    rng = np.random.default_rng(scenario.seed)
    stack_ids: dict[tuple[Frame, ...], int] = {}
    stacks: list[tuple[Frame, ...]] = []

    def stack_id(frames: tuple[Frame, ...]) -> int:
        if not frames:
            return -1
        if frames not in stack_ids:
            stack_ids[frames] = len(stacks)
            stacks.append(frames)
        return stack_ids[frames]

    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "ticks",
            "event",
            "pool_type",
            "tag",
            "size",
            "address",
            "session",
            "stack",
            "cpu",
        )
    }
    next_address = dict(_ADDRESS_BASE)

    def add(ticks, event, pool_type, tag, size, address, session, stack, cpu) -> None:
        n = len(ticks)
        cols["ticks"].append(np.asarray(ticks, dtype=np.int64))
        cols["event"].append(np.full(n, event, dtype=np.uint8))
        cols["pool_type"].append(np.broadcast_to(np.uint32(pool_type), n).astype(np.uint32))
        cols["tag"].append(np.full(n, tag, dtype=object))
        cols["size"].append(np.asarray(size, dtype=np.int64))
        cols["address"].append(np.asarray(address, dtype=np.uint64))
        cols["session"].append(np.full(n, session, dtype=np.int64))
        cols["stack"].append(np.full(n, stack, dtype=np.int64))
        cols["cpu"].append(np.asarray(cpu, dtype=np.int64))

    for p in scenario.patterns:
        n = p.count
        if n == 0:
            continue
        # Evenly spread over [start, end): exact and reproducible, unlike random arrival times.
        alloc_ticks = _quantize(p.start_s + (p.end_s - p.start_s) * np.arange(n) / n)
        lo, hi = p.size
        sizes = np.full(n, lo, dtype=np.int64) if lo == hi else rng.integers(lo, hi + 1, n)
        family = p.pool_type & 1
        base = next_address[family]
        addresses = base + np.arange(n, dtype=np.uint64) * np.uint64(_ADDRESS_STRIDE)
        next_address[family] = int(addresses[-1]) + _ADDRESS_STRIDE
        cpus = rng.integers(0, scenario.cpus, n)
        sid = stack_id(p.stack)
        add(alloc_ticks, POOL_ALLOC, p.pool_type, p.tag, sizes, addresses, p.session_id, sid, cpus)
        if p.lifetime_s is not None:
            free_ticks = alloc_ticks + round(p.lifetime_s * TICKS_PER_SECOND)
            add(free_ticks, POOL_FREE, p.pool_type, p.tag, sizes, addresses, p.session_id, -1, cpus)

    for e in scenario.events:
        add(
            _quantize([e.time_s]),
            e.event,
            e.pool_type,
            e.tag,
            [e.size],
            [e.address],
            e.session_id,
            stack_id(e.stack),
            [e.cpu],
        )

    if cols["ticks"]:
        merged = {k: np.concatenate(v) for k, v in cols.items()}
    else:
        merged = {
            "ticks": np.zeros(0, np.int64),
            "event": np.zeros(0, np.uint8),
            "pool_type": np.zeros(0, np.uint32),
            "tag": np.zeros(0, object),
            "size": np.zeros(0, np.int64),
            "address": np.zeros(0, np.uint64),
            "session": np.zeros(0, np.int64),
            "stack": np.zeros(0, np.int64),
            "cpu": np.zeros(0, np.int64),
        }
    # Trace order, as a per-CPU .etl merges it: by time, then processor; events at the same
    # tick on one processor keep the order they were described in.
    order = np.lexsort((np.arange(len(merged["ticks"])), merged["cpu"], merged["ticks"]))
    m = {k: v[order] for k, v in merged.items()}
    return SyntheticTrace(
        scenario=scenario,
        time_s=m["ticks"] / TICKS_PER_SECOND,
        ticks=m["ticks"],
        event=m["event"],
        pool_type=m["pool_type"],
        tag=m["tag"],
        size_bytes=m["size"],
        address=m["address"],
        session_id=m["session"],
        stack_id=m["stack"],
        cpu=m["cpu"],
        thread_id=1000 + m["cpu"] * 4,
        stacks=stacks,
    )


def scenario_chunks(
    trace: SyntheticTrace, batch_rows: int = 1_000_000, *, paired: bool = True
) -> Iterator[Chunk | TraceInfo]:
    """The store's chunks for a synthetic trace, without going through an `.etl` file.

    With `paired=False` the pool events themselves come instead of allocations and unmatched
    frees (`pool_events` chunks in trace order), as `read_etl(paired=False)` gives them.
    """
    sc = trace.scenario
    images = sc.images
    yield Chunk.build(
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
    bases = {driver_name(i.path): i.base for i in images}
    sid, idx, addr, mod, rva = [], [], [], [], []
    for s, frames in enumerate(trace.stacks):
        for k, f in enumerate(frames):
            sid.append(s)
            idx.append(k)
            addr.append(bases.get(f.module, 0) + f.rva if f.module in bases else 0)
            mod.append(f.module)
            rva.append(f.rva)
    yield Chunk.build(
        "stack_frames",
        stack_id=sid,
        frame_index=idx,
        address=addr,
        module=mod,
        rva_bytes=rva,
        function=[""] * len(sid),
    )
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


# --- loading scenario files -------------------------------------------------------------------


class _Fields:
    """Reads one YAML mapping, naming the file and key path in every error."""

    def __init__(self, source: str, where: str, data: Any, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise InputError(f"{source}: {where or 'top level'}: expected a mapping")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(f"{source}: {where or 'top level'}: unknown key {unknown[0]!r}")
        self.source, self.where, self.data = source, where, data

    def _err(self, key: str, problem: str) -> InputError:
        path = f"{self.where}.{key}" if self.where else key
        return InputError(f"{self.source}: key '{path}': {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise self._err(key, "is required")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._err(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def size(self, key: str, default: Any = ...) -> int:
        from gate.units import parse_bytes

        value = self.get(key, (int, str), default)
        try:
            return parse_bytes(value)
        except ValueError as exc:
            raise self._err(key, str(exc)) from None


def _parse_frame(source: str, where: str, text: Any) -> Frame:
    if not isinstance(text, str) or "+" not in text:
        raise InputError(
            f"{source}: {where}: expected a frame like 'acpi.sys+0x1a2b', got {text!r}"
        )
    module, _, off = text.rpartition("+")
    try:
        return Frame(module.strip().lower(), int(off, 0))
    except ValueError:
        raise InputError(f"{source}: {where}: bad offset in frame {text!r}") from None


def _parse_stack(source: str, where: str, items: Any) -> tuple[Frame, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InputError(f"{source}: {where}: expected a list of frames, innermost first")
    return tuple(_parse_frame(source, f"{where}[{i}]", t) for i, t in enumerate(items))


def _pool_type(f: _Fields) -> int:
    pool = f.get("pool", (str, int), "nonpaged")
    if isinstance(pool, int):
        return pool
    if pool not in POOL_TYPES:
        raise f._err("pool", f"unknown pool {pool!r}; one of {', '.join(POOL_TYPES)} or a number")
    return POOL_TYPES[pool]


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    top = _Fields(
        source,
        "",
        data,
        {
            "scenario",
            "name",
            "duration_s",
            "cpus",
            "seed",
            "start_utc",
            "images",
            "allocations",
            "events",
            "resident_set",
            "events_lost",
            "buffers_lost",
            "page_size_bytes",
            "pointer_size_bytes",
            "os_version",
            "os_build",
        },
    )
    version = top.get("scenario", int)
    if version != SCENARIO_VERSION:
        raise top._err("scenario", f"unsupported scenario version {version}")
    images = []
    for i, item in enumerate(top.get("images", list)):
        f = _Fields(source, f"images[{i}]", item, {"path", "base", "size", "load_s", "unload_s"})
        path = f.get("path", str)
        images.append(
            ImageSpec(
                driver_name(path),
                path,
                f.get("base", int),
                f.size("size"),
                f.get("load_s", float, None),
                f.get("unload_s", float, None),
            )
        )
    duration = top.get("duration_s", float)
    patterns = []
    for i, item in enumerate(top.get("allocations", list, [])):
        w = f"allocations[{i}]"
        f = _Fields(
            source,
            w,
            item,
            {
                "label",
                "tag",
                "pool",
                "size",
                "count",
                "start_s",
                "end_s",
                "lifetime_s",
                "stack",
                "session_id",
            },
        )
        size = f.get("size", (int, str, list))
        if isinstance(size, list):
            if len(size) != 2:
                raise f._err("size", "expected [min, max]")
            lo = _Fields(source, w, {"size": size[0]}, {"size"}).size("size")
            hi = _Fields(source, w, {"size": size[1]}, {"size"}).size("size")
        else:
            lo = hi = f.size("size")
        start = f.get("start_s", float, 0.0)
        patterns.append(
            AllocPattern(
                tag=f.get("tag", str),
                pool_type=_pool_type(f),
                size=(lo, hi),
                count=f.get("count", int, 1),
                start_s=start,
                end_s=f.get("end_s", float, start),
                lifetime_s=f.get("lifetime_s", float, None),
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                session_id=f.get("session_id", int, -1),
            )
        )
    events = []
    for i, item in enumerate(top.get("events", list, [])):
        w = f"events[{i}]"
        f = _Fields(
            source,
            w,
            item,
            {"t", "op", "tag", "pool", "size", "address", "session_id", "stack", "cpu"},
        )
        op = f.get("op", str)
        if op not in ("alloc", "free"):
            raise f._err("op", "expected 'alloc' or 'free'")
        events.append(
            ExplicitEvent(
                time_s=f.get("t", float),
                event=POOL_ALLOC if op == "alloc" else POOL_FREE,
                address=f.get("address", int),
                tag=f.get("tag", str, ""),
                pool_type=_pool_type(f),
                size=f.size("size", 0),
                session_id=f.get("session_id", int, -1),
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                cpu=f.get("cpu", int, 0),
            )
        )
    resident = None
    if "resident_set" in data and data["resident_set"] is not None:
        resident = []
        for i, item in enumerate(top.get("resident_set", list)):
            f = _Fields(source, f"resident_set[{i}]", item, {"path", "list", "category", "size"})
            resident.append(
                ResidentSpec(
                    f.get("path", str), f.get("list", str), f.get("category", str), f.size("size")
                )
            )
        resident = tuple(resident)
    start_utc = top.get("start_utc", (str, datetime), "2026-01-01T00:00:00Z")
    if isinstance(start_utc, str):
        try:
            start_utc = datetime.fromisoformat(start_utc.replace("Z", "+00:00"))
        except ValueError:
            raise top._err("start_utc", f"not an ISO date-time: {start_utc!r}") from None
    if start_utc.tzinfo is None:
        start_utc = start_utc.replace(tzinfo=timezone.utc)
    return Scenario(
        name=top.get("name", str, Path(source).stem),
        duration_s=duration,
        cpus=top.get("cpus", int, 2),
        seed=top.get("seed", int, 1),
        start_utc=start_utc,
        images=tuple(images),
        patterns=tuple(patterns),
        events=tuple(events),
        resident_set=resident,
        events_lost=top.get("events_lost", int, 0),
        buffers_lost=top.get("buffers_lost", int, 0),
        page_size_bytes=top.get("page_size_bytes", int, 4096),
        pointer_size_bytes=top.get("pointer_size_bytes", int, 8),
        os_version=str(top.get("os_version", (str, float), "10.0")),
        os_build=top.get("os_build", int, 22621),
        source=source,
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    return parse_scenario(data, str(path))
