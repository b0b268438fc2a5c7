"""Boot timelines (gate/rules/timelines.py, _timeline.sql) against the metrics they illustrate:
the transient peak drawn is the metric's, at its moment; impacting at the end is the metric."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scenario_kit import B_STACK, alloc, free, load, scenario

from gate.rules.results import Timeline
from gate.rules.timelines import boot_timelines, trace_values
from gate.sql import ModelConfig, build_model
from gate.store import Store

KIB = 1024


def _events() -> list[dict[str, Any]]:
    """a.sys: 10 KiB kept (AIFO), a 4 KiB then an 8 KiB transient overlapping (12 KiB live at
    t=3), a 2 KiB transient later; b.sys: 5 KiB kept, 6 KiB transient at t=7."""
    return [
        alloc(1.0, 0x1000, 10 * KIB),
        alloc(2.0, 0x2000, 4 * KIB),
        alloc(3.0, 0x3000, 8 * KIB),
        free(4.0, 0x2000),
        free(5.0, 0x3000),
        alloc(6.0, 0x4000, 2 * KIB),
        free(6.5, 0x4000),
        alloc(1.5, 0x5000, 5 * KIB, stack=B_STACK),
        alloc(7.0, 0x6000, 6 * KIB, stack=B_STACK),
        free(8.0, 0x6000),
    ]


@pytest.fixture
def store() -> Iterator[Store]:
    with Store() as s:
        yield s


def _model(store: Store, *docs: dict[str, Any], config: ModelConfig | None = None) -> None:
    for doc in docs:
        load(store, doc)
    build_model(store.con, config or ModelConfig())


def _metric(store: Store, driver: str, metric: str, trace_id: int = 1) -> float:
    row = store.con.execute(
        "SELECT value FROM driver_metrics WHERE driver = ? AND metric = ? AND trace_id = ?",
        [driver, metric, trace_id],
    ).fetchone()
    assert row is not None, (driver, metric, trace_id)
    return float(row[0])


def _peak_moment(store: Store, driver: str) -> tuple[float, int]:
    row = store.con.execute(
        "SELECT peak_s, peak_bytes FROM driver_peak_moments WHERE driver = ?", [driver]
    ).fetchone()
    assert row is not None, driver
    return float(row[0]), int(row[1])


def _value_at(timeline: Timeline, t: float) -> tuple[int, int]:
    """(impacting, transient) after the last kept point at or before t."""
    last = max(i for i, x in enumerate(timeline.times_s) if x <= t)
    return timeline.impacting_bytes[last], timeline.transient_bytes[last]


def test_transient_peak_is_the_metric_at_its_moment(store: Store) -> None:
    _model(store, scenario(_events()))
    lines = boot_timelines(store.con, {"a.sys"})
    for driver in ("a.sys", "b.sys"):
        peak = lines[driver].transient_peak()
        assert peak is not None
        assert peak[1] == _metric(store, driver, "nonpaged_transient_peak_bytes")
        assert peak == _peak_moment(store, driver)
    assert lines["a.sys"].transient_peak() == (3.0, 12 * KIB)
    assert lines["b.sys"].transient_peak() == (7.0, 6 * KIB)


def test_impacting_at_the_end_is_the_metric_over_the_whole_trace(store: Store) -> None:
    _model(store, scenario(_events()))
    lines = boot_timelines(store.con, set())
    for driver, kept in (("a.sys", 10 * KIB), ("b.sys", 5 * KIB)):
        timeline = lines[driver]
        assert timeline.impacting_bytes[-1] == kept
        assert timeline.impacting_bytes[-1] == _metric(store, driver, "nonpaged_impacting_bytes")
        assert timeline.transient_bytes[-1] == 0
        assert timeline.trace
        assert timeline.duration_s == pytest.approx(100.0)


def test_the_series_steps_at_each_event(store: Store) -> None:
    _model(store, scenario(_events()))
    a = boot_timelines(store.con, {"a.sys"})["a.sys"]
    assert a.events == 7  # four allocations, three frees
    expected = {
        1.0: (10 * KIB, 0),
        2.0: (10 * KIB, 4 * KIB),
        3.0: (10 * KIB, 12 * KIB),
        4.0: (10 * KIB, 8 * KIB),
        5.0: (10 * KIB, 0),
        6.0: (10 * KIB, 2 * KIB),
        6.5: (10 * KIB, 0),
    }
    for t, values in expected.items():
        assert _value_at(a, t) == values, t


def test_total_is_every_driver_together(store: Store) -> None:
    _model(store, scenario(_events()))
    lines = boot_timelines(store.con, set())
    total = lines["(total)"]
    assert total.events == lines["a.sys"].events + lines["b.sys"].events
    assert total.impacting_bytes[-1] == 15 * KIB
    assert total.impacting_bytes[-1] == _metric(store, "(total)", "nonpaged_impacting_bytes")
    peak = total.transient_peak()
    assert peak is not None
    assert peak[1] == _metric(store, "(total)", "nonpaged_transient_peak_bytes") == 12 * KIB
    # At t=7 only b.sys's 6 KiB is transient, on top of both drivers' kept bytes.
    assert _value_at(total, 7.0) == (15 * KIB, 6 * KIB)


def test_a_window_classifies_what_is_drawn(store: Store) -> None:
    # Window 2.5 s .. 100 s: a.sys's 10 KiB (allocated at 1, never freed) is persistent (AOFO)
    # and not drawn; its 4 KiB (allocated at 2, freed at 4) is AOFI (impacting: live at the
    # start, gone at the end); the 8 KiB and the 2 KiB are transient.
    _model(store, scenario(_events()), config=ModelConfig(window_start_s=2.5, window_end_s=100))
    a = boot_timelines(store.con, {"a.sys"})["a.sys"]
    assert (a.window_start_s, a.window_end_s) == (2.5, 100.0)
    peak = a.transient_peak()
    assert peak == (3.0, 8 * KIB)
    assert peak[1] == _metric(store, "a.sys", "nonpaged_transient_peak_bytes")
    start = _value_at(a, 2.5)[0]
    assert start == 4 * KIB
    rise = a.impacting_bytes[-1] - start
    assert rise == _metric(store, "a.sys", "nonpaged_impacting_bytes") == -4 * KIB


def test_each_driver_is_drawn_from_the_trace_of_its_highest_peak(store: Store) -> None:
    small = scenario([alloc(1.0, 0x1000, 1 * KIB), free(2.0, 0x1000)])
    big = scenario([alloc(1.0, 0x1000, 9 * KIB), alloc(1.5, 0x2000, 1 * KIB), free(2.0, 0x1000)])
    _model(store, small, big)
    a = boot_timelines(store.con, set())["a.sys"]
    assert a.transient_peak() == (1.0, 9 * KIB)
    assert trace_values(store.con)[("a.sys", "nonpaged_transient_peak_bytes")] == {
        1: 1 * KIB,
        2: 9 * KIB,
    }


def _sawtooth(n: int) -> list[dict[str, Any]]:
    """n transient allocations of different sizes, each freed before the next, plus one
    spike (the peak) at a known moment and a slow impacting rise."""
    events = []
    for i in range(n):
        t = 0.5 + i * 0.01
        size = 100 + (i * 37) % 900
        if i == 1234:
            size = 50_000
        events += [alloc(t, 0x10000 + i * 16, size), free(t + 0.005, 0x10000 + i * 16)]
        if i % 100 == 0:
            events.append(alloc(t + 0.001, 0x900000 + i * 16, 64))
    return events


def test_downsampling_keeps_the_peaks_exact(store: Store) -> None:
    n = 3000
    _model(store, scenario(_sawtooth(n)))
    detail = boot_timelines(store.con, {"a.sys"}, detail_buckets=50, overview_buckets=5)
    a = detail["a.sys"]
    assert a.events == 2 * n + n // 100
    # At most 8 points per bucket, far fewer than the events.
    assert a.points <= 8 * 50 < a.events
    assert a.transient_peak() == _peak_moment(store, "a.sys")
    assert a.transient_peak() == (pytest.approx(0.5 + 1234 * 0.01), 50_000)
    assert a.impacting_bytes[-1] == _metric(store, "a.sys", "nonpaged_impacting_bytes")
    assert max(a.impacting_bytes) == 64 * (n // 100)
    # Kept points are in trace order, and the lowest transient value (0) survives.
    assert list(a.times_s) == sorted(a.times_s)
    assert min(a.transient_bytes) == 0
    # A driver outside `detail` gets the overview's buckets: fewer points, the same peak.
    overview = boot_timelines(store.con, set(), detail_buckets=50, overview_buckets=5)["a.sys"]
    assert overview.points <= 8 * 5 < a.points
    assert overview.transient_peak() == a.transient_peak()
    # The totals are always drawn in detail.
    assert detail["(total)"].transient_peak() == a.transient_peak()


@pytest.mark.parametrize(("detail", "overview"), [(0, 24), (100, 0), (-1, -1)])
def test_bucket_counts_must_be_positive(store: Store, detail: int, overview: int) -> None:
    _model(store, scenario(_events()))
    with pytest.raises(ValueError, match="at least one time bucket"):
        boot_timelines(store.con, set(), detail_buckets=detail, overview_buckets=overview)


def test_no_nonpaged_allocations_no_timelines(store: Store) -> None:
    _model(store, scenario([alloc(1.0, 0x1000, 4096, pool="paged")]))
    assert boot_timelines(store.con, {"a.sys"}) == {}
