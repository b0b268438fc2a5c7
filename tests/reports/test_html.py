"""The HTML report: its structure on the sample, what it may not contain (anything fetched or
run), escaping of hostile text, its size on a large boot, and a golden file for the sample."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import GoldenCheck, make_verdict
from sample_html import sample_verdict
from scenario_kit import REPO, SAMPLE

from gate.reports import render_html, render_markdown, write_reports
from gate.rules.results import (
    Check,
    DriverFigures,
    Outcome,
    PeakMoment,
    StackNode,
    StackTree,
    TagUse,
    Timeline,
    Verdict,
)
from gate.rules.timelines import DETAIL_BUCKETS, DETAIL_DRIVERS, OVERVIEW_BUCKETS, detailed_drivers
from gate.units import format_bytes

KIB = 1024
MIB = 1024 * KIB
# HTML elements with no end tag.
_VOID = {"meta", "br", "wbr", "hr", "img", "input", "link", "col", "area", "base", "source"}


class _Page(HTMLParser):
    """The page's elements with their attributes and the sections and figures they sit in;
    fails on an end tag that closes something else (broken escaping shows up that way)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed: {[t for t, _ in self.stack]}"

    def _where(self) -> tuple[str, ...]:
        """Ids of the enclosing sections and data-driver of the enclosing figures."""
        out = []
        for tag, attrs in self.stack:
            if tag == "section" and "id" in attrs:
                out.append(f"section:{attrs['id']}")
            if tag == "figure" and "data-driver" in attrs:
                out.append(f"figure:{attrs['data-driver']}")
        return tuple(out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append((tag, values, self._where()))
        if tag not in _VOID:
            self.stack.append((tag, values))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, self._where()))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1][0] == tag, f"</{tag}> closes <{self.stack[-1][0]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.texts.append((data, self._where()))

    def figures(self) -> list[tuple[dict[str, str], tuple[str, ...]]]:
        return [
            (a, w)
            for t, a, w in self.elements
            if t == "figure" and "timeline" in a.get("class", "")
        ]

    def text_in(self, marker: str) -> str:
        return " ".join(t for t, where in self.texts if marker in where)


@pytest.fixture(scope="module")
def sample() -> Verdict:
    return sample_verdict()


@pytest.fixture(scope="module")
def page(sample: Verdict) -> str:
    return render_html(sample)


# --- the sample ---------------------------------------------------------------------------------


def test_golden_sample(page: str, golden: GoldenCheck) -> None:
    golden("report-sample.html", page)


def test_the_page_is_the_same_for_the_same_verdict_and_names_no_folder_of_this_machine(
    sample: Verdict, page: str
) -> None:
    assert render_html(sample) == page
    for folder in (str(SAMPLE), str(REPO), str(Path.home()), "/tmp/"):
        assert folder not in page


def test_one_timeline_per_failing_or_warning_driver_in_its_section(
    sample: Verdict, page: str
) -> None:
    problems = detailed_drivers(sample)
    # The sample has failures and warnings of several drivers, one of them a transient peak.
    assert {"contosonet.sys", "usbxhci.sys", "contosocam.sys", "ndis.sys"} <= set(problems)
    parsed = _Page(page)
    sections: dict[str, list[str]] = {}
    for attrs, where in parsed.figures():
        section = next(w for w in where if w.startswith("section:"))
        sections.setdefault(section, []).append(attrs["data-driver"])
    driver_sections = {s: d for s, d in sections.items() if s.startswith("section:driver-")}
    assert sorted(d for ds in driver_sections.values() for d in ds) == sorted(problems)
    assert all(len(ds) == 1 for ds in driver_sections.values())
    assert sections["section:totals"] == ["(total)"]
    # Every other driver with a timeline has one, folded, in its own section.
    others = set(sample.timelines) - set(problems) - {"(total)"}
    assert sorted(sections["section:other-timelines"]) == sorted(others)
    assert {"(kernel)", "(unattributed)"} & others


def test_each_section_shows_the_checks_figures_and_their_budget_lines(
    sample: Verdict, page: str
) -> None:
    parsed = _Page(page)
    anchors = {
        a["data-driver"]: w[0] for a, w in parsed.figures() if w[0].startswith("section:driver-")
    }
    for driver in detailed_drivers(sample):
        text = parsed.text_in(anchors[driver])
        for check in (c for c in sample.checks if c.driver == driver):
            if check.budget_file and check.budget_line:
                assert f"{check.budget_file}:{check.budget_line}" in text
            if check.owner:
                assert check.owner in text
            if check.outcome in (Outcome.FAIL, Outcome.WARN):
                for tag in check.top_tags:
                    assert tag.tag in text
        assert "Where the allocations come from" in text
    # The budget and the baseline are drawn as lines with their values.
    assert "impacting budget 1.00 MiB" in page and "impacting baseline 900 KiB" in page
    assert "transient peak budget 2.00 MiB" in page


def test_the_peak_is_labelled_with_the_checks_time_and_value(sample: Verdict, page: str) -> None:
    parsed = _Page(page)
    peaks = [c for c in sample.checks if c.peak is not None and c.driver in sample.timelines]
    assert any(c.outcome is Outcome.FAIL for c in peaks)
    for check in peaks:
        assert check.peak is not None
        timeline = sample.timelines[check.driver]
        assert timeline.transient_peak() == (check.peak.time_s, check.peak.peak_bytes)
        label = f"transient peak {format_bytes(check.peak.peak_bytes)} at {check.peak.time_s:.3f} s"
        figure = parsed.text_in(f"figure:{check.driver}")
        assert label in figure, (check.driver, label)
        assert f"Transient peak: {check.peak.peak_bytes:,} bytes" in figure
    cam = next(c for c in peaks if c.driver == "contosocam.sys")
    assert (cam.peak.time_s, cam.peak.peak_bytes) == (12.65, 3_670_016)  # type: ignore[union-attr]


def test_stack_views_fold_without_script_largest_first(verdict: Verdict) -> None:
    leaves = tuple(StackNode(f"x.sys!F{size}", size, size * KIB) for size in (10, 30, 20))
    root = StackNode("x.sys!DriverEntry", 60, 60 * KIB, leaves)
    verdict.trees[("acpi.sys", "transient")] = StackTree(
        "acpi.sys", "transient", 60, 60 * KIB, (root,)
    )
    page = render_html(verdict)
    where = [
        page.index(f"<code>x.sys!F{size}</code> {size}.0 KiB, {size} allocations")
        for size in (30, 20, 10)
    ]
    assert where == sorted(where)
    # A function with callees folds with <details>/<summary>, the largest branch open.
    assert "<li><details open><summary><code>x.sys!DriverEntry</code> 60.0 KiB" in page
    parsed = _Page(page)
    trees = [a for t, a, _ in parsed.elements if t == "details" and a.get("class") == "stack-tree"]
    assert len(trees) == 2  # acpi.sys: impacting and transient


_NETWORK = (
    "http:",
    "https:",
    "ftp:",
    "//",
    "src=",
    "srcset=",
    "url(",
    "@import",
    "<script",
    "<link",
    "<img",
    "<iframe",
    "<object",
    "<embed",
    "<form",
    "<base",
    "<use",
    "<image",
    "<foreignobject",
    'href="http',
    "xlink:",
    "xmlns",
    "javascript:",
    "data:",
    "onload",
    "onerror",
    "onclick",
)


def test_nothing_is_fetched_or_run(page: str) -> None:
    lower = page.lower()
    for needle in _NETWORK:
        assert needle not in lower, needle
    for tag, attrs, _ in _Page(page).elements:
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, href)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    # The page forbids everything but its own style to itself, too.
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page


def test_no_style_attribute_and_every_figure_is_inline_svg(page: str) -> None:
    assert not re.search(r"\sstyle\s*=", page, re.IGNORECASE)
    parsed = _Page(page)
    figures = [w for t, a, w in parsed.elements if t == "figure"]
    assert figures
    blocks = re.findall(r"<figure[^>]*>(.*?)</figure>", page, re.DOTALL)
    assert len(blocks) == len(figures)
    assert all("<svg " in b and "</svg>" in b and "<canvas" not in b for b in blocks)
    assert page.count("<svg ") == page.count("</svg>") == len(blocks)


def test_the_run_sections(sample: Verdict, page: str) -> None:
    parsed = _Page(page)
    inputs = parsed.text_in("section:inputs")
    for trace in sample.traces:
        assert trace.sha256 in inputs and trace.source_path in inputs
    figures = parsed.text_in("section:figures")
    for name in ("(kernel)", "(unattributed)", "(total)", "acpi.sys"):
        assert name in figures
    header = re.search(r"<header>(.*?)</header>", page, re.DOTALL)
    assert header is not None
    assert "3 failed, 3 warnings, 31 passed, 1 notice, 1 waived" in header.group(1)
    assert "<h2>All drivers together</h2>" in page


# --- several traces ----------------------------------------------------------------------------


def test_several_traces_show_the_values_behind_each_aggregate(verdict: Verdict) -> None:
    verdict.trace_values = {
        ("acpi.sys", "nonpaged_impacting_bytes"): {1: 1_258_291.0, 2: 1_100_000.0},
    }
    parsed = _Page(render_html(verdict))
    per_trace = parsed.text_in("section:per-trace")
    assert "trace 1" in per_trace and "trace 2" in per_trace
    assert format_bytes(1_100_000) in per_trace and format_bytes(1_258_291) in per_trace
    quality = parsed.text_in("section:inputs")
    assert "lost 37 events and 2 buffers" in quality


# --- hostile text -------------------------------------------------------------------------------

_HOSTILE = '<script>alert("x")</script>\x07\x1b[31m.sys'
_LOOKALIKE = "(Total)"


def _timeline(driver: str, trace: str, n: int = 20) -> Timeline:
    times = tuple(i * 0.5 for i in range(n))
    return Timeline(
        driver=driver,
        trace=trace,
        duration_s=n * 0.5,
        window_start_s=None,
        window_end_s=None,
        times_s=times,
        impacting_bytes=tuple(i * KIB for i in range(n)),
        transient_bytes=tuple((i % 5) * 100 for i in range(n)),
        events=n,
    )


def _hostile_verdict() -> Verdict:
    base = make_verdict()
    trace = "traces/<b>boot</b>\"'&amp;\x01.etl"
    peak = PeakMoment(1.5, 400, trace)
    bad = Check(
        metric="nonpaged_transient_peak_bytes",
        driver=_HOSTILE,
        outcome=Outcome.FAIL,
        observed=400,
        limit=100,
        budget_file='budgets/"><img src=x>.yaml',
        budget_line=3,
        owner="<a href='http://evil'>me</a>",
        top_tags=[TagUse('"><svg onload=alert(1)>', 400, 400, 1)],
        peak=peak,
    )
    lookalike = Check(
        metric="nonpaged_impacting_bytes",
        driver=_LOOKALIKE,
        outcome=Outcome.WARN,
        observed=90,
        limit=100,
    )
    frame = StackNode("evil.sys!<script>x()</script>\n\x00", 1, 400)
    tree = StackTree(_HOSTILE, "transient", 1, 400, (frame,), peak=peak)
    base.checks += [bad, lookalike]
    base.traces[0] = replace(base.traces[0], source_path=trace, notes=["<i>note</i>\x02"])
    base.trees[(_HOSTILE, "transient")] = tree
    base.figures.append(DriverFigures(_HOSTILE, 1, {"nonpaged_impacting_bytes": 1.0}))
    base.timelines = {
        _HOSTILE: _timeline(_HOSTILE, trace),
        _LOOKALIKE: _timeline(_LOOKALIKE, trace),
        "(total)": _timeline("(total)", trace),
    }
    return base


def test_hostile_text_is_escaped() -> None:
    page = render_html(_hostile_verdict())
    parsed = _Page(page)  # balanced: no text opened or closed an element
    lower = page.lower()
    for needle in ("<script", "<img", "<svg onload", "<b>boot", "<i>note", "<a href='http"):
        assert needle not in lower, needle
    assert "&lt;script&gt;" in page
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)
    # The hostile driver's figure carries its cleaned name, attribute quoting intact.
    drivers = [a["data-driver"] for a, _ in parsed.figures()]
    assert '<script>alert("x")</script>.sys' in drivers
    # A name that looks like the totals' is its own driver, not the totals.
    assert drivers.count("(total)") == 1 and drivers.count(_LOOKALIKE) == 1
    totals = [w for a, w in parsed.figures() if a["data-driver"] == "(total)"]
    assert totals[0][0] == "section:totals"
    lookalike = [w for a, w in parsed.figures() if a["data-driver"] == _LOOKALIKE]
    assert lookalike[0][0].startswith("section:driver-")
    for tag, attrs, _ in parsed.elements:
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, href)


# --- size ---------------------------------------------------------------------------------------


def _large_verdict(drivers: int = 400) -> Verdict:
    """Every driver failing, with stack trees and timelines as long as _timeline.sql returns
    (8 points per bucket at most)."""
    checks, figures, timelines, trees = [], [], {}, {}
    for i in range(drivers):
        name = f"driver{i:03d}.sys"
        peak = PeakMoment(10.0 + i / 100, (i + 1) * MIB, "traces/boot.etl")
        checks += [
            Check("nonpaged_impacting_bytes", name, Outcome.FAIL, (i + 2) * MIB, MIB, MIB,
                  budget_file="budgets/drivers.yaml", budget_line=i + 1, owner="team",
                  top_tags=[TagUse(f"T{j:03d}", KIB, KIB, 1) for j in range(10)]),
            Check("nonpaged_transient_peak_bytes", name, Outcome.FAIL, (i + 1) * MIB, MIB,
                  peak=peak),
        ]  # fmt: skip
        figures.append(DriverFigures(name, 1, {"nonpaged_impacting_bytes": float(i)}))
        points = 8 * (DETAIL_BUCKETS if i < DETAIL_DRIVERS else OVERVIEW_BUCKETS)
        step = 60.0 / points
        timelines[name] = Timeline(
            driver=name,
            trace="traces/boot.etl",
            duration_s=60.0,
            window_start_s=None,
            window_end_s=None,
            times_s=tuple(k * step for k in range(points)),
            impacting_bytes=tuple(k * 4096 for k in range(points)),
            transient_bytes=tuple((k * 7919) % (i + 1) * MIB // (i + 1) for k in range(points)),
            events=2_000_000,
        )
        leaf = tuple(StackNode(f"{name}!Function{j}", 10, 10 * KIB) for j in range(8))
        mid = tuple(StackNode(f"{name}!Caller{j}", 80, 80 * KIB, leaf) for j in range(4))
        for kind in ("impacting", "transient"):
            trees[(name, kind)] = StackTree(name, kind, 320, 320 * KIB, mid)
    timelines["(total)"] = replace(timelines["driver000.sys"], driver="(total)")
    return Verdict(
        checks=checks,
        traces=[],
        window="whole trace",
        aggregate="max",
        budget_files=["budgets/drivers.yaml"],
        baseline_source=None,
        gate_version="0",
        figures=figures,
        trees=trees,
        timelines=timelines,
    )


def test_a_boot_of_400_failing_drivers_stays_under_5_mb() -> None:
    page = render_html(_large_verdict())
    size = len(page.encode("utf-8"))
    assert size < 5 * MIB, f"{size:,} bytes"
    # Still one figure per failing driver, the first DETAIL_DRIVERS drawn in detail.
    assert page.count('<figure class="timeline"') == 401


# --- the Markdown summary names the page --------------------------------------------------------


def test_markdown_names_the_html_report_when_one_is_written(
    verdict: Verdict, tmp_path: Path
) -> None:
    assert "gate-report.html" not in render_markdown(verdict)
    line = "Boot timelines and stack views: `gate-report.html`"
    assert line in render_markdown(verdict, html_report="gate-report.html")
    out = tmp_path / "reports"
    out.mkdir()
    write_reports(verdict, markdown=out / "summary.md", html=out / "gate-report.html")
    assert line in (out / "summary.md").read_text(encoding="utf-8")
    write_reports(verdict, markdown=tmp_path / "summary.md", html=out / "gate-report.html")
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "`reports/gate-report.html`" in text
    write_reports(verdict, markdown=out / "summary.md")
    assert "gate-report.html" not in (out / "summary.md").read_text(encoding="utf-8")
