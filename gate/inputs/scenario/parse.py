"""Scenario files: YAML mappings read into a `Scenario`, every error naming the file and key."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from gate.errors import InputError
from gate.inputs.scenario.model import (
    POOL_TYPES,
    SCENARIO_VERSION,
    AllocPattern,
    ExplicitEvent,
    Frame,
    ImageSpec,
    ResidentSpec,
    Scenario,
)
from gate.tables.chunks import POOL_ALLOC, POOL_FREE
from gate.tables.drivers import driver_name


class _Fields:
    """Reads one YAML mapping, naming the file and key path in every error."""

    def __init__(self, source: str, where: str, data: Any, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise InputError(f"{source}: {where or 'top level'}: expected a mapping")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(f"{source}: {where or 'top level'}: unknown key {unknown[0]!r}")
        self.source, self.where, self.data = source, where, data

    def _err(self, key: str, problem: str) -> InputError:
        path = f"{self.where}.{key}" if self.where else key
        return InputError(f"{self.source}: key '{path}': {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise self._err(key, "is required")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._err(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def size(self, key: str, default: Any = ...) -> int:
        from gate.units import parse_bytes

        value = self.get(key, (int, str), default)
        try:
            return parse_bytes(value)
        except ValueError as exc:
            raise self._err(key, str(exc)) from None


def _parse_frame(source: str, where: str, text: Any) -> Frame:
    if not isinstance(text, str) or "+" not in text:
        raise InputError(
            f"{source}: {where}: expected a frame like 'acpi.sys+0x1a2b', got {text!r}"
        )
    module, _, off = text.rpartition("+")
    try:
        return Frame(module.strip().lower(), int(off, 0))
    except ValueError:
        raise InputError(f"{source}: {where}: bad offset in frame {text!r}") from None


def _parse_stack(source: str, where: str, items: Any) -> tuple[Frame, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InputError(f"{source}: {where}: expected a list of frames, innermost first")
    return tuple(_parse_frame(source, f"{where}[{i}]", t) for i, t in enumerate(items))


def _pool_type(f: _Fields) -> int:
    pool = f.get("pool", (str, int), "nonpaged")
    if isinstance(pool, int):
        return pool
    if pool not in POOL_TYPES:
        raise f._err("pool", f"unknown pool {pool!r}; one of {', '.join(POOL_TYPES)} or a number")
    return POOL_TYPES[pool]


_TOP_KEYS = {
    "scenario", "name", "duration_s", "cpus", "seed", "start_utc", "images", "allocations",
    "events", "resident_set", "events_lost", "buffers_lost", "page_size_bytes",
    "pointer_size_bytes", "os_version", "os_build",
}  # fmt: skip
_PATTERN_KEYS = {
    "label", "tag", "pool", "size", "count", "start_s", "end_s", "lifetime_s", "stack",
    "session_id",
}  # fmt: skip
_EVENT_KEYS = {"t", "op", "tag", "pool", "size", "address", "session_id", "stack", "cpu"}


def _images(source: str, top: _Fields) -> tuple[ImageSpec, ...]:
    images = []
    for i, item in enumerate(top.get("images", list)):
        f = _Fields(source, f"images[{i}]", item, {"path", "base", "size", "load_s", "unload_s"})
        path = f.get("path", str)
        images.append(
            ImageSpec(
                driver_name(path),
                path,
                f.get("base", int),
                f.size("size"),
                f.get("load_s", float, None),
                f.get("unload_s", float, None),
            )
        )
    return tuple(images)


def _size_range(source: str, where: str, f: _Fields) -> tuple[int, int]:
    size = f.get("size", (int, str, list))
    if not isinstance(size, list):
        lo = f.size("size")
        return lo, lo
    if len(size) != 2:
        raise f._err("size", "expected [min, max]")
    lo = _Fields(source, where, {"size": size[0]}, {"size"}).size("size")
    hi = _Fields(source, where, {"size": size[1]}, {"size"}).size("size")
    return lo, hi


def _patterns(source: str, top: _Fields) -> tuple[AllocPattern, ...]:
    patterns = []
    for i, item in enumerate(top.get("allocations", list, [])):
        w = f"allocations[{i}]"
        f = _Fields(source, w, item, _PATTERN_KEYS)
        start = f.get("start_s", float, 0.0)
        patterns.append(
            AllocPattern(
                tag=f.get("tag", str),
                pool_type=_pool_type(f),
                size=_size_range(source, w, f),
                count=f.get("count", int, 1),
                start_s=start,
                end_s=f.get("end_s", float, start),
                lifetime_s=f.get("lifetime_s", float, None),
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                session_id=f.get("session_id", int, -1),
            )
        )
    return tuple(patterns)


def _events(source: str, top: _Fields) -> tuple[ExplicitEvent, ...]:
    events = []
    for i, item in enumerate(top.get("events", list, [])):
        w = f"events[{i}]"
        f = _Fields(source, w, item, _EVENT_KEYS)
        op = f.get("op", str)
        if op not in ("alloc", "free"):
            raise f._err("op", "expected 'alloc' or 'free'")
        events.append(
            ExplicitEvent(
                time_s=f.get("t", float),
                event=POOL_ALLOC if op == "alloc" else POOL_FREE,
                address=f.get("address", int),
                tag=f.get("tag", str, ""),
                pool_type=_pool_type(f),
                size=f.size("size", 0),
                session_id=f.get("session_id", int, -1),
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                cpu=f.get("cpu", int, 0),
            )
        )
    return tuple(events)


def _resident_set(source: str, data: Any, top: _Fields) -> tuple[ResidentSpec, ...] | None:
    if "resident_set" not in data or data["resident_set"] is None:
        return None
    resident = []
    for i, item in enumerate(top.get("resident_set", list)):
        f = _Fields(source, f"resident_set[{i}]", item, {"path", "list", "category", "size"})
        resident.append(
            ResidentSpec(
                f.get("path", str), f.get("list", str), f.get("category", str), f.size("size")
            )
        )
    return tuple(resident)


def _start_utc(top: _Fields) -> datetime:
    start_utc = top.get("start_utc", (str, datetime), "2026-01-01T00:00:00Z")
    if isinstance(start_utc, str):
        try:
            start_utc = datetime.fromisoformat(start_utc.replace("Z", "+00:00"))
        except ValueError:
            raise top._err("start_utc", f"not an ISO date-time: {start_utc!r}") from None
    if start_utc.tzinfo is None:
        start_utc = start_utc.replace(tzinfo=timezone.utc)
    return start_utc


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """A `Scenario` from the mapping a scenario file holds; every problem names the key."""
    top = _Fields(source, "", data, _TOP_KEYS)
    version = top.get("scenario", int)
    if version != SCENARIO_VERSION:
        raise top._err("scenario", f"unsupported scenario version {version}")
    images = _images(source, top)
    duration = top.get("duration_s", float)
    return Scenario(
        name=top.get("name", str, Path(source).stem),
        duration_s=duration,
        cpus=top.get("cpus", int, 2),
        seed=top.get("seed", int, 1),
        start_utc=_start_utc(top),
        images=images,
        patterns=_patterns(source, top),
        events=_events(source, top),
        resident_set=_resident_set(source, data, top),
        events_lost=top.get("events_lost", int, 0),
        buffers_lost=top.get("buffers_lost", int, 0),
        page_size_bytes=top.get("page_size_bytes", int, 4096),
        pointer_size_bytes=top.get("pointer_size_bytes", int, 8),
        os_version=str(top.get("os_version", (str, float), "10.0")),
        os_build=top.get("os_build", int, 22621),
        source=source,
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    return parse_scenario(data, str(path))
