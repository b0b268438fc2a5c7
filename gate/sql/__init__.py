"""The SQL model: documented tables built from the store, step by step (gate/sql/model).

`build_model` creates the run's configuration tables (`config.sql`), fills them with bound
parameters, and runs `MODEL_STEPS` in order: the model files, and one Python step, the
running sums of the peaks (`peaks.py`), between the sweep and the metrics. Public tables and
views have no leading underscore and every column documented in the comment block above them
(a test compares those blocks with the columns DuckDB reports): allocations,
allocations_windowed, driver_metrics, driver_metrics_aggregated, driver_presence,
driver_tags, driver_call_sites, trace_quality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from gate.metrics import AGGREGATES
from gate.sql.peaks import build_peaks
from gate.sql.ranges import refuse_overflowing_sums
from gate.store.store import insert_rows, run_script, sql_text
from gate.tables.drivers import DEFAULT_SKIP_MODULES
from gate.units import format_window

ModelStep = str | Callable[[duckdb.DuckDBPyConnection], None]

# The model in the order it is built: file names in gate/sql/model, or a Python step.
MODEL_STEPS: tuple[ModelStep, ...] = (
    "10_attribution.sql",
    "20_window.sql",
    refuse_overflowing_sums,  # before any sum: every byte figure fits its BIGINT
    "30_sweep.sql",
    build_peaks,
    "40_metrics.sql",
    "50_aggregate.sql",
    "60_evidence.sql",
    "70_trace_quality.sql",
)


@dataclass(frozen=True)
class ModelConfig:
    window_start_s: float | None = None
    window_end_s: float | None = None
    aggregate: str = "max"
    extra_skip_modules: tuple[str, ...] = ()
    tag_rules: tuple[tuple[str, str], ...] = ()  # (pattern, driver) in priority order
    pooltag: dict[str, str] = field(default_factory=dict)  # tag -> driver
    pooltag_patterns: tuple[tuple[str, str], ...] = ()  # (wildcard tag, driver), in file order

    @property
    def skip_modules(self) -> tuple[str, ...]:
        extra = tuple(m.lower() for m in self.extra_skip_modules)
        return DEFAULT_SKIP_MODULES + tuple(m for m in extra if m not in DEFAULT_SKIP_MODULES)

    def window_label(self) -> str:
        return format_window(self.window_start_s, self.window_end_s)


def load_config(con: duckdb.DuckDBPyConnection, config: ModelConfig) -> None:
    """Create the configuration tables and fill them from `config`."""
    if config.aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {config.aggregate!r}")
    run_script(con, sql_text("gate.sql", "config.sql"))
    window = [config.window_start_s, config.window_end_s, config.window_label()]
    insert_rows(con, "cfg_window", [window])
    insert_rows(con, "cfg_run", [[config.aggregate]])
    insert_rows(con, "cfg_skip_modules", [[m] for m in config.skip_modules])
    insert_rows(
        con,
        "cfg_tag_rules",
        [[i, p, d.lower()] for i, (p, d) in enumerate(config.tag_rules)],
    )
    # Exact entries before wildcard ones, as pooltag.txt lookups do.
    rows: list[list[object]] = [[0, t, d.lower(), True] for t, d in sorted(config.pooltag.items())]
    rows += [[i + 1, p, d.lower(), False] for i, (p, d) in enumerate(config.pooltag_patterns)]
    insert_rows(con, "cfg_pooltag", rows)


def build_model(con: duckdb.DuckDBPyConnection, config: ModelConfig) -> None:
    load_config(con, config)
    folder = resources.files("gate.sql").joinpath("model")
    for step in MODEL_STEPS:
        if isinstance(step, str):
            run_script(con, folder.joinpath(step).read_text(encoding="utf-8"))
        else:
            step(con)
