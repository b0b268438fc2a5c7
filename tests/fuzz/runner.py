"""Worker processes that run inputs under a time and a memory limit, and the campaign that
feeds them, counts outcomes per kind and writes a reproducer for every failure.

A worker sets RLIMIT_AS to its own size after warming up plus the memory limit, so an input
that would take more gets MemoryError (a blow-up) instead of the machine. The warm-up reads
the unmutated seed of every kind (and the whole job once): each path maps libraries and
reserves address space of its own (DuckDB's Parquet reader, numba's kernels, the reader's
tables), and a worker that met one kind first must not count another kind's fixed cost
against the limit. The parent gives
each input `timeout` seconds; a worker still busy then is killed (a hang) and replaced. A
worker that dies (a signal, an abort in native code) is a crash of its own signature.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from .cases import make_case
from .seeds import KINDS, seeds
from .targets import Outcome, run_case

MiB = 1 << 20


@dataclass
class KindStats:
    inputs: int = 0
    ok: int = 0
    rejected: int = 0
    crashes: int = 0
    hangs: int = 0
    blowups: int = 0
    signatures: dict[str, int] = field(default_factory=dict)  # failure signature -> inputs

    def add(self, outcome: Outcome) -> None:
        self.inputs += 1
        if outcome.status in ("ok", "rejected"):
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)
            return
        counter = {"crash": "crashes", "hang": "hangs", "blowup": "blowups"}[outcome.status]
        setattr(self, counter, getattr(self, counter) + 1)
        key = f"{outcome.status}: {outcome.signature}"
        self.signatures[key] = self.signatures.get(key, 0) + 1


@dataclass(frozen=True)
class Task:
    kind: str
    seed: int
    index: int
    whole_job: bool


def _vm_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


def _worker(conn: Connection, memory_mb: int) -> None:
    """Run tasks until told to stop; the first task's run is the warm-up before the limit."""
    os.environ.setdefault("GATE_MEMORY_LIMIT", f"{max(memory_mb // 2, 64)}MB")
    limited = False
    while True:
        task = conn.recv()
        if task is None:
            return
        if not limited:
            _warm_up(task.seed)
        case = make_case(task.kind, task.seed, task.index)
        with tempfile.TemporaryDirectory(prefix="gate-fuzz-") as tmp:
            outcome = run_case(case, Path(tmp), task.whole_job)
        if not limited and hasattr(resource, "RLIMIT_AS"):
            cap = _vm_bytes() + memory_mb * MiB
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            limited = True
        conn.send(outcome)


def _warm_up(seed: int) -> None:
    """Run every kind's unmutated seeds once (the first inputs of each kind), the first of
    them with the whole job."""
    first = True
    for kind in KINDS:
        for index in range(len(seeds(kind))):
            with tempfile.TemporaryDirectory(prefix="gate-fuzz-") as tmp:
                run_case(make_case(kind, seed, index), Path(tmp), whole_job=first)
            first = False


class _Slot:
    """One worker process and the task it is on."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, memory_mb: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, memory_mb), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None
        self.deadline = 0.0

    def give(self, task: Task, timeout: float) -> None:
        self.task, self.deadline = task, time.monotonic() + timeout
        self.conn.send(task)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def run_tasks(
    tasks: Iterator[Task], workers: int, timeout: float, memory_mb: int
) -> Iterator[tuple[Task, Outcome]]:
    """Each task with its outcome, in the order they finish."""
    ctx = multiprocessing.get_context("spawn")
    slots = [_Slot(ctx, memory_mb) for _ in range(workers)]
    pending = iter(tasks)
    # The first input of a worker also pays for its imports and seeds: it gets longer.
    for slot in slots:
        task = next(pending, None)
        if task is not None:
            slot.give(task, timeout * 3)
    try:
        while any(s.task for s in slots):
            busy = [s for s in slots if s.task]
            left = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], left)
            for i, slot in enumerate(slots):
                if slot.task is None:
                    continue
                task = slot.task
                outcome = None
                if slot.conn in ready:
                    try:
                        outcome = slot.conn.recv()
                    except (EOFError, OSError):
                        outcome = None
                if outcome is None and (slot.proc.sentinel in ready or slot.conn in ready):
                    slot.proc.join(5)
                    code = slot.proc.exitcode
                    outcome = Outcome("crash", f"worker died (exit code {code})")
                elif outcome is None and time.monotonic() >= slot.deadline:
                    outcome = Outcome("hang", f"over {timeout:g} s")
                if outcome is None:
                    continue
                if outcome.status in ("hang",) or outcome.signature.startswith("worker died"):
                    slot.kill()
                    slots[i] = slot = _Slot(ctx, memory_mb)
                    next_timeout = timeout * 3
                else:
                    next_timeout = timeout
                slot.task = None
                yield task, outcome
                following = next(pending, None)
                if following is not None:
                    slot.give(following, next_timeout)
    finally:
        for slot in slots:
            if slot.proc.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
            slot.proc.join(2)
            if slot.proc.is_alive():
                slot.kill()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:80].strip("-")


def save_reproducer(out: Path, task: Task, outcome: Outcome, per_signature: int = 50) -> None:
    """The input's files and what happened, under out/KIND/SIGNATURE/INDEX/."""
    folder = out / task.kind / _slug(f"{outcome.status}-{outcome.signature}")
    if folder.is_dir() and len(list(folder.iterdir())) >= per_signature:
        return
    case = make_case(task.kind, task.seed, task.index)
    target = folder / f"{task.index:08d}"
    shutil.rmtree(target, ignore_errors=True)
    case.write(target / "input")
    info = {
        "kind": task.kind,
        "seed": task.seed,
        "index": task.index,
        "entry": case.entry,
        "whole_job": task.whole_job,
        "mutations": case.notes,
        "status": outcome.status,
        "signature": outcome.signature,
    }
    (target / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (target / "traceback.txt").write_text(outcome.detail, encoding="utf-8")
