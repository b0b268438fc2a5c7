"""Expanding a scenario into its events in trace order, with exact times (`generate`).

Allocation patterns are spread evenly over their time span (exact and reproducible, unlike
random arrival times); sizes drawn from a range and processors come from the scenario's seed.
Times are quantized to 100 ns ticks so that an `.etl` round trip at 10 MHz is exact.
"""

from __future__ import annotations

import numpy as np

from gate.inputs.scenario.model import (
    TICKS_PER_SECOND,
    AllocPattern,
    Frame,
    Scenario,
    SyntheticTrace,
)
from gate.tables.chunks import POOL_ALLOC, POOL_FREE

# Where synthetic allocations live: one address range per pool family so addresses never collide.
_ADDRESS_BASE = {0: 0xFFFF_C000_0000_0000, 1: 0xFFFF_D000_0000_0000}
_ADDRESS_STRIDE = 0x40
_COLUMNS = {
    "ticks": np.int64,
    "event": np.uint8,
    "pool_type": np.uint32,
    "tag": object,
    "size": np.int64,
    "address": np.uint64,
    "session": np.int64,
    "stack": np.int64,
    "cpu": np.int64,
}


def _quantize(t: float | np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(t, dtype=np.float64) * TICKS_PER_SECOND).astype(np.int64)


class _Events:
    """Columns of events as they are added, and the distinct stacks they name."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in _COLUMNS}
        self.stacks: list[tuple[Frame, ...]] = []
        self._stack_ids: dict[tuple[Frame, ...], int] = {}

    def stack_id(self, frames: tuple[Frame, ...]) -> int:
        if not frames:
            return -1
        if frames not in self._stack_ids:
            self._stack_ids[frames] = len(self.stacks)
            self.stacks.append(frames)
        return self._stack_ids[frames]

    def add(self, **values: object) -> None:
        n = len(values["ticks"])  # type: ignore[arg-type]
        for name, dtype in _COLUMNS.items():
            v = values[name]
            if np.ndim(v) == 0:  # type: ignore[arg-type]
                self.cols[name].append(np.full(n, v, dtype=dtype))
            else:
                self.cols[name].append(np.asarray(v, dtype=dtype))

    def merged(self) -> dict[str, np.ndarray]:
        if not self.cols["ticks"]:
            return {k: np.zeros(0, dtype=t) for k, t in _COLUMNS.items()}
        return {k: np.concatenate(v) for k, v in self.cols.items()}


def _add_pattern(
    events: _Events,
    p: AllocPattern,
    rng: np.random.Generator,
    cpus: int,
    next_address: dict[int, int],
) -> None:
    n = p.count
    alloc_ticks = _quantize(p.start_s + (p.end_s - p.start_s) * np.arange(n) / n)
    lo, hi = p.size
    sizes = np.full(n, lo, dtype=np.int64) if lo == hi else rng.integers(lo, hi + 1, n)
    family = p.pool_type & 1
    base = next_address[family]
    addresses = base + np.arange(n, dtype=np.uint64) * np.uint64(_ADDRESS_STRIDE)
    next_address[family] = int(addresses[-1]) + _ADDRESS_STRIDE
    cpu = rng.integers(0, cpus, n)
    common = {"pool_type": p.pool_type, "tag": p.tag, "size": sizes, "address": addresses}
    common |= {"session": p.session_id, "cpu": cpu}
    events.add(ticks=alloc_ticks, event=POOL_ALLOC, stack=events.stack_id(p.stack), **common)
    if p.lifetime_s is not None:
        free_ticks = alloc_ticks + round(p.lifetime_s * TICKS_PER_SECOND)
        events.add(ticks=free_ticks, event=POOL_FREE, stack=-1, **common)


def generate(scenario: Scenario) -> SyntheticTrace:
    """Expand a scenario into events in trace order (deterministic for a given seed)."""
    rng = np.random.default_rng(scenario.seed)
    events = _Events()
    next_address = dict(_ADDRESS_BASE)
    for p in scenario.patterns:
        if p.count:
            _add_pattern(events, p, rng, scenario.cpus, next_address)
    for e in scenario.events:
        events.add(
            ticks=_quantize(np.array([e.time_s])),
            event=e.event,
            pool_type=e.pool_type,
            tag=e.tag,
            size=[e.size],
            address=[e.address],
            session=e.session_id,
            stack=events.stack_id(e.stack),
            cpu=[e.cpu],
        )
    merged = events.merged()
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
        stacks=events.stacks,
    )
