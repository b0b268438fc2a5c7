"""A first budget file from measured figures: measured × (1 + headroom), rounded up to tidy sizes.

The text is meant to be reviewed and committed, so it is deterministic (sorted drivers, metrics
in `METRICS` order, no dates), says in its header how it was made, and notes the measured value
next to each limit. It is always loadable by `load_budgets`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction

from gate.budgets.model import COUNT_METRICS, DEFAULT_DRIVER, METRICS, Attribution
from gate.tables.drivers import RESERVED_NAMES
from gate.units import format_bytes, format_count

__all__ = ["propose_budgets", "tidy_count", "tidy_size", "warn_at_for", "write_size"]

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

# (smallest value, step it is rounded up to): steps grow with the value so that a limit has
# about two to four significant binary digits, which reads well and is stable between runs.
_SIZE_STEPS = ((64 * MiB, MiB), (4 * MiB, 64 * KiB), (64 * KiB, 4 * KiB), (4 * KiB, KiB), (0, 256))
# A limit of 0 would fail on the first byte; one page is the least a driver is given.
_MIN_SIZE = 4 * KiB
_MIN_COUNT = 10

_PLAIN_NAME_RE = re.compile(r"[a-z0-9_][a-z0-9_.\-]*")


def tidy_size(value: float | Fraction) -> int:
    """`value` rounded up to a tidy binary step: 1 KiB below 64 KiB, 4 KiB below 4 MiB, ..."""
    wanted = max(math.ceil(value), _MIN_SIZE)
    step = next(step for lowest, step in _SIZE_STEPS if wanted >= lowest)
    return -(-wanted // step) * step


def tidy_count(value: float | Fraction) -> int:
    """`value` rounded up to two significant decimal digits: 1,481 → 1,500."""
    wanted = max(math.ceil(value), _MIN_COUNT)
    step = 10 ** max(len(str(wanted)) - 2, 0)
    return -(-wanted // step) * step


def write_size(size: int) -> str:
    """A size as budget text: in the largest binary unit that divides it, else in bytes."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size and size % unit == 0:
            return f"{size // unit} {name}"
    return str(size)


def _yaml_key(name: str) -> str:
    # JSON's double-quoted strings are valid YAML, which covers "*" and "(kernel)".
    return name if _PLAIN_NAME_RE.fullmatch(name) else json.dumps(name)


def _proposed(metric: str, measured: float, factor: Fraction) -> int:
    grown = Fraction(max(measured, 0)) * factor
    return tidy_count(grown) if metric in COUNT_METRICS else tidy_size(grown)


def _written(metric: str, limit: int) -> str:
    return str(limit) if metric in COUNT_METRICS else write_size(limit)


def _shown(metric: str, measured: float) -> str:
    return format_count(measured) if metric in COUNT_METRICS else format_bytes(measured)


def _median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def _chosen(
    measured: Mapping[str, Mapping[str, float]],
    totals: Mapping[str, float],
    metrics: Sequence[str] | None,
) -> list[str]:
    """The metrics to propose limits for, in `METRICS` order."""
    if metrics is None:
        seen = {m for values in measured.values() for m in values} | set(totals)
        return [m for m in METRICS if m in seen]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}: use {', '.join(METRICS)}")
    return [m for m in METRICS if m in metrics]


def warn_at_for(headroom: float) -> float:
    """The `warn_at` of a proposal made with `headroom`.

    A measured figure is at most 1/(1 + headroom) of its proposed limit (limits are rounded
    up), so warning from the default 80 % would flag every driver of the traces the proposal
    came from once the headroom is under 25 %. The proposal warns halfway between that share
    and the limit, rounded up to a whole percent: 92 % for 20 % headroom.
    """
    share = 1 / (1 + headroom)
    return min(math.ceil(round((share + 1) / 2 * 100, 6)) / 100, 1.0)


def _header(
    headroom: float,
    warn_at: float,
    window: str | None,
    aggregate: str | None,
    attribution: Attribution | None,
) -> list[str]:
    lines = [
        "# Budgets proposed by `gate` from measured figures.",
        f"# Each limit is the measured value plus {headroom * 100:g}% headroom, rounded up to a",
        '# tidy binary size; "*" gets the median of the proposed limits. warn_at is set so that',
        "# the traces measured pass with no warning. Review every limit and add owners before",
        "# committing. The format is described in docs/budgets.md.",
        "version: 1",
    ]
    if window is not None:
        lines.append(f'window: "{window}"')
    if aggregate is not None:
        lines.append(f"aggregate: {aggregate}")
    lines.append(f"warn_at: {warn_at * 100:g}%")
    return lines + _attribution_lines(attribution)


def _attribution_lines(attribution: Attribution | None) -> list[str]:
    """The attribution the figures were measured with, so the budgets judge the same way."""
    if attribution is None:
        return []
    lines = []
    if attribution.skip_modules:
        lines.append(
            f"  skip_modules: [{', '.join(_yaml_key(m) for m in attribution.skip_modules)}]"
        )
    if attribution.tag_rules:
        lines.append("  tags:")
        lines += [
            f"    {json.dumps(r.pattern)}: {_yaml_key(r.driver)}" for r in attribution.tag_rules
        ]
    if attribution.pooltag_paths:
        lines.append(
            f"  pooltag: [{', '.join(json.dumps(str(p)) for p in attribution.pooltag_paths)}]"
        )
    return ["attribution:", *lines] if lines else []


def _driver_lines(drivers: dict[str, dict[str, tuple[int, float]]], chosen: list[str]) -> list[str]:
    """The `drivers:` section: the "*" default (per metric, the median of the proposed driver
    limits) and each driver's limits with the measured value beside them."""
    default_lines = []
    for metric in chosen:
        # Attribution buckets such as "(kernel)" are not drivers a default would stand for.
        proposed = [
            limits[metric][0]
            for name, limits in drivers.items()
            if metric in limits and name not in RESERVED_NAMES
        ]
        if proposed:
            default_lines.append(f"    {metric}: {_written(metric, _median(proposed))}")
    lines = ["drivers:"] if drivers or default_lines else []
    if default_lines:
        lines.append(f"  {_yaml_key(DEFAULT_DRIVER)}:  # any driver without its own entry")
        lines.extend(default_lines)
    for name, limits in drivers.items():
        lines.append(f"  {_yaml_key(name)}:")
        for metric, (limit, value) in limits.items():
            written = _written(metric, limit)
            lines.append(f"    {metric}: {written}  # measured {_shown(metric, value)}")
    return lines


def propose_budgets(
    measured: Mapping[str, Mapping[str, float]],
    totals: Mapping[str, float],
    headroom: float,
    metrics: Sequence[str] | None = None,
    *,
    window: str | None = None,
    aggregate: str | None = None,
    attribution: Attribution | None = None,
) -> str:
    """Budget YAML text with limits of measured × (1 + headroom), rounded up to tidy sizes.

    `measured` maps driver → metric → aggregated value; `totals` maps metric → value over all
    drivers. `metrics` limits the proposal to these metrics (default: every metric measured).
    The `"*"` default gets, per metric, the median of the proposed driver limits, so a new
    driver that is typical passes while a large one needs its own entry. Give `window`,
    `aggregate` and `attribution` when the figures were measured with them, so the budgets
    judge the same way. `warn_at` is `warn_at_for(headroom)`.
    """
    if not math.isfinite(headroom) or headroom <= 0:
        raise ValueError(
            f"headroom {headroom!r} must be more than 0, e.g. 0.2 for 20%: limits equal to "
            "the measured figures would warn on the traces they came from"
        )
    chosen = _chosen(measured, totals, metrics)
    # Exact arithmetic: in floats 1000 × 1.2 is 1200.0000000000002, which would round up a step.
    factor = 1 + Fraction(headroom).limit_denominator(10_000)

    drivers: dict[str, dict[str, tuple[int, float]]] = {}
    for driver in sorted(measured, key=str.lower):
        name = driver.lower()
        if name == DEFAULT_DRIVER:
            continue
        limits = {
            metric: (_proposed(metric, value, factor), value)
            for metric in chosen
            if (value := measured[driver].get(metric)) is not None and math.isfinite(value)
        }
        if limits:
            drivers[name] = limits

    warn_at = warn_at_for(headroom)
    lines = _header(headroom, warn_at, window, aggregate, attribution)
    lines += _driver_lines(drivers, chosen)
    total_lines = [
        f"  {metric}: {_written(metric, _proposed(metric, value, factor))}"
        f"  # measured {_shown(metric, value)}"
        for metric in chosen
        if (value := totals.get(metric)) is not None and math.isfinite(value)
    ]
    if total_lines:
        lines.append("totals:")
        lines.extend(total_lines)
    if not drivers and not total_lines:
        # A budget file needs drivers or totals; an empty mapping keeps the text loadable.
        lines.append("drivers: {}")
    return "\n".join(lines) + "\n"
