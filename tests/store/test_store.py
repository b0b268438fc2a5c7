"""The store's DuckDB session settings."""

from __future__ import annotations

from gate.store import Store


def test_duckdb_draws_no_progress_bar_into_ci_logs() -> None:
    with Store() as store:
        rows = store.con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
    assert rows == [(False,)]
