"""Budget YAML files → one validated `BudgetSet`, or one `BudgetError` listing every problem.

The files are composed into PyYAML nodes rather than loaded into Python objects, so that every
value keeps the line and column it was written at and PyYAML's own conversions (`yes` → True,
`0x1000` → 4096, `1:30` → 90, `2025-06-30` → date, the last of two duplicate keys silently
winning) never happen behind the user's back: each scalar is read from the text as written.

Every problem is one line, `file:line:column: key 'a.b.c': problem`, with 1-based positions.
Problems from all files are collected first and raised together, ordered by file and line.
The format itself is documented in docs/budgets.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gate.budgets.model import (
    AGGREGATES,
    COUNT_METRICS,
    DEFAULT_DRIVER,
    DEFAULT_TOLERANCE_MIN_BYTES,
    DEFAULT_TOLERANCE_MIN_COUNT,
    DEFAULT_TOLERANCE_PERCENT,
    DEFAULT_WARN_AT,
    METRICS,
    TOTAL_DRIVER,
    Attribution,
    BudgetSet,
    DriverBudget,
    Limit,
    TagRule,
    WaiverRule,
)
from gate.errors import BudgetError
from gate.fileio import path_text
from gate.tables.drivers import RESERVED_NAMES
from gate.units import format_window, parse_bytes, parse_count, parse_percent, parse_window
from gate.yamlsafe import compose, shape_problem

__all__ = ["expand_budget_paths", "load_budgets", "tag_pattern_is_valid"]

TOP_LEVEL_KEYS = (
    "version",
    "window",
    "aggregate",
    "warn_at",
    "baseline",
    "unbudgeted",
    "attribution",
    "symbols",
    "drivers",
    "totals",
    "waivers",
)
BASELINE_KEYS = ("tolerance_percent", "tolerance_min_bytes", "tolerance_min_count")
DRIVER_SETTING_KEYS = ("owner", "warn_at", "baseline")
ATTRIBUTION_KEYS = ("skip_modules", "tags", "pooltag")
WAIVER_KEYS = ("driver", "metric", "reason", "expires", "owner", "issue")
UNBUDGETED_CHOICES = ("warn", "fail")
EXTENSION_PREFIX = "x-"
SUPPORTED_VERSIONS = (1,)

# A tolerance above 1000% would make the baseline comparison meaningless; it is a typo.
_MAX_TOLERANCE_PERCENT = 10.0
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_POOL_TAG_LENGTH = 4
# DuckDB's GLOB gives these characters a meaning that pool tag patterns do not have.
_GLOB_SPECIAL = ("[", "]", "\\")
_SIZE_EXAMPLE = "a size such as '512 KiB' or 4096"
# Bounds on what a budget file may make the loader do; real files are far inside them (a few
# levels deep, a few hundred values, aliases used a handful of times).
_MAX_FILE_BYTES = 16 << 20
_MAX_DEPTH = 32
_MAX_EXPANDED = 200_000
_COUNT_EXAMPLE = "a count such as 12000"


# --- problems and positions -------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One budget file: its index in the run (for ordering), name as shown, and folder."""

    index: int
    name: str
    folder: Path


@dataclass(frozen=True)
class _Place:
    source: _Source
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, source: _Source, node: Node) -> _Place:
        mark = node.start_mark
        return cls(source, mark.line + 1, mark.column + 1)

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"


@dataclass
class _Problems:
    items: list[tuple[int, int, int, int, str]] = field(default_factory=list)

    def at(self, place: _Place, key: str | None, problem: str) -> None:
        text = f"{place}: key '{key}': {problem}" if key else f"{place}: {problem}"
        self._add(place.source.index, place.line, place.column, text)

    def whole_file(self, source: _Source, problem: str) -> None:
        self._add(source.index, 0, 0, f"{source.name}: {problem}")

    def _add(self, index: int, line: int, column: int, text: str) -> None:
        self.items.append((index, line, column, len(self.items), text))

    def lines(self) -> list[str]:
        return [text for *_, text in sorted(self.items)]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(node: Node) -> str:
    """What was found, for "expected X, found Y" messages."""
    if isinstance(node, MappingNode):
        return "a YAML mapping"
    if isinstance(node, SequenceNode):
        return "a YAML list"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return "nothing (null)"
    if kind == "bool":
        return f"true/false ({node.value})"
    if kind in ("int", "float"):
        return f"the number {node.value}"
    if kind == "timestamp":
        return f"the date {node.value}"
    return f"'{node.value}'"


def _closest(name: str, allowed: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'? " if match else ""


@dataclass
class _Reader:
    """Typed access to nodes of one file; wrong values become problems, never exceptions."""

    source: _Source
    problems: _Problems

    def place(self, node: Node) -> _Place:
        return _Place.of(self.source, node)

    def error(self, node: Node, key: str | None, problem: str) -> None:
        self.problems.at(self.place(node), key, problem)

    def mapping(
        self,
        node: Node,
        path: str,
        where: Node,
        normalize: Callable[[str], str] = str,
    ) -> list[tuple[str, ScalarNode, Node]] | None:
        """The entries of a mapping as (name, key node, value node); duplicates are reported."""
        if not isinstance(node, MappingNode):
            self.error(where, path, f"expected a mapping, found {_describe(node)}")
            return None
        seen: dict[str, ScalarNode] = {}
        entries: list[tuple[str, ScalarNode, Node]] = []
        pairs = self._merged(node, path)
        if pairs is None:
            return None
        for key_node, value_node in pairs:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, path, f"a key must be a name, found {_describe(key_node)}")
                continue
            name = normalize(key_node.value)
            if name in seen:
                first = self.place(seen[name])
                self.error(
                    key_node,
                    _join(path, name),
                    f"duplicate key: first defined at line {first.line}:{first.column}",
                )
                continue
            seen[name] = key_node
            entries.append((name, key_node, value_node))
        return entries

    def _merged(self, node: MappingNode, path: str) -> list[tuple[Node, Node]] | None:
        """The mapping's pairs with YAML merge keys (`<<: *shared`) expanded.

        Keys written in the mapping itself win over merged ones, as in YAML's merge rule.
        """
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.error(
                        key_node,
                        _join(path, "<<"),
                        f"a merge key needs a mapping, found {_describe(source)}",
                    )
                    return None
                pairs = self._merged(source, path)
                if pairs is None:
                    return None
                merged.extend(pairs)
        written = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        inherited: dict[str | None, tuple[Node, Node]] = {}
        for key_node, value_node in merged:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if name not in written and name not in inherited:
                inherited[name] = (key_node, value_node)
        return own + list(inherited.values())

    def known_keys(
        self,
        entries: list[tuple[str, ScalarNode, Node]],
        path: str,
        allowed: Sequence[str],
        what: str = "key",
    ) -> list[tuple[str, ScalarNode, Node]]:
        """Entries whose name is allowed; the others are reported with the allowed names."""
        kept = []
        for name, key_node, value_node in entries:
            if name in allowed:
                kept.append((name, key_node, value_node))
                continue
            self.error(
                key_node,
                _join(path, name),
                f"unknown {what}; {_closest(name, allowed)}allowed: {', '.join(allowed)}",
            )
        return kept

    def scalar(self, node: Node, key: str, where: Node, expected: str) -> str | None:
        """The text of a non-null scalar, or None after reporting what was found instead."""
        if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            return node.value
        self.error(where, key, f"expected {expected}, found {_describe(node)}")
        return None

    def text(self, node: Node, key: str, where: Node, expected: str = "text") -> str | None:
        value = self.scalar(node, key, where, expected)
        if value is None:
            return None
        if not value.strip():
            self.error(where, key, f"expected {expected}, found an empty string")
            return None
        return value.strip()

    def parsed(
        self,
        node: Node,
        key: str,
        where: Node,
        expected: str,
        parse: Callable[[str], Any],
    ) -> Any:
        """A scalar run through a `gate.units` parser; its ValueError becomes a problem."""
        value = self.scalar(node, key, where, expected)
        if value is None:
            return None
        if node.tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"):
            self.error(where, key, f"expected {expected}, found {_describe(node)}")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.error(where, key, str(exc))
            return None

    def choice(self, node: Node, key: str, where: Node, choices: Sequence[str]) -> str | None:
        expected = " or ".join(f"'{c}'" for c in choices)
        value = self.scalar(node, key, where, expected)
        if value is None:
            return None
        if value not in choices:
            self.error(where, key, f"'{value}' is not allowed: use {expected}")
            return None
        return value

    def size(self, node: Node, key: str, where: Node, metric: str | None = None) -> int | None:
        if metric in COUNT_METRICS:
            return self.parsed(node, key, where, _COUNT_EXAMPLE, _parse_count_not_size)
        return self.parsed(node, key, where, _SIZE_EXAMPLE, parse_bytes)


def _parse_count_not_size(text: str) -> int:
    try:
        return parse_count(text)
    except ValueError as exc:
        try:
            parse_bytes(text)
        except ValueError:
            raise exc from None
        raise ValueError(
            f"'{text.strip()}' is a size, but this metric is a count of allocations: "
            "write a plain integer"
        ) from None


# --- what one file says -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    """A run-wide setting as one file gave it, to detect files that disagree."""

    value: Any
    shown: str
    place: _Place


@dataclass
class _DriverEntry:
    name: str
    place: _Place
    owner: str | None = None
    limits: dict[str, Limit] = field(default_factory=dict)
    warn_at: float | None = None
    tolerance_percent: float | None = None
    tolerance_min_bytes: int | None = None
    tolerance_min_count: int | None = None


@dataclass
class _FileBudgets:
    source: _Source
    settings: dict[str, _Setting] = field(default_factory=dict)
    drivers: list[_DriverEntry] = field(default_factory=list)
    totals: list[tuple[Limit, _Place]] = field(default_factory=list)
    skip_modules: list[str] = field(default_factory=list)
    tag_rules: list[tuple[TagRule, _Place]] = field(default_factory=list)
    pooltag_paths: list[Path] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    waivers: list[WaiverRule] = field(default_factory=list)
    has_budgets: bool = False


def _unshowable(text: str) -> str | None:
    """Why a text value cannot be kept (DuckDB, JUnit XML and JSON all need valid Unicode
    without control characters), or None."""
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"text holds U+{code:04X}, half of a surrogate pair, which is not a character"
        if (code < 0x20 and char not in "\t\n\r") or code == 0x7F:
            return f"text holds the control character U+{code:04X}, which reports cannot show"
    return None


def _read_file(path: Path, source: _Source, problems: _Problems) -> MappingNode | None:
    try:
        size = path.stat().st_size
        if path.is_file() and size > _MAX_FILE_BYTES:
            problems.whole_file(
                source, f"{size:,} bytes is too large for a budget file (at most 16 MiB)"
            )
            return None
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.whole_file(source, "no such file")
        return None
    except IsADirectoryError:
        problems.whole_file(source, "a folder without *.yaml or *.yml files")
        return None
    except OSError as exc:
        problems.whole_file(source, f"cannot read: {exc.strerror or exc}")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.whole_file(source, f"not UTF-8 text (byte offset {exc.start})")
        return None
    try:
        refused = shape_problem(
            text, max_depth=_MAX_DEPTH, max_expanded=_MAX_EXPANDED, value_problem=_unshowable
        )
        if refused is not None:
            problems.at(_Place(source, refused.line, refused.column), None, refused.problem)
            return None
        root = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable YAML"
        if mark is None:
            problems.whole_file(source, f"YAML syntax error: {problem}")
        else:
            place = _Place(source, mark.line + 1, mark.column + 1)
            problems.at(place, None, f"YAML syntax error: {problem}")
        return None
    except yaml.YAMLError as exc:
        problems.whole_file(source, f"YAML syntax error: {str(exc).splitlines()[0]}")
        return None
    if root is None:
        problems.at(
            _Place(source, 1, 1), None, "the file is empty: expected a mapping with 'drivers'"
        )
        return None
    if not isinstance(root, MappingNode):
        problems.at(
            _Place.of(source, root),
            None,
            f"the top level must be a mapping with keys such as 'drivers', found {_describe(root)}",
        )
        return None
    return root


def _parse_file(root: MappingNode, reader: _Reader) -> _FileBudgets:
    parsed = _FileBudgets(reader.source)
    entries = reader.mapping(root, "", root) or []
    # `x-` keys hold YAML anchors shared by entries (`<<: *storage_defaults`); they are not read.
    entries = [entry for entry in entries if not entry[0].startswith(EXTENSION_PREFIX)]
    for name, key_node, value in reader.known_keys(entries, "", TOP_LEVEL_KEYS):
        place = reader.place(key_node)
        if name == "version":
            version = reader.parsed(value, name, key_node, "the number 1", _parse_version)
            if version is not None and version not in SUPPORTED_VERSIONS:
                reader.error(key_node, name, f"version {version} is not known: use 1")
        elif name == "window":
            window = reader.parsed(
                value, name, key_node, "a window such as '0s..30s'", parse_window
            )
            if window is not None:
                parsed.settings[name] = _Setting(window, f"'{format_window(*window)}'", place)
        elif name == "aggregate":
            aggregate = reader.choice(value, name, key_node, AGGREGATES)
            if aggregate is not None:
                parsed.settings[name] = _Setting(aggregate, f"'{aggregate}'", place)
        elif name == "warn_at":
            warn_at = reader.parsed(value, name, key_node, "a percentage", parse_percent)
            if warn_at is not None:
                parsed.settings[name] = _Setting(warn_at, _percent_text(warn_at), place)
        elif name == "unbudgeted":
            unbudgeted = reader.choice(value, name, key_node, UNBUDGETED_CHOICES)
            if unbudgeted is not None:
                parsed.settings[name] = _Setting(unbudgeted, f"'{unbudgeted}'", place)
        elif name == "baseline":
            percent, min_bytes, min_count = _parse_baseline(value, name, key_node, reader)
            if percent is not None:
                parsed.settings["baseline.tolerance_percent"] = _Setting(
                    percent[0], _percent_text(percent[0]), percent[1]
                )
            if min_bytes is not None:
                parsed.settings["baseline.tolerance_min_bytes"] = _Setting(
                    min_bytes[0], f"{min_bytes[0]:,} bytes", min_bytes[1]
                )
            if min_count is not None:
                parsed.settings["baseline.tolerance_min_count"] = _Setting(
                    min_count[0], f"{min_count[0]:,}", min_count[1]
                )
        elif name == "symbols":
            _parse_symbols(value, name, key_node, reader, parsed)
        elif name == "attribution":
            _parse_attribution(value, name, key_node, reader, parsed)
        elif name == "drivers":
            parsed.has_budgets = True
            _parse_drivers(value, name, key_node, reader, parsed)
        elif name == "totals":
            parsed.has_budgets = True
            _parse_totals(value, name, key_node, reader, parsed)
        elif name == "waivers":
            _parse_waivers(value, name, key_node, reader, parsed)
    return parsed


_Placed = tuple[float, _Place] | None
_PlacedInt = tuple[int, _Place] | None


def _parse_baseline(
    node: Node, path: str, where: Node, reader: _Reader
) -> tuple[_Placed, _PlacedInt, _PlacedInt]:
    """`{tolerance_percent, tolerance_min_bytes, tolerance_min_count}`, each with the place it
    was written."""
    percent: _Placed = None
    min_bytes: _PlacedInt = None
    min_count: _PlacedInt = None
    entries = reader.mapping(node, path, where) or []
    for name, key_node, value in reader.known_keys(entries, path, BASELINE_KEYS):
        key = _join(path, name)
        if name == "tolerance_percent":
            fraction = reader.parsed(
                value,
                key,
                key_node,
                "a percentage such as '10%'",
                lambda text: parse_percent(text, maximum=_MAX_TOLERANCE_PERCENT),
            )
            if fraction is not None:
                percent = (fraction, reader.place(key_node))
        elif name == "tolerance_min_count":
            count = reader.parsed(value, key, key_node, _COUNT_EXAMPLE, _parse_count_not_size)
            if count is not None:
                min_count = (count, reader.place(key_node))
        else:
            size = reader.size(value, key, key_node)
            if size is not None:
                min_bytes = (size, reader.place(key_node))
    return percent, min_bytes, min_count


def _driver_name(text: str) -> str:
    return text.strip().lower()


def _check_driver_name(name: str, key: str, where: Node, reader: _Reader) -> bool:
    if not name:
        reader.error(where, key, "a driver name is empty")
        return False
    if "/" in name or "\\" in name:
        reader.error(
            where, key, "write the image file name only, e.g. 'acpi.sys', not a path to it"
        )
        return False
    if name == TOTAL_DRIVER:
        reader.error(where, key, "use the top-level 'totals' for limits on the sum of all drivers")
        return False
    return True


def _parse_drivers(
    node: Node, path: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    entries = reader.mapping(node, path, where, normalize=_driver_name) or []
    allowed = (*DRIVER_SETTING_KEYS, *METRICS)
    for driver, key_node, value in entries:
        key = _join(path, driver)
        if not _check_driver_name(driver, key, key_node, reader):
            continue
        entry = _DriverEntry(driver, reader.place(key_node))
        parsed.drivers.append(entry)
        items = reader.mapping(value, key, key_node) or []
        for name, item_key, item in items:
            item_path = _join(key, name)
            if name not in allowed:
                what = "metric" if name.endswith(("_bytes", "_allocations")) else "key"
                reader.error(
                    item_key,
                    item_path,
                    f"unknown {what}; {_closest(name, allowed)}metrics: {', '.join(METRICS)}; "
                    f"other keys: {', '.join(DRIVER_SETTING_KEYS)}",
                )
            elif name == "owner":
                entry.owner = reader.text(item, item_path, item_key, "an owner (team or alias)")
            elif name == "warn_at":
                entry.warn_at = reader.parsed(
                    item, item_path, item_key, "a percentage such as '90%'", parse_percent
                )
            elif name == "baseline":
                percent, min_bytes, min_count = _parse_baseline(item, item_path, item_key, reader)
                entry.tolerance_percent = None if percent is None else percent[0]
                entry.tolerance_min_bytes = None if min_bytes is None else min_bytes[0]
                entry.tolerance_min_count = None if min_count is None else min_count[0]
            else:
                size = reader.size(item, item_path, item_key, metric=name)
                if size is not None:
                    place = reader.place(item_key)
                    entry.limits[name] = Limit(
                        name, size, reader.source.name, place.line, place.column
                    )


def _parse_totals(
    node: Node, path: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    entries = reader.mapping(node, path, where) or []
    for metric, key_node, value in reader.known_keys(entries, path, tuple(METRICS), "metric"):
        key = _join(path, metric)
        size = reader.size(value, key, key_node, metric=metric)
        if size is not None:
            place = reader.place(key_node)
            limit = Limit(metric, size, reader.source.name, place.line, place.column)
            parsed.totals.append((limit, place))


def tag_pattern_is_valid(pattern: str) -> str | None:
    """None when `pattern` can be used as a pool tag pattern, else why not.

    Patterns are handed to DuckDB's `GLOB` as they are, so only `*` and `?` may be special; a
    pattern with more than four other characters can never match a four-character pool tag.
    """
    if not pattern:
        return "a tag pattern is empty"
    if not pattern.isprintable():
        return f"tag pattern {pattern!r} has characters that cannot be printed"
    special = [c for c in _GLOB_SPECIAL if c in pattern]
    if special:
        return (
            f"tag pattern '{pattern}' uses {' and '.join(repr(c) for c in special)}: "
            "only the wildcards '*' and '?' are supported"
        )
    literal = len(pattern.replace("*", ""))
    if literal > _POOL_TAG_LENGTH:
        return (
            f"tag pattern '{pattern}' needs {literal} characters but a pool tag has at most "
            f"{_POOL_TAG_LENGTH}, so it can never match"
        )
    return None


def _parse_attribution(
    node: Node, path: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    entries = reader.mapping(node, path, where) or []
    for name, key_node, value in reader.known_keys(entries, path, ATTRIBUTION_KEYS):
        key = _join(path, name)
        if name == "skip_modules":
            _parse_skip_modules(value, key, key_node, reader, parsed)
        elif name == "tags":
            # Pool tags are case-sensitive, so the patterns are kept exactly as written.
            tags = reader.mapping(value, key, key_node) or []
            for pattern, tag_key, driver_node in tags:
                tag_path = _join(key, pattern)
                why = tag_pattern_is_valid(pattern)
                if why is not None:
                    reader.error(tag_key, tag_path, why)
                    continue
                driver = reader.text(driver_node, tag_path, tag_key, "a driver name")
                if driver is None:
                    continue
                driver = _driver_name(driver)
                if driver in RESERVED_NAMES or driver == DEFAULT_DRIVER:
                    reader.error(
                        tag_key,
                        tag_path,
                        f"'{driver}' is a name the gate keeps for itself: a tag rule names the "
                        "driver image that allocates, e.g. 'fabrikam.sys'",
                    )
                    continue
                if not _check_driver_name(driver, tag_path, tag_key, reader):
                    continue
                place = reader.place(tag_key)
                rule = TagRule(pattern, driver, reader.source.name, place.line)
                parsed.tag_rules.append((rule, place))
        else:
            _parse_pooltag(value, key, key_node, reader, parsed)


def _parse_skip_modules(
    node: Node, key: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    if not isinstance(node, SequenceNode):
        reader.error(where, key, f"expected a list of image names, found {_describe(node)}")
        return
    for index, item in enumerate(node.value):
        item_key = f"{key}[{index}]"
        module = reader.text(item, item_key, item, "an image name such as 'wdf01000.sys'")
        if module is None:
            continue
        module = module.lower()
        if "/" in module or "\\" in module:
            reader.error(item, item_key, "write the image file name only, e.g. 'wdf01000.sys'")
        elif module not in parsed.skip_modules:
            parsed.skip_modules.append(module)


def _parse_pooltag(
    node: Node, key: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    items = node.value if isinstance(node, SequenceNode) else [node]
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]" if isinstance(node, SequenceNode) else key
        item_where = item if isinstance(node, SequenceNode) else where
        text = reader.text(item, item_key, item_where, "a path to a pooltag.txt file")
        if text is None:
            continue
        # Relative to the budget file, so that the budgets work from any current directory.
        path = reader.source.folder / text
        if not path.is_file():
            reader.error(item_where, item_key, f"no such file: {path_text(path.as_posix())}")
            continue
        parsed.pooltag_paths.append(path)


def _parse_symbols(
    node: Node, key: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    """`symbols: PATH` or a list: symbol path entries as on the command line (folders, or
    `_NT_SYMBOL_PATH` parts such as `srv*C:\\symbols`). Relative folders are relative to the
    budget file, so that the budgets work from any current directory."""
    items = node.value if isinstance(node, SequenceNode) else [node]
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]" if isinstance(node, SequenceNode) else key
        item_where = item if isinstance(node, SequenceNode) else where
        text = reader.text(item, item_key, item_where, "a folder of PDBs or a symbol path")
        if text is None:
            continue
        for part in (p.strip() for p in text.split(";")):
            if part:
                parsed.symbols.append(_symbol_entry(part, reader.source.folder))


def _symbol_entry(entry: str, folder: Path) -> str:
    """One `;`-separated symbol path entry with its relative local folders made absolute
    (URLs, drive-letter and absolute paths, and `srv`/`cache`/`symsrv` words kept)."""
    fields = entry.split("*")
    out = []
    for i, text in enumerate(fields):
        keyword = i == 0 and len(fields) > 1 and text.lower() in ("srv", "cache", "symsrv")
        remote = "://" in text or text.lower().endswith(".dll")
        windows_absolute = (len(text) > 1 and text[1] == ":") or text.startswith("\\\\")
        if keyword or remote or windows_absolute or not text or Path(text).is_absolute():
            out.append(text)
        else:
            out.append(str(folder / text))
    return "*".join(out)


def _parse_waivers(
    node: Node, path: str, where: Node, reader: _Reader, parsed: _FileBudgets
) -> None:
    if not isinstance(node, SequenceNode):
        reader.error(where, path, f"expected a list of waivers, found {_describe(node)}")
        return
    for index, item in enumerate(node.value):
        key = f"{path}[{index}]"
        entries = reader.mapping(item, key, item)
        if entries is None:
            continue
        fields: dict[str, Any] = {}
        for name, key_node, value in reader.known_keys(entries, key, WAIVER_KEYS):
            item_path = _join(key, name)
            if name == "driver":
                driver = reader.text(value, item_path, key_node, "a driver name")
                if driver is not None:
                    fields[name] = driver.lower()
            elif name == "metric":
                metric = reader.text(value, item_path, key_node, "a metric name")
                if metric is not None and metric not in METRICS:
                    reader.error(
                        key_node,
                        item_path,
                        f"unknown metric '{metric}'; {_closest(metric, METRICS)}"
                        f"metrics: {', '.join(METRICS)}",
                    )
                elif metric is not None:
                    fields[name] = metric
            elif name == "reason":
                fields[name] = reader.text(
                    value, item_path, key_node, "a reason saying why the waiver is needed"
                )
            elif name == "expires":
                # Read from the text: YAML would also accept times and other date spellings.
                text = reader.scalar(value, item_path, key_node, "a date such as 2025-06-30")
                fields[name] = None if text is None else _parse_date_or_none(text)
                if text is not None and fields[name] is None:
                    reader.error(key_node, item_path, _date_problem(text))
            else:
                fields[name] = reader.text(value, item_path, key_node)
        missing = False
        for required, why in (
            ("driver", "the driver the waiver is for"),
            ("reason", "why the failure is accepted for now"),
            ("expires", "the last day the waiver applies, as YYYY-MM-DD"),
        ):
            if required not in fields:
                missing = True
                reader.error(item, _join(key, required), f"is required: {why}")
        if missing or any(fields.get(k) is None for k in ("driver", "reason", "expires")):
            continue
        parsed.waivers.append(
            WaiverRule(
                driver=fields["driver"],
                metric=fields.get("metric"),
                reason=fields["reason"],
                expires=fields["expires"],
                file=reader.source.name,
                line=reader.place(item).line,
                owner=fields.get("owner"),
                issue=fields.get("issue"),
            )
        )


def _date_problem(text: str) -> str:
    if not _DATE_RE.fullmatch(text.strip()):
        return f"'{text.strip()}' is not a date: write YYYY-MM-DD, e.g. 2025-06-30"
    return f"'{text.strip()}' is not a real date"


def _parse_date_or_none(text: str) -> date | None:
    if not _DATE_RE.fullmatch(text.strip()):
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_version(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()):
        raise ValueError(f"'{text[:20]}' is not a version number: use 1")
    return int(text)


def _percent_text(fraction: float) -> str:
    return f"{fraction * 100:g}%"


# --- merging files ----------------------------------------------------------------------------


def _merge_settings(files: list[_FileBudgets], problems: _Problems) -> dict[str, _Setting]:
    """The run-wide settings; the same key with two values in two files is a problem."""
    settings: dict[str, _Setting] = {}
    for parsed in files:
        for key, setting in parsed.settings.items():
            first = settings.get(key)
            if first is None:
                settings[key] = setting
            elif first.value != setting.value:
                problems.at(
                    setting.place,
                    key,
                    f"{setting.shown} conflicts with {first.shown} at {first.place}",
                )
    return settings


@dataclass(frozen=True)
class _Thresholds:
    """The run's defaults that a driver entry may override."""

    warn_at: float
    tolerance_percent: float
    tolerance_min_bytes: int
    tolerance_min_count: int

    def budget(self, entry: _DriverEntry) -> DriverBudget:
        def own(value: Any, default: Any) -> Any:
            return default if value is None else value

        return DriverBudget(
            driver=entry.name,
            owner=entry.owner,
            limits=MappingProxyType({m: entry.limits[m] for m in METRICS if m in entry.limits}),
            warn_at=own(entry.warn_at, self.warn_at),
            tolerance_percent=own(entry.tolerance_percent, self.tolerance_percent),
            tolerance_min_bytes=own(entry.tolerance_min_bytes, self.tolerance_min_bytes),
            tolerance_min_count=own(entry.tolerance_min_count, self.tolerance_min_count),
            file=entry.place.source.name,
            line=entry.place.line,
        )


class _Merged:
    """Entries of every file, each defined once: a second definition is a problem that names
    the first one's place."""

    def __init__(self, problems: _Problems, thresholds: _Thresholds) -> None:
        self.problems = problems
        self.thresholds = thresholds
        self.drivers: dict[str, DriverBudget] = {}
        self.driver_places: dict[str, _Place] = {}
        self.totals: dict[str, Limit] = {}
        self.total_places: dict[str, _Place] = {}
        self.tag_rules: list[TagRule] = []
        self.tag_places: dict[str, tuple[TagRule, _Place]] = {}
        self.skip_modules: list[str] = []
        self.pooltag_paths: list[Path] = []
        self.symbols: list[str] = []
        self.waivers: list[WaiverRule] = []

    def add(self, parsed: _FileBudgets) -> None:
        for entry in parsed.drivers:
            first_place = self.driver_places.get(entry.name)
            if first_place is not None:
                # Within one file the duplicate key was already reported by the mapping reader.
                self.problems.at(
                    entry.place, None, f"driver '{entry.name}' is already defined at {first_place}"
                )
                continue
            self.driver_places[entry.name] = entry.place
            self.drivers[entry.name] = self.thresholds.budget(entry)
        for limit, place in parsed.totals:
            if limit.metric in self.total_places:
                self.problems.at(
                    place,
                    f"totals.{limit.metric}",
                    f"the total is already limited at {self.total_places[limit.metric]}",
                )
                continue
            self.total_places[limit.metric] = place
            self.totals[limit.metric] = limit
        for rule, place in parsed.tag_rules:
            if rule.pattern in self.tag_places:
                first_rule, first_place = self.tag_places[rule.pattern]
                self.problems.at(
                    place,
                    f"attribution.tags.{rule.pattern}",
                    f"the pattern already maps to '{first_rule.driver}' at {first_place}",
                )
                continue
            self.tag_places[rule.pattern] = (rule, place)
            self.tag_rules.append(rule)
        self.skip_modules.extend(m for m in parsed.skip_modules if m not in self.skip_modules)
        self.pooltag_paths.extend(p for p in parsed.pooltag_paths if p not in self.pooltag_paths)
        self.symbols.extend(e for e in parsed.symbols if e not in self.symbols)
        self.waivers.extend(parsed.waivers)


def _merge(files: list[_FileBudgets], problems: _Problems, today: date) -> BudgetSet:
    settings = _merge_settings(files, problems)

    def setting(key: str, default: Any) -> Any:
        return settings[key].value if key in settings else default

    thresholds = _Thresholds(
        warn_at=setting("warn_at", DEFAULT_WARN_AT),
        tolerance_percent=setting("baseline.tolerance_percent", DEFAULT_TOLERANCE_PERCENT),
        tolerance_min_bytes=setting("baseline.tolerance_min_bytes", DEFAULT_TOLERANCE_MIN_BYTES),
        tolerance_min_count=setting("baseline.tolerance_min_count", DEFAULT_TOLERANCE_MIN_COUNT),
    )
    merged = _Merged(problems, thresholds)
    for parsed in files:
        merged.add(parsed)
    drivers = merged.drivers
    default = drivers.pop(DEFAULT_DRIVER, None)
    return BudgetSet(
        files=tuple(parsed.source.name for parsed in files),
        drivers=MappingProxyType(dict(sorted(drivers.items()))),
        default=default,
        totals=MappingProxyType({m: merged.totals[m] for m in METRICS if m in merged.totals}),
        warn_at=thresholds.warn_at,
        tolerance_percent=thresholds.tolerance_percent,
        tolerance_min_bytes=thresholds.tolerance_min_bytes,
        tolerance_min_count=thresholds.tolerance_min_count,
        unbudgeted=setting("unbudgeted", "warn"),
        window=setting("window", None),
        aggregate=setting("aggregate", "max"),
        attribution=Attribution(
            skip_modules=tuple(merged.skip_modules),
            tag_rules=tuple(merged.tag_rules),
            pooltag_paths=tuple(merged.pooltag_paths),
        ),
        waivers=tuple(merged.waivers),
        symbols=tuple(merged.symbols),
        today=today,
    )


# --- entry points -----------------------------------------------------------------------------


def expand_budget_paths(paths: Iterable[Path | str]) -> list[Path]:
    """The paths as given, with each folder replaced by its `*.yaml` and `*.yml` files, sorted.

    A file named twice (`budgets/ budgets/a.yaml`) is read once; otherwise every driver in it
    would be reported as defined twice.
    """
    expanded: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            # An empty folder stays in the list so that the loader reports it.
            candidates = found or [path]
        else:
            candidates = [path]
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                expanded.append(candidate)
    return expanded


def load_budgets(paths: Sequence[Path | str], today: date | None = None) -> BudgetSet:
    """Read, validate and merge budget files; `today` decides which waivers have expired.

    Raises `BudgetError` with every problem of every file. No paths give `BudgetSet.empty()`.
    """
    today = today or date.today()
    files = expand_budget_paths(paths)
    if not files:
        return BudgetSet.empty(today)
    problems = _Problems()
    parsed_files: list[_FileBudgets] = []
    unreadable = False
    for index, path in enumerate(files):
        # Names that are not valid UTF-8 are shown escaped: they go into messages and reports.
        source = _Source(index, path_text(path.as_posix()), path.parent)
        root = _read_file(path, source, problems)
        if root is None:
            unreadable = True
            continue
        parsed_files.append(_parse_file(root, _Reader(source, problems)))
    budgets = _merge(parsed_files, problems, today)
    # Only when every file could be read: a missing file may be the one with the drivers.
    if not unreadable and not any(parsed.has_budgets for parsed in parsed_files):
        first = parsed_files[0].source
        problems.at(
            _Place(first, 1, 1),
            None,
            "no budget file has 'drivers' or 'totals': there is nothing to check",
        )
    if problems.items:
        raise BudgetError(problems.lines())
    return budgets
