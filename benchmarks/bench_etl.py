"""Throughput and peak memory of the `.etl` path on a large synthetic boot trace.

Not a test: run it by hand (Linux only; it reads peak RSS from wait4()).

    python benchmarks/bench_etl.py --events 5000000            # ~1 GB uncompressed trace
    python benchmarks/bench_etl.py --events 500000 --uncompressed --backends numba

It builds a boot scenario programmatically (about 40 drivers, a few hundred allocation patterns
with call stacks of 10–40 frames, frees for most of them), writes it with the gate's own `.etl`
writer (`gate.synthetic.etl.write_scenario_etl`), then times each of these in a fresh subprocess so
that peak RSS belongs to that run alone:

* `reader`  - `gate.inputs.etl.reader.read_etl` alone, every chunk consumed (decode, sort,
  stack match)
* `ingest`  - `gate ingest TRACE --out DIR` (decode + attribution + DuckDB load + Parquet export)
* `check`   - `gate check TRACE -b budgets.yaml` (the whole job, reports included)

for uncompressed and compressed traces, with the numba kernels (the default install) and without
(`GATE_NO_NUMBA=1`, the project's switch read by gate/inputs/etl/jit.py).
When an existing Python parser, etl-parser (PyPI, Apache-2.0), is importable by the Python
given with `--etl-parser-python` (or by this one), it is timed on a smaller trace written the
same way and on a real Windows trace, next to gate's reader on the same files. It is never a
dependency of the project: install it in a throwaway virtualenv.

Wall-clock seconds include interpreter start and imports (about 1 s), as a CI job sees them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(os.environ.get("GATE_BENCH_SRC") or Path(__file__).resolve().parent.parent)
CORPUS_FILE = Path("/work/shared/corpus/etl/ShutdownPerfDiagLogger.etl")
DURATION_S = 120.0
CPUS = 8


# --- the scenario ---------------------------------------------------------------------------

_DRIVERS = [
    "ACPI.sys", "pci.sys", "ndis.sys", "tcpip.sys", "netio.sys", "afd.sys", "Ntfs.sys",
    "fltmgr.sys", "volmgr.sys", "disk.sys", "classpnp.sys", "storport.sys", "stornvme.sys",
    "usbxhci.sys", "ucx01000.sys", "usbhub3.sys", "hidclass.sys", "kbdclass.sys",
    "mouclass.sys", "dxgkrnl.sys", "watchdog.sys", "cng.sys", "ksecdd.sys", "volsnap.sys",
    "mountmgr.sys", "partmgr.sys", "intelppm.sys", "HDAudBus.sys", "portcls.sys", "nvlddmkm.sys",
    "iaStorAC.sys", "bthport.sys", "wdiwifi.sys", "netwtw10.sys", "contosonet.sys",
    "contosocam.sys", "fabrikamsensor.sys", "tpm.sys",
]  # fmt: skip
MAX_DRIVERS = 400
DEFAULT_DRIVERS = 40
PATTERNS_PER_DRIVER = 6
# Distinct stacks per pool event of the default trace: 100,000 for 5 M events, as a real boot
# of that size has tens to hundreds of thousands.
STACKS_PER_EVENT = 100_000 / 5_000_000
SWEEP_STACKS = (200, 10_000, 100_000, 1_000_000)
_KERNEL_BASE = 0xFFFFF806_12000000
_DRIVER_BASE = 0xFFFFF806_14000000
_DRIVER_SPAN = 0x800000  # address room per driver image
_NT_SIZE = 0x1046000
# Frames that make a stack variant distinct: two ntoskrnl frames, one per base-4096 digit of
# the variant's number, so every variant differs from every other by construction.
_DIGIT_RVA = 0x400000
_DIGIT_BASE = 4096


def driver_names(n: int) -> list[str]:
    """`n` driver file names: the well-known ones first, then drv000.sys, drv001.sys, ..."""
    if not 1 <= n <= MAX_DRIVERS:
        raise SystemExit(f"--drivers must be 1..{MAX_DRIVERS}")
    return (_DRIVERS + [f"drv{i:03d}.sys" for i in range(n)])[:n]


def default_stacks(pool_events: int) -> int:
    return max(1, round(pool_events * STACKS_PER_EVENT))


def _images(rng: object, names: list[str]) -> list[dict]:
    images = [
        {"path": r"\SystemRoot\system32\ntoskrnl.exe", "base": _KERNEL_BASE, "size": _NT_SIZE},
        {"path": r"\SystemRoot\system32\hal.dll", "base": _KERNEL_BASE - 0x100000, "size": 0x6000},
        {
            "path": r"\SystemRoot\System32\drivers\Wdf01000.sys",
            "base": _DRIVER_BASE - 0x200000,
            "size": 0xD8000,
            "load_s": 0.1,
        },
    ]
    for i, name in enumerate(names):
        img = {
            "path": rf"\SystemRoot\System32\drivers\{name}",
            "base": _DRIVER_BASE + i * _DRIVER_SPAN,
            "size": int(rng.integers(0x10000, 0x400000)) & ~0xFFF,  # type: ignore[attr-defined]
        }
        if i % 5:  # most drivers load during the boot, a few come from the boot loader
            img["load_s"] = round(float(rng.uniform(0.05, 10.0)), 3)  # type: ignore[attr-defined]
        images.append(img)
    return images


def build_scenario_dict(
    pool_events: int, drivers: int = DEFAULT_DRIVERS, stacks_per_driver: int = 6, seed: int = 11
) -> dict:
    """A `parse_scenario` mapping with about `pool_events` pool events (allocations + frees)
    from `drivers` drivers, 6 allocation patterns each; with `stacks_per_driver` < 6 the
    patterns of a driver share that many stacks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = driver_names(drivers)
    images = _images(rng, names)
    # Allocation patterns: 6 per driver. Each has its own stack (kernel frames below the
    # driver's, some through the framework) and a lifetime class.
    kinds = ["resident", "transient", "transient", "medium", "resident", "transient"]
    free_share = {"resident": 0.0, "transient": 1.0, "medium": 1.0}
    weights = rng.uniform(0.2, 1.0, size=len(names) * len(kinds))
    expected_events = sum(
        w * (1 + free_share[kinds[j % len(kinds)]]) for j, w in enumerate(weights)
    )
    scale = pool_events / expected_events
    allocations = []
    for i, name in enumerate(names):
        mod = name.lower()
        tag_base = (name.split(".")[0].capitalize() + "xxxx")[:3]
        for j, kind in enumerate(kinds):
            count = max(1, round(weights[i * len(kinds) + j] * scale))
            depth = int(rng.integers(10, 41))
            own = int(rng.integers(2, 7))
            frames = [f"ntoskrnl.exe+0x{0x3B1A40 + 0x10 * j:x}"]
            frames += [f"{mod}+0x{int(x):x}" for x in rng.integers(0x1000, 0xF000, own)]
            if j % 2:
                frames += [f"wdf01000.sys+0x{int(x):x}" for x in rng.integers(0x1000, 0xD0000, 3)]
            while len(frames) < depth:
                frames.append(f"ntoskrnl.exe+0x{int(rng.integers(0x1000, 0x1000000)):x}")
            start = round(float(rng.uniform(0.0, 20.0)), 3)
            a = {
                "tag": f"{tag_base}{j}",
                "pool": "paged" if j == 4 else ("nonpaged_nx" if j == 5 else "nonpaged"),
                "size": [64, 4096] if kind == "transient" else int(rng.integers(16, 8192)),
                "count": count,
                "start_s": start,
                "stack": frames,
            }
            if kind == "transient":
                a["lifetime_s"] = round(float(rng.uniform(0.0005, 0.5)), 4)
            elif kind == "medium":
                a["lifetime_s"] = round(float(rng.uniform(5.0, 30.0)), 3)
            life = a.get("lifetime_s", 0.0)
            a["end_s"] = round(DURATION_S - 1.0 - life, 3)
            allocations.append(a)
    for i in range(len(names)):  # patterns of one driver sharing its first stacks
        own = allocations[i * len(kinds) : (i + 1) * len(kinds)]
        for j, a in enumerate(own):
            a["stack"] = own[j % max(stacks_per_driver, 1)]["stack"]
    return {
        "scenario": 1,
        "name": f"bench boot {pool_events} pool events",
        "duration_s": DURATION_S,
        "cpus": CPUS,
        "seed": seed,
        "start_utc": "2026-11-20T08:00:00Z",
        "images": images,
        "allocations": allocations,
    }


class StackVariants(Sequence):
    """The distinct stacks of a diversified trace, built one at a time when the writer asks.

    Stack g is its pattern's own frames (the allocator entry, the driver's frames, the
    framework's), two frames that spell g, then ntoskrnl frames up to its depth (10-40).
    """

    def __init__(self, prefixes: list[tuple], family: object, filler: object, seed: int) -> None:
        import numpy as np

        from gate.inputs.scenario.model import Frame

        rng = np.random.default_rng(seed)
        self.prefixes = prefixes
        self.family = family
        n = len(family)  # type: ignore[arg-type]
        pre = np.array([len(p) for p in prefixes], dtype=np.int64)[family]
        depth = np.maximum(rng.integers(10, 41, n), pre + 2)
        fill = depth - pre - 2
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(fill, out=self.offsets[1:])
        self.fill = rng.integers(0, len(filler), int(self.offsets[-1])).astype(np.uint16)  # type: ignore[arg-type]
        self.filler = filler
        self.digits = [Frame("ntoskrnl.exe", _DIGIT_RVA + 0x10 * d) for d in range(_DIGIT_BASE)]

    def __len__(self) -> int:
        return len(self.family)  # type: ignore[arg-type]

    def __getitem__(self, g: int) -> tuple:  # type: ignore[override]
        if not 0 <= g < len(self):
            raise IndexError(g)
        hi, lo = divmod(g, _DIGIT_BASE)
        fill = self.fill[self.offsets[g] : self.offsets[g + 1]].tolist()
        filler = self.filler
        return (
            self.prefixes[self.family[g]]  # type: ignore[index]
            + (self.digits[hi % _DIGIT_BASE], self.digits[lo])
            + tuple([filler[k] for k in fill])  # type: ignore[index]
        )


def _variants_per_family(counts: object, distinct: int) -> object:
    """Variants per stack family: about its share of the allocations, 1..its allocations,
    summing to `distinct` (at most the allocations)."""
    import numpy as np

    c = np.asarray(counts, dtype=np.int64)
    distinct = min(distinct, int(c.sum()))
    quota = np.clip(c * distinct // max(int(c.sum()), 1), 1, c)
    while int(quota.sum()) != distinct:
        short = distinct - int(quota.sum())
        room = np.flatnonzero(quota < c) if short > 0 else np.flatnonzero(quota > 1)
        step = np.zeros(len(c), dtype=np.int64)
        take = room[: abs(short)]
        step[take] = 1 if short > 0 else -1
        quota += step
    return quota


def diversify_stacks(trace: object, distinct: int, seed: int = 5) -> None:
    """Give the trace's allocations `distinct` different stacks (when there are more than
    its patterns' stacks), in place.

    Each pattern's stack becomes a family of variants with the same driver frames: every
    variant is used at least once, the rest of a family's allocations pick variants with a
    skew towards its first ones (a few call sites allocate most, as in a real boot).
    """
    import numpy as np

    from gate.inputs.scenario.model import Frame

    t = trace
    has = np.flatnonzero(t.stack_id >= 0)  # type: ignore[attr-defined]
    if distinct <= len(t.stacks) or len(has) == 0:  # type: ignore[attr-defined]
        return
    rng = np.random.default_rng(seed)
    fam = t.stack_id[has]  # type: ignore[attr-defined]
    n_fam = len(t.stacks)  # type: ignore[attr-defined]
    quota = _variants_per_family(np.bincount(fam, minlength=n_fam), distinct)
    base = np.concatenate([[0], np.cumsum(quota)[:-1]])
    order = rng.permutation(len(has))
    order = order[np.argsort(fam[order], kind="stable")]
    first = np.searchsorted(fam[order], np.arange(n_fam))
    rank = np.arange(len(order)) - first[fam[order]]
    q = quota[fam[order]]
    skewed = (q * rng.random(len(order)) ** 3).astype(np.int64)
    variant = np.where(rank < q, rank, np.minimum(skewed, q - 1))
    new_id = np.empty(len(has), dtype=np.int64)
    new_id[order] = base[fam[order]] + variant
    t.stack_id[has] = new_id  # type: ignore[attr-defined]
    prefixes = []
    for frames in t.stacks:  # type: ignore[attr-defined]
        last = max(i for i, f in enumerate(frames) if i == 0 or f.module != "ntoskrnl.exe")
        prefixes.append(tuple(frames[: last + 1]))
    filler = [Frame("ntoskrnl.exe", int(x)) for x in rng.integers(0x1000, _DIGIT_RVA, 4096)]
    family = np.repeat(np.arange(n_fam), quota)
    t.stacks = StackVariants(prefixes, family, filler, seed)  # type: ignore[attr-defined]


def budgets_text(drivers: int) -> str:
    """A budget file with a budget for each of the scenario's drivers."""
    lines = [
        "version: 1",
        "warn_at: 80%",
        "unbudgeted: warn",
        "attribution:",
        "  skip_modules: [wdf01000.sys]",
        "drivers:",
        '  "*": {nonpaged_impacting_bytes: 64 MiB}',
    ]
    for name in driver_names(drivers):
        name = name.lower()
        if name == "ntfs.sys":
            lines.append(f"  {name}: {{owner: storage-fs, nonpaged_impacting_bytes: 256 MiB}}")
        elif name == "contosonet.sys":
            lines.append(f"  {name}: {{owner: networking, nonpaged_impacting_bytes: 1 MiB}}")
        else:
            lines.append(f"  {name}: {{owner: team-{name[:-4]}, nonpaged_impacting_bytes: 64 MiB}}")
    lines += ["totals:", "  nonpaged_impacting_bytes: 64 GiB", ""]
    return "\n".join(lines)


def trace_tag(events: int, stacks: int, drivers: int) -> str:
    return f"{events}-s{stacks}-d{drivers}"


def write_traces(
    events: int, stacks: int, drivers: int, out_dir: Path, kinds: list[str]
) -> dict[str, Path]:
    """Write the scenario's trace once per kind ('uncompressed', 'compressed')."""
    from gate.inputs.scenario import generate, parse_scenario
    from gate.synthetic.etl import write_scenario_etl

    tag = trace_tag(events, stacks, drivers)
    paths = {k: out_dir / f"boot-{tag}-{k}.etl" for k in kinds}
    missing = [k for k in kinds if not paths[k].exists()]
    if not missing:
        return paths
    t0 = time.perf_counter()
    per_driver = min(PATTERNS_PER_DRIVER, max(1, stacks // drivers))
    doc = build_scenario_dict(events, drivers, per_driver)
    trace = generate(parse_scenario(doc, "<bench>"))
    diversify_stacks(trace, stacks)
    print(
        f"  scenario: {trace.event_count:,} pool events, "
        f"{int((trace.stack_id >= 0).sum()):,} with stacks, {len(trace.stacks):,} distinct "
        f"stacks, {drivers} drivers ({time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    for k in missing:
        t0 = time.perf_counter()
        write_scenario_etl(trace, paths[k], compress=(k == "compressed"))
        mb = paths[k].stat().st_size / 1e6
        print(f"  wrote {paths[k]} ({mb:,.0f} MB, {time.perf_counter() - t0:.0f} s)", flush=True)
    return paths


# --- children: each measured run is its own process ----------------------------------------


def child_load(path: str) -> None:
    """The reader and the DuckDB load, nothing written: what `gate check` does before its SQL
    model, and what "decoded, attributed and loaded" measures."""
    from gate.inputs.etl.reader import read_etl
    from gate.store import Store

    with Store() as store:
        store.add_trace(read_etl(path))
        rows = store.con.execute("SELECT count(*) FROM pool_allocations").fetchall()[0][0]
    print(json.dumps({"pool_allocations": rows}))


def child_reader(path: str) -> None:
    t0 = time.perf_counter()
    from gate.inputs.etl.reader import read_etl

    pool = 0  # events: allocations, plus frees (those that closed one, and unmatched ones)
    stack_ids = 0
    info = None
    for item in read_etl(path):
        table = getattr(item, "table", None)
        if table == "stack_frames" and item.rows:
            stack_ids = max(stack_ids, int(item.columns["stack_id"].max()) + 1)
        elif table == "pool_allocations":
            pool += item.rows + int((item.columns["free_kind"] == "freed").sum())
        elif table == "pool_unmatched_frees":
            pool += item.rows
        elif table is None:
            info = item
    records = info.records_total if info else 0
    work_s = time.perf_counter() - t0
    print(
        json.dumps(
            {"records": records, "pool_events": pool, "stack_ids": stack_ids, "work_s": work_s}
        )
    )


def child_etl_parser(path: str) -> None:
    """etl-parser 1.0.1: parse every record and decode its MOF, as its README shows."""
    t0 = time.perf_counter()
    from etl.etl import IEtlFileObserver, build_from_stream

    counts: dict[str, float] = {"records": 0, "decoded": 0, "errors": 0}

    def mof(obj: object) -> None:
        counts["records"] += 1
        try:
            obj.get_mof()  # type: ignore[attr-defined]
            counts["decoded"] += 1
        except Exception:
            counts["errors"] += 1

    class Observer(IEtlFileObserver):
        def on_event_record(self, event):  # type: ignore[no-untyped-def]
            counts["records"] += 1

        def on_trace_record(self, event):  # type: ignore[no-untyped-def]
            counts["records"] += 1

        def on_perfinfo_trace(self, obj):  # type: ignore[no-untyped-def]
            mof(obj)

        def on_system_trace(self, obj):  # type: ignore[no-untyped-def]
            mof(obj)

        def on_win_trace(self, obj):  # type: ignore[no-untyped-def]
            counts["records"] += 1

    with open(path, "rb") as f:
        build_from_stream(f.read()).parse(Observer())
    counts["work_s"] = time.perf_counter() - t0
    print(json.dumps(counts))


def run_child(cmd: list[str], env: dict[str, str], cores: int | None = None) -> dict:
    """Run `cmd` via os.wait4 so ru_maxrss is this child's alone; with `cores`, pinned to
    that many CPUs (the gate then sizes its worker threads to them)."""
    t0 = time.perf_counter()
    pin = None
    if cores is not None:
        cpus = sorted(os.sched_getaffinity(0))[:cores]

        def pin() -> None:
            os.sched_setaffinity(0, cpus)

    with open(os.devnull, "rb") as devnull:
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        proc = subprocess.Popen(
            cmd, env=env, stdin=devnull, stdout=w_out, stderr=w_err, preexec_fn=pin
        )
        os.close(w_out)
        os.close(w_err)
        with os.fdopen(r_out, "rb") as fo, os.fdopen(r_err, "rb") as fe:
            # Small outputs only (a JSON line, a verdict table): read stdout, then stderr.
            out = fo.read().decode(errors="replace")
            err = fe.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rc": proc.returncode,
        "rss_mib": usage.ru_maxrss / 1024,  # Linux: KiB
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "stdout": out,
        "stderr": err,
    }


def _env(numba: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("GATE_NO_NUMBA", None)
    if not numba:
        env["GATE_NO_NUMBA"] = "1"
    return env


def gate_cmd(mode: str, trace: Path, work: Path, budgets: Path) -> list[str]:
    if mode in ("reader", "load"):
        return [sys.executable, str(Path(__file__).resolve()), f"--child-{mode}", str(trace)]
    if mode == "ingest":
        return [sys.executable, "-m", "gate", "ingest", str(trace), "--out", str(work / "norm")]
    return [
        sys.executable, "-m", "gate", "check", str(trace), "-b", str(budgets),
        "--json", str(work / "report.json"), "--junit", str(work / "junit.xml"),
        "--markdown", str(work / "summary.md"),
    ]  # fmt: skip


def measure(
    mode: str, trace: Path, numba: bool, work: Path, budgets: Path, cores: int | None
) -> dict:
    if (work / "norm").exists():
        shutil.rmtree(work / "norm")
    r = run_child(gate_cmd(mode, trace, work, budgets), _env(numba), cores)
    ok = r["rc"] == 0 or (mode == "check" and r["rc"] == 1)  # 1 = a driver over budget
    if not ok:
        raise SystemExit(f"{mode} on {trace} failed (exit {r['rc']}):\n{r['stderr'][-3000:]}")
    return r


def spawn_json(cmd: list[str]) -> object:
    """Run a helper child (progress goes to our stdout) and parse its last stdout line."""
    r = subprocess.run(cmd, env=_env(True), stdout=subprocess.PIPE, text=True, check=True)
    lines = r.stdout.rstrip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    return json.loads(lines[-1])


def spawn_write(
    events: int, stacks: int, drivers: int, out_dir: Path, kinds: list[str]
) -> dict[str, Path]:
    cmd = [sys.executable, __file__, "--child-write", str(events), str(stacks), str(drivers)]
    got = spawn_json([*cmd, str(out_dir), ",".join(kinds)])
    assert isinstance(got, dict)
    return {k: Path(v) for k, v in got.items()}


# --- table ----------------------------------------------------------------------------------


def fmt_row(row: dict) -> str:
    rec_s = row["records"] / row["seconds"] if row["records"] else 0
    return (
        f"| {row['what']} | {row['trace']} | {row['stacks']:,} | {row['backend']} | "
        f"{row['cores']} | {row['records']:,} | "
        f"{row['pool_events']:,} | {row['file_mb']:,.1f} | {row['seconds']:,.1f} | "
        f"{rec_s:,.0f} | {row['file_mb'] / row['seconds']:,.1f} | {row['rss_mib']:,.0f} | "
        f"{row['cpu_s']:,.1f} | {row['cpu_s'] / row['seconds']:.2f} |"
    )


HEADER = (
    "| run | trace | stacks | backend | cores | records | pool events | file MB | seconds "
    "| records/s | MB/s | peak RSS MiB | CPU s | CPU/wall |\n"
    "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _counts(r: dict) -> dict:
    return json.loads(r["stdout"].strip().splitlines()[-1])


def measure_traces(
    traces: dict[str, Path], stacks: int, args: argparse.Namespace, setup: dict
) -> list[dict]:
    """Every (backend, cores, mode) run on each trace, printed as table rows as they finish."""
    rows: list[dict] = []
    work, budgets = setup["work"], setup["budgets"]
    for k, trace in traces.items():
        mb = trace.stat().st_size / 1e6
        for backend, cores in [(b, c) for b in setup["backends"] for c in setup["cores"]]:
            counts = None
            for mode in setup["modes"]:
                r = measure(mode, trace, backend == "numba", work, budgets, cores)
                if mode == "reader":
                    counts = _counts(r)
                if counts is None:  # reader not asked for: count once, untimed
                    counts = _counts(
                        run_child(gate_cmd("reader", trace, work, budgets), _env(True))
                    )
                row = {
                    "what": f"gate {mode}",
                    "trace": k,
                    "stacks": stacks,
                    "stack_ids": counts.get("stack_ids", 0),
                    "backend": backend,
                    "cores": cores or setup["n_cpus"],
                    "records": counts["records"],
                    "pool_events": counts["pool_events"],
                    "file_mb": mb,
                    "seconds": r["seconds"],
                    "rss_mib": r["rss_mib"],
                    "cpu_s": r["cpu_s"],
                }
                rows.append(row)
                print(fmt_row(row), flush=True)
    return rows


def print_sweep_ratios(rows: list[dict]) -> None:
    """Seconds and peak RSS of each run relative to the same run on the fewest stacks."""
    fewest = min(r["stacks"] for r in rows)
    base = {
        (r["what"], r["trace"], r["backend"], r["cores"]): r for r in rows if r["stacks"] == fewest
    }
    print(f"\n## relative to {fewest:,} distinct stacks (same run, same trace size)\n")
    print(
        "| run | trace | backend | cores | stacks | stack ids | seconds × | CPU s × "
        "| peak RSS × |\n|---|---|---|---:|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        b = base.get((r["what"], r["trace"], r["backend"], r["cores"]))
        if b is None:
            continue
        print(
            f"| {r['what']} | {r['trace']} | {r['backend']} | {r['cores']} | {r['stacks']:,} | "
            f"{r['stack_ids']:,} | {r['seconds'] / b['seconds']:.2f} | "
            f"{r['cpu_s'] / b['cpu_s']:.2f} | {r['rss_mib'] / b['rss_mib']:.2f} |"
        )


def compare_etl_parser(args: argparse.Namespace, setup: dict) -> list[dict]:
    """gate's reader and etl-parser on the same files, when etl-parser is importable."""
    py = args.etl_parser_python
    if py is None:
        probe = subprocess.run([sys.executable, "-c", "import etl.etl"], capture_output=True)
        py = sys.executable if probe.returncode == 0 else None
    if py is None:
        print("\netl-parser is not importable: comparison skipped (see benchmarks/README.md)")
        return []
    work, budgets = setup["work"], setup["budgets"]
    files: list[tuple[str, Path]] = []
    if args.compare_events:
        n = args.compare_events
        small = spawn_write(
            n, default_stacks(n), args.drivers, setup["out"], ["uncompressed", "compressed"]
        )
        files += [(f"synthetic {k}", p) for k, p in small.items()]
    if CORPUS_FILE.exists():
        files.append((CORPUS_FILE.name, CORPUS_FILE))
    print("\n## comparison with etl-parser (same files)\n")
    print(
        "| parser | file | file MB | records seen | decoded / errors | seconds | in-process s "
        "| records/s (in-process) | MB/s (in-process) | peak RSS MiB |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows: list[dict] = []
    for label, path in files:
        mb = path.stat().st_size / 1e6
        g = run_child(gate_cmd("reader", path, work, budgets), _env(True))
        gc = _counts(g)
        e = run_child(
            [py, str(Path(__file__).resolve()), "--child-etl-parser", str(path)],
            {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        if e["rc"] != 0:
            ec = {"records": 0, "decoded": 0, "errors": 0, "work_s": e["seconds"]}
            note = f"failed: {e['stderr'].strip().splitlines()[-1][:80]}"
        else:
            ec = _counts(e)
            note = f"{ec['decoded']:,} MOF / {ec['errors']:,} errors"
        for name, res, c, dec, w in (
            ("gate reader", g, gc["records"], f"{gc['pool_events']:,} pool events", gc),
            ("etl-parser 1.0.1", e, ec["records"], note, ec),
        ):
            ws = w["work_s"]
            print(
                f"| {name} | {label} | {mb:,.1f} | {int(c):,} | {dec} | {res['seconds']:,.2f} "
                f"| {ws:,.2f} | {c / ws:,.0f} | {mb / ws:,.1f} | {res['rss_mib']:,.0f} |",
                flush=True,
            )
            rows.append(
                {
                    "what": name,
                    "trace": label,
                    "records": c,
                    "seconds": res["seconds"],
                    "work_s": ws,
                    "file_mb": mb,
                    "rss_mib": res["rss_mib"],
                    "detail": dec,
                }
            )
    return rows


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=5_000_000, help="pool events (allocs + frees)")
    ap.add_argument(
        "--distinct-stacks",
        type=int,
        default=None,
        help="distinct call stacks of 10-40 frames in the trace (default: 100,000 per 5 M "
        "events, scaled with --events)",
    )
    ap.add_argument(
        "--drivers",
        type=int,
        default=DEFAULT_DRIVERS,
        help=f"drivers in the scenario, each with a budget (1..{MAX_DRIVERS})",
    )
    ap.add_argument(
        "--sweep",
        nargs="?",
        const=",".join(str(n) for n in SWEEP_STACKS),
        default=None,
        help="run everything once per distinct-stack count (comma list; default "
        f"{','.join(str(n) for n in SWEEP_STACKS)}) on traces of the same size",
    )
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/gate-bench"))
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--compressed", dest="kinds", action="store_const", const=["compressed"])
    kind.add_argument("--uncompressed", dest="kinds", action="store_const", const=["uncompressed"])
    kind.add_argument(
        "--both", dest="kinds", action="store_const", const=["uncompressed", "compressed"]
    )
    ap.add_argument("--keep", action="store_true", help="keep the traces for the next run")
    ap.add_argument(
        "--backends",
        default="numba,python",
        help="comma list: numba (the default install), python (GATE_NO_NUMBA=1)",
    )
    ap.add_argument("--modes", default="reader,load,ingest,check", help="comma list")
    ap.add_argument(
        "--cores",
        default="all",
        help="comma list of CPU counts to run on: 'all' (every core), or a number (runs "
        "pinned to that many cores), e.g. all,1",
    )
    ap.add_argument(
        "--etl-parser-python",
        default=None,
        help="a Python that can `import etl` (etl-parser); default: this one if it can",
    )
    ap.add_argument(
        "--compare-events",
        type=int,
        default=100_000,
        help="pool events in the smaller trace used for the etl-parser comparison (0: skip)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument(
        "--gate-src",
        type=Path,
        default=None,
        help="measure the gate package in this folder (e.g. a `git archive` snapshot of one "
        "commit) instead of this checkout",
    )
    ap.add_argument("--child-reader", help=argparse.SUPPRESS)
    ap.add_argument("--child-load", help=argparse.SUPPRESS)
    ap.add_argument("--child-etl-parser", help=argparse.SUPPRESS)
    ap.add_argument("--child-write", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--child-backends", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args()


def run_child_mode(args: argparse.Namespace) -> bool:
    """Do the work of a child process, if this is one; False when it is the parent."""
    if args.child_reader:
        child_reader(args.child_reader)
    elif args.child_load:
        child_load(args.child_load)
    elif args.child_etl_parser:
        child_etl_parser(args.child_etl_parser)
    elif args.child_write:
        events, stacks, drivers, where, kinds_s = args.child_write
        paths = write_traces(
            int(events), int(stacks), int(drivers), Path(where), kinds_s.split(",")
        )
        print(json.dumps({k: str(v) for k, v in paths.items()}))
    elif args.child_backends:
        from gate.inputs.etl import xpress

        print(json.dumps(xpress.available_backends()))
    else:
        return False
    return True


def prepare(args: argparse.Namespace) -> dict:
    """Folders, the budget file, the backends to run; the numba kernels compiled once."""
    global REPO
    if args.gate_src is not None:
        REPO = args.gate_src.resolve()
        os.environ["GATE_BENCH_SRC"] = str(REPO)  # children measure the same tree
    driver_names(args.drivers)  # refuses a count out of range
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    budgets = out / f"budgets-d{args.drivers}.yaml"
    budgets.write_text(budgets_text(args.drivers), encoding="utf-8")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    # This process stays small and imports neither numpy nor gate: on Linux a child's ru_maxrss
    # starts from its parent's RSS at fork/exec time, so a big parent would inflate every figure.
    available = spawn_json([sys.executable, __file__, "--child-backends"])
    print(
        f"# gate .etl benchmark: {os.cpu_count()} CPU(s), {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}; XPRESS backends here: "
        f"{', '.join(available)}; gate from {REPO}",
        flush=True,
    )
    if "numba" in backends and "numba" not in available:
        print("  numba not importable: skipping the numba backend", flush=True)
        backends.remove("numba")
    # Compile (or load from numba's cache) the kernels once, on a small trace, so no timed run
    # pays for the JIT.
    if "numba" in backends:
        warm = spawn_write(2000, 200, DEFAULT_DRIVERS, out, ["compressed"])["compressed"]
        run_child(gate_cmd("reader", warm, work, budgets), _env(True))
    floor = run_child([sys.executable, "-c", "pass"], _env(True))["rss_mib"]
    print(f"  (peak RSS of a bare `python -c pass` child here: {floor:.0f} MiB)", flush=True)
    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "out": out,
        "work": work,
        "budgets": budgets,
        "backends": backends,
        "modes": [m.strip() for m in args.modes.split(",") if m.strip()],
        "cores": [None if c.strip() == "all" else int(c) for c in args.cores.split(",")],
        "n_cpus": n_cpus,
    }


def main() -> int:
    args = parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if run_child_mode(args):
        return 0
    if not sys.platform.startswith("linux"):
        print("bench_etl.py measures peak RSS with wait4(): Linux only", file=sys.stderr)
        return 2
    setup = prepare(args)
    kinds = args.kinds or ["uncompressed", "compressed"]
    if args.sweep:
        counts = [int(c) for c in args.sweep.split(",") if c.strip()]
    else:
        counts = [args.distinct_stacks or default_stacks(args.events)]
    rows: list[dict] = []
    for i, stacks in enumerate(counts):
        print(
            f"writing traces ({args.events:,} pool events, {stacks:,} distinct stacks, "
            f"{args.drivers} drivers) ...",
            flush=True,
        )
        traces = spawn_write(args.events, stacks, args.drivers, setup["out"], kinds)
        if i == 0:
            print("\n" + HEADER, flush=True)
        rows += measure_traces(traces, stacks, args, setup)
        if not args.keep:
            for p in traces.values():
                p.unlink()
    if len(counts) > 1:
        print_sweep_ratios(rows)
    if not args.sweep:
        rows += compare_etl_parser(args, setup)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if not args.keep:
        for p in setup["out"].glob("boot-*.etl"):
            p.unlink()
        shutil.rmtree(setup["work"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
