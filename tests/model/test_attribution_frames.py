"""The attribution step on random stacks: each stack's attributing frame and every frame's name
are what the plain per-frame definitions give (metrics.md, "Which driver an allocation
belongs to"), whatever the mix of skipped, unknown, named and unnamed frames."""

from __future__ import annotations

import random

from gate.sql import ModelConfig, build_model
from gate.store import Store

# The definitions spelled frame by frame, as the model first wrote them: the reference.
REFERENCE_ATTRIBUTION = """
SELECT f.trace_id, f.stack_id,
    arg_min(f.module, f.frame_index) FILTER (WHERE keep) AS module,
    min(f.frame_index) FILTER (WHERE keep) AS frame_index,
    arg_min(
        CASE WHEN f.function IS NOT NULL THEN f.module || '!' || f.function
             ELSE f.module || '+0x' || lower(printf('%x', f.rva_bytes)) END,
        f.frame_index
    ) FILTER (WHERE keep) AS call_site
FROM (
    SELECT *, module <> '' AND module NOT IN (SELECT module FROM cfg_skip_modules) AS keep
    FROM stack_frames
) AS f
GROUP BY f.trace_id, f.stack_id
"""
REFERENCE_FRAMES = """
SELECT trace_id, stack_id, frame_index, module, rva_bytes, function,
    CASE WHEN function IS NOT NULL THEN module || '!' || function
         WHEN module <> '' AND rva_bytes IS NOT NULL
             THEN module || '+0x' || lower(printf('%x', rva_bytes))
         ELSE '0x' || lower(printf('%x', address)) END AS frame
FROM stack_frames
"""
MODULES = ["", "ntoskrnl.exe", "hal.dll", "wdf01000.sys", "a.sys", "b.sys", "skipme.sys"]


def _random_frames(rng: random.Random, traces: int, stacks: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for trace_id in range(1, traces + 1):
        for stack_id in range(stacks):
            for frame_index in range(rng.randint(1, 12)):
                module = rng.choice(MODULES)
                address = rng.choice([0, rng.getrandbits(64), 0xFFFFF80612000000 + frame_index])
                rva = (
                    None
                    if not module or rng.random() < 0.1
                    else rng.choice([0, rng.getrandbits(31), -rng.getrandbits(20), 0xFFF])
                )
                function = rng.choice([None, None, f"Fn{frame_index}", "A::B<int>"])
                module_id = MODULES.index(module)
                rows.append((trace_id, stack_id, frame_index, address, module_id, rva, function))
    rng.shuffle(rows)  # the model may not rely on the order rows were stored in
    return rows


def _rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    return sorted(store.con.execute(sql).fetchall(), key=repr)


def test_attributing_frames_and_frame_names_match_the_per_frame_definitions() -> None:
    rng = random.Random(14)
    with Store() as store:
        store.con.executemany(
            "INSERT INTO stack_frame_rows VALUES (?, ?, ?, ?, ?, ?, ?)",
            _random_frames(rng, 2, 400),
        ).fetchall()
        store.con.executemany(
            "INSERT INTO frame_modules VALUES (?, ?, ?)",
            [(t, i, m) for t in (1, 2) for i, m in enumerate(MODULES)],
        ).fetchall()
        build_model(store.con, ModelConfig(extra_skip_modules=("SkipMe.sys",)))
        got = _rows(store, "SELECT * FROM _stack_attribution")
        reference = _rows(store, REFERENCE_ATTRIBUTION)
        # A stack with no kept frame has no row: nothing attributes it.
        assert got == [r for r in reference if r[2] is not None]
        assert 0 < len(got) < len(reference) == 800
        assert any("!" in str(r[4]) for r in got) and any("+0x" in str(r[4]) for r in got)
        frames = _rows(store, "SELECT * FROM frames")
        assert frames == _rows(store, REFERENCE_FRAMES)
        assert any(str(r[6]).startswith("0x") for r in frames)
