"""Counts of an `.etl` file's records taken from the container alone, without payload decoding:
an independent check of the container against the corpus' published counts."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import numpy as np

from gate.inputs.etl import layouts as L
from gate.inputs.etl.container import EtlFile


@dataclass
class ContainerStats:
    records: int
    buffers: int
    compressed_buffers: int
    cpus: list[int]
    header_types: dict[int, int]
    kernel_hooks: dict[int, int]  # hook_id -> count over SYSTEM/COMPACT/PERFINFO records
    providers: dict[uuid.UUID, int]  # non-kernel provider GUID -> count
    events_lost_buffers: int
    buffer_lost_buffers: int


def container_stats(etl: EtlFile, max_bytes: int = 32 << 20) -> ContainerStats:
    header_types: Counter[int] = Counter()
    kernel: Counter[int] = Counter()
    providers: Counter[uuid.UUID] = Counter()
    records = lost_events = lost_buffers = 0
    for batch in etl.record_batches(max_bytes):
        records += len(batch)
        lost_events += batch.events_lost_buffers
        lost_buffers += batch.buffer_lost_buffers
        if not len(batch):
            continue
        key = batch.header_type.astype(np.int64) << 16 | batch.hook_id
        for v, c in zip(*(a.tolist() for a in np.unique(key, return_counts=True)), strict=True):
            header_types[v >> 16] += c
            if v >> 16 in L.KERNEL_HEADER_TYPES:
                kernel[v & 0xFFFF] += c
        gi = batch.guid_index[batch.guid_index >= 0]
        for g, c in zip(*(a.tolist() for a in np.unique(gi, return_counts=True)), strict=True):
            providers[batch.guids[g]] += c
    flags = etl.buffers["BufferFlag"]
    return ContainerStats(
        records=records,
        buffers=etl.buffer_count,
        compressed_buffers=int(((flags & L.BUFFER_FLAG_COMPRESSED) != 0).sum()),
        cpus=sorted(set(etl.buffers["cpu"].tolist())),
        header_types=dict(sorted(header_types.items())),
        kernel_hooks=dict(sorted(kernel.items())),
        providers=dict(providers.most_common()),
        events_lost_buffers=lost_events,
        buffer_lost_buffers=lost_buffers,
    )
