"""The gate's jobs, end to end: load inputs, build the model, run the rules, judge.

The CLI calls these functions and nothing below them; they raise `GateError`s and never print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from gate import __version__
from gate.budgets.baseline import Baseline, read_baseline
from gate.budgets.model import BudgetSet, DriverBudget
from gate.errors import BudgetError
from gate.inputs.pooltag import PoolTagTable, read_pooltag
from gate.rules.results import TraceSummary, Verdict
from gate.rules.runner import (
    LimitRow,
    builtin_rules,
    judge,
    prepare,
    run_rule,
    user_rules,
)
from gate.sql import ModelConfig, build_model
from gate.store import Store
from gate.store.load import load_inputs
from gate.tables.chunks import Progress
from gate.tables.drivers import PSEUDO_DRIVERS, TOTAL


@dataclass
class RunSettings:
    """What a run needs besides its inputs; CLI options override the budgets' settings."""

    budgets: BudgetSet
    window: tuple[float | None, float | None] | None = None
    aggregate: str | None = None
    pooltag_files: list[Path] = field(default_factory=list)
    db_path: Path | None = None
    today: date = field(default_factory=date.today)

    def model_config(self) -> ModelConfig:
        b = self.budgets
        window = self.window if self.window is not None else b.window
        start, end = window if window else (None, None)
        table = PoolTagTable()
        for path in [*b.attribution.pooltag_paths, *self.pooltag_files]:
            read_pooltag(Path(path), table)
        return ModelConfig(
            window_start_s=start,
            window_end_s=end,
            aggregate=self.aggregate or b.aggregate,
            extra_skip_modules=tuple(b.attribution.skip_modules),
            tag_rules=tuple((r[0], r[1]) for r in b.attribution.tag_rules),
            pooltag=table.drivers,
            pooltag_patterns=tuple(table.patterns),
        )


ProgressFactory = Callable[[Path], Progress | None]


def open_and_model(
    inputs: list[Path], settings: RunSettings, *, progress: ProgressFactory | None = None
) -> tuple[Store, ModelConfig]:
    """Load the inputs into a store and build the SQL model; the caller closes the store."""
    config = settings.model_config()
    store = Store(settings.db_path)
    try:
        load_inputs(store, inputs, progress)
        build_model(store.con, config)
    except BaseException:
        store.close()
        raise
    return store, config


def measured_figures(store: Store) -> dict[str, dict[str, float]]:
    rows = store.con.execute(
        "SELECT driver, metric, value FROM driver_metrics_aggregated ORDER BY driver, metric"
    ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for driver, metric, value in rows:
        out.setdefault(driver, {})[metric] = float(value)
    return out


def trace_provenance(store: Store) -> list[dict[str, str]]:
    rows = store.con.execute(
        "SELECT source_path, sha256, source_format FROM traces ORDER BY trace_id"
    ).fetchall()
    return [{"source": s, "sha256": h, "format": f} for s, h, f in rows]


def measure_baseline(inputs: list[Path], settings: RunSettings) -> Baseline:
    store, config = open_and_model(inputs, settings)
    with store:
        return Baseline(
            drivers=measured_figures(store),
            traces=trace_provenance(store),
            window=config.window_label(),
            aggregate=config.aggregate,
            source=", ".join(str(p) for p in inputs),
        )


def _budget_for(budgets: BudgetSet, driver: str) -> DriverBudget | None:
    """A driver's own entry, else the "*" default; pseudo-drivers get only their own entry."""
    if driver in PSEUDO_DRIVERS:
        return budgets.drivers.get(driver)
    return budgets.budget_for(driver)


def _limit_rows(budgets: BudgetSet, drivers: list[str]) -> list[LimitRow]:
    """The limits that apply to each measured driver and to each budgeted one."""
    rows: list[LimitRow] = []
    for driver in sorted(set(drivers) | set(budgets.drivers)):
        entry = _budget_for(budgets, driver) if driver in drivers else budgets.drivers[driver]
        if entry is None:
            continue
        for metric, lim in sorted(entry.limits.items()):
            rows.append(
                LimitRow(driver, metric, float(lim.value), entry.warn_at, lim.file, lim.line)
            )
    for metric, lim in sorted(budgets.totals.items()):
        rows.append(LimitRow(TOTAL, metric, float(lim.value), budgets.warn_at, lim.file, lim.line))
    return rows


def _load_rule_tables(
    store: Store,
    budgets: BudgetSet,
    limits: list[LimitRow],
    baseline: Baseline | None,
    drivers: list[str],
) -> None:
    con = store.con
    con.execute(
        "CREATE OR REPLACE TABLE budget_limits (driver VARCHAR, metric VARCHAR, "
        "limit_value DOUBLE, warn_at DOUBLE, budget_file VARCHAR, budget_line INTEGER)"
    ).fetchall()
    if limits:
        con.executemany(
            "INSERT INTO budget_limits VALUES (?, ?, ?, ?, ?, ?)",
            [[r.driver, r.metric, r.limit, r.warn_at, r.file, r.line] for r in limits],
        ).fetchall()
    con.execute("CREATE OR REPLACE TABLE budgeted_drivers (driver VARCHAR)").fetchall()
    if budgets.drivers:
        con.executemany(
            "INSERT INTO budgeted_drivers VALUES (?)", [[d] for d in sorted(budgets.drivers)]
        ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE baseline_values (driver VARCHAR, metric VARCHAR, value DOUBLE)"
    ).fetchall()
    if baseline is not None and baseline.rows():
        con.executemany(
            "INSERT INTO baseline_values VALUES (?, ?, ?)", [list(r) for r in baseline.rows()]
        ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE tolerances (driver VARCHAR, tolerance_percent DOUBLE, "
        "tolerance_min_bytes DOUBLE)"
    ).fetchall()
    tol_rows = []
    for driver in sorted(set(drivers) | {TOTAL}):
        entry = None if driver == TOTAL else _budget_for(budgets, driver)
        if entry is None:
            tol_rows.append([driver, budgets.tolerance_percent, budgets.tolerance_min_bytes])
        else:
            tol_rows.append([driver, entry.tolerance_percent, entry.tolerance_min_bytes])
    con.executemany("INSERT INTO tolerances VALUES (?, ?, ?)", tol_rows).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE cfg_rules (unbudgeted VARCHAR, has_default BOOLEAN)"
    ).fetchall()
    con.execute(
        "INSERT INTO cfg_rules VALUES (?, ?)", [budgets.unbudgeted, budgets.default is not None]
    ).fetchall()


def _trace_summaries(store: Store) -> list[TraceSummary]:
    rows = store.con.execute(
        """SELECT t.trace_id, t.source_path, t.source_format, t.sha256, t.duration_s,
                  q.pool_allocations, t.events_lost, t.buffers_lost, q.unmatched_frees,
                  q.lost_frees, t.has_resident_set, t.synthetic, t.notes
           FROM traces AS t JOIN trace_quality AS q USING (trace_id) ORDER BY t.trace_id"""
    ).fetchall()
    return [
        TraceSummary(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            float(r[4] or 0),
            int(r[5]),
            int(r[6]),
            int(r[7]),
            int(r[8]),
            int(r[9]),
            bool(r[10]),
            bool(r[11]),
            tuple(n for n in r[12].splitlines() if n),
        )
        for r in rows
    ]


@dataclass
class CheckRequest:
    inputs: list[Path]
    settings: RunSettings
    baseline_file: Path | None = None
    baseline_traces: list[Path] = field(default_factory=list)
    rules_dir: Path | None = None
    warn_as_error: bool = False


def run_check(req: CheckRequest, *, progress: ProgressFactory | None = None) -> Verdict:
    settings = req.settings
    baseline: Baseline | None = None
    if req.baseline_file is not None:
        baseline = read_baseline(req.baseline_file)
    if req.baseline_traces:
        reference = RunSettings(
            budgets=settings.budgets,
            window=settings.window,
            aggregate=settings.aggregate,
            pooltag_files=settings.pooltag_files,
            today=settings.today,
        )
        baseline = measure_baseline(req.baseline_traces, reference)
    rules = builtin_rules()
    if req.rules_dir is not None:
        rules += user_rules(req.rules_dir)
    store, config = open_and_model(req.inputs, settings, progress=progress)
    with store:
        drivers = [
            r[0]
            for r in store.con.execute(
                "SELECT DISTINCT driver FROM driver_metrics_aggregated WHERE driver <> '(total)'"
            ).fetchall()
        ]
        limits = _limit_rows(settings.budgets, drivers)
        _load_rule_tables(store, settings.budgets, limits, baseline, drivers)
        prepare(store.con)
        findings = [f for rule in rules for f in run_rule(store.con, rule)]
        owners = {d: b.owner for d, b in settings.budgets.drivers.items() if b.owner}
        checks = judge(
            store.con, findings, limits, owners, settings.budgets.waivers, settings.today
        )
        return Verdict(
            checks=checks,
            traces=_trace_summaries(store),
            window=config.window_label(),
            aggregate=config.aggregate,
            budget_files=[str(f) for f in settings.budgets.files],
            baseline_source=baseline.source if baseline else None,
            gate_version=__version__,
            warn_as_error=req.warn_as_error,
        )


def require_budgets(budgets: BudgetSet) -> BudgetSet:
    if not budgets.drivers and budgets.default is None and not budgets.totals:
        raise BudgetError(["no budgets given: pass --budgets FILE (see 'gate budgets init')"])
    return budgets
