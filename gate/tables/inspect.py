"""What `gate inspect` shows about one `.etl` file: the reader fills it, a report renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class EtlSummary:
    """What `gate inspect` shows about one `.etl` file."""

    path: str
    sha256: str
    os_version: str
    os_build: int
    pointer_size_bytes: int
    cpu_count: int
    start_utc: datetime | None
    duration_s: float
    compressed: bool
    logger_name: str
    synthetic: bool
    records_total: int
    records_unknown: int
    records_malformed: int
    events: dict[str, int]  # "pool alloc (0x0e20)" -> count, most frequent first
    events_lost: int
    buffers_lost: int
    pool_events: int
    stacks_present: bool
    stack_walks: int
    stack_key_references: int
    stack_key_definitions: int
    drivers: list[str]  # kernel images seen, lower-case file names, sorted
    image_ids: int
    has_resident_set: bool = False
    resident_rejected: bool = False  # page events present but implausible: not used
    page_records: int = 0  # page records of the rundown hooks, all snapshots
    resident_snapshots: int = 0
    resident_pages: int = 0  # pages in the last full snapshot, before checks
    resident_time_s: float = float("nan")
    resident_failed: dict[str, float] = field(default_factory=dict)  # check -> share failed
    resident_failed_any: float = 0.0
    page_size_bytes: int = 4096
    resident_check_limit: float = 0.05  # share of pages that may fail the plausibility checks
    notes: list[str] = field(default_factory=list)
