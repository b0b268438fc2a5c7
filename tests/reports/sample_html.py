"""The bundled sample's verdict as `gate demo` judges it, for the HTML report's tests.

The check runs from the sample's folder with relative paths, as CI runs it from a checkout, so
the page names no folder of this machine and its golden file is the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from scenario_kit import SAMPLE

from gate.pipeline import CheckRequest, ReportPaths, check, settings_from_options
from gate.rules.results import Verdict

# The footer names the gate's version; the golden file should not change with each release.
GOLDEN_VERSION = "0.0.0-golden"
# A fixed day, so the sample's waiver (expires 2027-06-30) is judged the same every year.
SAMPLE_TODAY = "2026-11-25"


def sample_verdict() -> Verdict:
    """The sample checked against its budgets and baseline, with the timelines the HTML report
    draws (as `gate demo` does)."""
    here = Path.cwd()
    os.chdir(SAMPLE)
    try:
        settings = settings_from_options(
            [Path("budgets.yaml")], None, None, None, None, today=SAMPLE_TODAY
        )
        request = CheckRequest(
            inputs=[Path("sample-boot.etl")],
            settings=settings,
            baseline_file=Path("baseline.json"),
        )
        # Only the HTML path's presence matters: it asks for the timelines; nothing is written.
        verdict = check(request, reports=ReportPaths(html=Path("unused.html")))
    finally:
        os.chdir(here)
    verdict.gate_version = GOLDEN_VERSION
    return verdict
