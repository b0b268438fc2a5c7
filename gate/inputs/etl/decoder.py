"""One pass over an `.etl` file, then what only the whole trace can settle.

`EtlDecoder.run` decodes every batch of records on worker threads (`gate.inputs.etl.batch`)
and merges the results in file order: counters, pool rows, stack parts (`stacks`), image
events (`images`) and page records (`resident`). Afterwards:

* Pool events are ordered: per-CPU buffers mean file order is not time order, and `seq` must
  be final because the store orders by it. The order is by (raw timestamp, cpu, buffer
  sequence, record index in buffer), which is total and stable. Until then each event keeps
  about 45 bytes (integers in the narrowest type a batch needs; glibc is kept from hoarding
  what decoding frees).
* Each pool event gets its stack (`StackTracker.match`) and each (stack, image epoch) pair its
  resolved frames (`images.resolve_frames`); stack ids are numbered in order of first use.
* The resident set is built from the last full snapshot of page records.

Pool snapshot rundowns (0x0E28-0x0E2F) are counted, not read: an allocation outstanding at
trace start was made before the trace, and the metrics count what the trace allocates (its
free, if traced, shows up as an unmatched free, which is what it is).
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from gate.inputs.etl import decode as D
from gate.inputs.etl.batch import NO_TS, POOL_DTYPE, BatchResult
from gate.inputs.etl.container import EtlFile, open_etl
from gate.inputs.etl.filehash import FileHash
from gate.inputs.etl.images import END_TS, ImageRow, ImageTracker, ResolvedFrames, resolve_frames
from gate.inputs.etl.memory import ColumnTable, bound_heap, gc_paused, trim_heap
from gate.inputs.etl.resident import DEFAULT_PAGE_SIZE, ResidentSet, build_resident_set, frame_bound
from gate.inputs.etl.stacks import StackTracker, stream_positions, unmatch_shared
from gate.tables.chunks import Progress
from gate.tables.order import sort_by_then, unique_first_inverse
from gate.tables.pairing import Pairing, pair_events

_TRIM_EVERY = 4  # batches
# Pairs the trace's pool events while the stacks are matched (numpy's sort releases the GIL).
_PAIRING_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-pairing")
_PAGE_COLUMNS = ("ts", "kind", "page_list", "frame", "key", "virtual_address")
# A logfile header's EndTime further than this from its StartTime is taken as unset: no boot
# trace runs for a week, and a corrupt header must not stretch the trace.
_MAX_STATED_DURATION_S = 7 * 24 * 3600.0


class EtlDecoder:
    """One pass over an `.etl` file, then the derived tables. Use `read_etl` or `inspect_etl`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch_bytes: int = 32 << 20,
        progress: Progress | None = None,
    ) -> None:
        self.path = str(path)
        self.batch_bytes = batch_bytes
        self.progress = progress
        self.counts: Counter[D.EventKey] = Counter()
        self.records_total = 0
        self.records_unknown = 0
        self.malformed: Counter[str] = Counter()
        self.last_ts = NO_TS
        self.events_lost_buffers = 0
        self.buffer_lost_buffers = 0
        self.stack_tracker = StackTracker()
        self.image_tracker = ImageTracker()
        self._pool: list[ColumnTable] = []
        self.file_names: dict[int, str] = {}  # FileObject -> name, for resident-set work
        self._pages: list[dict[str, np.ndarray]] = []  # page records of the rundown hooks
        self.page_access_records = 0
        self.memory_mb: int | None = None  # SystemConfig CPU MemSize
        self.config_page_size: int | None = None  # SystemConfig CPU PageSize
        self._resident: ResidentSet | None = None
        self.etl: EtlFile | None = None
        self._hasher: FileHash | None = None

    @property
    def images(self) -> list[ImageRow]:
        """Every image of the trace with its lifetime (kernel and user-mode), after `run`."""
        return self.image_tracker.rows

    # --- pass over the file -------------------------------------------------------------------

    def run(self) -> None:
        """Decode the whole file (the garbage collector paused meanwhile)."""
        with gc_paused():
            self._run()

    def _run(self) -> None:
        bound_heap()
        hasher = self._hasher = FileHash(self.path)
        try:
            with open_etl(self.path) as etl:
                self.etl = etl
                batches = etl.map_batches(
                    BatchResult, self.batch_bytes, progress=self.progress, on_read=hasher.feed
                )
                for i, result in enumerate(batches):
                    self._absorb(result)
                    del result
                    if i % _TRIM_EVERY == _TRIM_EVERY - 1:
                        trim_heap()  # what decoding freed between the rows kept
        except BaseException:
            hasher.cancel()
            raise
        self.image_tracker.build()

    def _absorb(self, r: BatchResult) -> None:
        """Add one batch's results, in file order: the batch's own stack ids become the trace's."""
        if r.records == 0:
            return
        self.records_total += r.records
        self.events_lost_buffers += r.events_lost_buffers
        self.buffer_lost_buffers += r.buffer_lost_buffers
        self.last_ts = max(self.last_ts, r.last_ts)
        self.counts.update(r.counts)
        self.records_unknown += r.records_unknown
        self.malformed.update(r.malformed)
        trace_id = self.stack_tracker.absorb(r)
        if r.pool is not None:
            raw = r.pool["raw"]
            has = raw >= 0
            raw[has] = trace_id[raw[has]]
            self._pool.append(r.pool)
        self.image_tracker.absorb(r)
        for objects, names in r.file_names:
            self.file_names.update(zip(objects, names, strict=True))
        self._pages += r.pages
        self.page_access_records += r.page_access_records
        if r.sysconfig is not None:
            self.memory_mb, self.config_page_size = r.sysconfig

    # --- pool events --------------------------------------------------------------------------

    def pool_columns(
        self, *, pair: bool = False
    ) -> tuple[dict[str, np.ndarray], ResolvedFrames, Pairing | None]:
        """Pool events in trace order with final stack ids, the new stacks' frames, and with
        `pair` the events' pairing (`gate.tables.pairing`), computed on a thread while the
        stacks are matched and resolved. Once only: the raw stacks are released."""
        with gc_paused():
            return self._pool_columns(pair)

    def _pool_columns(
        self, pair: bool
    ) -> tuple[dict[str, np.ndarray], ResolvedFrames, Pairing | None]:
        trim_heap()  # what decoding freed, before the whole-table work
        pool = ColumnTable.concat(self._pool, POOL_DTYPE, consume=True)
        self._pool = []
        parts = unmatch_shared(pool, self.stack_tracker.take_parts())
        (pos,) = stream_positions(pool)
        pool = pool.take(sort_by_then(pool["ts"], pos))
        del pos
        pairing: Future[Pairing] | None = None
        if pair:
            pairing = _PAIRING_THREAD.submit(
                pair_events, pool["event"], pool["address"], pool["session"]
            )
        self.stack_tracker.match(pool, parts)
        del parts
        for k in ("buffer_seq", "record_index"):
            del pool.columns[k]
        stack_id, frames_out = self._final_stack_ids(pool)
        self.stack_tracker.release()  # the raw stacks: only their resolved frames are needed
        del pool.columns["raw"]
        # Narrow columns stay narrow: `read_etl` widens them one chunk at a time.
        cols = {
            "ts": pool["ts"],
            "event": pool["event"],
            "pool_type": pool["pool_type"],
            "tag": pool["tag"],
            "size_bytes": pool["size"],
            "address": pool["address"],
            "session_id": pool["session"],
            "stack_id": stack_id,
            "thread_id": pool["thread"],
            "cpu": pool["cpu"],
        }
        return cols, frames_out, pairing.result() if pairing is not None else None

    def _final_stack_ids(self, pool: ColumnTable) -> tuple[np.ndarray, ResolvedFrames]:
        """Each event's stack id (-1: none): one per (raw stack, image epoch) that resolves to
        distinct frames, numbered in order of first use so ids do not depend on file layout."""
        stack_id = np.full(len(pool), -1, dtype=np.int64)
        has = np.flatnonzero(pool["raw"] >= 0)
        if len(has) == 0:
            return stack_id, ResolvedFrames.empty()
        points, image_map = self.image_tracker.epochs()
        epoch = np.searchsorted(points, pool["ts"][has], side="right").astype(np.int64)
        pair = pool["raw"][has].astype(np.int64) * (len(points) + 1) + epoch
        del epoch
        uniq, first, inverse = unique_first_inverse(pair)
        in_use = np.argsort(first, kind="stable")
        raws, epochs = np.divmod(uniq[in_use], len(points) + 1)
        final_of_pair = np.empty(len(uniq), dtype=np.int64)
        final_of_pair[in_use], frames_out = resolve_frames(
            self.stack_tracker.stacks, raws, epochs, image_map
        )
        stack_id[has] = final_of_pair[inverse.reshape(-1)]
        return stack_id, frames_out

    # --- facts about the trace ----------------------------------------------------------------

    def close(self) -> None:
        if self._hasher is not None:
            self._hasher.cancel()

    def sha256(self) -> str:
        """The file's SHA-256, hashed on a thread started with `run` (hashlib releases the GIL,
        so on a second core it costs no wall time)."""
        if self._hasher is None:  # not read (yet): the thread reads the whole file
            self._hasher = FileHash(self.path)
        return self._hasher.digest()

    def seconds(self, raw: np.ndarray) -> np.ndarray:
        """Raw timestamps -> seconds from trace start (`EtlFile.seconds`)."""
        assert self.etl is not None
        return self.etl.seconds(raw)

    def duration_s(self) -> float:
        """The trace's length: from its start to the logfile header's EndTime, where that is
        set and plausible, or to its last event if later. A logger stops some time after the
        last event it records, so the last event alone makes a boot look shorter than it was
        (and a window after it look empty rather than outside the trace)."""
        last = 0.0
        if self.last_ts != NO_TS:
            last = max(float(self.seconds(np.array([self.last_ts]))[0]), 0.0)
        assert self.etl is not None
        h = self.etl.header
        stated = (h.end_filetime - h.start_filetime) / 1e7  # FILETIME: 100 ns units
        if h.start_filetime > 0 and 0.0 < stated <= _MAX_STATED_DURATION_S:
            return max(last, stated)
        return last

    def lost(self) -> tuple[int, int]:
        """Lost events and buffers: the header's counts, at least the flagged buffers.

        A buffer flagged EVENTS_LOST or BUFFER_LOST is where losses the header already counts
        happened, so the flags raise the header count to at least the number of flagged buffers
        rather than add to it: either way a trace that lost anything reports a nonzero count.
        """
        assert self.etl is not None
        h = self.etl.header
        return (
            max(h.events_lost, self.events_lost_buffers),
            max(h.buffers_lost, self.buffer_lost_buffers),
        )

    def page_size(self) -> int:
        """The trace's page size: SystemConfig's when it is a plausible one, else 4096."""
        ps = self.config_page_size
        if ps and ps >= 4096 and ps & (ps - 1) == 0 and ps <= 1 << 16:
            return ps
        return DEFAULT_PAGE_SIZE

    def _seconds_or_nan(self, raw: int, missing: int) -> float:
        return float(self.seconds(np.array([raw]))[0]) if raw != missing else np.nan

    def resident_set(self) -> ResidentSet:
        """The last full resident-set snapshot, checked (`gate.inputs.etl.resident`); computed
        once."""
        if self._resident is not None:
            return self._resident
        assert self.etl is not None
        cols = {
            k: np.concatenate([p[k] for p in self._pages])
            if self._pages
            else np.zeros(0, dtype=np.uint64)
            for k in _PAGE_COLUMNS
        }
        self._pages = []
        page_size = self.page_size()
        images = [
            (
                r.base,
                r.size,
                r.path,
                self._seconds_or_nan(r.load_ts, NO_TS),
                self._seconds_or_nan(r.unload_ts, END_TS),
            )
            for r in self.image_tracker.kernel
        ]
        self._resident = build_resident_set(
            time_s=self.seconds(cols["ts"].astype(np.int64)),
            kind=cols["kind"].astype(np.uint8),
            page_list=cols["page_list"].astype(np.uint8),
            frame=cols["frame"].astype(np.uint64),
            key=cols["key"].astype(np.uint64),
            virtual_address=cols["virtual_address"].astype(np.uint64),
            file_names=self.file_names,
            images=images,
            page_size=page_size,
            bound=frame_bound(self.memory_mb, page_size, self.etl.header.pointer_size_bytes),
        )
        return self._resident

    def all_notes(self) -> list[str]:
        notes = [*self.stack_tracker.notes, *self.image_tracker.notes]
        for name, n in sorted(self.malformed.items()):
            notes.append(f"{n} malformed '{name}' records skipped")
        others = sum(1 for r in self.images if r.process_id != 0)
        if others:
            notes.append(f"{others} user-mode images (process id != 0) not listed in images")
        snap = sum(self.counts[k] for k in D.POOL_SNAPSHOT_HOOKS)
        if snap:
            notes.append(
                f"{snap} pool snapshot rundown records counted, not read: allocations "
                "outstanding at trace start were made before it and are not pool events"
            )
        if self.stack_tracker.unmatched:
            notes.append(f"{self.stack_tracker.unmatched} stacks not matched to a pool event")
        if self.page_access_records:
            notes.append(
                f"{self.page_access_records} page access records (0x0276/0x0282) decoded; "
                "they are single accesses, not part of the resident set"
            )
        notes += self.resident_set().notes
        return notes
