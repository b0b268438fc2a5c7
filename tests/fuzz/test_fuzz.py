"""The short, seeded fuzzing run: a few hundred mutated inputs of every kind, in worker
processes with the long run's time and memory limits. Deterministic: the same inputs every run.
A failure that is not a known open class (known.py) fails the kind's test with how to make the
input again; a known one makes it an expected failure."""

from __future__ import annotations

import pytest

from .runner import KindStats, Task, run_tasks
from .seeds import KINDS

SEED = 20_260_101
INPUTS_PER_KIND = 300
WHOLE_JOB_EVERY = 10


@pytest.fixture(scope="module")
def campaign() -> dict[str, tuple[KindStats, list[tuple[Task, str]]]]:
    tasks = [
        Task(kind, SEED, index, index % WHOLE_JOB_EVERY == 0)
        for index in range(INPUTS_PER_KIND)
        for kind in KINDS
    ]
    results: dict[str, tuple[KindStats, list[tuple[Task, str]]]] = {
        kind: (KindStats(), []) for kind in KINDS
    }
    for task, outcome in run_tasks(iter(tasks), workers=2, timeout=20.0, memory_mb=1024):
        stats, failures = results[task.kind]
        stats.add(outcome)
        if outcome.status not in ("ok", "rejected"):
            failures.append((task, f"{outcome.status}: {outcome.signature}"))
    return results


@pytest.mark.parametrize("kind", KINDS)
def test_every_input_ends_in_a_verdict_or_one_error_line(campaign, kind: str) -> None:
    from .known import known_reason

    stats, failures = campaign[kind]
    assert stats.inputs == INPUTS_PER_KIND
    assert stats.ok >= 1  # the unmutated seeds at least are read cleanly
    new = [(t, s) for t, s in failures if known_reason(kind, s) is None]
    assert not new, "\n".join(
        f"{s} (make it again: tests.fuzz.cases.make_case({t.kind!r}, {t.seed}, {t.index}), "
        f"whole job: {t.whole_job})"
        for t, s in new
    )
    if failures:
        reasons = sorted({known_reason(kind, s) or "" for _, s in failures})
        pytest.xfail(f"{len(failures)} inputs hit known open classes: {'; '.join(reasons)}")
