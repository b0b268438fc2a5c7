"""The repository checks itself: examples stay in step, rules and model SQL stay documented."""

from __future__ import annotations

from scenario_kit import REPO, SAMPLE

from gate.budgets.loader import load_budgets
from gate.rules.runner import CONTRACT_LINE, builtin_rules


def test_budgets_folder_examples_match_the_bundled_sample() -> None:
    pairs = [("example.yaml", "budgets.yaml"), ("example.baseline.json", "baseline.json")]
    for mine, bundled in pairs:
        assert (REPO / "budgets" / mine).read_bytes() == (SAMPLE / bundled).read_bytes(), mine


def test_example_budgets_are_valid() -> None:
    budgets = load_budgets([REPO / "budgets" / "example.yaml"])
    assert "contosonet.sys" in budgets.drivers


def test_every_rule_has_an_id_a_summary_and_the_contract_line() -> None:
    rules = builtin_rules()
    assert len({r.rule_id for r in rules}) == len(rules)
    for rule in rules:
        assert rule.summary, rule.source
        assert CONTRACT_LINE in rule.sql, rule.source
        assert "SELECT *" not in rule.sql.upper(), rule.source


def test_every_data_file_of_the_package_is_installed() -> None:
    import fnmatch

    import pytest

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["gate"]
    package = REPO / "gate"
    for path in package.rglob("*"):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(package).as_posix()
        matched = any(
            fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(relative, g.replace("**/", ""))
            for g in globs
        )
        assert matched, f"{relative} would be left out of an installed gate"
