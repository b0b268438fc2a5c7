"""The resolved stacks reach the store as `stack_frames` chunks of whole stacks, bounded in
frames, that together are every frame of every stack once, in order."""

from __future__ import annotations

import numpy as np
import pytest

from gate.inputs.etl import reader
from gate.inputs.etl.images import ResolvedFrames


def _frames(lengths: list[int], seed: int = 1) -> ResolvedFrames:
    rng = np.random.default_rng(seed)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    n = int(offsets[-1])
    module = rng.integers(0, 4, n).astype(np.int32)
    return ResolvedFrames(
        address=rng.integers(0, 2**63, n).astype(np.uint64),
        module=module,
        rva=np.where(module > 0, rng.integers(0, 1 << 20, n), -1).astype(np.int64),
        offsets=offsets,
        names=["", "ntoskrnl.exe", "a.sys", "b.sys"],
    )


def _expected(frames: ResolvedFrames) -> list[tuple[object, ...]]:
    rows = []
    for sid in range(len(frames)):
        lo, hi = int(frames.offsets[sid]), int(frames.offsets[sid + 1])
        for i in range(lo, hi):
            name = frames.names[int(frames.module[i])]
            rows.append((sid, i - lo, int(frames.address[i]), name, int(frames.rva[i]), ""))
    return rows


@pytest.mark.parametrize("chunk_rows", [1, 5, 17, 10_000])
def test_chunks_hold_whole_stacks_and_every_frame_once(
    chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lengths = [3, 0, 12, 1, 7, 7, 40, 2, 0, 5] * 3
    frames = _frames(lengths)
    monkeypatch.setattr(reader, "CHUNK_ROWS", chunk_rows)
    modules, *chunks = list(reader._frames_chunks(frames))
    assert modules.table == "frame_modules"
    assert modules.columns["module"].tolist() == frames.names
    assert modules.columns["module_id"].tolist() == list(range(len(frames.names)))
    got = []
    for c in chunks:
        assert c.table == "stack_frames"
        cols = c.columns
        ids = cols["stack_id"].tolist()
        # whole stacks: a chunk starts at a stack's first frame and ends at one's last; one
        # over the bound is a single stack longer than the bound
        if ids:
            assert cols["frame_index"][0] == 0
            assert cols["frame_index"][-1] + 1 == lengths[ids[-1]]
            assert c.rows <= chunk_rows or len(set(ids)) == 1
        got += list(
            zip(
                ids,
                cols["frame_index"].tolist(),
                cols["address"].tolist(),
                [frames.names[m] for m in cols["module_id"].tolist()],
                cols["rva_bytes"].tolist(),
                cols["function"].tolist(),
                strict=True,
            )
        )
    assert got == _expected(frames)
    if chunk_rows < sum(lengths):
        assert len(chunks) > 1


def test_no_stacks_give_one_empty_chunk() -> None:
    chunks = list(reader._frames_chunks(ResolvedFrames.empty()))
    # the names table holds '' (no known image) alone
    assert [(c.table, c.rows) for c in chunks] == [("frame_modules", 1), ("stack_frames", 0)]
