"""The store's DuckDB session settings."""

from __future__ import annotations

import os

import pytest

from gate.store import Store


def test_duckdb_draws_no_progress_bar_into_ci_logs() -> None:
    with Store() as store:
        rows = store.con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
    assert rows == [(False,)]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_duckdb_runs_one_thread_per_core_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pinned to one core (taskset, a cpuset), a second DuckDB thread only takes turns.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    with Store() as store:
        rows = store.con.execute("SELECT current_setting('threads')").fetchall()
    assert rows == [(1,)]
