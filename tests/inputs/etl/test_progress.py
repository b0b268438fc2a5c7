"""Progress reports while a trace is read, and the bar the CLI draws from them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from scenario_kit import SAMPLE

from gate.inputs.etl.container import open_etl
from gate.inputs.etl.reader import read_etl


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_rises_to_the_file_size(workers: int) -> None:
    calls: list[tuple[int, int]] = []
    path = SAMPLE / "sample-boot.etl"
    with open_etl(path) as etl:
        batches = list(
            etl.record_batches(
                64 << 10, workers=workers, progress=lambda d, t: calls.append((d, t))
            )
        )
    size = path.stat().st_size
    assert len(calls) == len(batches) > 1
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == size and {t for _, t in calls} == {size}


def test_workers_do_not_change_the_records() -> None:
    path = SAMPLE / "sample-boot.etl"
    with open_etl(path) as etl:
        one = [b.timestamp.tolist() for b in etl.record_batches(64 << 10, workers=1)]
    with open_etl(path) as etl:
        two = [b.timestamp.tolist() for b in etl.record_batches(64 << 10, workers=3)]
    assert one == two


def test_read_etl_passes_progress_through() -> None:
    calls: list[int] = []
    chunks = list(read_etl(SAMPLE / "sample-boot.etl", progress=lambda d, t: calls.append(d)))
    assert chunks
    assert calls and calls[-1] == (SAMPLE / "sample-boot.etl").stat().st_size


def test_cli_bar_ends_with_a_full_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate import cli

    err = io.StringIO()
    monkeypatch.setattr(cli.sys, "stderr", err)
    bar = cli._ProgressBar(Path("boot.etl"))
    bar(0, 4 << 20)
    bar(4 << 20, 4 << 20)
    text = err.getvalue()
    assert text.endswith("100% 4/4 MiB\n") and "reading boot.etl [" in text
