"""`gate explain` as text: a driver's stack trees, like WPA's expanded Stack column.

Each tree lists functions from the driver's outermost frame down to the allocating call site,
one level per two spaces, largest first, with the bytes and allocations below each function;
what `--depth` or `--min-bytes` leaves out is one "smaller" line under its parent, so that the
figures on every level still add up to the one above.
"""

from __future__ import annotations

from pathlib import PurePath

from gate.reports.common import format_bytes, format_count, one_line, plural
from gate.rules.results import FOLDED_FRAMES, StackNode, StackTree

_HEADINGS = {
    "impacting": "Impacting non-paged pool",
    "transient": "Transient non-paged pool live at the peak",
}


def render_explain(driver: str, window: str, trees: list[StackTree], notes: list[str]) -> str:
    """The text of `gate explain` for one driver; `trees` in the order to show them."""
    lines = [f"{one_line(driver)}: where its non-paged pool comes from ({window})"]
    for tree in trees:
        lines += ["", *tree_lines(tree)]
    if not trees:
        lines += ["", "No non-paged allocations of this driver take part in the window."]
    if notes:
        lines += ["", *(f"note: {one_line(n)}" for n in notes)]
    return "\n".join(lines) + "\n"


def tree_lines(tree: StackTree) -> list[str]:
    """One tree as text lines: its heading, the column names, a line per function."""
    heading = _HEADINGS.get(tree.kind, tree.kind)
    size = format_bytes(tree.size_bytes)
    count = plural(tree.allocations, "allocation")
    if tree.kind == "transient" and tree.peak is not None:
        where = PurePath(tree.peak.trace.replace("\\", "/")).name
        head = f"{heading}: {size} in {count} at {tree.peak.time_s:.3f} s (in {one_line(where)})"
    else:
        head = f"{heading}: {size} in {count}"
    lines = [head, f"{'bytes':>12}  {'allocs':>10}  stack (outermost first)"]
    for root in tree.roots:
        lines += _node_lines(root, 0)
    if tree.hidden_bytes:
        lines.append(_row(tree.hidden_bytes, None, 0, "(smaller stacks)"))
    if tree.without_stack_bytes:
        lines.append(_row(tree.without_stack_bytes, None, 0, "(attributed by tag: no stack)"))
    if not tree.roots and not tree.without_stack_bytes:
        lines.append(_row(tree.size_bytes, tree.allocations, 0, "(no stacks logged)"))
    return lines


def _node_lines(node: StackNode, level: int) -> list[str]:
    frame = node.frame if node.frame == FOLDED_FRAMES else one_line(node.frame)
    if node.frame == FOLDED_FRAMES:
        frame = f"{FOLDED_FRAMES} frames above the driver, folded"
    lines = [_row(node.size_bytes, node.allocations, level, frame)]
    for child in node.children:
        lines += _node_lines(child, level + 1)
    if node.hidden_bytes:
        lines.append(_row(node.hidden_bytes, None, level + 1, "(smaller callees)"))
    return lines


def _row(size_bytes: int, allocations: int | None, level: int, text: str) -> str:
    count = format_count(allocations) if allocations is not None else ""
    return f"{format_bytes(size_bytes):>12}  {count:>10}  {'  ' * level}{text}"
