"""Resolving frames against the image map of their epoch: the compiled pass, the numpy path
and a plain-Python reading of the rule all give the same stack ids, frames and module names.

The rule: a frame is in image j of its epoch's map when j is the last image based at or
below its address and the address is below that image's end; else it is in no image
(module 0, rva -1). A stack is its frames' (module, rva) pairs, or (0, address) for a frame
whose module is 0; equal stacks get one id, in order of first pair.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np
import pytest

from gate.inputs.etl import images
from gate.inputs.etl.images import ImageMap, ResolvedFrames, resolve_frames
from gate.inputs.etl.intern import StackTable

Maps = dict[int, list[tuple[int, int, str]]]


@pytest.fixture(params=["numpy", "compiled"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numpy":
        monkeypatch.setattr(images, "_resolve_rows", None)
    elif images._resolve_rows is None or images._keep_rows is None:
        pytest.skip("numba is not installed or GATE_NO_NUMBA is set: no compiled path")
    return str(request.param)


def image_map_of(maps: Maps) -> Callable[[int], ImageMap]:
    def image_map(epoch: int) -> ImageMap:
        live = sorted(maps.get(epoch, []))
        return (
            np.array([b for b, _, _ in live], dtype=np.uint64),
            np.array([e for _, e, _ in live], dtype=np.uint64),
            [n for _, _, n in live],
        )

    return image_map


def table_of(rows: list[list[int]]) -> StackTable:
    table = StackTable()
    for r in rows:
        table.add(np.array(r, dtype=np.uint64))
    return table


def oracle(
    rows: list[list[int]], raws: list[int], epochs: list[int], maps: Maps, block: int
) -> tuple[list[int], list[list[tuple[int, int, int]]], list[str]]:
    """Stack id of each pair, (address, module, rva) of each stack's frames, module names."""
    module_ids = {"": 0}
    ids: list[int] = []
    known: dict[tuple[int, ...], int] = {}
    frames: list[list[tuple[int, int, int]]] = []
    for lo in range(0, len(raws), block):
        for e in sorted(set(epochs[lo : lo + block])):
            for _, _, name in sorted(maps.get(e, [])):
                module_ids.setdefault(name, len(module_ids))
        for raw, e in zip(raws[lo : lo + block], epochs[lo : lo + block], strict=True):
            live = sorted(maps.get(e, []))
            bases = [b for b, _, _ in live]
            resolved = []
            for a in rows[raw]:
                j = bisect.bisect_right(bases, a) - 1
                if j >= 0 and a < live[j][1]:
                    resolved.append((a, module_ids[live[j][2]], a - bases[j]))
                else:
                    resolved.append((a, 0, -1))
            key = tuple(w for a, m, r in resolved for w in (m, r if m > 0 else a))
            sid = known.setdefault(key, len(known))
            if sid == len(frames):
                frames.append(resolved)
            ids.append(sid)
    return ids, frames, list(module_ids)


def assert_matches(
    got: tuple[np.ndarray, ResolvedFrames],
    want: tuple[list[int], list[list[tuple[int, int, int]]], list[str]],
) -> None:
    ids, frames = got
    want_ids, want_frames, want_names = want
    assert ids.dtype == np.int64 and ids.tolist() == want_ids
    assert frames.names == want_names
    assert len(frames) == len(want_frames)
    assert frames.address.dtype == np.uint64 and frames.module.dtype == np.int32
    assert frames.rva.dtype == np.int64 and frames.offsets.dtype == np.int64
    lengths = [len(f) for f in want_frames]
    assert frames.offsets.tolist() == np.concatenate([[0], np.cumsum(lengths)]).tolist()
    flat = [x for f in want_frames for x in f]
    assert frames.address.tolist() == [a for a, _, _ in flat]
    assert frames.module.tolist() == [m for _, m, _ in flat]
    assert frames.rva.tolist() == [r for _, _, r in flat]


NAMES = ["", "nt.sys", "a.sys", "b.sys", "c.sys", "d.sys", "e.sys"]


def random_case(
    seed: int,
) -> tuple[list[list[int]], list[int], list[int], Maps]:
    """Several epochs of images (some maps empty, images adjacent, overlapping or sharing a
    base, names repeated across epochs and the empty name among them), raw stacks of
    addresses inside, outside and at the edges of the images, pairs repeating stacks."""
    rng = np.random.default_rng(seed)
    maps: Maps = {}
    edges: list[int] = [0, 2**64 - 1, 2**63]
    inside: list[int] = [1 << 21]
    for e in range(int(rng.integers(1, 7))):
        if rng.random() < 0.2:
            maps[e] = []
            continue
        live = []
        base = int(rng.integers(0, 1 << 20))
        for _ in range(int(rng.integers(1, 8))):
            size = int(rng.integers(0, 64))
            live.append((base, base + size, NAMES[int(rng.integers(0, len(NAMES)))]))
            edges += [base - 1, base, base + size - 1, base + size]
            inside += [base + int(rng.integers(0, size))] if size else []
            base += int(rng.choice([0, size, size + int(rng.integers(1, 40)), size // 2]))
        maps[e] = live
    edges = [a for a in edges if 0 <= a < 2**64]
    rows = []
    for _ in range(int(rng.integers(1, 30))):
        n = int(rng.integers(0, 9))
        row = []
        for _ in range(n):
            u = rng.random()
            if u < 0.4:
                row.append(edges[int(rng.integers(0, len(edges)))])
            elif u < 0.8:
                row.append(inside[int(rng.integers(0, len(inside)))])
            else:
                row.append(int(rng.integers(0, 1 << 21)))
        rows.append(row)
    rows.append([])  # an empty stack
    rows.append(rows[0][:])  # a raw stack equal to another (the table keeps one)
    table_rows = list({tuple(r): None for r in rows})
    pairs = int(rng.integers(1, 120))
    raws = rng.integers(0, len(table_rows), size=pairs).tolist()
    epochs = rng.integers(0, len(maps) + 1, size=pairs).tolist()  # len(maps): no map at all
    return [list(r) for r in table_rows], raws, epochs, maps


def run(
    rows: list[list[int]], raws: list[int], epochs: list[int], maps: Maps
) -> tuple[np.ndarray, ResolvedFrames]:
    return resolve_frames(
        table_of(rows),
        np.array(raws, dtype=np.int64),
        np.array(epochs, dtype=np.int64),
        image_map_of(maps),
    )


@pytest.mark.parametrize("block", [1, 3, 16, images._PAIR_BLOCK])
@pytest.mark.parametrize("seed", range(12))
def test_random_pairs_resolve_as_the_rule_says(
    path: str, seed: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "_PAIR_BLOCK", block)
    rows, raws, epochs, maps = random_case(seed)
    assert_matches(run(rows, raws, epochs, maps), oracle(rows, raws, epochs, maps, block))


@pytest.mark.parametrize("block", [2, 5, images._PAIR_BLOCK])
@pytest.mark.parametrize("seed", range(40))
def test_compiled_and_numpy_paths_agree_field_by_field(
    seed: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if images._resolve_rows is None or images._keep_rows is None:
        pytest.skip("numba is not installed or GATE_NO_NUMBA is set: no compiled path")
    monkeypatch.setattr(images, "_PAIR_BLOCK", block)
    case = random_case(1000 + seed)
    ids_c, got_c = run(*case)
    monkeypatch.setattr(images, "_resolve_rows", None)
    ids_n, got_n = run(*case)
    assert ids_c.dtype == ids_n.dtype and np.array_equal(ids_c, ids_n)
    for field in ("address", "module", "rva", "offsets"):
        c, n = getattr(got_c, field), getattr(got_n, field)
        assert c.dtype == n.dtype and np.array_equal(c, n), field
    assert got_c.names == got_n.names


def test_edges_of_an_image(path: str) -> None:
    maps: Maps = {0: [(100, 110, "a.sys"), (110, 120, "b.sys"), (200, 200, "empty.sys")]}
    rows = [[99, 100, 109, 110, 119, 120, 200, 0, 2**64 - 1]]
    ids, frames = run(rows, [0], [0], maps)
    assert ids.tolist() == [0]
    assert frames.names == ["", "a.sys", "b.sys", "empty.sys"]
    assert frames.module.tolist() == [0, 1, 1, 2, 2, 0, 0, 0, 0]
    assert frames.rva.tolist() == [-1, 0, 9, 0, 9, -1, -1, -1, -1]
    assert frames.address.tolist() == rows[0]


def test_images_sharing_a_base_take_the_last(path: str) -> None:
    # Sorted by (base, end, name), the last image at or below an address decides alone: the
    # longer of two at one base, and past the end of an image inside it, no image at all.
    maps: Maps = {0: [(100, 150, "long.sys"), (100, 105, "short.sys"), (120, 130, "in.sys")]}
    _, frames = run([[101, 110, 125, 140]], [0], [0], maps)
    assert frames.names == ["", "short.sys", "long.sys", "in.sys"]
    assert frames.module.tolist() == [2, 2, 3, 0]
    assert frames.rva.tolist() == [1, 10, 5, -1]


def test_the_same_frames_in_two_epochs_are_one_stack_or_two(path: str) -> None:
    # Epoch 1 adds an unrelated image: the stack resolves alike, one id. Epoch 2 moves a.sys:
    # the frame is elsewhere in it, a second id. Epoch 3 has no map: unresolved, a third.
    maps: Maps = {
        0: [(100, 200, "a.sys")],
        1: [(100, 200, "a.sys"), (500, 600, "other.sys")],
        2: [(90, 200, "a.sys")],
        3: [],
    }
    ids, frames = run([[150]], [0, 0, 0, 0, 0], [0, 1, 2, 3, 1], maps)
    assert ids.tolist() == [0, 0, 1, 2, 0]
    assert frames.offsets.tolist() == [0, 1, 2, 3]
    assert frames.rva.tolist() == [50, 60, -1]
    assert frames.module.tolist() == [1, 1, 0]
    assert frames.names == ["", "a.sys", "other.sys"]


def test_a_frame_in_an_image_named_empty_is_keyed_by_its_address(path: str) -> None:
    # Module 0 is "no module": a frame there keeps its offset but is told apart by address.
    maps: Maps = {0: [(100, 200, "")], 1: [(50, 200, "")]}
    ids, frames = run([[150]], [0, 0], [0, 1], maps)
    assert ids.tolist() == [0, 0]
    assert frames.module.tolist() == [0] and frames.rva.tolist() == [50]


def test_epochs_far_apart_and_negative(path: str) -> None:
    maps: Maps = {-5: [(10, 20, "neg.sys")], 10**12: [(10, 20, "far.sys")], 0: []}
    rows = [[15], [15, 30]]
    raws, epochs = [0, 1, 0, 1, 0], [10**12, -5, -5, 0, 0]
    assert_matches(run(rows, raws, epochs, maps), oracle(rows, raws, epochs, maps, 1 << 16))


def test_empty_stacks_and_no_pairs(path: str) -> None:
    ids, frames = run([[], [5]], [0, 1, 0], [0, 0, 0], {0: [(0, 10, "a.sys")]})
    assert ids.tolist() == [0, 1, 0]
    assert frames.offsets.tolist() == [0, 0, 1]
    ids, frames = run([[5]], [], [], {0: [(0, 10, "a.sys")]})
    empty = ResolvedFrames.empty()
    assert ids.tolist() == [] and frames.names == empty.names
    for field in ("address", "module", "rva", "offsets"):
        got, want = getattr(frames, field), getattr(empty, field)
        assert got.dtype == want.dtype and got.tolist() == want.tolist(), field


def test_first_new_finds_each_new_ids_first_pair() -> None:
    ids = np.array([3, 5, 1, 5, 6, 3, 7, 6, 8, 0], dtype=np.int64)
    assert images._first_new(ids, 5).tolist() == [1, 4, 6, 8]
    assert images._first_new(ids, 9).tolist() == []
    assert images._first_new(np.zeros(0, dtype=np.int64), 0).tolist() == []


def test_epoch_slots_dense_and_sparse() -> None:
    for epochs in ([4, 2, 2, 9, 4], [10**15, -3, 10**15, 0]):
        distinct, slot = images._epoch_slots(np.array(epochs, dtype=np.int64))
        assert distinct.tolist() == sorted(set(epochs))
        assert distinct[slot].tolist() == epochs
