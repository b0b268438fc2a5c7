"""Baselines: per-driver figures of a reference build, with provenance, as reviewable JSON.

The file is sorted and indented so that a baseline update reads well as a diff:

    {"format": "gate-baseline", "version": 1, "gate_version": "...", "created_utc": "...",
     "window": "whole trace", "aggregate": "max",
     "traces": [{"source": "boot1.etl", "sha256": "...", "format": "etl"}],
     "drivers": {"acpi.sys": {"nonpaged_impacting_bytes": 1048576, ...}, "(total)": {...}}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gate import __version__
from gate.errors import BaselineError
from gate.fileio import write_text_atomic

FORMAT_NAME = "gate-baseline"
FORMAT_VERSION = 1


@dataclass
class Baseline:
    drivers: dict[str, dict[str, float]]  # driver -> metric -> value
    traces: list[dict[str, str]]
    window: str
    aggregate: str
    source: str  # file path or description, for reports
    created_utc: str = ""
    gate_version: str = __version__

    def rows(self) -> list[tuple[str, str, float]]:
        return [(d, m, v) for d, ms in self.drivers.items() for m, v in ms.items()]


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def to_json(b: Baseline) -> str:
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "gate_version": b.gate_version,
        "created_utc": b.created_utc or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window": b.window,
        "aggregate": b.aggregate,
        "traces": sorted(b.traces, key=lambda t: (t.get("source", ""), t.get("sha256", ""))),
        "drivers": {
            d: {m: _number(v) for m, v in sorted(ms.items())} for d, ms in sorted(b.drivers.items())
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write_baseline(path: Path, b: Baseline) -> None:
    write_text_atomic(path, to_json(b), what="baseline")


def read_baseline(path: Path) -> Baseline:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such file") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise BaselineError(f"{path}: not a gate baseline (format is not '{FORMAT_NAME}')")
    if doc.get("version") != FORMAT_VERSION:
        raise BaselineError(
            f"{path}: baseline version {doc.get('version')!r} is not supported "
            f"(this gate reads version {FORMAT_VERSION})"
        )
    drivers = doc.get("drivers")
    if not isinstance(drivers, dict):
        raise BaselineError(f"{path}: key 'drivers': expected a mapping of driver to metrics")
    out: dict[str, dict[str, float]] = {}
    for driver, metrics in drivers.items():
        if not isinstance(metrics, dict):
            raise BaselineError(f"{path}: key 'drivers.{driver}': expected a mapping of metrics")
        for metric, value in metrics.items():
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value):
                raise BaselineError(
                    f"{path}: key 'drivers.{driver}.{metric}': expected a number, got {value!r}"
                )
            out.setdefault(driver, {})[metric] = float(value)
    traces = doc.get("traces") if isinstance(doc.get("traces"), list) else []
    return Baseline(
        drivers=out,
        traces=[t for t in traces if isinstance(t, dict)],
        window=str(doc.get("window", "")),
        aggregate=str(doc.get("aggregate", "")),
        source=str(path),
        created_utc=str(doc.get("created_utc", "")),
        gate_version=str(doc.get("gate_version", "")),
    )
