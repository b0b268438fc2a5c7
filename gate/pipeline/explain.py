"""Stack trees for people: `gate explain`, and the trees the reports of a check carry.

`gate explain` loads and models the inputs as `gate check` does (same window, attribution and
symbols), then shows one driver's impacting and transient allocations as trees of functions.
A check's reports get the same trees, cut shorter, for each driver with a failing or warning
check.
"""

from __future__ import annotations

import difflib

import duckdb

from gate.errors import InputError
from gate.rules.results import Check, Outcome, StackTree
from gate.rules.trees import KINDS, REPORT_DEPTH, REPORT_MIN_SHARE, stack_trees
from gate.tables.drivers import PSEUDO_DRIVERS, TOTAL

# How many known drivers a "no such driver" message names.
_SUGGESTED = 5


def report_trees(
    con: duckdb.DuckDBPyConnection, checks: list[Check]
) -> dict[tuple[str, str], StackTree]:
    """The trees of every driver with a failing or warning check (after `prepare`)."""
    drivers = {
        c.driver for c in checks if c.outcome in (Outcome.FAIL, Outcome.WARN) and c.driver != TOTAL
    }
    wanted = [(d, k) for d in sorted(drivers) for k in KINDS]
    return stack_trees(con, wanted, depth=REPORT_DEPTH, min_share=REPORT_MIN_SHARE)


def driver_trees(
    con: duckdb.DuckDBPyConnection, driver: str, *, depth: int | None, min_bytes: int
) -> list[StackTree]:
    """One driver's trees for `gate explain`, impacting first; an unknown driver is an
    `InputError` that names the closest drivers the traces hold."""
    name = driver.strip().lower()
    known = [r[0] for r in con.execute("SELECT DISTINCT driver FROM allocations").fetchall()]
    if name not in known:
        raise InputError(_unknown_driver(driver, sorted(known)))
    found = stack_trees(con, [(name, k) for k in KINDS], depth=depth, min_bytes=min_bytes)
    return [found[(name, k)] for k in KINDS if (name, k) in found]


def _unknown_driver(driver: str, known: list[str]) -> str:
    real = [d for d in known if d not in PSEUDO_DRIVERS]
    close = difflib.get_close_matches(driver.lower(), real, n=_SUGGESTED, cutoff=0.5)
    shown = close or real[:_SUGGESTED]
    hint = f"; {'did you mean' if close else 'drivers seen include'} {', '.join(shown)}"
    return (
        f"--driver {driver!r}: no pool allocations of that driver in the inputs"
        f"{hint if shown else ''}"
    )
