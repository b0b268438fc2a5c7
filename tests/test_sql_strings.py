"""No user-supplied string is ever pasted into SQL text.

Every `execute(` / `executemany(` / `sql(` / `query(` call in gate/ whose SQL argument is built
with an f-string, `%`, `+` or `.format` (directly, or through a variable assigned so in the
same function) must be in ALLOWED, where every interpolated value is an identifier or number
from the code's own constants. Paths, driver names, tags, rule file names and windows are
bound parameters instead. Spots that still paste something else are in OPEN, each with where
it must be fixed; they show as expected failures until they are.
"""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest
from scenario_kit import REPO

PACKAGE = REPO / "gate"
# `_query` is gate/store/normalized.py's wrapper around execute.
CALLS = {"execute", "executemany", "sql", "query", "_query"}

# path:function -> why every value pasted there is the code's own.
ALLOWED = {
    "gate/store/normalized.py:export_normalized": "table and ORDER BY columns of the code's own",
    "gate/store/normalized.py:import_normalized": "table names from RAW_TABLES (DELETE on failure)",
    "gate/store/normalized.py:_insert_frames": "the source subquery _insert built",
    "gate/store/normalized.py:_insert": "store column names, table from TABLES, int offset",
    "gate/store/normalized.py:_check_values": "conditions are the literals of _BAD_ROWS",
    "gate/store/store.py:insert_rows": "table checked against _IDENTIFIER, catalog types",
    "gate/store/store.py:Store._forget": "table names from RAW_TABLES",
    "gate/sql/peaks.py:build_peaks": "a type name chosen from two literals",
    "gate/rules/runner.py:run_rule": (
        "DESCRIBE of the rule's own SQL: a rule is SQL by design; no file name or value is pasted"
    ),
}
# path:function -> what is pasted and where it must become a bound parameter.
OPEN = {
    "gate/store/store.py:Store.__init__": (
        "GATE_MEMORY_LIMIT is pasted into SET memory_limit: bind it (SET memory_limit = ?)"
    ),
}


def _built(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


class _Finder(ast.NodeVisitor):
    """Calls whose SQL text is built from pieces, named `path:Class.function`."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.scope: list[str] = []
        self.built_names: list[set[str]] = [set()]
        self.found: set[str] = set()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        names = {
            t.id
            for n in ast.walk(node)
            if isinstance(n, ast.Assign) and _built(n.value)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        self.built_names.append(names)
        self.generic_visit(node)
        self.built_names.pop()
        self.scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in CALLS and node.args:
            # The wrapper takes (store, path, sql, params); the others take the SQL first.
            sql = node.args[2] if name == "_query" and len(node.args) > 2 else node.args[0]
            by_name = isinstance(sql, ast.Name) and sql.id in self.built_names[-1]
            if _built(sql) or by_name:
                self.found.add(f"{self.rel}:{'.'.join(self.scope[-2:])}")
        self.generic_visit(node)


def _spots() -> set[str]:
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        finder = _Finder(rel)
        finder.visit(ast.parse(path.read_text(encoding="utf-8")))
        found |= finder.found
    return found


def test_sql_text_is_never_built_from_strings_outside_the_allowlist() -> None:
    unexpected = sorted(_spots() - set(ALLOWED) - set(OPEN))
    assert not unexpected, (
        "SQL built from pieces (bind the values, or add the spot to ALLOWED with the reason "
        "every pasted value is the code's own):\n" + "\n".join(unexpected)
    )


def test_the_allowlist_has_no_stale_entries() -> None:
    stale = sorted(set(ALLOWED) - _spots())
    assert not stale, "ALLOWED names spots that no longer build SQL: " + ", ".join(stale)


@pytest.mark.parametrize("spot", sorted(OPEN))
def test_open_spots_are_fixed(spot: str) -> None:
    if spot in _spots():
        pytest.xfail(f"{spot}: {OPEN[spot]}")


def test_the_finder_sees_every_way_of_building_sql(tmp_path: Path) -> None:
    source = """
def f(con, table, path):
    con.execute(f"SELECT * FROM {table}")
    con.execute("COPY t TO '" + path + "'")
    con.sql("SELECT %s" % path)
    con.execute("SELECT {}".format(path))
    text = f"DELETE FROM {table}"
    con.execute(text)
    con.execute("SELECT ?", [path])
    con.execute("SELECT 1 " "FROM t")
"""
    finder = _Finder("x.py")
    finder.visit(ast.parse(source))
    assert finder.found == {"x.py:f"}
    lines = []
    for call in ast.walk(ast.parse(source)):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") in CALLS:
            arg = call.args[0]
            lines.append(_built(arg) or (isinstance(arg, ast.Name) and arg.id == "text"))
    assert lines == [True, True, True, True, True, False, False]


def test_a_quote_in_a_bound_path_cannot_inject(tmp_path: Path) -> None:
    """The bound form the gate uses for paths: a crafted name stays a name."""
    con = duckdb.connect()
    target = tmp_path / "x' (FORMAT csv); COPY (SELECT 1) TO 'pwned.csv"
    con.execute("COPY (SELECT 42 AS a) TO ? (FORMAT parquet)", [str(target)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert con.execute("SELECT a FROM read_parquet(?)", [str(target)]).fetchall() == [(42,)]
