"""The rule inputs: the budgets and the baseline loaded into the tables of `_inputs.sql`.

Rows go in as bound parameters; which entry applies to which driver (the `"*"` default, the
pseudo-drivers' own entries) is decided in SQL, by the views of `_prelude.sql`.
"""

from __future__ import annotations

import duckdb

from gate.budgets.baseline import Baseline
from gate.budgets.model import BudgetSet, DriverBudget
from gate.rules.evidence import load_baseline_evidence
from gate.store.store import insert_rows


def _tolerance(e: DriverBudget) -> tuple[float, int, int]:
    return e.tolerance_percent, e.tolerance_min_bytes, e.tolerance_min_count


def load_rule_inputs(
    con: duckdb.DuckDBPyConnection, budgets: BudgetSet, baseline: Baseline | None
) -> None:
    """Fill the rule input tables (created by `gate.rules.runner.prepare`)."""
    entries: list[DriverBudget] = [*budgets.drivers.values()]
    if budgets.default is not None:
        entries.append(budgets.default)
    insert_rows(
        con,
        "budget_entries",
        [[e.driver, e.owner, e.warn_at, *_tolerance(e), e.file, e.line] for e in entries],
    )
    insert_rows(
        con,
        "budget_entry_limits",
        [
            [e.driver, m, float(lim.value), lim.file, lim.line]
            for e in entries
            for m, lim in sorted(e.limits.items())
        ],
    )
    insert_rows(
        con,
        "budget_totals",
        [[m, float(lim.value), lim.file, lim.line] for m, lim in sorted(budgets.totals.items())],
    )
    insert_rows(
        con,
        "cfg_budgets",
        [
            [
                budgets.warn_at,
                budgets.tolerance_percent,
                budgets.tolerance_min_bytes,
                budgets.tolerance_min_count,
                budgets.unbudgeted,
            ]
        ],
    )
    if baseline is not None:
        insert_rows(con, "baseline_values", [list(r) for r in baseline.rows()])
        if baseline.evidence:
            load_baseline_evidence(con, baseline.evidence)
