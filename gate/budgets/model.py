"""Typed budgets: what the budget YAML files say, after validation and merging.

Every value that came from a file keeps the file and line it came from, so that a failure can
point at the budget line that caused it (JUnit `file`/`line`, CI annotations). The loader
resolves defaults, so a `DriverBudget` holds the effective `warn_at` and baseline tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple

from gate.metrics import AGGREGATES, COUNT_METRICS, METRICS
from gate.tables.drivers import TOTAL

__all__ = [
    "AGGREGATES",
    "COUNT_METRICS",
    "DEFAULT_DRIVER",
    "DEFAULT_TOLERANCE_MIN_BYTES",
    "DEFAULT_TOLERANCE_MIN_COUNT",
    "DEFAULT_TOLERANCE_PERCENT",
    "DEFAULT_WARN_AT",
    "METRICS",
    "TOTAL_DRIVER",
    "Attribution",
    "BudgetSet",
    "DriverBudget",
    "Limit",
    "TagRule",
    "WaiverRule",
]

DEFAULT_DRIVER = "*"
TOTAL_DRIVER = TOTAL
DEFAULT_WARN_AT = 0.8
DEFAULT_TOLERANCE_PERCENT = 0.10
DEFAULT_TOLERANCE_MIN_BYTES = 64 * 1024
# The floor for counts (nonpaged_allocations): a few more allocations in one boot are noise.
DEFAULT_TOLERANCE_MIN_COUNT = 50

Unbudgeted = Literal["warn", "fail"]


@dataclass(frozen=True)
class Limit:
    """One limit on one metric, where it was written (1-based line and column)."""

    metric: str
    value: int
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class DriverBudget:
    """A driver's entry (or the `"*"` default) with its effective thresholds."""

    driver: str
    owner: str | None
    limits: Mapping[str, Limit]
    warn_at: float
    tolerance_percent: float
    tolerance_min_bytes: int
    file: str
    line: int
    tolerance_min_count: int = DEFAULT_TOLERANCE_MIN_COUNT

    @property
    def is_default(self) -> bool:
        return self.driver == DEFAULT_DRIVER


@dataclass(frozen=True)
class WaiverRule:
    """Permission for a driver (all its metrics, or one) to fail until `expires`, with a reason."""

    driver: str
    metric: str | None
    reason: str
    expires: date
    file: str
    line: int
    owner: str | None = None
    issue: str | None = None

    def is_expired(self, today: date) -> bool:
        """True after the expiry date; a waiver still applies on the day it expires."""
        return today > self.expires

    def covers(self, driver: str, metric: str) -> bool:
        return self.driver == driver and (self.metric is None or self.metric == metric)


class TagRule(NamedTuple):
    """A pool tag pattern (`*` and `?` wildcards, case-sensitive) that names a tag's driver."""

    pattern: str
    driver: str
    file: str
    line: int


@dataclass(frozen=True)
class Attribution:
    """How allocations are given to drivers beyond the built-in stack walk (metrics.md)."""

    skip_modules: tuple[str, ...] = ()
    tag_rules: tuple[TagRule, ...] = ()  # in priority order: files in the given order
    pooltag_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class BudgetSet:
    """All budget files of a run, merged. `BudgetSet.empty()` when a run has none."""

    files: tuple[str, ...]
    drivers: Mapping[str, DriverBudget]
    default: DriverBudget | None
    totals: Mapping[str, Limit]
    warn_at: float = DEFAULT_WARN_AT
    tolerance_percent: float = DEFAULT_TOLERANCE_PERCENT
    tolerance_min_bytes: int = DEFAULT_TOLERANCE_MIN_BYTES
    tolerance_min_count: int = DEFAULT_TOLERANCE_MIN_COUNT
    unbudgeted: Unbudgeted = "warn"
    window: tuple[float | None, float | None] | None = None
    aggregate: str = "max"
    attribution: Attribution = field(default_factory=Attribution)
    waivers: tuple[WaiverRule, ...] = ()
    # Symbol path entries for PDBs (relative folders made absolute), before the command line's.
    symbols: tuple[str, ...] = ()
    today: date = field(default_factory=date.today)

    @classmethod
    def empty(cls, today: date | None = None) -> BudgetSet:
        return cls(
            files=(),
            drivers=MappingProxyType({}),
            default=None,
            totals=MappingProxyType({}),
            today=today or date.today(),
        )

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def budget_for(self, driver: str) -> DriverBudget | None:
        """The driver's own entry, else the `"*"` default, else None.

        An own entry replaces the default as a whole: limits the entry leaves out are not taken
        from `"*"`, so reading one entry tells everything that applies to that driver.
        """
        own = self.drivers.get(driver.lower())
        return own if own is not None else self.default

    def limit_for(self, driver: str, metric: str) -> Limit | None:
        """The limit on `metric` for `driver` (`"(total)"` for the totals), or None."""
        if driver == TOTAL_DRIVER:
            return self.totals.get(metric)
        budget = self.budget_for(driver)
        return None if budget is None else budget.limits.get(metric)

    def tolerance_for(self, driver: str) -> tuple[float, int]:
        """`(percent, min_bytes)` of the baseline tolerance that applies to `driver`."""
        budget = None if driver == TOTAL_DRIVER else self.budget_for(driver)
        if budget is None:
            return self.tolerance_percent, self.tolerance_min_bytes
        return budget.tolerance_percent, budget.tolerance_min_bytes

    def warn_at_for(self, driver: str) -> float:
        budget = None if driver == TOTAL_DRIVER else self.budget_for(driver)
        return self.warn_at if budget is None else budget.warn_at

    def waivers_for(self, driver: str, metric: str) -> tuple[WaiverRule, ...]:
        """Every waiver that names this driver and metric, expired ones included."""
        return tuple(w for w in self.waivers if w.covers(driver.lower(), metric))

    def active_waiver(self, driver: str, metric: str) -> WaiverRule | None:
        """The waiver in force on `self.today`: a metric-specific one before a whole-driver one."""
        live = [w for w in self.waivers_for(driver, metric) if not w.is_expired(self.today)]
        live.sort(key=lambda w: w.metric is None)
        return live[0] if live else None
