"""Stack trees: where a driver's impacting and transient allocations come from, function by
function (`gate explain`, and the reports of failing and warning checks).

The SQL (`_stack_tree_chosen.sql`, `_stack_tree.sql`, `_stack_tree_totals.sql`) chooses the
allocations, cuts each stack to the frames from the driver's outermost frame down to its call
site, folds the callers above into one node, and sums every node of every wanted tree in one
query; this module only links the kept nodes to their parents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from gate.rules.evidence import peak_moments
from gate.rules.results import FOLDED_FRAMES, StackNode, StackTree
from gate.store.store import insert_rows, run_script, sql_text

KINDS = ("impacting", "transient")

# The reports' trees stop here; `gate explain` shows what the user asks for.
REPORT_DEPTH = 12
REPORT_MIN_SHARE = 0.01  # nodes under 1 % of the tree's bytes are summed into their parent

_NO_DEPTH_LIMIT = 1 << 30


@dataclass
class _Node:
    frame: str
    allocations: int
    size_bytes: int
    own_bytes: int
    children: list[_Node] = field(default_factory=list)

    def frozen(self) -> StackNode:
        shown = sum(c.size_bytes for c in self.children)
        return StackNode(
            self.frame,
            self.allocations,
            self.size_bytes,
            tuple(c.frozen() for c in self.children),
            hidden_bytes=self.size_bytes - self.own_bytes - shown,
        )


def stack_trees(
    con: duckdb.DuckDBPyConnection,
    wanted: list[tuple[str, str]],
    *,
    depth: int | None = None,
    min_bytes: int = 0,
    min_share: float = 0.0,
) -> dict[tuple[str, str], StackTree]:
    """The trees of the wanted (driver, kind) pairs that have allocations of that kind.

    Nodes deeper than `depth` (driver frames below the root; the folded callers do not count)
    or smaller than `min_bytes`, or than `min_share` of their tree's bytes, are left out and
    their bytes are shown as hidden in their parent. Needs the model and `prepare`.
    """
    pairs = sorted({(d, k) for d, k in wanted if k in KINDS})
    if not pairs:
        return {}
    con.execute("DELETE FROM _tree_wanted").fetchall()
    insert_rows(con, "_tree_wanted", [list(p) for p in pairs])
    run_script(con, sql_text("gate.rules", "_stack_tree_chosen.sql"))
    totals = {
        (d, k): (int(n), int(b), int(w))
        for d, k, n, b, w in con.execute(
            sql_text("gate.rules", "_stack_tree_totals.sql")
        ).fetchall()
    }
    floor = max(int(min_bytes), 1)
    if min_share > 0 and totals:
        # One query for every tree: the share is applied again per tree below.
        floor = max(floor, int(min_share * min(abs(b) for _, b, _ in totals.values())))
    rows = con.execute(
        sql_text("gate.rules", "_stack_tree.sql"),
        {
            "folded": FOLDED_FRAMES,
            "depth": _NO_DEPTH_LIMIT if depth is None else depth,
            "min_bytes": floor,
        },
    ).fetchall()
    peaks = peak_moments(con) if any(k == "transient" for _, k in pairs) else {}
    nodes: dict[tuple[str, str], dict[tuple[str, ...], _Node]] = {}
    roots: dict[tuple[str, str], list[_Node]] = {}
    for driver, kind, path, allocations, size_bytes, own_bytes in rows:
        key = (driver, kind)
        total = abs(totals[key][1]) if key in totals else 0
        if min_share > 0 and abs(size_bytes) < max(min_bytes, min_share * total):
            continue
        node = _Node(path[-1], int(allocations), int(size_bytes), int(own_bytes))
        tree_nodes = nodes.setdefault(key, {})
        tree_nodes[tuple(path)] = node
        if len(path) == 1:
            roots.setdefault(key, []).append(node)
        else:
            parent = tree_nodes.get(tuple(path[:-1]))
            if parent is not None:  # else its parent was left out, and it with it
                parent.children.append(node)
    out: dict[tuple[str, str], StackTree] = {}
    for key, (allocations, size_bytes, without_stack) in totals.items():
        top = roots.get(key, [])
        out[key] = StackTree(
            driver=key[0],
            kind=key[1],
            allocations=allocations,
            size_bytes=size_bytes,
            roots=tuple(n.frozen() for n in top),
            without_stack_bytes=without_stack,
            hidden_bytes=size_bytes - without_stack - sum(n.size_bytes for n in top),
            peak=peaks.get(key[0]) if key[1] == "transient" else None,
        )
    return out
