"""Seed inputs of every kind, made by the project's own writers (never copied from elsewhere).

Each seed is a `Case`: the files of one input, by relative name, and which of them (or the
folder, '.') the entry point is given.
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("etl", "wpa-csv", "scenario", "budgets", "baseline", "pooltag", "normalized")


@dataclass
class Case:
    """One input: its kind, its files (relative name -> bytes) and the name to open."""

    kind: str
    files: dict[str, bytes]
    entry: str
    notes: list[str] = field(default_factory=list)  # the mutations applied, for reproducers

    def write(self, folder: Path) -> Path:
        for name, data in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return folder / self.entry


NT = r"\SystemRoot\system32\ntoskrnl.exe"
IMAGES = [
    {"path": NT, "base": 0xFFFFF80000000000, "size": 0x100000},
    {"path": r"\SystemRoot\System32\drivers\a.sys", "base": 0xFFFFF80001000000, "size": 0x10000},
    {"path": r"\SystemRoot\System32\drivers\b.sys", "base": 0xFFFFF80002000000, "size": 0x10000},
]
STACK_A = ["ntoskrnl.exe+0x10", "a.sys+0x100"]
STACK_B = ["ntoskrnl.exe+0x20", "b.sys+0x200", "a.sys+0x300"]


def scenario_doc(resident: bool = False) -> dict[str, Any]:
    """A small boot: two drivers, patterns and explicit events, optionally a resident set."""
    doc: dict[str, Any] = {
        "scenario": 1,
        "name": "fuzz seed",
        "duration_s": 10.0,
        "cpus": 2,
        "seed": 3,
        "images": copy.deepcopy(IMAGES),
        "allocations": [
            {"tag": "AaaA", "size": 64, "count": 40, "end_s": 5.0, "stack": list(STACK_A)},
            {"tag": "Bbb", "pool": "paged", "size": [16, 256], "count": 30, "start_s": 1.0,
             "end_s": 6.0, "lifetime_s": 0.5, "stack": list(STACK_B)},
        ],
        "events": [
            {"t": 2.0, "op": "alloc", "address": 0x5000, "size": 4096, "tag": "Evt",
             "stack": list(STACK_A), "cpu": 1},
            {"t": 3.0, "op": "free", "address": 0x5000},
            {"t": 4.0, "op": "free", "address": 0x9000},
        ],
    }  # fmt: skip
    if resident:
        doc["resident_set"] = [
            {"path": IMAGES[1]["path"], "list": "Active", "category": "Driver", "size": 8192},
            {"path": IMAGES[2]["path"], "list": "Standby", "category": "Driver", "size": 4096},
        ]
    return doc


@functools.cache
def etl_seeds() -> tuple[bytes, ...]:
    """`.etl` files from `write_scenario_etl`: plain and compressed, with PERFINFO headers and
    stack caching, with a resident set; small buffers so there are several of them."""
    from gate.inputs.scenario import generate, parse_scenario
    from gate.synthetic.etl import write_scenario_etl

    variants = [
        ({}, False),
        ({"compress": True}, False),
        ({"perfinfo_pool": True, "stack_cache": True}, False),
        ({"compress": True, "stack_cache": True}, True),
        ({}, True),
    ]
    out = []
    with tempfile.TemporaryDirectory(prefix="gate-fuzz-seed-") as tmp:
        for index, (options, resident) in enumerate(variants):
            trace = generate(parse_scenario(scenario_doc(resident), "seed"))
            path = Path(tmp) / f"seed{index}.etl"
            write_scenario_etl(trace, path, buffer_size=4096, **options)
            out.append(path.read_bytes())
    return tuple(out)


POOL_CSV = (
    "Pool Tag,Paged,Address,AllocTime (s),FreeTime (s),Size (B),Stack,Session\n"
    "AaaA,NonPaged,0xffffc00000000040,0.100000000,0.300000000,512,"
    "[Root]/ntoskrnl.exe!KiStartSystemThread/a.sys!Init/a.sys+0x1a2b,\n"
    'Bbb,Paged,0xffffd00000000000,0.200000000,,"1,024",'
    "[Root]/ntoskrnl.exe+0x10/b.sys+0x200,3\n"
    "Evt,NonPaged,0xffffc00000000080,1.500000000,2.000000000,64,,\n"
)
RESIDENT_CSV = (
    "MMList,Page Category,Path,Size (B),Snapshot Time (s)\n"
    r"Active,Driver,\SystemRoot\System32\drivers\a.sys,8192,9.000000000" "\n"
    r"Standby,Driver,\SystemRoot\System32\drivers\b.sys,4096,9.000000000" "\n"
)  # fmt: skip

BUDGETS_YAML = """\
version: 1
window: "0s..30s"
aggregate: max
warn_at: 80%
baseline: {tolerance_percent: 10%, tolerance_min_bytes: 64 KiB}
unbudgeted: warn
x-defaults: &defaults {nonpaged_impacting_bytes: 256 KiB, owner: team}
attribution:
  skip_modules: [wdf01000.sys]
  tags: {"Bb*": b.sys}
drivers:
  "*": {nonpaged_impacting_bytes: 1 MiB}
  a.sys:
    <<: *defaults
    nonpaged_transient_peak_bytes: 1.5 MiB
    nonpaged_allocations: 12_000
  b.sys: {nonpaged_impacting_bytes: 4096, baseline: {tolerance_percent: 5%}}
totals:
  nonpaged_impacting_bytes: 64 MiB
waivers:
  - {driver: b.sys, reason: "rework lands next release", expires: 2099-06-30}
"""

POOLTAG_TXT = """\
// pooltag.txt for the fuzz seed
AaaA - a.sys - a's allocations
Bbb  - b.sys - b's buffers
Evt? - a.sys - events
CcBc - nt!cc - Cache Manager
Ddk  - <unknown> - default
"""


def baseline_json() -> bytes:
    doc = {
        "format": "gate-baseline",
        "version": 1,
        "gate_version": "0.1.0",
        "created_utc": "2026-01-01T00:00:00Z",
        "window": "whole trace",
        "aggregate": "max",
        "traces": [{"source": "boot.etl", "sha256": "00", "format": "etl"}],
        "drivers": {
            "a.sys": {"nonpaged_impacting_bytes": 2560, "nonpaged_allocations": 40},
            "(total)": {"nonpaged_impacting_bytes": 6656},
        },
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


@functools.cache
def normalized_seed() -> tuple[tuple[str, bytes], ...]:
    """A normalized folder written by the store from the seed scenario (with a resident set)."""
    from gate.inputs.scenario import generate, parse_scenario, scenario_chunks
    from gate.store import Store
    from gate.store.normalized import export_normalized

    with tempfile.TemporaryDirectory(prefix="gate-fuzz-seed-") as tmp:
        out = Path(tmp) / "norm"
        with Store() as store:
            store.add_trace(scenario_chunks(generate(parse_scenario(scenario_doc(True), "s"))))
            export_normalized(store, out)
        return tuple(sorted((p.name, p.read_bytes()) for p in out.iterdir()))


def seeds(kind: str) -> list[Case]:
    """The seed cases of one kind."""
    if kind == "etl":
        return [Case("etl", {"t.etl": data}, "t.etl") for data in etl_seeds()]
    if kind == "wpa-csv":
        both = {"Pool.csv": POOL_CSV.encode(), "ResidentSet.csv": RESIDENT_CSV.encode()}
        return [
            Case("wpa-csv", dict(both), "."),
            Case("wpa-csv", {"Pool.csv": POOL_CSV.encode()}, "Pool.csv"),
        ]
    if kind == "scenario":
        return [
            Case("scenario", {"s.yaml": yaml.safe_dump(scenario_doc(r)).encode()}, "s.yaml")
            for r in (False, True)
        ]
    if kind == "budgets":
        return [Case("budgets", {"b.yaml": BUDGETS_YAML.encode()}, "b.yaml")]
    if kind == "baseline":
        return [Case("baseline", {"base.json": baseline_json()}, "base.json")]
    if kind == "pooltag":
        return [Case("pooltag", {"pooltag.txt": POOLTAG_TXT.encode()}, "pooltag.txt")]
    if kind == "normalized":
        return [Case("normalized", {f"n/{k}": v for k, v in normalized_seed()}, "n")]
    raise ValueError(kind)
