"""Baselines: per-driver figures of a reference build, with provenance, as reviewable JSON.

The file is sorted and indented so that a baseline update reads well as a diff:

    {"format": "gate-baseline", "version": 2, "gate_version": "...", "created_utc": "...",
     "window": "whole trace", "aggregate": "max",
     "settings": {"window": "whole trace", "aggregate": "max", "metrics_version": 1,
                  "attribution": {"skip_modules": [...], "tag_rules": [["Cn*", "x.sys"]],
                                  "pooltag_sha256": [...]}},
     "traces": [{"source": "boot1.etl", "sha256": "...", "format": "etl"}],
     "drivers": {"acpi.sys": {"nonpaged_impacting_bytes": 1048576, ...}, "(total)": {...}},
     "evidence": {"acpi.sys": {"nonpaged_impacting_bytes": {
         "sites": [{"name": "acpi.sys!ACPIInitStartACPI", "bytes": 1048576, "allocations": 255}],
         "tags": [...], "rest": {"sites": {"bytes": 0, "allocations": 0, "count": 0},
                                 "tags": {...}}}}}}

`settings` are what the figures depend on besides the traces: a check with other settings
refuses the baseline (gate.pipeline). `evidence` keeps, per driver and metric, the top call
sites and tags (the rest summed), so that a growth failure can say what grew. Version 1 files
(no settings, no evidence) are still read; reports say what they lack.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from gate import __version__
from gate.errors import BaselineError
from gate.fileio import path_text, write_text_atomic

FORMAT_NAME = "gate-baseline"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
# Call sites and tags kept per driver, metric and kind: enough to name what grew, small
# enough that 400 drivers make a baseline of a few hundred kilobytes.
EVIDENCE_TOP = 20
_MAX_EVIDENCE_ROWS = 1000
_V = TypeVar("_V")


@dataclass(frozen=True)
class EvidenceRow:
    """One call site or tag of a baseline: its share of the metric's figure."""

    name: str
    size_bytes: int
    allocations: int


@dataclass(frozen=True)
class EvidenceRest:
    """What a baseline's top rows leave out, summed."""

    size_bytes: int = 0
    allocations: int = 0
    count: int = 0


@dataclass(frozen=True)
class MetricEvidence:
    """The top call sites and tags of one driver's metric in the baseline."""

    sites: tuple[EvidenceRow, ...] = ()
    tags: tuple[EvidenceRow, ...] = ()
    rest_sites: EvidenceRest = EvidenceRest()
    rest_tags: EvidenceRest = EvidenceRest()


@dataclass
class Baseline:
    drivers: dict[str, dict[str, float]]  # driver -> metric -> value
    traces: list[dict[str, str]]
    window: str
    aggregate: str
    source: str  # file path or description, for reports
    created_utc: str = ""
    gate_version: str = __version__
    # What the figures were computed with (None: a version 1 file, which did not say).
    settings: dict[str, object] | None = None
    # driver -> metric -> top call sites and tags (None: a version 1 file, which has none).
    evidence: dict[str, dict[str, MetricEvidence]] | None = None
    version: int = FORMAT_VERSION

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
        "settings": b.settings or {},
        "evidence": {
            d: {m: _evidence_json(e) for m, e in sorted(ms.items())}
            for d, ms in sorted((b.evidence or {}).items())
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _evidence_json(e: MetricEvidence) -> dict[str, object]:
    def rows(items: tuple[EvidenceRow, ...]) -> list[dict[str, object]]:
        return [
            {"name": r.name, "bytes": r.size_bytes, "allocations": r.allocations} for r in items
        ]

    def rest(r: EvidenceRest) -> dict[str, int]:
        return {"bytes": r.size_bytes, "allocations": r.allocations, "count": r.count}

    return {
        "sites": rows(e.sites),
        "tags": rows(e.tags),
        "rest": {"sites": rest(e.rest_sites), "tags": rest(e.rest_tags)},
    }


def write_baseline(path: Path, b: Baseline) -> None:
    write_text_atomic(path, to_json(b), what="baseline")


# What a baseline file may hold: it is a few levels deep and a few hundred kilobytes; these
# bounds keep a corrupt or hostile file from costing more than a clear message.
_MAX_FILE_BYTES = 64 << 20
_MAX_DEPTH = 16
# Metric values are BIGINT in the model; a baseline beyond it cannot describe a real figure.
_MAX_MAGNITUDE = float(1 << 63)
_MAX_INTEGER_TEXT = 30
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class _HugeInteger:
    """A JSON integer too long to convert, kept as a marker for a message with its key."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _parse_int(text: str) -> int | _HugeInteger:
    return _HugeInteger(text) if len(text) > _MAX_INTEGER_TEXT else int(text)


def _too_deep(text: str) -> int | None:
    """The offset of the first bracket nested deeper than `_MAX_DEPTH`, or None. Checked
    before parsing: the JSON parser recurses, and a deep enough file ends it in RecursionError."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None


def _place(text: str, offset: int) -> str:
    """`line:column`, both 1-based, of a character offset."""
    return f"{text.count(chr(10), 0, offset) + 1}:{offset - text.rfind(chr(10), 0, offset)}"


def _key(path: str) -> str:
    """A key path for a message: quoted, escaped where it cannot be shown, cut short."""
    text = path if path.isprintable() else path.encode("unicode_escape").decode("ascii")
    return f"'{text}'" if len(text) <= 80 else f"'{text[:70]}...'"


def _text_problem(value: str) -> str | None:
    """Why a name cannot be stored or reported (lone surrogates, control characters)."""
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF or code < 0x20 or code == 0x7F:
            return f"holds U+{code:04X}, which is not a character a report can show"
    return None


def _load_json(path: Path) -> object:
    shown = path_text(path)
    try:
        size = path.stat().st_size
        if path.is_file() and size > _MAX_FILE_BYTES:
            raise BaselineError(f"{shown}: {size:,} bytes is too large for a baseline file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(f"{shown}: no such file") from None
    except OSError as exc:
        raise BaselineError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{shown}: not UTF-8 text (byte offset {exc.start})") from None
    deep = _too_deep(text)
    if deep is not None:
        raise BaselineError(
            f"{shown}:{_place(text, deep)}: nested more than {_MAX_DEPTH} levels deep"
        )
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None


def _value(shown: str, key: str, value: object) -> float:
    if isinstance(value, _HugeInteger):
        raise BaselineError(
            f"{shown}: key {_key(key)}: an integer of {value.digits:,} digits is too large"
        )
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or abs(value) >= _MAX_MAGNITUDE:  # type: ignore[arg-type]
        got = (
            repr(value)
            if isinstance(value, (int, float, bool)) or value is None
            else type(value).__name__
        )
        raise BaselineError(f"{shown}: key {_key(key)}: expected a number below 2**63, got {got}")
    return float(value)  # type: ignore[arg-type]


def _name(shown: str, key: str, name: str) -> str:
    why = _text_problem(name)
    if why is not None or not name:
        raise BaselineError(f"{shown}: key {_key(key)}: a name that {why or 'is empty'}")
    return name


def _text(value: object) -> str:
    """A provenance field as text; anything else, or text no report can show, becomes ''."""
    return value if isinstance(value, str) and _text_problem(value) is None else ""


def read_baseline(path: Path) -> Baseline:
    """Read a baseline written by `write_baseline`; every problem is one `BaselineError` line
    naming the file and the key or place."""
    shown = path_text(path)
    doc = _load_json(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise BaselineError(f"{shown}: not a gate baseline (format is not '{FORMAT_NAME}')")
    version = doc.get("version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        got = repr(version) if isinstance(version, (int, float, str)) else type(version).__name__
        raise BaselineError(
            f"{shown}: baseline version {got[:20]} is not supported "
            f"(this gate reads versions {', '.join(map(str, READ_VERSIONS))})"
        )
    drivers = doc.get("drivers")
    if not isinstance(drivers, dict):
        raise BaselineError(f"{shown}: key 'drivers': expected a mapping of driver to metrics")
    out = _by_driver_and_metric(shown, "drivers", drivers, _value)
    listed = doc.get("traces")
    traces: list[object] = listed if isinstance(listed, list) else []
    return Baseline(
        drivers=out,
        traces=[
            {k: _text(v) for k, v in t.items() if _text(k)} for t in traces if isinstance(t, dict)
        ],
        window=_text(doc.get("window", "")),
        aggregate=_text(doc.get("aggregate", "")),
        source=shown,
        created_utc=_text(doc.get("created_utc", "")),
        gate_version=_text(doc.get("gate_version", "")),
        settings=_settings(shown, doc.get("settings")) if version >= 2 else None,
        evidence=_evidence(shown, doc.get("evidence")) if version >= 2 else None,
        version=int(version),
    )


def _settings(shown: str, value: object) -> dict[str, object]:
    """The recorded settings as plain JSON values (compared, never interpreted)."""
    if not isinstance(value, dict):
        raise BaselineError(f"{shown}: key 'settings': expected a mapping")
    for key in value:
        _name(shown, f"settings.{key}", str(key))
    return dict(value)


def _evidence(shown: str, value: object) -> dict[str, dict[str, MetricEvidence]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BaselineError(f"{shown}: key 'evidence': expected a mapping of driver to metrics")
    return _by_driver_and_metric(shown, "evidence", value, _metric_evidence)


def _by_driver_and_metric(
    shown: str,
    section: str,
    mapping: dict[str, object],
    read: Callable[[str, str, object], _V],
) -> dict[str, dict[str, _V]]:
    """`{driver: {metric: entry}}` of one section, every name checked and each entry read
    by `read(shown, key, entry)`."""
    out: dict[str, dict[str, _V]] = {}
    for driver, metrics in mapping.items():
        key = f"{section}.{driver}"
        _name(shown, key, driver)
        if not isinstance(metrics, dict):
            raise BaselineError(f"{shown}: key {_key(key)}: expected a mapping of metrics")
        for metric, entry in metrics.items():
            _name(shown, f"{key}.{metric}", metric)
            out.setdefault(driver, {})[metric] = read(shown, f"{key}.{metric}", entry)
    return out


def _metric_evidence(shown: str, key: str, entry: object) -> MetricEvidence:
    if not isinstance(entry, dict):
        raise BaselineError(f"{shown}: key {_key(key)}: expected sites, tags and rest")
    rest = entry.get("rest", {})
    if not isinstance(rest, dict):
        raise BaselineError(f"{shown}: key {_key(key + '.rest')}: expected a mapping")
    return MetricEvidence(
        sites=_rows(shown, f"{key}.sites", entry.get("sites", [])),
        tags=_rows(shown, f"{key}.tags", entry.get("tags", [])),
        rest_sites=_rest(shown, f"{key}.rest.sites", rest.get("sites", {})),
        rest_tags=_rest(shown, f"{key}.rest.tags", rest.get("tags", {})),
    )


def _rows(shown: str, key: str, items: object) -> tuple[EvidenceRow, ...]:
    if not isinstance(items, list) or len(items) > _MAX_EVIDENCE_ROWS:
        raise BaselineError(
            f"{shown}: key {_key(key)}: expected a list of at most {_MAX_EVIDENCE_ROWS} rows"
        )
    out = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BaselineError(f"{shown}: key {_key(where)}: expected name, bytes, allocations")
        out.append(
            EvidenceRow(
                _name(shown, f"{where}.name", item["name"]),
                int(_value(shown, f"{where}.bytes", item.get("bytes"))),
                int(_value(shown, f"{where}.allocations", item.get("allocations"))),
            )
        )
    return tuple(out)


def _rest(shown: str, key: str, item: object) -> EvidenceRest:
    if not isinstance(item, dict):
        raise BaselineError(f"{shown}: key {_key(key)}: expected bytes, allocations, count")
    return EvidenceRest(
        *(
            int(_value(shown, f"{key}.{k}", item.get(k, 0)))
            for k in ("bytes", "allocations", "count")
        )
    )
