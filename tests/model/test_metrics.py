"""Every metric of metrics.md on hand-computed scenarios."""

from __future__ import annotations

import pytest
from scenario_kit import (
    A_STACK,
    B_STACK,
    alloc,
    allocations,
    free,
    load,
    metrics,
    scenario,
)

from gate.sql import ModelConfig, build_model
from gate.store import Store

WDF_A_STACK = ["ntoskrnl.exe+0x10", "wdf01000.sys+0x40", "a.sys+0x300"]


def test_whole_trace_impacting_is_allocated_and_never_freed() -> None:
    m = metrics(scenario([alloc(1, 0x1000, 100), alloc(2, 0x2000, 50), free(3, 0x2000)]))["a.sys"]
    assert m["nonpaged_impacting_bytes"] == 100
    assert m["nonpaged_allocated_bytes"] == 150
    assert m["nonpaged_allocations"] == 2
    assert m["nonpaged_transient_peak_bytes"] == 50
    assert m["nonpaged_peak_outstanding_bytes"] == 150
    assert m["paged_impacting_bytes"] == 0


def test_window_classification_aifi_aifo_aofi_aofo() -> None:
    events = [
        alloc(12, 0x1000, 10),
        free(15, 0x1000),  # AIFI: transient
        alloc(12.5, 0x2000, 20),  # AIFO: +20
        alloc(5, 0x3000, 40),
        free(15, 0x3000),  # AOFI: -40
        alloc(5, 0x4000, 80),
        free(25, 0x4000),  # AOFO: persistent
        alloc(25, 0x5000, 1000),  # after the window: left out
        alloc(1, 0x6000, 2000),
        free(2, 0x6000),  # freed before the window: left out
    ]
    m = metrics(scenario(events), config=ModelConfig(window_start_s=10, window_end_s=20))["a.sys"]
    assert m["nonpaged_impacting_bytes"] == 20 - 40
    assert m["nonpaged_allocated_bytes"] == 30
    assert m["nonpaged_allocations"] == 2
    assert m["nonpaged_transient_peak_bytes"] == 10
    assert m["nonpaged_peak_outstanding_bytes"] == 30


def test_allocation_before_window_freed_inside_lowers_impacting() -> None:
    events = [alloc(1, 0x1000, 4096), free(11, 0x1000)]
    m = metrics(scenario(events), config=ModelConfig(window_start_s=10, window_end_s=20))
    assert m["a.sys"]["nonpaged_impacting_bytes"] == -4096
    assert m["a.sys"]["nonpaged_allocated_bytes"] == 0


def test_window_is_closed_at_both_ends() -> None:
    events = [alloc(10, 0x1000, 7), free(20, 0x1000), alloc(20, 0x2000, 5)]
    m = metrics(scenario(events), config=ModelConfig(window_start_s=10, window_end_s=20))["a.sys"]
    assert m["nonpaged_transient_peak_bytes"] == 7  # allocated at start, freed at end: AIFI
    assert m["nonpaged_impacting_bytes"] == 5  # allocated at the end: inside, never freed


def test_transient_peak_where_two_spikes_overlap() -> None:
    events = [
        alloc(1, 0x1000, 100),
        alloc(3, 0x2000, 50),
        alloc(6, 0x3000, 30),
        free(5, 0x1000),
        free(7, 0x2000),
        free(8, 0x3000),
    ]
    m = metrics(scenario(events))["a.sys"]
    assert m["nonpaged_transient_peak_bytes"] == 150
    assert m["nonpaged_peak_outstanding_bytes"] == 150
    assert m["nonpaged_impacting_bytes"] == 0


@pytest.mark.parametrize(("free_first", "peak"), [(True, 100), (False, 200)])
def test_events_at_the_same_time_go_in_trace_order(free_first: bool, peak: int) -> None:
    first = [alloc(1, 0x1000, 100)]
    same_time = [free(2, 0x1000), alloc(2, 0x2000, 100)]
    if not free_first:
        same_time.reverse()
    m = metrics(scenario([*first, *same_time, free(3, 0x2000)]))["a.sys"]
    assert m["nonpaged_transient_peak_bytes"] == peak


def test_lost_free_closes_the_first_allocation_at_the_second_ones_time() -> None:
    doc = scenario([alloc(1, 0x1000, 100), alloc(2, 0x1000, 30)])
    rows = allocations(doc)
    assert [(r[1], r[2], r[3]) for r in rows] == [(1.0, 2.0, "lost"), (2.0, None, "none")]
    m = metrics(doc)["a.sys"]
    assert m["nonpaged_impacting_bytes"] == 30
    assert m["nonpaged_transient_peak_bytes"] == 100


def test_unmatched_free_is_counted_not_dropped() -> None:
    with Store() as store:
        load(store, scenario([free(1, 0x9000), alloc(2, 0x1000, 10)]))
        build_model(store.con, ModelConfig())
        q = store.con.execute(
            "SELECT unmatched_frees, lost_frees, pool_allocations FROM trace_quality"
        ).fetchall()
    assert q == [(1, 0, 1)]


def test_session_pool_pairs_by_address_and_session() -> None:
    events = [
        alloc(1, 0x1000, 10, pool="session_paged", session_id=1),
        alloc(1.5, 0x1000, 20, pool="session_paged", session_id=2),
        free(2, 0x1000, session_id=2, pool="session_paged"),
    ]
    m = metrics(scenario(events))["a.sys"]
    assert m["paged_impacting_bytes"] == 10
    assert m["nonpaged_impacting_bytes"] == 0


@pytest.mark.parametrize(
    ("pool", "nonpaged"),
    [
        ("nonpaged", True),
        ("paged", False),
        ("nonpaged_nx", True),
        ("session_nonpaged", True),
        ("session_paged", False),
        (0x10000000 | 512, True),
        (0x10000000 | 1, False),
    ],
)
def test_pool_type_bits_decide_nonpaged(pool: str | int, nonpaged: bool) -> None:
    m = metrics(scenario([alloc(1, 0x1000, 64, pool=pool)]))["a.sys"]
    assert m["nonpaged_impacting_bytes"] == (64 if nonpaged else 0)
    assert m["paged_impacting_bytes"] == (0 if nonpaged else 64)


def test_attribution_order_and_rule_kept() -> None:
    events = [
        alloc(1, 0x1000, 1, tag="Rule", stack=A_STACK),  # tag rule beats the stack
        alloc(2, 0x2000, 2, tag="Stck", stack=B_STACK),  # stack
        alloc(3, 0x3000, 3, tag="Wdfc", stack=WDF_A_STACK),  # framework skipped by config
        alloc(4, 0x4000, 4, tag="Pool", stack=["ntoskrnl.exe+0x10"]),  # pooltag
        alloc(5, 0x5000, 5, tag="Krnl", stack=["ntoskrnl.exe+0x10", "hal.dll+0x1"]),  # kernel
        alloc(6, 0x6000, 6, tag="None", stack=None),  # none
        alloc(7, 0x7000, 7, tag="Pool", stack=None),  # pooltag without a stack
    ]
    config = ModelConfig(
        extra_skip_modules=("Wdf01000.sys",),
        tag_rules=(("R?l*", "b.sys"), ("Rule", "a.sys")),
        pooltag={"Pool": "pooled.sys"},
    )
    rows = allocations(scenario(events), config)
    assert [(r[4], r[5]) for r in rows] == [
        ("b.sys", "tag-rule"),
        ("b.sys", "stack"),
        ("a.sys", "stack"),
        ("pooled.sys", "pooltag"),
        ("(kernel)", "kernel"),
        ("(unattributed)", "none"),
        ("pooled.sys", "pooltag"),
    ]
    assert rows[1][6] == "b.sys+0x200"
    assert rows[2][6] == "a.sys+0x300"


def test_tag_patterns_are_case_sensitive() -> None:
    config = ModelConfig(tag_rules=(("test", "b.sys"),))
    rows = allocations(scenario([alloc(1, 0x1000, 1, tag="Test")]), config)
    assert rows[0][4:6] == ("a.sys", "stack")


def test_without_framework_skip_the_framework_owns_the_allocation() -> None:
    rows = allocations(scenario([alloc(1, 0x1000, 1, stack=WDF_A_STACK)]))
    assert rows[0][4] == "wdf01000.sys"


def test_totals_take_the_peak_of_the_sum_not_the_sum_of_peaks() -> None:
    overlapping = [
        alloc(1, 0x1000, 100, stack=A_STACK),
        free(3, 0x1000),
        alloc(2, 0x2000, 100, stack=B_STACK),
        free(4, 0x2000),
    ]
    apart = [
        alloc(1, 0x1000, 100, stack=A_STACK),
        free(2, 0x1000),
        alloc(3, 0x2000, 100, stack=B_STACK),
        free(4, 0x2000),
    ]
    assert metrics(scenario(overlapping))["(total)"]["nonpaged_transient_peak_bytes"] == 200
    m = metrics(scenario(apart))
    assert m["(total)"]["nonpaged_transient_peak_bytes"] == 100
    assert m["a.sys"]["nonpaged_transient_peak_bytes"] == 100
    assert m["b.sys"]["nonpaged_transient_peak_bytes"] == 100


def test_totals_sum_the_impacting_bytes() -> None:
    m = metrics(scenario([alloc(1, 0x1000, 5, stack=A_STACK), alloc(1, 0x2000, 7, stack=B_STACK)]))
    assert m["(total)"]["nonpaged_impacting_bytes"] == 12
    assert m["(total)"]["nonpaged_allocations"] == 2


@pytest.mark.parametrize(
    ("aggregate", "expected"), [("max", 300), ("min", 100), ("median", 200), ("mean", 200)]
)
def test_aggregation_across_traces(aggregate: str, expected: int) -> None:
    docs = [scenario([alloc(1, 0x1000, size)]) for size in (100, 300, 200)]
    with Store() as store:
        for doc in docs:
            load(store, doc)
        build_model(store.con, ModelConfig(aggregate=aggregate))
        value, seen = store.con.execute(
            "SELECT value, traces_seen FROM driver_metrics_aggregated "
            "WHERE driver = 'a.sys' AND metric = 'nonpaged_impacting_bytes'"
        ).fetchall()[0]
    assert (value, seen) == (expected, 3)


def test_median_of_an_even_count_is_rounded_to_whole_bytes() -> None:
    docs = [scenario([alloc(1, 0x1000, size)]) for size in (100, 201)]
    m = metrics(*docs, config=ModelConfig(aggregate="median"))
    assert m["a.sys"]["nonpaged_impacting_bytes"] == 151  # 150.5, rounded half away from 0


def test_active_code_bytes_counts_active_driver_pages_only() -> None:
    resident = [
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Active",
            "category": "Driver",
            "size": 8192,
        },
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Standby",
            "category": "Driver",
            "size": 4096,
        },
        {
            "path": r"\SystemRoot\System32\drivers\a.sys",
            "list": "Active",
            "category": "DriverFile",
            "size": 4096,
        },
    ]
    m = metrics(scenario([alloc(1, 0x1000, 1)], resident_set=resident))
    assert m["a.sys"]["active_code_bytes"] == 8192
    assert m["b.sys"]["active_code_bytes"] == 0  # loaded, resident set captured, no code pages


def test_active_code_bytes_is_absent_without_resident_set_data() -> None:
    m = metrics(scenario([alloc(1, 0x1000, 1)]))
    assert "active_code_bytes" not in m["a.sys"]


def test_a_driver_loaded_but_idle_has_zero_figures() -> None:
    m = metrics(scenario([alloc(1, 0x1000, 1)]))
    assert m["b.sys"]["nonpaged_impacting_bytes"] == 0


def test_pooltag_wildcards_after_exact_entries() -> None:
    events = [
        alloc(1, 0x1000, 1, tag="Afd1", stack=None),
        alloc(2, 0x2000, 2, tag="Afd2", stack=None),
        alloc(3, 0x3000, 3, tag="Zzz", stack=None),
    ]
    config = ModelConfig(
        pooltag={"Afd1": "exact.sys"}, pooltag_patterns=(("Afd?", "afd.sys"), ("A*", "late.sys"))
    )
    rows = allocations(scenario(events), config)
    assert [(r[4], r[5]) for r in rows] == [
        ("exact.sys", "pooltag"),
        ("afd.sys", "pooltag"),
        ("(unattributed)", "none"),
    ]
