"""`gate explain` text: golden files for a made-up tree and for the bundled sample."""

from __future__ import annotations

import pytest
from conftest import GoldenCheck, make_verdict
from scenario_kit import SAMPLE
from typer.testing import CliRunner

from gate.cli import app
from gate.reports.explain import render_explain
from gate.rules.results import FOLDED_FRAMES, PeakMoment, StackNode, StackTree

runner = CliRunner()


def _transient() -> StackTree:
    dpc = StackNode("acpi.sys!ACPIBuildDeviceDpc", 12, 465_920)
    worker = StackNode("acpi.sys!ACPIWorker", 14, 480_000, (dpc,), hidden_bytes=14_080)
    return StackTree(
        driver="acpi.sys",
        kind="transient",
        allocations=14,
        size_bytes=480_000,
        roots=(worker,),
        peak=PeakMoment(1.725, 480_000, r"C:\traces\boot_1.etl"),
    )


def test_golden_tree(golden: GoldenCheck) -> None:
    impacting = make_verdict().trees[("acpi.sys", "impacting")]
    text = render_explain("acpi.sys", "0s..30s", [impacting, _transient()], ["symbols: x"])
    golden("explain.txt", text)


def test_every_level_adds_up_to_the_one_above() -> None:
    tree = make_verdict().trees[("acpi.sys", "impacting")]

    def check(node: StackNode) -> None:
        if node.children:
            inner = sum(c.size_bytes for c in node.children) + node.hidden_bytes
            assert inner <= node.size_bytes
        for c in node.children:
            check(c)

    for root in tree.roots:
        check(root)
    shown = sum(r.size_bytes for r in tree.roots)
    assert shown + tree.without_stack_bytes + tree.hidden_bytes == tree.size_bytes


def test_hostile_frame_names_stay_on_one_line() -> None:
    node = StackNode("evil.sys!A\nFAIL: fake\x1b[31m", 1, 10)
    tree = StackTree("evil.sys", "impacting", 1, 10, (node,))
    text = render_explain("evil.sys", "whole trace", [tree], [])
    assert "\nFAIL: fake" not in text and "\x1b" not in text
    assert FOLDED_FRAMES not in text


def test_sample_golden(golden: GoldenCheck) -> None:
    result = runner.invoke(
        app,
        ["explain", str(SAMPLE / "sample-boot.etl"), "--driver", "contosonet.sys", "-b",
         str(SAMPLE / "budgets.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    golden("explain-sample.txt", result.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--driver", "nosuch.sys"], "--driver 'nosuch.sys': no pool allocations of that driver"),
        (["--driver", "acpi.sys", "--min-bytes", "1x"], "--min-bytes '1x': unknown unit 'x'"),
        (["--driver", "acpi.sys", "--depth", "0"], "--depth"),
    ],
)
def test_bad_requests_are_one_line_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["explain", str(SAMPLE / "sample-boot.etl"), *args])
    assert result.exit_code == 2
    assert message in result.output
