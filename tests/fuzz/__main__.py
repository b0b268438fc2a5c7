"""The long fuzzing run: `python -m tests.fuzz --inputs 100000 --workers 2 --seed 1 --out DIR`.

Prints per input kind: inputs run, rejected (a clean GateError), crashes, hangs, blow-ups and
the distinct failure signatures; writes a reproducer for every failure under --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .runner import KindStats, Task, run_tasks, save_reproducer
from .seeds import KINDS


def _tasks(kinds: list[str], inputs: int, seed: int, whole_every: int) -> Iterator[Task]:
    """Inputs of every kind interleaved, `inputs` in all."""
    for n in range(inputs):
        kind = kinds[n % len(kinds)]
        index = n // len(kinds)
        yield Task(kind, seed, index, whole_every > 0 and index % whole_every == 0)


def report(stats: dict[str, KindStats]) -> str:
    """The per-kind table and the failure signatures, as text."""
    lines = [
        f"{'kind':<12}{'inputs':>9}{'rejected':>10}{'crashes':>9}{'hangs':>7}{'blow-ups':>10}"
        f"{'signatures':>12}"
    ]
    for kind, s in stats.items():
        lines.append(
            f"{kind:<12}{s.inputs:>9,}{s.rejected:>10,}{s.crashes:>9,}{s.hangs:>7,}"
            f"{s.blowups:>10,}{len(s.signatures):>12,}"
        )
    for kind, s in stats.items():
        for signature, count in sorted(s.signatures.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {kind}: {count:,} x {signature}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs in all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--memory-mb", type=int, default=1024, help="memory per input")
    parser.add_argument(
        "--whole-job-every", type=int, default=20, help="run gate.pipeline.check on 1 in N"
    )
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; kinds are {', '.join(KINDS)}")
    stats = {k: KindStats() for k in kinds}
    started = time.monotonic()
    tasks = _tasks(kinds, args.inputs, args.seed, args.whole_job_every)
    for n, (task, outcome) in enumerate(
        run_tasks(tasks, args.workers, args.timeout, args.memory_mb), start=1
    ):
        stats[task.kind].add(outcome)
        if outcome.status not in ("ok", "rejected"):
            save_reproducer(args.out, task, outcome)
        if n % 1000 == 0:
            rate = n / (time.monotonic() - started)
            print(f"{n:,} inputs, {rate:.1f}/s", file=sys.stderr, flush=True)
    print(report(stats))
    print(f"{sum(s.inputs for s in stats.values()):,} inputs in "
          f"{time.monotonic() - started:.0f} s; reproducers under {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
