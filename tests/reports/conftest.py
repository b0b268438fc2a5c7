"""A hand-built verdict with every outcome, shared by the report tests.

Values are chosen so that each renderer path shows up in the golden files: a failure with tags
and call sites, a failure through baseline growth under the limit, an expired waiver, a live
waiver, a warning, a notice, a missing resident set, a tool error, a trace check, a count
metric, and text with ANSI escapes, control characters and Markdown specials.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.metrics import METRICS
from gate.rules.results import (
    CallSite,
    Check,
    DriverFigures,
    Finding,
    Outcome,
    StackNode,
    StackTree,
    TagUse,
    TraceSummary,
    Verdict,
    Waiver,
)

KiB = 1024
MiB = 1024 * 1024

GOLDEN = Path(__file__).parent / "golden"
# The project's tests may read ../shared (beside the checkout) but never copy from it.
JUNIT_XSD = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "corpus"
    / "junit"
    / "jenkins-xunit-junit-10.xsd"
)

NPI = "nonpaged_impacting_bytes"


def _finding(
    check_outcome: Outcome,
    driver: str,
    metric: str,
    message: str,
    *,
    rule: tuple[str, str] = ("GATE001", "budget.over"),
    observed: float | None = None,
    limit: float | None = None,
    baseline: float | None = None,
) -> Finding:
    return Finding(
        rule_id=rule[0],
        rule_name=rule[1],
        driver=driver,
        metric=metric,
        observed=observed,
        limit=limit,
        baseline=baseline,
        outcome=check_outcome,
        message=message,
    )


def make_verdict() -> Verdict:
    traces = [
        TraceSummary(
            trace_id=1,
            source_path="traces/boot_1.etl",
            source_format="etl",
            sha256="a" * 64,
            duration_s=42.5,
            pool_allocations=183_211,
            events_lost=0,
            buffers_lost=0,
            unmatched_frees=12,
            lost_frees=0,
            has_resident_set=True,
            synthetic=False,
        ),
        TraceSummary(
            trace_id=2,
            source_path="traces/boot_2.etl",
            source_format="etl",
            sha256="b" * 64,
            duration_s=41.25,
            pool_allocations=180_004,
            events_lost=37,
            buffers_lost=2,
            unmatched_frees=9,
            lost_frees=1,
            has_resident_set=False,
            synthetic=True,
        ),
    ]
    acpi = Check(
        metric=NPI,
        driver="acpi.sys",
        outcome=Outcome.FAIL,
        observed=1_258_291,
        limit=1 * MiB,
        baseline=1_069_548,
        findings=[
            _finding(
                Outcome.FAIL,
                "acpi.sys",
                NPI,
                "acpi.sys keeps 1.20 MiB of non-paged pool after boot, over its 1.00 MiB budget",
                observed=1_258_291,
                limit=MiB,
                baseline=1_069_548,
            ),
            _finding(
                Outcome.FAIL,
                "acpi.sys",
                NPI,
                "grew by 180 KiB over the baseline; tolerance is 64 KiB",
                rule=("GATE002", "baseline.growth"),
                observed=1_258_291,
                baseline=1_069_548,
            ),
        ],
        traces_seen=2,
        budget_file="budgets/platform.yaml",
        budget_line=12,
        owner="platform-power@example.com",
        top_tags=[
            TagUse("AcpO", 700 * KiB, 900 * KiB, 1_520),
            TagUse("AcpE", 300 * KiB, 310 * KiB, 88),
            TagUse("Acp|", 28_467, 40_000, 7),
        ],
        top_sites=[
            CallSite("acpi.sys!ACPIBuildDeviceExtension", 640 * KiB, 700 * KiB, 1_200),
            CallSite("acpi.sys+0x1a2b", 388 * KiB, 510 * KiB, 408),
        ],
    )
    ndis = Check(
        metric=NPI,
        driver="ndis.sys",
        outcome=Outcome.FAIL,
        observed=900 * KiB,
        limit=2 * MiB,
        baseline=512 * KiB,
        message="grew beyond the baseline tolerance (+25% or 64 KiB)",
        findings=[
            _finding(
                Outcome.FAIL,
                "ndis.sys",
                NPI,
                "grew by 388 KiB (+75.8%) over the baseline",
                rule=("GATE002", "baseline.growth"),
            )
        ],
        traces_seen=2,
        budget_file="budgets/network.yaml",
        budget_line=4,
        owner="net-team",
        waiver=Waiver(
            driver="ndis.sys",
            metric=NPI,
            reason="RSS queues rework, see issue 4411",
            expires="2024-01-31",
            expired=True,
            file="budgets/waivers.yaml",
            line=3,
        ),
    )
    storport = Check(
        metric=NPI,
        driver="storport.sys",
        outcome=Outcome.WAIVED,
        observed=3 * MiB,
        limit=2 * MiB,
        baseline=3 * MiB,
        traces_seen=2,
        budget_file="budgets/storage.yaml",
        budget_line=8,
        owner="storage",
        waiver=Waiver(
            driver="storport.sys",
            metric=NPI,
            reason="NVMe queue depth change | tracked in STOR-88",
            expires="2099-06-30",
            expired=False,
            file="budgets/waivers.yaml",
            line=9,
        ),
    )
    wdf = Check(
        metric=NPI,
        driver="wdf01000.sys",
        outcome=Outcome.WARN,
        observed=870 * KiB,
        limit=1 * MiB,
        baseline=860 * KiB,
        message="at 85% of its limit (warns from 80%)",
        findings=[
            _finding(
                Outcome.WARN,
                "wdf01000.sys",
                NPI,
                "\x1b[31mnear limit\x1b[0m: 870 KiB of 1.00 MiB\x01 <b>*check*</b>",
                rule=("GATE003", "budget.near"),
            )
        ],
        traces_seen=2,
        budget_file="budgets/platform.yaml",
        budget_line=20,
        owner="platform-power@example.com",
    )
    total = Check(
        metric=NPI,
        driver="(total)",
        outcome=Outcome.PASS,
        observed=38 * MiB + 123_456,
        limit=48 * MiB,
        baseline=38 * MiB,
        traces_seen=2,
        budget_file="budgets/platform.yaml",
        budget_line=2,
    )
    tcpip = Check(
        metric=NPI,
        driver="tcpip.sys",
        outcome=Outcome.NOTICE,
        observed=1 * MiB,
        limit=4 * MiB,
        baseline=2 * MiB,
        message="shrank by 1.00 MiB (-50.0%): the baseline or budget can be tightened",
        traces_seen=2,
        budget_file="budgets/network.yaml",
        budget_line=10,
        owner="net-team",
    )
    passes = [
        Check(
            metric=NPI,
            driver=f"drv{i:02d}.sys",
            outcome=Outcome.PASS,
            observed=(100 + i) * KiB,
            limit=512 * KiB,
            baseline=(99 + i) * KiB,
            traces_seen=2,
        )
        for i in range(3)
    ]
    active = Check(
        metric="active_code_bytes",
        driver="acpi.sys",
        outcome=Outcome.NOT_EVALUATED,
        limit=256 * KiB,
        message="traces/boot_2.etl has no resident-set data",
        traces_seen=1,
        budget_file="budgets/platform.yaml",
        budget_line=14,
    )
    allocs = Check(
        metric="nonpaged_allocations",
        driver="usbxhci.sys",
        outcome=Outcome.PASS,
        observed=1_234,
        limit=5_000,
        baseline=1_200,
        traces_seen=2,
    )
    allocs_median = Check(
        metric="nonpaged_allocations",
        driver="(total)",
        outcome=Outcome.PASS,
        observed=181_607.5,
        traces_seen=2,
    )
    paged = Check(
        metric="paged_impacting_bytes",
        driver="mystery|driver.sys",
        outcome=Outcome.ERROR,
        message="rule paged.growth returned a NULL observed value",
        findings=[
            _finding(
                Outcome.ERROR,
                "mystery|driver.sys",
                "paged_impacting_bytes",
                "rule paged.growth broke its contract: column observed_bytes is NULL",
                rule=("GATE900", "rule.contract"),
            )
        ],
        traces_seen=0,
    )
    trace_check = Check(
        metric="trace_quality",
        driver="traces/boot_2.etl",
        outcome=Outcome.WARN,
        observed=37,
        message="lost 37 events and 2 buffers: numbers may be low",
        traces_seen=1,
    )
    checks = [
        total,
        *passes,
        allocs,
        allocs_median,
        tcpip,
        active,
        storport,
        trace_check,
        wdf,
        ndis,
        acpi,
        paged,
    ]
    return Verdict(
        checks=checks,
        traces=traces,
        window="0s..30s",
        aggregate="max",
        budget_files=["budgets/platform.yaml", "budgets/network.yaml", "budgets/storage.yaml"],
        baseline_source="baselines/main.json",
        gate_version="0.1.0-test",
        figures=_figures(),
        notes=["baseline recorded by gate 0.0.9"],
        trees={("acpi.sys", "impacting"): _acpi_tree()},
    )


def _acpi_tree() -> StackTree:
    """acpi.sys's impacting allocations: 1.20 MiB, most under ACPIInitStartACPI."""
    site = StackNode("acpi.sys!ACPIBuildDeviceExtension", 255, 1_048_576)
    init = StackNode("acpi.sys!ACPIInitStartACPI", 255, 1_048_576, (site,))
    entry = StackNode("acpi.sys!DriverEntry", 300, 1_200_000, (init,), hidden_bytes=151_424)
    return StackTree(
        driver="acpi.sys",
        kind="impacting",
        allocations=310,
        size_bytes=1_258_291,
        roots=(StackNode("(callers)", 300, 1_200_000, (entry,)),),
        without_stack_bytes=58_291,
    )


def _figures() -> list[DriverFigures]:
    def values(npi: int | None, active: int | None) -> dict[str, float | None]:
        out: dict[str, float | None] = {m: 0 for m in METRICS}
        out[NPI], out["active_code_bytes"] = npi, active
        return out

    why = {"active_code_bytes": "the driver has no code pages in any trace's resident set"}
    return [
        DriverFigures("(kernel)", 2, values(1_226_752, None), dict(why)),
        DriverFigures("(total)", 2, values(39_960_000, 3 * MiB)),
        DriverFigures("(unattributed)", 1, values(0, None), dict(why)),
        DriverFigures("acpi.sys", 2, values(1_258_291, 256 * KiB)),
    ]


@pytest.fixture
def verdict() -> Verdict:
    return make_verdict()


GoldenCheck = Callable[[str, str], None]


@pytest.fixture
def golden() -> GoldenCheck:
    return _check_golden


@pytest.fixture
def junit_xsd() -> Path:
    if not JUNIT_XSD.is_file():
        pytest.skip(f"{JUNIT_XSD} is absent: ../shared is not checked out beside the project")
    return JUNIT_XSD


def _check_golden(name: str, actual: str) -> None:
    """Compare with `golden/<name>`, or rewrite it when GATE_UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if os.environ.get("GATE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    assert path.exists(), f"{path} is missing: run with GATE_UPDATE_GOLDEN=1 to create it"
    # A Windows checkout with core.autocrlf may turn the golden's LF into CRLF; the renderers
    # always write LF, so compare the text, not the checkout's line endings.
    expected = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    assert actual == expected, f"{name} differs from its golden file (GATE_UPDATE_GOLDEN=1)"
