"""What a scenario says: the boot's images, allocation patterns, explicit events and resident
set (`Scenario`), and what it expands into (`SyntheticTrace`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

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
