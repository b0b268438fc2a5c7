"""Scenario files built to break the reader: values past 2**64, absurd counts and processors,
alias bombs, self-referring merges, deep nesting, unreadable timestamps and integers, reserved
module names. Each is one InputError naming file and key or line, refused before expanding."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from scenario_kit import IMAGES, alloc, scenario

from gate.errors import InputError
from gate.inputs.scenario import generate, load_scenario, parse_scenario


def _error(doc: Any) -> str:
    with pytest.raises(InputError) as caught:
        parse_scenario(doc, "s.yaml")
    assert "\n" not in str(caught.value)
    return str(caught.value)


def _with(change: dict[str, Any], event: dict[str, Any] | None = None) -> dict[str, Any]:
    first = alloc(1, 0x1000, 64)
    first.update(event or {})
    doc = scenario([first], images=copy.deepcopy(IMAGES))
    doc.update(change)
    return doc


@pytest.mark.parametrize(
    ("change", "event", "message"),
    [
        ({"cpus": 10**12}, None, "key 'cpus': 1000000000000 is out of range (1 to 2,048)"),
        ({"cpus": 0}, None, "key 'cpus': 0 is out of range (1 to 2,048)"),
        ({"seed": -1}, None, "key 'seed': -1 is out of range"),
        ({"duration_s": float("nan")}, None, "key 'duration_s': nan is not a time"),
        ({"duration_s": 1e300}, None, "key 'duration_s': 1e+300 is not a time"),
        ({"duration_s": 10**400}, None, "key 'duration_s': an int is too large for a number"),
        ({"page_size_bytes": 0}, None, "key 'page_size_bytes': 0 is not one of"),
        ({"pointer_size_bytes": 2}, None, "key 'pointer_size_bytes': 2 is neither 4 nor 8"),
        ({"events_lost": 2**40}, None, "key 'events_lost': 1099511627776 is out of range"),
        ({"start_utc": "0001-01-01T00:00:00Z"}, None, "is outside 1601..9999"),
        ({}, {"address": 2**64}, "key 'events[0].address': 18446744073709551616 is out of"),
        ({}, {"address": 2**400}, "key 'events[0].address': 401-bit is out of range"),
        ({}, {"cpu": 1}, "key 'events[0].cpu': 1 is out of range (0 to 0)"),
        ({}, {"pool": 2**33}, "key 'events[0].pool': POOL_TYPE 8589934592 is out of range"),
        ({}, {"tag": "TooLong"}, "key 'events[0].tag': a pool tag is up to 4 Latin-1"),
        ({}, {"session_id": -2}, "key 'events[0].session_id': -2 is out of range"),
        ({}, {"t": -1.0}, "key 'events[0].t': -1.0 is not a time within 0..1e+07 s"),
        ({}, {"stack": ["a.sys+0x" + "f" * 40]}, "events[0].stack[0]: bad offset in frame"),
    ],
)
def test_values_out_of_range_are_refused_by_key(
    change: dict[str, Any], event: dict[str, Any] | None, message: str
) -> None:
    assert message in _error(_with(change, event))


def test_an_image_past_the_address_space_is_refused() -> None:
    doc = _with({})
    doc["images"][1]["base"] = 2**64 - 16
    assert "key 'images[1].size': an image of 65,536 bytes at 0xfffffffffffffff0" in _error(doc)
    doc["images"][1]["base"] = 2**64
    assert "key 'images[1].base': 18446744073709551616 is out of range" in _error(doc)


def test_a_scenario_of_a_trillion_allocations_is_refused_not_attempted() -> None:
    pattern = {"tag": "Big", "size": 64, "count": 10**12, "end_s": 10.0}
    assert "key 'allocations[0].count': 1000000000000 is out of range" in _error(
        _with({"allocations": [pattern]})
    )
    patterns = [dict(pattern, count=15_000_000, lifetime_s=1.0)] * 2
    assert _error(_with({"allocations": patterns})) == (
        "s.yaml: the scenario expands to 60,000,001 pool events, more than the 20,000,000 a "
        "scenario may describe"
    )


def test_sizes_past_a_tebibyte_are_refused() -> None:
    pattern = {"tag": "Rng", "size": [0, 2**63 - 1], "count": 3}
    assert "key 'allocations[0].size': 9,223,372,036,854,775,807 bytes is more than" in _error(
        _with({"allocations": [pattern]})
    )


def test_size_ranges_must_be_ordered() -> None:
    pattern = {"tag": "Rng", "size": [64, 32], "count": 3}
    assert "[64, 32]: the maximum is smaller than the minimum" in _error(
        _with({"allocations": [pattern]})
    )


@pytest.mark.parametrize("module", ["(total)", "(kernel)", "*"])
def test_a_frame_module_named_like_a_reserved_name_keeps_the_file_prefix(module: str) -> None:
    trace = generate(parse_scenario(_with({}, {"stack": [f"{module}+0x10"]})))
    assert [f.module for f in trace.stacks[0]] == [f"file:{module}"]


def _file(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "s.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    return str(caught.value).replace(str(path), "s.yaml")


def test_alias_bombs_and_self_references_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [1]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)
    ]
    assert _file(tmp_path, "\n".join(lines)).startswith("s.yaml:7:")  # 9**6 values: past the bound
    assert _file(tmp_path, "x: &me {<<: *me}\n") == (
        "s.yaml:1:13: alias *me refers to a node that holds it"
    )


def test_nesting_600_deep_is_refused(tmp_path: Path) -> None:
    assert _file(tmp_path, "x: " + "[" * 600 + "]" * 600) == (
        "s.yaml:1:35: nested more than 32 levels deep"
    )


def test_unreadable_values_name_their_place(tmp_path: Path) -> None:
    assert _file(tmp_path, "scenario: 1\nstart_utc: 2026-13-45\n").startswith(
        "s.yaml:2:12: YAML syntax error: unreadable value: month must be in 1..12"
    )
    assert _file(tmp_path, "scenario: " + "1" * 5000).startswith(
        "s.yaml:1:11: YAML syntax error: unreadable value: Exceeds the limit"
    )
    assert _file(tmp_path, b"scenario: 1\nname: caf\xe9\n") == (
        "s.yaml: not UTF-8 text (byte offset 21)"
    )
    assert _file(tmp_path, 'name: "a\\ud800"\n') == (
        "s.yaml:1:7: text holds a lone surrogate or NUL, not a character"
    )


def test_a_file_written_by_safe_dump_with_shared_lists_still_loads(tmp_path: Path) -> None:
    import yaml

    stack = ["ntoskrnl.exe+0x10", "a.sys+0x100"]
    doc = scenario([alloc(1, 0x1000, 8, stack=stack), alloc(2, 0x2000, 8, stack=stack)])
    text = yaml.safe_dump(doc)
    assert "&id" in text  # the shared list is written once, with an alias
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    sc = load_scenario(path)
    first, second = sc.events
    assert first.stack == second.stack
    assert len(sc.events) == 2 and sc.source == str(path)


def test_a_resident_file_named_like_a_reserved_name_is_refused() -> None:
    resident = [{"path": r"C:\x\(Kernel)", "list": "Active", "category": "Driver", "size": 4096}]
    assert _error(_with({"resident_set": resident})) == (
        "s.yaml: key 'resident_set[0].path': 'C:\\\\x\\\\(Kernel)' ends in a name the gate keeps "
        "for itself"
    )
