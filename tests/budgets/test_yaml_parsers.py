"""Budget files are read with libyaml where PyYAML has it, and must read exactly as with the
pure parser: the same nodes for a good file, the same error, worded the same, for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gate import yamlsafe

ROOT = Path(__file__).resolve().parents[2]
BAD = [
    "drivers:\n  a.sys: {nonpaged_impacting_bytes: 1\n",
    "drivers:\n\t- x\n",
    "a: *nowhere\n",
    "drivers: [1, 2\n",
    "key: 'unterminated\n",
]


def _tree(node: yaml.Node | None) -> object:
    if node is None:
        return None
    place = (node.start_mark.line, node.start_mark.column, node.tag)
    if isinstance(node, yaml.ScalarNode):
        return (place, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (place, [_tree(n) for n in node.value])
    return (place, [(_tree(k), _tree(v)) for k, v in node.value])


def test_libyaml_is_what_a_default_install_reads_with() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml: only the pure parser runs")
    assert yamlsafe._FAST_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", sorted((ROOT / "budgets").glob("*.yaml")), ids=lambda p: p.name)
def test_a_good_file_composes_to_the_same_nodes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _tree(yamlsafe.compose(text)) == _tree(yaml.compose(text, Loader=yaml.SafeLoader))


@pytest.mark.parametrize("text", BAD)
def test_a_bad_file_fails_as_the_pure_parser_words_it(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.compose(text, Loader=yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError) as got:
        yamlsafe.compose(text)
    assert str(got.value) == str(pure.value)


@pytest.mark.parametrize("text", [t for t in BAD if "*" not in t])
def test_the_shape_check_fails_as_the_pure_parser_words_it(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as pure:
        list(yaml.parse(text, Loader=yaml.SafeLoader))
    with pytest.raises(yaml.YAMLError) as got:
        yamlsafe.shape_problem(text, max_depth=50, max_expanded=10_000, value_problem=_any)
    assert str(got.value) == str(pure.value)


def _any(value: str) -> None:
    return None
