"""Scenario files: YAML mappings read into a `Scenario`, every error naming the file and key."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import Node

from gate.errors import InputError
from gate.fileio import path_text
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
from gate.tables.drivers import driver_name, module_name
from gate.yamlsafe import shape_problem

# What a scenario may say, decided once here: every value is checked where it is read, so that
# expanding and writing the trace can neither overflow nor run out of memory.
U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
MAX_RVA = U32_MAX  # an image is smaller than 4 GiB
MAX_SIZE = (1 << 40) - 1  # an allocation or a resident file: far below 1 TiB
MAX_CPUS = 2048  # the most processors Windows runs on
MAX_SECONDS = 1e7  # about 115 days: longer than any boot trace
# Events a scenario may expand to: twice the largest benchmark (10.5 M pool events); each
# event costs about 80 bytes while it is expanded.
MAX_EVENTS = 20_000_000
PAGE_SIZES = (4096, 8192, 16384, 65536)


class _Fields:
    """Reads one YAML mapping, naming the file and key path in every error."""

    def __init__(self, source: str, where: str, data: Any, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise InputError(f"{source}: {where or 'top level'}: expected a mapping")
        unknown = sorted((k for k in data if k not in allowed), key=repr)
        if unknown:
            raise InputError(f"{source}: {where or 'top level'}: unknown key {_short(unknown[0])}")
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
            if abs(value) > 1 << 64:  # float() of a huge int overflows; no time is that large
                raise self._err(key, f"{_short(value)} is too large for a number of seconds")
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._err(key, f"expected {getattr(kind, '__name__', kind)}, got {_short(value)}")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = ...) -> int:
        """An integer field within `low`..`high`, checked where it is read."""
        value = self.get(key, int, default)
        if value is default and default is not ...:
            return value
        if not low <= value <= high:
            shown = str(value) if value.bit_length() < 128 else f"{value.bit_length()}-bit"
            raise self._err(key, f"{shown} is out of range ({low:,} to {high:,})")
        return value

    def seconds(self, key: str, default: Any = ..., *, low: float = 0.0) -> Any:
        """A time in seconds: finite, within `low`..`MAX_SECONDS`."""
        value = self.get(key, float, default)
        if value is None or (value is default and default is not ...):
            return value
        if not low <= value <= MAX_SECONDS:
            raise self._err(key, f"{value!r} is not a time within {low:g}..{MAX_SECONDS:g} s")
        return value

    def size(self, key: str, default: Any = ..., maximum: int = MAX_SIZE) -> int:
        from gate.units import parse_bytes

        value = self.get(key, (int, str), default)
        try:
            size = parse_bytes(value)
        except ValueError as exc:
            raise self._err(key, str(exc)) from None
        if size > maximum:
            raise self._err(key, f"{size:,} bytes is more than {maximum:,}")
        return size


def _parse_frame(source: str, where: str, text: Any) -> Frame:
    if not isinstance(text, str) or "+" not in text:
        raise InputError(
            f"{source}: {where}: expected a frame like 'acpi.sys+0x1a2b', got {_short(text)}"
        )
    module, _, off = text.rpartition("+")
    try:
        rva = int(off, 0) if len(off) <= 20 else -1
    except ValueError:
        rva = -1
    if not 0 <= rva <= MAX_RVA:
        raise InputError(f"{source}: {where}: bad offset in frame {text[:60]!r}")
    return Frame(module_name(module.strip()), rva)


def _parse_stack(source: str, where: str, items: Any) -> tuple[Frame, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InputError(f"{source}: {where}: expected a list of frames, innermost first")
    return tuple(_parse_frame(source, f"{where}[{i}]", t) for i, t in enumerate(items))


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else "an int"
    return text if len(text) <= 60 else text[:50] + "..."


def _tag(f: _Fields, default: Any = ...) -> str:
    tag = f.get("tag", str, default)
    try:
        fits = len(tag.encode("latin-1")) <= 4
    except UnicodeEncodeError:
        fits = False
    if not fits:
        raise f._err("tag", f"a pool tag is up to 4 Latin-1 characters, got {_short(tag)}")
    return tag


def _pool_type(f: _Fields) -> int:
    pool = f.get("pool", (str, int), "nonpaged")
    if isinstance(pool, int):
        if not 0 <= pool <= U32_MAX:
            raise f._err("pool", f"POOL_TYPE {_short(pool)} is out of range (0 to {U32_MAX:,})")
        return pool
    if pool not in POOL_TYPES:
        raise f._err(
            "pool", f"unknown pool {_short(pool)}; one of {', '.join(POOL_TYPES)} or a number"
        )
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
        base = f.integer("base", 0, U64_MAX)
        size = f.size("size", maximum=MAX_RVA + 1)
        if base + size > U64_MAX + 1:
            raise f._err("size", f"an image of {size:,} bytes at 0x{base:x} does not fit")
        images.append(
            ImageSpec(
                driver_name(path), path, base, size, f.seconds("load_s", None),
                f.seconds("unload_s", None),
            )
        )  # fmt: skip
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
    if hi < lo:
        raise f._err("size", f"[{lo}, {hi}]: the maximum is smaller than the minimum")
    return lo, hi


def _patterns(source: str, top: _Fields) -> tuple[AllocPattern, ...]:
    patterns = []
    for i, item in enumerate(top.get("allocations", list, [])):
        w = f"allocations[{i}]"
        f = _Fields(source, w, item, _PATTERN_KEYS)
        start = f.seconds("start_s", 0.0)
        end = f.seconds("end_s", start)
        if end < start:
            raise f._err("end_s", f"{end!r} is before start_s {start!r}")
        lifetime = f.seconds("lifetime_s", None)
        if lifetime is not None and end + lifetime > MAX_SECONDS:
            raise f._err("lifetime_s", f"frees would come after {MAX_SECONDS:g} s")
        patterns.append(
            AllocPattern(
                tag=_tag(f),
                pool_type=_pool_type(f),
                size=_size_range(source, w, f),
                count=f.integer("count", 0, MAX_EVENTS, 1),
                start_s=start,
                end_s=end,
                lifetime_s=lifetime,
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                session_id=f.integer("session_id", -1, U32_MAX, -1),
            )
        )
    return tuple(patterns)


def _events(source: str, top: _Fields, cpus: int) -> tuple[ExplicitEvent, ...]:
    events = []
    for i, item in enumerate(top.get("events", list, [])):
        w = f"events[{i}]"
        f = _Fields(source, w, item, _EVENT_KEYS)
        op = f.get("op", str)
        if op not in ("alloc", "free"):
            raise f._err("op", "expected 'alloc' or 'free'")
        events.append(
            ExplicitEvent(
                time_s=f.seconds("t"),
                event=POOL_ALLOC if op == "alloc" else POOL_FREE,
                address=f.integer("address", 0, U64_MAX),
                tag=_tag(f, ""),
                pool_type=_pool_type(f),
                size=f.size("size", 0),
                session_id=f.integer("session_id", -1, U32_MAX, -1),
                stack=_parse_stack(source, f"{w}.stack", item.get("stack")),
                cpu=f.integer("cpu", 0, cpus - 1, 0),
            )
        )
    return tuple(events)


def _resident_set(source: str, data: Any, top: _Fields) -> tuple[ResidentSpec, ...] | None:
    if "resident_set" not in data or data["resident_set"] is None:
        return None
    resident = []
    for i, item in enumerate(top.get("resident_set", list)):
        f = _Fields(source, f"resident_set[{i}]", item, {"path", "list", "category", "size"})
        path = f.get("path", str)
        if driver_name(path) != path.replace("/", "\\").rsplit("\\", 1)[-1].lower():
            raise f._err("path", f"{_short(path)} ends in a name the gate keeps for itself")
        resident.append(
            ResidentSpec(
                f.get("path", str), f.get("list", str), f.get("category", str), f.size("size")
            )
        )
    return tuple(resident)


def _check_expansion(source: str, sc: Scenario) -> None:
    """Refuse, before anything is expanded, a scenario of more than `MAX_EVENTS` events or
    with frames whose address would pass 2**64."""
    events = len(sc.events) + sum(
        p.count * (2 if p.lifetime_s is not None else 1) for p in sc.patterns
    )
    if events > MAX_EVENTS:
        raise InputError(
            f"{source}: the scenario expands to {events:,} pool events, more than the "
            f"{MAX_EVENTS:,} a scenario may describe"
        )
    pages = sum(-(-r.size_bytes // sc.page_size_bytes) for r in sc.resident_set or ())
    if pages > MAX_EVENTS:
        raise InputError(
            f"{source}: the resident set has {pages:,} pages, more than {MAX_EVENTS:,}"
        )
    bases = {img.name: img.base for img in sc.images}
    stacks = [p.stack for p in sc.patterns] + [e.stack for e in sc.events]
    for frame in (f for stack in stacks for f in stack):
        if bases.get(frame.module, 0) + frame.rva > U64_MAX:
            raise InputError(f"{source}: frame {frame} lies past the end of the address space")


def _start_utc(top: _Fields) -> datetime:
    start_utc = top.get("start_utc", (str, datetime), "2026-01-01T00:00:00Z")
    if isinstance(start_utc, str):
        try:
            start_utc = datetime.fromisoformat(start_utc.replace("Z", "+00:00"))
        except ValueError:
            raise top._err("start_utc", f"not an ISO date-time: {_short(start_utc)}") from None
    if start_utc.tzinfo is None:
        start_utc = start_utc.replace(tzinfo=timezone.utc)
    # An .etl header holds the start as a FILETIME: 100 ns ticks since 1601.
    if not _EARLIEST_START <= start_utc <= _LATEST_START:
        raise top._err("start_utc", f"{start_utc.isoformat()} is outside 1601..9999")
    return start_utc


_EARLIEST_START = datetime(1601, 1, 2, tzinfo=timezone.utc)
_LATEST_START = datetime(9999, 12, 30, tzinfo=timezone.utc)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """A `Scenario` from the mapping a scenario file holds; every problem names the key."""
    top = _Fields(source, "", data, _TOP_KEYS)
    version = top.get("scenario", int)
    if version != SCENARIO_VERSION:
        raise top._err("scenario", f"unsupported scenario version {_short(version)}")
    images = _images(source, top)
    cpus = top.integer("cpus", 1, MAX_CPUS, 2)
    page_size = top.get("page_size_bytes", int, 4096)
    if page_size not in PAGE_SIZES:
        raise top._err("page_size_bytes", f"{_short(page_size)} is not one of {PAGE_SIZES}")
    pointer_size = top.get("pointer_size_bytes", int, 8)
    if pointer_size not in (4, 8):
        raise top._err("pointer_size_bytes", f"{_short(pointer_size)} is neither 4 nor 8")
    sc = Scenario(
        name=top.get("name", str, Path(source).stem),
        duration_s=top.seconds("duration_s"),
        cpus=cpus,
        seed=top.integer("seed", 0, U64_MAX, 1),
        start_utc=_start_utc(top),
        images=images,
        patterns=_patterns(source, top),
        events=_events(source, top, cpus),
        resident_set=_resident_set(source, data, top),
        events_lost=top.integer("events_lost", 0, U32_MAX, 0),
        buffers_lost=top.integer("buffers_lost", 0, U32_MAX, 0),
        page_size_bytes=page_size,
        pointer_size_bytes=pointer_size,
        os_version=str(top.get("os_version", (str, float), "10.0"))[:40],
        os_build=top.integer("os_build", 0, U32_MAX, 22621),
        source=source,
    )
    _check_expansion(source, sc)
    return sc


# Bounds on a scenario file's YAML: real ones are a few levels deep, and use an anchor or
# two for stacks shared by several patterns (yaml.safe_dump writes them for shared lists).
_MAX_FILE_BYTES = 64 << 20
_MAX_DEPTH = 32
_MAX_EXPANDED = 1_000_000


def _not_a_character(text: str) -> str | None:
    if any(0xD800 <= ord(c) <= 0xDFFF or c == "\x00" for c in text):
        return "text holds a lone surrogate or NUL, not a character"
    return None


class _Loader(yaml.SafeLoader):
    """SafeLoader whose value conversions fail as YAML errors with a place: a timestamp such
    as 2026-13-45 or an integer of 5,000 digits raise ValueError in PyYAML itself."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"unreadable value: {exc}", node.start_mark
            ) from None


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; every problem is one InputError naming the file and place."""
    shown = path_text(path)
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise InputError(f"{shown}: too large for a scenario (at most 64 MiB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: not UTF-8 text (byte offset {exc.start})") from None
    try:
        refused = shape_problem(
            text, max_depth=_MAX_DEPTH, max_expanded=_MAX_EXPANDED, value_problem=_not_a_character
        )
        if refused is not None:
            raise InputError(f"{shown}:{refused.line}:{refused.column}: {refused.problem}")
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: YAML syntax error: {problem}") from None
    return parse_scenario(data, shown)
