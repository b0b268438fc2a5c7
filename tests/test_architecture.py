"""The tree holds to its own rules: layers import only what lies below them, the SQL documents
every public table and column, the model's steps are declared, functions stay readable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from scenario_kit import REPO, alloc, free, load, scenario

from gate.budgets.model import BudgetSet
from gate.rules.inputs import load_rule_inputs
from gate.rules.runner import prepare
from gate.sql import MODEL_STEPS, ModelConfig, build_model
from gate.store import Store
from gate.tables.drivers import RESERVED_NAMES

PACKAGE = REPO / "gate"

# Rooms of the house, by module prefix, and the rooms each may import besides its own and the
# foundation (errors, units, metrics, fileio, yamlsafe, cores, the package itself): readers
# produce tables, the store loads them, the model and rules read the store, reports render
# verdicts, the pipeline runs the jobs, the CLI calls the pipeline.
FOUNDATION = (
    "gate",
    "gate.errors",
    "gate.units",
    "gate.metrics",
    "gate.fileio",
    "gate.yamlsafe",
    "gate.cores",
)
ROOMS = {
    "tables": "gate.tables",
    "inputs": "gate.inputs",
    "synthetic": "gate.synthetic",
    "budgets": "gate.budgets",
    "store": "gate.store",
    "sql": "gate.sql",
    "rules": "gate.rules",
    "reports": "gate.reports",
    "pipeline": "gate.pipeline",
    "cli": "gate.cli",
    "main": "gate.__main__",
    "data": "gate.data",
}
ALLOWED = {
    "foundation": set(),
    "tables": set(),
    "inputs": {"tables"},
    "synthetic": {"inputs", "tables"},
    "budgets": {"tables"},
    "store": {"tables"},
    "sql": {"store", "tables"},
    "rules": {"store", "budgets", "tables"},
    "reports": {"rules", "tables"},
    "pipeline": {"tables", "inputs", "budgets", "store", "sql", "rules", "reports"},
    "cli": {"pipeline"},
    "main": {"cli"},
    "data": set(),
}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str | None:
    if module in FOUNDATION:
        return "foundation"
    for room, prefix in ROOMS.items():
        if module == prefix or module.startswith(prefix + "."):
            return room
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every `gate` module the file imports, anywhere in it (type-only imports too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, n if _room(n) else node.module) for n in names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in out if m == "gate" or m.startswith("gate.")]


def test_every_module_belongs_to_a_room() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert _room(_module(path)) is not None, f"{path}: add it to a room of this test"


def test_layers_import_only_what_lies_below_them() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = _room(_module(path))
        assert room is not None
        for line, target in _imports(path):
            other = _room(target)
            if other in (room, "foundation") or other in ALLOWED[room]:
                continue
            wrong.append(f"{path.relative_to(REPO)}:{line}: {room} imports {target} ({other})")
    assert not wrong, "\n".join(wrong)


# --- SQL ----------------------------------------------------------------------------------------

_CREATE = re.compile(
    r"^CREATE (?:OR REPLACE )?(?:TEMP )?(TABLE|VIEW) (?:IF NOT EXISTS )?(\w+)( AS| \()?",
    re.M,
)
_COLUMN_DEF = re.compile(r"^\s+(\w+)\s+[A-Z]")
_DOC_LINE = re.compile(r"^-- {3}(\w.*)$")


def _sql_files() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.sql")) if not re.match(r"GATE\d+", p.name)]


def _documented(text: str, match: re.Match[str]) -> set[str]:
    """The columns the SQL text documents for the relation created at `match`: commented
    column lines of a column list, or the `--   name  description` block above a query."""
    name = match.group(2)
    above = text[: match.start()].rstrip("\n").split("\n")
    block: list[str] = []
    while above and above[-1].startswith("--"):
        block.insert(0, above.pop())
    assert block and block[0].startswith(f"-- {name}: "), f"{name}: no '-- {name}: ...' title"
    if match.group(3) == " (":
        body = text[match.end() : text.index(");", match.end())]
        cols = set()
        for line in body.split("\n"):
            m = _COLUMN_DEF.match(line)
            if m:
                assert "--" in line, f"{name}.{m.group(1)} has no comment"
                cols.add(m.group(1))
        return cols
    cols = set()
    for line in block[1:]:
        m = _DOC_LINE.match(line)
        if m:
            head = re.split(r"\s{2,}", m.group(1).strip())[0]
            cols |= {c.strip() for c in head.split(",") if c.strip()}
    return cols


def _built_store() -> Store:
    store = Store()
    events = [alloc(1, 0x1000, 64), alloc(2, 0x2000, 32), free(3, 0x2000)]
    load(store, scenario(events))
    build_model(store.con, ModelConfig())
    prepare(store.con)
    load_rule_inputs(store.con, BudgetSet.empty(), None)
    return store


def test_every_public_table_and_column_is_documented() -> None:
    """The comment block above each public table or view names exactly the columns DuckDB
    reports for it (a column added, renamed or dropped without its doc fails here)."""
    relations: dict[str, set[str]] = {}
    for path in _sql_files():
        text = path.read_text(encoding="utf-8")
        for match in _CREATE.finditer(text):
            if not match.group(2).startswith("_"):
                relations[match.group(2)] = _documented(text, match)
    assert {"traces", "allocations", "driver_metrics_aggregated", "budget_limits"} <= set(relations)
    with _built_store() as store:
        for name, documented in sorted(relations.items()):
            actual = {r[0] for r in store.con.execute(f"DESCRIBE {name}").fetchall()}
            assert documented == actual, f"{name}: documented {documented ^ actual} wrongly"


def test_sql_spells_the_reserved_driver_names_as_the_code_does() -> None:
    for path in PACKAGE.rglob("*.sql"):
        for literal in re.findall(r"'(\([a-z]+\))'", path.read_text(encoding="utf-8")):
            assert literal in RESERVED_NAMES, f"{path.name}: {literal}"


def test_the_model_steps_are_the_model_files() -> None:
    files = sorted(p.name for p in (PACKAGE / "sql" / "model").glob("*.sql"))
    assert [s for s in MODEL_STEPS if isinstance(s, str)] == files


def test_no_rule_or_model_file_drops_data() -> None:
    for path in PACKAGE.rglob("*.sql"):
        assert not re.search(r"\bDROP\s+(?!TABLE _)", path.read_text()), path


# --- Python ------------------------------------------------------------------------------------

# Functions allowed past the length limit, with the reason.
LONG_FUNCTIONS = {
    # One sequential loop each, compiled by numba: splitting them would cost calls per record.
    "gate/inputs/etl/records.py:_header_kernel",
    "gate/inputs/etl/xpress.py:_decompress_kernel",
    "gate/inputs/etl/xpress.py:_compress_kernel",
    # The pure-Python twin of _decompress_kernel, kept line for line alike.
    "gate/inputs/etl/xpress.py:decompress_python",
    # A Typer command: its length is its option declarations.
    "gate/cli.py:check",
}
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_functions_are_short(path: Path) -> None:
    rel = path.relative_to(REPO).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            if f"{rel}:{node.name}" not in LONG_FUNCTIONS:
                assert lines <= MAX_FUNCTION_LINES, f"{rel}:{node.lineno} {node.name}: {lines}"
