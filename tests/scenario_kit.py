"""Build tiny scenarios with explicit events and read back the model's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gate.inputs.scenario import generate, parse_scenario, scenario_chunks
from gate.sql import ModelConfig, build_model
from gate.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SAMPLE = REPO / "gate" / "data" / "sample"

NT = r"\SystemRoot\system32\ntoskrnl.exe"
NT_BASE = 0xFFFFF80000000000
A_BASE = 0xFFFFF80001000000
B_BASE = 0xFFFFF80002000000
WDF_BASE = 0xFFFFF80003000000

IMAGES = [
    {"path": NT, "base": NT_BASE, "size": 0x100000},
    {"path": r"\SystemRoot\System32\drivers\a.sys", "base": A_BASE, "size": 0x10000},
    {"path": r"\SystemRoot\System32\drivers\b.sys", "base": B_BASE, "size": 0x10000},
    {"path": r"\SystemRoot\System32\drivers\Wdf01000.sys", "base": WDF_BASE, "size": 0x10000},
]
A_STACK = ["ntoskrnl.exe+0x10", "a.sys+0x100"]
B_STACK = ["ntoskrnl.exe+0x10", "b.sys+0x200"]


def alloc(
    t: float,
    address: int,
    size: int,
    *,
    stack: list[str] | None = A_STACK,
    tag: str = "Test",
    pool: str | int = "nonpaged",
    **extra: Any,
) -> dict[str, Any]:
    event = {"t": t, "op": "alloc", "address": address, "size": size, "tag": tag, "pool": pool}
    if stack is not None:
        event["stack"] = stack
    event.update(extra)
    return event


def free(t: float, address: int, **extra: Any) -> dict[str, Any]:
    return {"t": t, "op": "free", "address": address, **extra}


def scenario(events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    doc = {"scenario": 1, "duration_s": 100.0, "cpus": 1, "images": IMAGES, "events": events}
    doc.update(extra)
    return doc


def load(store: Store, doc: dict[str, Any]) -> int:
    return store.add_trace(scenario_chunks(generate(parse_scenario(doc))))


def metrics(
    *docs: dict[str, Any], config: ModelConfig | None = None
) -> dict[str, dict[str, float]]:
    """Aggregated figures per driver and metric for the given scenario documents."""
    with Store() as store:
        for doc in docs:
            load(store, doc)
        build_model(store.con, config or ModelConfig())
        rows = store.con.execute(
            "SELECT driver, metric, value FROM driver_metrics_aggregated"
        ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for driver, metric, value in rows:
        out.setdefault(driver, {})[metric] = value
    return out


def allocations(doc: dict[str, Any], config: ModelConfig | None = None) -> list[tuple]:
    with Store() as store:
        load(store, doc)
        build_model(store.con, config or ModelConfig())
        return store.con.execute(
            "SELECT alloc_seq, alloc_s, free_s, free_kind, driver, attribution, call_site "
            "FROM allocations ORDER BY alloc_seq"
        ).fetchall()


def write_scenario(folder: Path, name: str, doc: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
