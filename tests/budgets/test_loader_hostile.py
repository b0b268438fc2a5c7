"""Budget files built to break the loader: self-referring merges, alias bombs, deep nesting,
bytes that are not UTF-8, characters no report can hold, reserved names, absurd numbers.
Each ends in problems naming file, line and column, never an exception of another kind."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from gate.budgets import load_budgets
from gate.errors import BudgetError

TODAY = date(2025, 7, 1)


def _problems(tmp_path: Path, text: str | bytes) -> list[str]:
    path = tmp_path / "b.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(BudgetError) as caught:
        load_budgets([path], today=TODAY)
    return [p.replace(path.as_posix(), "b.yaml") for p in caught.value.problems]


def test_a_merge_key_into_its_own_mapping_is_refused(tmp_path: Path) -> None:
    text = "drivers:\n  a.sys: &me\n    nonpaged_impacting_bytes: 1\n    <<: *me\n"
    assert _problems(tmp_path, text) == ["b.yaml:4:9: alias *me refers to a node that holds it"]


def test_nine_levels_of_nine_merge_aliases_are_refused_before_expansion(tmp_path: Path) -> None:
    lines = ["x-l0: &l0 {nonpaged_impacting_bytes: 1}"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"x-l{level}: &l{level} {{<<: [{refs}]}}")
    lines.append("drivers: {a.sys: *l9}")
    text = "\n".join(lines) + "\n"
    assert len(text) < 700
    [problem] = _problems(tmp_path, text)
    assert problem.startswith("b.yaml:6:")  # 9**6 nodes: past the bound already
    assert problem.endswith(
        "aliases expand the file to more than 200,000 values; write the entries out instead"
    )


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(
        "x-shared: &shared {nonpaged_impacting_bytes: 4 KiB, owner: team}\n"
        "drivers:\n  a.sys: {<<: *shared}\n  b.sys: {<<: *shared, owner: other}\n",
        encoding="utf-8",
    )
    budgets = load_budgets([path], today=TODAY)
    assert budgets.drivers["a.sys"].limits["nonpaged_impacting_bytes"].value == 4096
    assert budgets.drivers["a.sys"].owner == "team"
    assert budgets.drivers["b.sys"].owner == "other"


def test_nesting_600_deep_is_refused_at_its_line(tmp_path: Path) -> None:
    text = "drivers:\n  a.sys: " + "[" * 600 + "]" * 600 + "\n"
    assert _problems(tmp_path, text) == ["b.yaml:2:40: nested more than 32 levels deep"]


def test_bytes_that_are_not_utf8_name_their_offset(tmp_path: Path) -> None:
    text = b"drivers:\n  caf\xe9.sys: {nonpaged_impacting_bytes: 1}\n"
    assert _problems(tmp_path, text) == ["b.yaml: not UTF-8 text (byte offset 14)"]


@pytest.mark.parametrize(
    ("escape", "problem"),
    [
        ("\\ud800", "text holds U+D800, half of a surrogate pair, which is not a character"),
        ("\\x07", "text holds the control character U+0007, which reports cannot show"),
        ("\\0", "text holds the control character U+0000, which reports cannot show"),
    ],
)
def test_characters_no_report_can_hold_are_refused(
    tmp_path: Path, escape: str, problem: str
) -> None:
    text = f'drivers:\n  "a{escape}.sys": {{nonpaged_impacting_bytes: 1}}\n'
    assert _problems(tmp_path, text) == [f"b.yaml:2:3: {problem}"]


@pytest.mark.parametrize("name", ["(total)", "(Kernel)", "(unattributed)", "*"])
def test_a_tag_rule_may_not_map_to_a_reserved_name(tmp_path: Path, name: str) -> None:
    text = f'attribution:\n  tags: {{"Ab*": "{name}"}}\ndrivers: {{a.sys: {{owner: x}}}}\n'
    assert _problems(tmp_path, text) == [
        f"b.yaml:2:10: key 'attribution.tags.Ab*': '{name.lower()}' is a name the gate keeps "
        "for itself: a tag rule names the driver image that allocates, e.g. 'fabrikam.sys'"
    ]


def test_numbers_of_hundreds_of_digits_are_problems_not_crashes(tmp_path: Path) -> None:
    digits = "9" * 400
    text = (
        f"version: {'1' * 5000}\n"
        f"window: 0s..{digits}s\n"
        f"warn_at: {digits}%\n"
        f"drivers:\n  a.sys:\n    nonpaged_impacting_bytes: {digits}\n"
        f"    nonpaged_allocations: {digits}\n"
    )
    shown = f"'{'9' * 30}...' (400 characters) has too many digits to be a sensible value"
    assert _problems(tmp_path, text) == [
        f"b.yaml:1:1: key 'version': '{'1' * 20}' is not a version number: use 1",
        f"b.yaml:2:1: key 'window': '0s..{'9' * 26}...' (405 characters): bad end: {shown}",
        f"b.yaml:3:1: key 'warn_at': {shown}",
        f"b.yaml:6:5: key 'drivers.a.sys.nonpaged_impacting_bytes': {shown}",
        f"b.yaml:7:5: key 'drivers.a.sys.nonpaged_allocations': {shown}",
    ]


def test_a_file_too_large_to_be_budgets_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    with path.open("wb") as fh:
        fh.truncate((16 << 20) + 1)  # sparse: nothing is written
    with pytest.raises(BudgetError) as caught:
        load_budgets([path], today=TODAY)
    assert caught.value.problems == [
        f"{path.as_posix()}: 16,777,217 bytes is too large for a budget file (at most 16 MiB)"
    ]
    assert os.path.getsize(path) == (16 << 20) + 1


def test_a_file_name_that_is_not_utf8_is_escaped_in_messages_and_budgets(tmp_path: Path) -> None:
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.yaml"))
    path.write_text("drivers: {a.sys: {nonpaged_impacting_bytes: 1}}\n", encoding="utf-8")
    budgets = load_budgets([path], today=TODAY)
    shown = f"{tmp_path.as_posix()}/caf\\xe9.yaml"
    assert budgets.files == (shown,)
    assert budgets.drivers["a.sys"].file == shown
    path.write_text("drivers: {a.sys: {nonpaged_impacting_bytes: -1}}\n", encoding="utf-8")
    with pytest.raises(BudgetError) as caught:
        load_budgets([path], today=TODAY)
    assert caught.value.problems[0].startswith(f"{shown}:1:19: key ")
    assert str(caught.value).encode("utf-8")
