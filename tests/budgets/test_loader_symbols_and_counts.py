"""Budget keys for symbols (where the build's PDBs are) and the baseline's count floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.budgets import load_budgets
from gate.budgets.model import DEFAULT_TOLERANCE_MIN_COUNT
from gate.errors import BudgetError


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "b.yaml"
    path.write_text(text)
    return load_budgets([path])


def _problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(BudgetError) as caught:
        _load(tmp_path, text)
    return str(caught.value).replace(str(tmp_path / "b.yaml"), "b.yaml")


def test_tolerance_min_count_top_level_and_per_driver(tmp_path: Path) -> None:
    budgets = _load(
        tmp_path,
        "baseline: {tolerance_min_count: 200}\n"
        "drivers:\n"
        "  a.sys: {nonpaged_allocations: 5000, baseline: {tolerance_min_count: 1_000}}\n"
        "  b.sys: {nonpaged_allocations: 5000}\n",
    )
    assert budgets.tolerance_min_count == 200  # type: ignore[attr-defined]
    drivers = budgets.drivers  # type: ignore[attr-defined]
    assert drivers["a.sys"].tolerance_min_count == 1000
    assert drivers["b.sys"].tolerance_min_count == 200


def test_tolerance_min_count_default(tmp_path: Path) -> None:
    budgets = _load(tmp_path, "drivers:\n  a.sys: {nonpaged_allocations: 5000}\n")
    assert budgets.drivers["a.sys"].tolerance_min_count == DEFAULT_TOLERANCE_MIN_COUNT  # type: ignore[attr-defined]
    assert DEFAULT_TOLERANCE_MIN_COUNT == 50


def test_tolerance_min_count_is_a_count_not_a_size(tmp_path: Path) -> None:
    message = _problem(tmp_path, "baseline: {tolerance_min_count: 4 KiB}\n")
    assert message.startswith("b.yaml:1:")
    assert "baseline.tolerance_min_count" in message


def test_symbols_relative_to_the_budget_file(tmp_path: Path) -> None:
    budgets = _load(
        tmp_path,
        "symbols:\n"
        "  - pdbs\n"
        "  - srv*cache*https://msdl.microsoft.com/download/symbols\n"
        "  - 'C:\\symbols;/abs/folder'\n"
        "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1 MiB}\n",
    )
    assert budgets.symbols == (  # type: ignore[attr-defined]
        str(tmp_path / "pdbs"),
        f"srv*{tmp_path / 'cache'}*https://msdl.microsoft.com/download/symbols",
        "C:\\symbols",
        "/abs/folder",
    )


def test_symbols_as_one_string(tmp_path: Path) -> None:
    budgets = _load(tmp_path, "symbols: srv*sym\ntotals: {nonpaged_impacting_bytes: 1 MiB}\n")
    assert budgets.symbols == (f"srv*{tmp_path / 'sym'}",)  # type: ignore[attr-defined]


def test_symbols_of_the_wrong_type(tmp_path: Path) -> None:
    message = _problem(tmp_path, "symbols: {a: 1}\n")
    assert message.startswith("b.yaml:1:")
    assert "symbols" in message and "a folder of PDBs or a symbol path" in message
