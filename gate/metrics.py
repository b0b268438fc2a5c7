"""Every metric the gate computes: its name, unit, report order and the evidence that explains it.

The definitions are `shared/reference/metrics.md`'s and are computed by the SQL model
(`gate/sql/model`); this is the one place where the rest of the gate learns what the metrics
are: budgets validate names against it, rules load its evidence table, reports order by it
and print values in its units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from gate.units import format_bytes, format_count

__all__ = [
    "AGGREGATES",
    "COUNT_METRICS",
    "HEADLINE_METRIC",
    "METRICS",
    "METRICS_VERSION",
    "TRACE_QUALITY",
    "Metric",
    "evidence_for",
    "format_value",
    "is_bytes_metric",
    "priority",
]

Pool = Literal["nonpaged", "paged"]

# The version of the metric definitions: raised whenever a metric would come out differently
# from the same trace, so that baselines computed before are not compared as if alike.
METRICS_VERSION = 1


def priority(metric: str) -> int:
    """Where a metric comes in reports: non-paged impacting bytes, the transient peak and
    active code first (the manual procedure's figures), then the rest, then unknown metrics."""
    known = METRICS.get(metric)
    return known.priority if known is not None else len(METRICS)


def is_bytes_metric(metric: str) -> bool:
    """A metric is a byte quantity when its name ends in `_bytes` (user rules' metrics too)."""
    return metric.endswith("_bytes")


@dataclass(frozen=True)
class Metric:
    """One metric: `evidence_pool` and `evidence_order` say which pool's tags and call sites
    explain it and by which of their figures they are ranked (None: no pool evidence)."""

    name: str
    description: str
    evidence_pool: Pool | None
    evidence_order: Literal["impacting_bytes", "allocated_bytes"] | None
    priority: int  # reading order in reports: the manual procedure's headline figures first

    @property
    def is_count(self) -> bool:
        return not is_bytes_metric(self.name)


def _m(name: str, description: str, pool: Pool | None, order: str | None, priority: int) -> Metric:
    return Metric(name, description, pool, order, priority)  # type: ignore[arg-type]


METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        m.name: m
        for m in (
            _m(
                "nonpaged_impacting_bytes",
                "net non-paged pool kept over the window (AIFO - AOFI)",
                "nonpaged",
                "impacting_bytes",
                0,
            ),
            _m(
                "paged_impacting_bytes",
                "net paged pool kept over the window (AIFO - AOFI)",
                "paged",
                "impacting_bytes",
                3,
            ),
            _m(
                "nonpaged_transient_peak_bytes",
                "largest non-paged transient (AIFI) bytes live at once",
                "nonpaged",
                "allocated_bytes",
                1,
            ),
            _m(
                "nonpaged_peak_outstanding_bytes",
                "high-water mark of non-paged bytes not yet freed",
                "nonpaged",
                "allocated_bytes",
                4,
            ),
            _m(
                "nonpaged_allocated_bytes",
                "total size of non-paged allocations made in the window",
                "nonpaged",
                "allocated_bytes",
                5,
            ),
            _m(
                "nonpaged_allocations",
                "number of non-paged allocations made in the window (a count)",
                "nonpaged",
                "allocated_bytes",
                6,
            ),
            _m(
                "active_code_bytes",
                "driver code pages on the Active list in the last resident set",
                None,
                None,
                2,
            ),
        )
    }
)
"""Every metric a budget can limit, in report order."""

# The manual procedure's headline figure: a driver's net steady-state growth of non-paged pool.
HEADLINE_METRIC = "nonpaged_impacting_bytes"

COUNT_METRICS: frozenset[str] = frozenset(m for m in METRICS if METRICS[m].is_count)
"""Metrics that are counts, not bytes: their limits are plain integers."""

AGGREGATES: tuple[str, ...] = ("max", "median", "mean", "min")

# The metric of the checks about a trace itself (lost events, no pool events): no evidence.
TRACE_QUALITY = "trace_quality"
# Evidence for metrics of users' rules that the catalog does not know.
_DEFAULT_EVIDENCE: tuple[str, Pool, str] = ("window", "nonpaged", "allocated_bytes")
"""How a metric is aggregated over several traces (metrics.md, "Several traces")."""


# The transient peak is explained by what is live at its moment, not by the whole window
# (where a driver's leaks would crowd out the spike's call sites).
_PEAK_EXPLAINED = frozenset({"nonpaged_transient_peak_bytes"})


def evidence_for(metric: str) -> tuple[str, Pool, str] | None:
    """(source, pool, ranking figure) of the tags and call sites that explain `metric`, or
    None. The source is 'window' (every allocation taking part in the window) or 'peak' (the
    allocations live at the driver's transient peak)."""
    known = METRICS.get(metric)
    if known is not None:
        if known.evidence_pool is None or known.evidence_order is None:
            return None
        source = "peak" if metric in _PEAK_EXPLAINED else "window"
        return source, known.evidence_pool, known.evidence_order
    if metric == TRACE_QUALITY:
        return None
    return _DEFAULT_EVIDENCE


def _as_int(value: float) -> int | None:
    if isinstance(value, int):
        return value
    if math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def format_value(metric: str | None, value: float | None) -> str:
    """A metric's value for people: binary units for bytes, a grouped count otherwise."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if metric is not None and is_bytes_metric(metric):
        return format_bytes(round(value))
    whole = _as_int(value)
    if whole is not None:
        return format_count(whole)
    # Aggregates such as a median of counts can be fractional; show enough to see that.
    return f"{value:,.1f}"
