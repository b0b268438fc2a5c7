"""JSON for machines: dashboards, baseline tooling, bots that comment on pull requests.

The shape is versioned (`"format": "gate-report", "version": 1`); fields may be added within a
version, never renamed or removed. Byte counts are exact integers, never rounded display
strings. Output is byte-stable for a given verdict (sorted keys, a fixed check order, two-space
indent, newline at the end), so two runs can be diffed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from gate.reports.common import clean_text, is_bytes_metric, ordered_for_machines
from gate.rules.results import (
    CallSite,
    Check,
    DriverFigures,
    Finding,
    Growth,
    Outcome,
    PeakMoment,
    StackNode,
    StackTree,
    TagUse,
    Verdict,
)

__all__ = ["FORMAT", "VERSION", "render_json"]

FORMAT = "gate-report"
VERSION = 1


def render_json(verdict: Verdict) -> str:
    """The verdict as a `gate-report` version 1 JSON document."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "gate_version": verdict.gate_version,
        "exit_code": int(verdict.exit_code),
        "warn_as_error": verdict.warn_as_error,
        "summary": {o.value: verdict.count(o) for o in Outcome},
        "window": verdict.window,
        "aggregate": verdict.aggregate,
        "budget_files": list(verdict.budget_files),
        "baseline": verdict.baseline_source,
        "traces": [asdict(t) for t in verdict.traces],
        "notes": [clean_text(n) for n in verdict.notes],
        "checks": [_check(c) for c in ordered_for_machines(verdict.checks)],
        "figures": [_figures(f) for f in verdict.figures],
        "trees": [_tree(verdict.trees[k]) for k in sorted(verdict.trees)],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _number(value: float | None) -> int | float | None:
    """Integral values as JSON integers; NaN and infinities (not JSON) as null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _check(c: Check) -> dict[str, Any]:
    delta = None
    if c.observed is not None and c.baseline is not None:
        delta = _number(c.observed - c.baseline)
    return {
        "metric": c.metric,
        "driver": c.driver,
        "unit": "bytes" if is_bytes_metric(c.metric) else "count",
        "outcome": c.outcome.value,
        "observed": _number(c.observed),
        "limit": _number(c.limit),
        "baseline": _number(c.baseline),
        "delta": delta,
        "message": clean_text(c.message),
        "owner": c.owner,
        "budget_file": c.budget_file,
        "budget_line": c.budget_line,
        "traces_seen": c.traces_seen,
        "waiver": asdict(c.waiver) if c.waiver is not None else None,
        "warned_as_error": c.warned_as_error,
        "findings": [_finding(f) for f in c.findings],
        "top_tags": [_tag(t) for t in c.top_tags],
        "top_sites": [_site(s) for s in c.top_sites],
        "peak": _peak(c.peak),
        "grew": None if c.grew is None else [_growth(g) for g in c.grew],
        "grew_unknown": c.grew_unknown,
    }


def _growth(g: Growth) -> dict[str, Any]:
    return {
        "kind": g.kind,
        "name": clean_text(g.name),
        "observed_bytes": g.observed_bytes,
        "baseline_bytes": g.baseline_bytes,
        "new": g.new,
    }


def _peak(p: PeakMoment | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"time_s": p.time_s, "peak_bytes": p.peak_bytes, "trace": clean_text(p.trace)}


def _tree(t: StackTree) -> dict[str, Any]:
    return {
        "driver": t.driver,
        "kind": t.kind,
        "allocations": t.allocations,
        "size_bytes": t.size_bytes,
        "without_stack_bytes": t.without_stack_bytes,
        "hidden_bytes": t.hidden_bytes,
        "peak": _peak(t.peak),
        "roots": [_node(n) for n in t.roots],
    }


def _node(n: StackNode) -> dict[str, Any]:
    return {
        "frame": clean_text(n.frame),
        "allocations": n.allocations,
        "size_bytes": n.size_bytes,
        "hidden_bytes": n.hidden_bytes,
        "children": [_node(c) for c in n.children],
    }


def _figures(f: DriverFigures) -> dict[str, Any]:
    return {
        "driver": f.driver,
        "traces_seen": f.traces_seen,
        "values": {m: _number(v) for m, v in f.values.items()},
        "not_evaluated": dict(f.not_evaluated),
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "driver": f.driver,
        "metric": f.metric,
        "outcome": f.outcome.value,
        "observed": _number(f.observed),
        "limit": _number(f.limit),
        "baseline": _number(f.baseline),
        "message": clean_text(f.message),
    }


def _tag(t: TagUse) -> dict[str, Any]:
    return {
        "tag": t.tag,
        "impacting_bytes": int(t.impacting_bytes),
        "allocated_bytes": int(t.allocated_bytes),
        "allocations": int(t.allocations),
    }


def _site(s: CallSite) -> dict[str, Any]:
    return {
        "site": s.site,
        "impacting_bytes": int(s.impacting_bytes),
        "allocated_bytes": int(s.allocated_bytes),
        "allocations": int(s.allocations),
    }
