"""YAML texts checked before PyYAML builds anything from them.

Budget files and scenarios are YAML a user (or an attacker) wrote. PyYAML's parser keeps its
own stack, so reading the events is safe at any depth; its composer, its constructor and
everything that walks the nodes recurse, and expand every alias path: a merge key into its own
mapping recurses forever, and nine levels of nine aliases in 439 bytes are 387 million values.
`shape_problem` finds those from the events alone, before any of that runs.

Both passes use libyaml's parser when PyYAML was built with it (its wheels are), which reads a
400-driver budget file ten times faster. A text libyaml refuses is read again with the pure
parser, so that a syntax error is always worded, and placed, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent

__all__ = ["Refusal", "compose", "shape_problem"]

_FAST_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Refusal:
    """Why a YAML text is not loaded, and where (1-based line and column)."""

    line: int
    column: int
    problem: str


def shape_problem(
    text: str,
    *,
    max_depth: int,
    max_expanded: int,
    value_problem: Callable[[str], str | None],
) -> Refusal | None:
    """The first reason not to compose `text`: nesting deeper than `max_depth`, an alias inside
    the node it names, aliases that expand the text to more than `max_expanded` values, or a
    scalar that `value_problem` refuses. May raise `yaml.YAMLError` for text that does not
    parse."""
    try:
        return _shape_problem(text, _FAST_LOADER, max_depth, max_expanded, value_problem)
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    return _shape_problem(text, yaml.SafeLoader, max_depth, max_expanded, value_problem)


def compose(text: str) -> yaml.Node | None:
    """The node tree of `text`. Only for a text `shape_problem` accepted: the composer
    recurses (libyaml's in C, where no RecursionError stops it). May raise `yaml.YAMLError`,
    worded by the pure parser."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)  # type: ignore[no-any-return]
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    return yaml.compose(text, Loader=yaml.SafeLoader)  # type: ignore[no-any-return]


def _shape_problem(
    text: str,
    loader: type,
    max_depth: int,
    max_expanded: int,
    value_problem: Callable[[str], str | None],
) -> Refusal | None:
    sizes: dict[str, int] = {}  # anchor -> values it expands to, once its node is complete
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, expanded count when it opened)
    expanded = 0
    for event in yaml.parse(text, Loader=loader):
        why: str | None = None
        if isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= max_depth:
                why = f"nested more than {max_depth} levels deep"
            open_nodes.append((event.anchor, expanded))
            expanded += 1
        elif isinstance(event, CollectionEndEvent):
            anchor, before = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = expanded - before
        elif isinstance(event, ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
            why = value_problem(event.value)
        elif isinstance(event, AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                why = f"alias *{event.anchor} refers to a node that holds it"
            expanded += sizes.get(event.anchor or "", 1)
        if why is None and expanded > max_expanded:
            why = (
                f"aliases expand the file to more than {max_expanded:,} values; "
                "write the entries out instead"
            )
        if why is not None:
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            return Refusal(line, column, why)
    return None
