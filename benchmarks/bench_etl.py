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

for uncompressed and compressed traces, with the numba kernels (the `fast` extra) and without
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
_KERNEL_BASE = 0xFFFFF806_12000000
_DRIVER_BASE = 0xFFFFF806_14000000


def build_scenario_dict(pool_events: int, seed: int = 11) -> dict:
    """A `parse_scenario` mapping with about `pool_events` pool events (allocations + frees)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = [
        {"path": r"\SystemRoot\system32\ntoskrnl.exe", "base": _KERNEL_BASE, "size": 0x1046000},
        {"path": r"\SystemRoot\system32\hal.dll", "base": _KERNEL_BASE - 0x100000, "size": 0x6000},
        {
            "path": r"\SystemRoot\System32\drivers\Wdf01000.sys",
            "base": _DRIVER_BASE - 0x200000,
            "size": 0xD8000,
            "load_s": 0.1,
        },
    ]
    for i, name in enumerate(_DRIVERS):
        img = {
            "path": rf"\SystemRoot\System32\drivers\{name}",
            "base": _DRIVER_BASE + i * 0x800000,
            "size": int(rng.integers(0x10000, 0x400000)) & ~0xFFF,
        }
        if i % 5:  # most drivers load during the boot, a few come from the boot loader
            img["load_s"] = round(float(rng.uniform(0.05, 10.0)), 3)
        images.append(img)

    # Allocation patterns: 6 per driver. Each has its own stack (kernel frames below the
    # driver's, some through the framework) and a lifetime class.
    kinds = ["resident", "transient", "transient", "medium", "resident", "transient"]
    free_share = {"resident": 0.0, "transient": 1.0, "medium": 1.0}
    weights = rng.uniform(0.2, 1.0, size=len(_DRIVERS) * len(kinds))
    expected_events = sum(
        w * (1 + free_share[kinds[j % len(kinds)]]) for j, w in enumerate(weights)
    )
    scale = pool_events / expected_events
    allocations = []
    for i, name in enumerate(_DRIVERS):
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


BUDGETS = """\
version: 1
warn_at: 80%
unbudgeted: warn
attribution:
  skip_modules: [wdf01000.sys]
drivers:
  "*": {nonpaged_impacting_bytes: 64 MiB}
  ntfs.sys: {owner: storage-fs, nonpaged_impacting_bytes: 256 MiB}
  contosonet.sys: {owner: networking, nonpaged_impacting_bytes: 1 MiB}
totals:
  nonpaged_impacting_bytes: 64 GiB
"""


def write_traces(pool_events: int, out_dir: Path, kinds: list[str], tag: str) -> dict[str, Path]:
    """Write the scenario's trace once per kind ('uncompressed', 'compressed')."""
    from gate.inputs.scenario import generate, parse_scenario
    from gate.synthetic.etl import write_scenario_etl

    paths = {k: out_dir / f"boot-{tag}-{k}.etl" for k in kinds}
    missing = [k for k in kinds if not paths[k].exists()]
    if not missing:
        return paths
    t0 = time.perf_counter()
    trace = generate(parse_scenario(build_scenario_dict(pool_events), "<bench>"))
    print(
        f"  scenario: {trace.event_count:,} pool events, "
        f"{int((trace.stack_id >= 0).sum()):,} with stacks, {len(trace.stacks)} distinct "
        f"stacks ({time.perf_counter() - t0:.1f} s)",
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
    info = None
    for item in read_etl(path):
        table = getattr(item, "table", None)
        if table == "pool_allocations":
            pool += item.rows + int((item.columns["free_kind"] == "freed").sum())
        elif table == "pool_unmatched_frees":
            pool += item.rows
        elif table is None:
            info = item
    records = info.records_total if info else 0
    print(json.dumps({"records": records, "pool_events": pool, "work_s": time.perf_counter() - t0}))


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


def spawn_write(events: int, out_dir: Path, kinds: list[str], tag: str) -> dict[str, Path]:
    cmd = [sys.executable, __file__, "--child-write", str(events), str(out_dir), ",".join(kinds)]
    got = spawn_json([*cmd, tag])
    assert isinstance(got, dict)
    return {k: Path(v) for k, v in got.items()}


# --- table ----------------------------------------------------------------------------------


def fmt_row(row: dict) -> str:
    rec_s = row["records"] / row["seconds"] if row["records"] else 0
    return (
        f"| {row['what']} | {row['trace']} | {row['backend']} | {row['cores']} | "
        f"{row['records']:,} | "
        f"{row['pool_events']:,} | {row['file_mb']:,.1f} | {row['seconds']:,.1f} | "
        f"{rec_s:,.0f} | {row['file_mb'] / row['seconds']:,.1f} | {row['rss_mib']:,.0f} | "
        f"{row['cpu_s'] / row['seconds']:.2f} |"
    )


HEADER = (
    "| run | trace | backend | cores | records | pool events | file MB | seconds | records/s "
    "| MB/s | peak RSS MiB | CPU/wall |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> int:
    global REPO
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=5_000_000, help="pool events (allocs + frees)")
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
        help="comma list: numba (fast extra), python (GATE_NO_NUMBA=1)",
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
    ap.add_argument("--child-write", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--child-backends", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.child_reader:
        child_reader(args.child_reader)
        return 0
    if args.child_load:
        child_load(args.child_load)
        return 0
    if args.child_etl_parser:
        child_etl_parser(args.child_etl_parser)
        return 0
    if args.child_write:
        events, where, kinds_s, tag = args.child_write
        paths = write_traces(int(events), Path(where), kinds_s.split(","), tag)
        print(json.dumps({k: str(v) for k, v in paths.items()}))
        return 0
    if args.child_backends:
        from gate.inputs.etl import xpress

        print(json.dumps(xpress.available_backends()))
        return 0
    if not sys.platform.startswith("linux"):
        print("bench_etl.py measures peak RSS with wait4(): Linux only", file=sys.stderr)
        return 2
    if args.gate_src is not None:
        REPO = args.gate_src.resolve()
        os.environ["GATE_BENCH_SRC"] = str(REPO)  # children measure the same tree
    kinds = args.kinds or ["uncompressed", "compressed"]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    core_counts = [None if c.strip() == "all" else int(c) for c in args.cores.split(",")]
    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    budgets = out / "budgets.yaml"
    budgets.write_text(BUDGETS, encoding="utf-8")

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

    print(f"writing traces ({args.events:,} pool events) ...", flush=True)
    traces = spawn_write(args.events, out, kinds, str(args.events))

    # Compile (or load from numba's cache) the kernels once, on a small trace, so no timed run
    # pays for the JIT.
    if "numba" in backends:
        warm = spawn_write(2000, out, ["compressed"], "warmup")["compressed"]
        run_child(gate_cmd("reader", warm, work, budgets), _env(True))
    floor = run_child([sys.executable, "-c", "pass"], _env(True))["rss_mib"]
    print(f"  (peak RSS of a bare `python -c pass` child here: {floor:.0f} MiB)", flush=True)

    rows: list[dict] = []
    print("\n" + HEADER, flush=True)
    for k in kinds:
        trace = traces[k]
        mb = trace.stat().st_size / 1e6
        for backend, cores in [(b, c) for b in backends for c in core_counts]:
            counts = None
            for mode in modes:
                r = measure(mode, trace, backend == "numba", work, budgets, cores)
                if mode == "reader":
                    counts = json.loads(r["stdout"].strip().splitlines()[-1])
                if counts is None:  # reader not asked for: count once, untimed
                    c = run_child(gate_cmd("reader", trace, work, budgets), _env(True))
                    counts = json.loads(c["stdout"].strip().splitlines()[-1])
                row = {
                    "what": f"gate {mode}",
                    "trace": k,
                    "backend": backend,
                    "cores": cores or n_cpus,
                    "records": counts["records"],
                    "pool_events": counts["pool_events"],
                    "file_mb": mb,
                    "seconds": r["seconds"],
                    "rss_mib": r["rss_mib"],
                    "cpu_s": r["cpu_s"],
                }
                rows.append(row)
                print(fmt_row(row), flush=True)

    # --- the comparison with an existing parser ---------------------------------------------
    py = args.etl_parser_python
    if py is None:
        probe = subprocess.run([sys.executable, "-c", "import etl.etl"], capture_output=True)
        py = sys.executable if probe.returncode == 0 else None
    if py is None:
        print("\netl-parser is not importable: comparison skipped (see benchmarks/README.md)")
    else:
        files: list[tuple[str, Path]] = []
        if args.compare_events:
            small = spawn_write(
                args.compare_events, out, ["uncompressed", "compressed"], str(args.compare_events)
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
        for label, path in files:
            mb = path.stat().st_size / 1e6
            g = run_child(gate_cmd("reader", path, work, budgets), _env(True))
            gc = json.loads(g["stdout"].strip().splitlines()[-1])
            e = run_child(
                [py, str(Path(__file__).resolve()), "--child-etl-parser", str(path)],
                {k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            )
            if e["rc"] != 0:
                ec = {"records": 0, "decoded": 0, "errors": 0, "work_s": e["seconds"]}
                note = f"failed: {e['stderr'].strip().splitlines()[-1][:80]}"
            else:
                ec = json.loads(e["stdout"].strip().splitlines()[-1])
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
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if not args.keep:
        for p in out.glob("boot-*.etl"):
            p.unlink()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
