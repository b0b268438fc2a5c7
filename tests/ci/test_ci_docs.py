"""docs/ci.md stays in step with the files it explains: its YAML parses, its uses of the action
pass inputs the action has, and it names every input, output and template parameter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from scenario_kit import REPO

DOC = REPO / "docs" / "ci.md"
ACTION_REF = "driver-memory-gate/driver-memory-gate@v1"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _steps(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping with a `uses` key anywhere in a parsed document."""
    if isinstance(node, dict):
        if "uses" in node:
            yield node
        for value in node.values():
            yield from _steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from _steps(item)


def test_every_yaml_example_parses() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) >= 8
    for block in blocks:
        assert yaml.safe_load(block) is not None, block


def test_examples_give_the_action_only_inputs_it_has() -> None:
    inputs = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    uses = [s for b in _blocks("yaml") for s in _steps(yaml.safe_load(b))]
    ours = [s for s in uses if s["uses"] == ACTION_REF]
    assert len(ours) >= 3
    for step in ours:
        given = set(step.get("with", {}))
        assert given <= set(inputs), given - set(inputs)
        assert required <= given, required - given


def test_reporters_are_told_to_fail_when_the_report_is_missing() -> None:
    uses = [s for b in _blocks("yaml") for s in _steps(yaml.safe_load(b))]
    mikepenz = [s for s in uses if s["uses"].startswith("mikepenz/action-junit-report@")]
    dorny = [s for s in uses if s["uses"].startswith("dorny/test-reporter@")]
    assert mikepenz and dorny
    for step in mikepenz:
        options = step["with"]
        assert options["require_tests"] is True
        assert options["fail_on_failure"] is True
        assert options["include_passed"] is False
        assert options["check_name"] == "Driver memory gate"
    for step in dorny:
        assert step["with"]["fail-on-empty"] is True
        assert step["with"]["reporter"] == "java-junit"


def test_every_input_output_and_parameter_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    azure = yaml.safe_load((REPO / "ci" / "azure" / "gate.yml").read_text(encoding="utf-8"))
    names = [*action["inputs"], *action["outputs"], *(p["name"] for p in azure["parameters"])]
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, missing
