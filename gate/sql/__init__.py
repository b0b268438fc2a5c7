"""The SQL model: documented tables built from the store, in file order (gate/sql/model).

`build_model` loads the run's configuration into small `cfg_*` tables and runs the model
files, with one Python step after 30_metrics.sql: the running sums of the peaks (peaks.py).
Public tables have no leading underscore and a comment above every column:
allocations, allocations_windowed, driver_metrics, driver_metrics_aggregated,
driver_presence, driver_tags, driver_call_sites, trace_quality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from gate.metrics import AGGREGATES
from gate.sql.peaks import build_peaks
from gate.store.store import run_script
from gate.tables.drivers import DEFAULT_SKIP_MODULES
from gate.units import format_window

# Python steps run right after a model file: the running sums of the peak metrics (peaks.py).
_AFTER: dict[str, Callable[[duckdb.DuckDBPyConnection], None]] = {"30_metrics.sql": build_peaks}


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


def model_files() -> list[str]:
    folder = resources.files("gate.sql").joinpath("model")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))


def build_model(con: duckdb.DuckDBPyConnection, config: ModelConfig) -> None:
    if config.aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {config.aggregate!r}")
    con.execute("CREATE OR REPLACE TABLE cfg_window (start_s DOUBLE, end_s DOUBLE)").fetchall()
    con.execute(
        "INSERT INTO cfg_window VALUES (?, ?)", [config.window_start_s, config.window_end_s]
    ).fetchall()
    con.execute("CREATE OR REPLACE TABLE cfg_run (aggregate VARCHAR)").fetchall()
    con.execute("INSERT INTO cfg_run VALUES (?)", [config.aggregate]).fetchall()
    con.execute("CREATE OR REPLACE TABLE cfg_skip_modules (module VARCHAR)").fetchall()
    con.executemany(
        "INSERT INTO cfg_skip_modules VALUES (?)", [[m] for m in config.skip_modules]
    ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE cfg_tag_rules (priority INTEGER, pattern VARCHAR, driver VARCHAR)"
    ).fetchall()
    if config.tag_rules:
        con.executemany(
            "INSERT INTO cfg_tag_rules VALUES (?, ?, ?)",
            [[i, p, d.lower()] for i, (p, d) in enumerate(config.tag_rules)],
        ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE cfg_pooltag (priority INTEGER, pattern VARCHAR, driver VARCHAR, "
        "exact BOOLEAN)"
    ).fetchall()
    # Exact entries before wildcard ones, as pooltag.txt lookups do.
    rows = [[0, tag, d.lower(), True] for tag, d in sorted(config.pooltag.items())]
    rows += [[i + 1, pat, d.lower(), False] for i, (pat, d) in enumerate(config.pooltag_patterns)]
    if rows:
        con.executemany("INSERT INTO cfg_pooltag VALUES (?, ?, ?, ?)", rows).fetchall()
    folder = resources.files("gate.sql").joinpath("model")
    for name in model_files():
        run_script(con, folder.joinpath(name).read_text(encoding="utf-8"))
        step = _AFTER.get(name)
        if step is not None:
            step(con)
