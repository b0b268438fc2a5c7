"""The SVG charts: safe under a script- and style-blocking policy, exact where it matters
(ticks, peaks, hover values, labels), bounded in size, and deterministic."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from gate.reports.svg import (
    PALETTE,
    Axis,
    Block,
    HLine,
    Marker,
    Series,
    Span,
    axis,
    downsample,
    icicle,
    timeline,
)
from gate.units import parse_bytes

KiB = 1024
MiB = 1024 * 1024

# Every attribute the module may write: presentation attributes and a few structural ones.
# Anything else (style, href, on*) would be blocked by the policy or be a way out of it.
ALLOWED_ATTRIBUTES = {
    "aria-label",
    "class",
    "cx",
    "cy",
    "d",
    "fill",
    "fill-opacity",
    "font-family",
    "font-size",
    "font-weight",
    "height",
    "paint-order",
    "r",
    "role",
    "stroke",
    "stroke-dasharray",
    "stroke-linejoin",
    "stroke-width",
    "text-anchor",
    "viewBox",
    "width",
    "x",
    "y",
}
ALLOWED_TAGS = {"svg", "title", "rect", "text", "g", "path", "circle"}

HOSTILE = "<script>alert(\"x\")</script> & 'q' \x00\x07\x1b[31mred\x1b[0m\ud800 line\nbreak"
# What the hostile text reads after the module cleans it: ANSI escapes and XML-illegal
# characters gone, whitespace runs folded to one space.
HOSTILE_SHOWN = "<script>alert(\"x\")</script> & 'q' red line break"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def group(root: ET.Element, name: str) -> ET.Element:
    found = [g for g in root.iter("g") if g.get("class") == name]
    assert len(found) == 1, f"{len(found)} groups of class {name!r}"
    return found[0]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter("text")]


def titles(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter("title")]


def y_scale(root: ET.Element, unit: str = "bytes") -> tuple[float, float]:
    """(pixel y of value 0, pixels per unit), read back from the drawn value ticks."""
    points = []
    for t in group(root, "y-axis").iter("text"):
        label = t.text or ""
        value = parse_bytes(label) if unit == "bytes" else int(label.replace(",", ""))
        points.append((value, float(t.get("y", "nan")) - 4))  # labels sit 4 px below the line
    (v0, y0), (v1, y1) = points[0], points[-1]
    per_unit = (y1 - y0) / (v1 - v0)
    return y0 - v0 * per_unit, per_unit


def levels(d: str) -> list[float]:
    """The successive y coordinates a step path visits (its start and each V)."""
    start = re.match(r"M[-\d.]+,([-\d.]+)", d)
    assert start is not None, d
    return [float(start.group(1))] + [float(y) for y in re.findall(r"V([-\d.]+)", d)]


def check_safe(svg: str) -> ET.Element:
    """The structural promises every figure keeps."""
    root = parse(svg)
    for needle in ("<script", "<style", "style=", "http", "href", "javascript", "<!"):
        assert needle not in svg.lower(), needle
    for element in root.iter():
        assert element.tag in ALLOWED_TAGS, element.tag
        assert set(element.attrib) <= ALLOWED_ATTRIBUTES, (element.tag, element.attrib)
    assert root.tag == "svg"
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    return root


# --- axes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "kind", "target", "labels"),
    [
        (
            0,
            1.5 * MiB,
            "bytes",
            6,
            ["0 B", "256 KiB", "512 KiB", "768 KiB", "1 MiB", "1.25 MiB", "1.5 MiB"],
        ),
        (0, 100, "bytes", 6, ["0 B", "32 B", "64 B", "96 B"]),
        (0, 3 * 1024**3, "bytes", 4, ["0 B", "1 GiB", "2 GiB", "3 GiB"]),
        (-512 * KiB, 512 * KiB, "bytes", 4, ["-512 KiB", "-256 KiB", "0 B", "256 KiB", "512 KiB"]),
        (0, 60, "seconds", 8, ["0 s", "10 s", "20 s", "30 s", "40 s", "50 s", "60 s"]),
        (0, 1.2, "seconds", 6, ["0.0 s", "0.2 s", "0.4 s", "0.6 s", "0.8 s", "1.0 s", "1.2 s"]),
        (0, 0.12, "seconds", 3, ["0.00 s", "0.05 s", "0.10 s"]),
        (0, 7, "count", 6, ["0", "2", "4", "6"]),
        (0, 3, "count", 6, ["0", "1", "2", "3"]),
        (0, 25_000, "count", 5, ["0", "5,000", "10,000", "15,000", "20,000", "25,000"]),
    ],
)
def test_axis_ticks_are_round_steps_with_readable_labels(
    low: float, high: float, kind: str, target: int, labels: list[str]
) -> None:
    got = axis(low, high, kind, target=target)  # type: ignore[arg-type]
    assert [label for _, label in got.ticks] == labels
    assert (got.low, got.high) == (low, high)


def test_axis_values_are_the_tick_positions() -> None:
    assert axis(0, 1.5 * MiB, "bytes").ticks[4] == (1.0 * MiB, "1 MiB")
    assert axis(0, 1.2, "seconds").ticks[3] == (0.6, "0.6 s")


def test_extended_axis_ends_on_whole_steps() -> None:
    got = axis(0, 1.1 * MiB, "bytes", target=4, extend=True)
    assert got == Axis(
        0,
        1.5 * MiB,
        ((0, "0 B"), (512 * KiB, "512 KiB"), (1 * MiB, "1 MiB"), (1.5 * MiB, "1.5 MiB")),
    )
    assert axis(3, 7, "count", target=6, extend=True).ticks[0] == (3, "3")


def test_empty_axis_range_gets_a_unit_span() -> None:
    assert axis(5, 5, "seconds").high == 6
    assert axis(0, 0, "bytes").high == 1024
    assert axis(0, 0, "count").high == 1


@pytest.mark.parametrize(("low", "high"), [(1, 0), (float("nan"), 1), (0, float("inf"))])
def test_axis_refuses_a_broken_range(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="not a finite, ordered range"):
        axis(low, high, "seconds")


# --- downsampling -----------------------------------------------------------------------------


def test_downsample_keeps_a_lone_spike_with_its_start_and_end() -> None:
    t = np.arange(100.0)
    v = np.zeros(100)
    v[37] = 5.0
    kept_t, kept_v = downsample(t, v, max_points=6)
    assert kept_t.tolist() == [0.0, 1.0, 37.0, 38.0, 99.0]
    assert kept_v.tolist() == [0.0, 0.0, 5.0, 0.0, 0.0]


def test_downsample_leaves_short_series_alone_but_cleans_them() -> None:
    t, v = downsample([3.0, 1.0, float("nan"), 2.0, 1.0], [30, 10, 99, float("inf"), 11])
    assert t.tolist() == [1.0, 1.0, 3.0]
    assert v.tolist() == [10.0, 11.0, 30.0]  # stable: equal times keep their input order
    assert t.dtype == np.float64 and v.dtype == np.float64


def test_downsample_of_a_million_points_keeps_every_extreme_exact() -> None:
    rng = np.random.default_rng(7)
    n = 1_000_000
    t = np.sort(rng.uniform(0, 120, n))
    v = np.cumsum(rng.integers(-4096, 4097, n)).astype(np.float64)
    top = int(np.argmax(v))
    v[top + 10] = v[top] + 12_345  # a one-point spike right after the walk's high
    kept_t, kept_v = downsample(t, v, max_points=500)
    assert 100 < len(kept_t) <= 500
    peak = int(np.argmax(kept_v))
    assert (kept_t[peak], kept_v[peak]) == (t[top + 10], v[top + 10])
    assert kept_v.min() == v.min()
    assert (kept_t[0], kept_v[0], kept_t[-1], kept_v[-1]) == (t[0], v[0], t[-1], v[-1])
    # The point that ends the spike is kept, so the drawn spike lasts exactly as long.
    assert (kept_t[peak + 1], kept_v[peak + 1]) == (t[top + 11], v[top + 11])
    # Every kept point is a real point, in order.
    index = np.searchsorted(t, kept_t)
    assert np.array_equal(t[index], kept_t) and np.array_equal(v[index], kept_v)
    assert bool(np.all(np.diff(index) > 0))


def test_downsample_keeps_each_bucket_range_exact() -> None:
    """Whatever the buckets, the kept values of any time range that holds a whole number of
    buckets span the same range as the input; checked on the halves of a symmetric series."""
    t = np.linspace(0, 10, 20_001)
    v = np.sin(t * 7) * 1000 + np.where(t < 5, 0, 5000)
    kept_t, kept_v = downsample(t, v, max_points=200)
    first, second = kept_v[kept_t < 5], kept_v[kept_t >= 5]
    assert first.max() == v[t < 5].max() and first.min() == v[t < 5].min()
    assert second.max() == v[t >= 5].max() and second.min() == v[t >= 5].min()


def test_downsample_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2 times but 3 values"):
        downsample([0, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 6"):
        downsample([0, 1], [1, 2], max_points=5)


def test_downsample_of_nothing_is_nothing() -> None:
    t, v = downsample([], [])
    assert t.tolist() == [] and v.tolist() == []
    t, v = downsample([float("nan")], [1.0])
    assert t.tolist() == [] and v.tolist() == []


# --- timelines: structure ---------------------------------------------------------------------


def pool_chart(**overrides: object) -> str:
    """A driver's non-paged pool: impacting steps up, a transient spike at 12.3 s."""
    t = np.array([0.0, 2.0, 9.0, 12.0, 12.3, 13.0, 40.0])
    impacting = np.array([0, 256, 512, 512, 512, 512, 512]) * KiB
    transient = np.array([0, 0, 0, 768, 1024, 0, 0]) * KiB
    arguments: dict[str, object] = {
        "stacked": [Series("impacting", t, impacting), Series("transient", t, transient)],
        "lines": [Series("paged", [1.0, 30.0], [128 * KiB, 64 * KiB], color="#444444")],
        "hlines": [HLine(2 * MiB, "limit"), HLine(1.25 * MiB, "baseline", color="gray")],
        "markers": [Marker(12.3, 1.5 * MiB, "peak")],
        "span": Span(0.0, 30.0, "window 0s..30s"),
        "duration": 60.0,
        "hover_columns": 6,
    }
    arguments.update(overrides)
    return timeline("contosonet.sys non-paged pool", **arguments)  # type: ignore[arg-type]


def test_timeline_is_safe_well_formed_svg_of_the_requested_size() -> None:
    svg = pool_chart(width=800, height=300)
    root = check_safe(svg)
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "800",
        "300",
        "0 0 800 300",
    )
    assert root.get("role") == "img"
    assert root.get("aria-label") == "contosonet.sys non-paged pool"
    assert root.get("font-family") == "sans-serif" and root.get("font-size") == "12"
    assert root[0].tag == "title" and root[0].text == "contosonet.sys non-paged pool"


def test_timeline_is_deterministic() -> None:
    assert pool_chart() == pool_chart()


def test_legend_lists_stacked_layers_then_lines_with_their_peaks() -> None:
    legend = group(parse(pool_chart()), "legend")
    assert texts(legend) == ["impacting", "transient", "paged"]
    assert titles(legend) == [
        "impacting: peak 512 KiB at 9.00 s",
        "transient: peak 1.00 MiB at 12.3 s",
        "paged: peak 128 KiB at 1.00 s",
    ]
    swatches = [(e.tag, e.get("fill"), e.get("stroke")) for e in legend.iter() if e.tag != "g"]
    assert [s for s in swatches if s[0] in ("rect", "path")] == [
        ("rect", PALETTE[0], None),
        ("rect", PALETTE[1], None),
        ("path", None, "#444444"),
    ]


def test_axes_show_round_ticks_for_the_data() -> None:
    root = parse(pool_chart())
    # Highest of data, lines and markers is the 2 MiB limit; 8 % headroom, then a whole step.
    assert texts(group(root, "y-axis")) == [
        "0 B",
        "512 KiB",
        "1 MiB",
        "1.5 MiB",
        "2 MiB",
        "2.5 MiB",
    ]
    assert texts(group(root, "x-axis")) == [
        "0 s",
        "10 s",
        "20 s",
        "30 s",
        "40 s",
        "50 s",
        "60 s",
        "seconds from trace start",
    ]


def test_reference_lines_marker_and_span_are_labelled() -> None:
    root = parse(pool_chart())
    assert texts(group(root, "hlines")) == ["limit 2.00 MiB", "baseline 1.25 MiB"]
    assert [p.get("stroke") for p in group(root, "hlines").iter("path")] == ["#b2182b", "gray"]
    markers = group(root, "markers")
    assert texts(markers) == ["peak 1.50 MiB at 12.3 s"]
    assert titles(markers) == ["peak 1.50 MiB at 12.3 s"]
    assert texts(group(root, "span-edges")) == ["window 0s..30s"]


def test_drawn_levels_are_the_values() -> None:
    """Pixel rows of the areas and the line map back to the data through the drawn ticks."""
    root = parse(pool_chart())
    zero, per_byte = y_scale(root)
    areas = list(group(root, "areas").iter("path"))
    assert [a.get("fill") for a in areas] == [PALETTE[1], PALETTE[0]]  # top layer painted first

    def kib(d: str) -> list[int]:
        return [round((y - zero) / per_byte / KiB) for y in levels(d)]

    total, bottom = (a.get("d", "") for a in areas)
    assert kib(total) == [0, 256, 512, 1280, 1536, 512, 0]
    assert kib(bottom) == [0, 256, 512, 0]
    (line,) = [p for p in root.iter("path") if p.get("class") == "line"]
    assert kib(line.get("d", "")) == [128, 64]


def test_hover_columns_give_exact_maxima_per_column() -> None:
    root = parse(pool_chart())
    columns = titles(group(root, "hover"))
    assert columns == [
        "0.00 s – 10.0 s\nimpacting: max 512 KiB\ntransient: max 0 B\ntotal: max 512 KiB"
        "\npaged: max 128 KiB",
        "10.0 s – 20.0 s\nimpacting: max 512 KiB\ntransient: max 1.00 MiB"
        "\ntotal: max 1.50 MiB\npaged: max 128 KiB",
        "20.0 s – 30.0 s\nimpacting: max 512 KiB\ntransient: max 0 B\ntotal: max 512 KiB"
        "\npaged: max 128 KiB",
        "30.0 s – 40.0 s\nimpacting: max 512 KiB\ntransient: max 0 B\ntotal: max 512 KiB"
        "\npaged: max 64.0 KiB",
        "40.0 s – 50.0 s\nimpacting: max 512 KiB\ntransient: max 0 B\ntotal: max 512 KiB"
        "\npaged: max 64.0 KiB",
        "50.0 s – 60.0 s\nimpacting: max 512 KiB\ntransient: max 0 B\ntotal: max 512 KiB"
        "\npaged: max 64.0 KiB",
    ]
    rects = list(group(root, "hover").iter("rect"))
    assert len(rects) == 6
    # Invisible but hit-testable: filled with zero opacity, never fill="none".
    assert group(root, "hover").get("fill-opacity") == "0"


def test_line_series_is_absent_from_columns_before_its_first_point() -> None:
    svg = timeline(
        "counts",
        lines=[Series("late", [1.5, 2.5], [4, 2])],
        unit="count",
        duration=4,
        hover_columns=4,
    )
    assert titles(group(parse(svg), "hover")) == [
        "0.00 s – 1.00 s",
        "1.00 s – 2.00 s\nlate: max 4",
        "2.00 s – 3.00 s\nlate: max 4",
        "3.00 s – 4.00 s\nlate: max 2",
    ]


def test_stacked_layers_with_different_times_are_merged_in_time_order() -> None:
    svg = timeline(
        "merge",
        stacked=[Series("a", [0, 2], [10, 20]), Series("b", [1, 3], [5, 0])],
        unit="count",
        duration=4,
        hover_columns=4,
    )
    root = parse(svg)
    assert titles(group(root, "hover")) == [
        "0.00 s – 1.00 s\na: max 10\nb: max 0\ntotal: max 10",
        "1.00 s – 2.00 s\na: max 10\nb: max 5\ntotal: max 15",
        "2.00 s – 3.00 s\na: max 20\nb: max 5\ntotal: max 25",
        "3.00 s – 4.00 s\na: max 20\nb: max 0\ntotal: max 20",
    ]
    zero, per_count = y_scale(root, "count")
    total = next(group(root, "areas").iter("path")).get("d", "")
    assert [round((y - zero) / per_count) for y in levels(total)] == [10, 15, 25, 20, 0]


def test_reference_labels_that_would_collide_are_moved_apart() -> None:
    svg = pool_chart(hlines=[HLine(1.00 * MiB, "limit"), HLine(1.01 * MiB, "baseline")])
    labels = list(group(parse(svg), "hlines").iter("text"))
    ys = sorted(float(t.get("y", "nan")) for t in labels)
    assert ys[1] - ys[0] >= 14


def test_colours_are_checked_before_they_reach_an_attribute() -> None:
    with pytest.raises(ValueError, match="is not #rgb"):
        timeline("x", lines=[Series("a", [0], [1], color='red" onload="alert(1)')])
    with pytest.raises(ValueError, match="is not #rgb"):
        timeline("x", hlines=[HLine(1, "limit", color="url(#x)")])


def test_too_small_a_chart_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        timeline("x", width=100)


# --- timelines: hostile and missing data --------------------------------------------------------


def test_hostile_labels_are_escaped_everywhere() -> None:
    svg = timeline(
        HOSTILE,
        stacked=[Series(HOSTILE, [0, 1], [0, 1024])],
        lines=[Series("ok", [0], [512])],
        hlines=[HLine(2048, HOSTILE)],
        markers=[Marker(1, 1024, HOSTILE)],
        span=Span(0, 1, HOSTILE),
    )
    root = check_safe(svg)
    assert root.get("aria-label") == HOSTILE_SHOWN
    assert root[0].text == HOSTILE_SHOWN
    assert texts(group(root, "legend")) == [HOSTILE_SHOWN, "ok"]
    assert texts(group(root, "hlines")) == [f"{HOSTILE_SHOWN} 2.00 KiB"]
    # Long marker text is capped for the layout and ends with an ellipsis.
    (marker,) = texts(group(root, "markers"))
    assert marker.startswith(HOSTILE_SHOWN[:40]) and marker.endswith("…") and len(marker) == 60
    assert texts(group(root, "span-edges")) == [HOSTILE_SHOWN]


def test_non_finite_points_and_references_are_left_out() -> None:
    nan, inf = float("nan"), float("inf")
    svg = timeline(
        "gaps",
        lines=[Series("x", [0, 1, nan, 3, 4], [KiB, inf, 5 * KiB, 2 * KiB, -inf])],
        hlines=[HLine(nan, "limit"), HLine(4 * KiB, "baseline")],
        markers=[Marker(inf, 1, "lost"), Marker(3, 2 * KiB, "kept")],
        span=Span(None, nan, "all"),
        duration=inf,
    )
    root = check_safe(svg)
    assert titles(group(root, "legend")) == ["x: peak 2.00 KiB at 3.00 s"]
    assert texts(group(root, "hlines")) == ["baseline 4.00 KiB"]
    assert texts(group(root, "markers")) == ["kept 2.00 KiB at 3.00 s"]
    assert texts(group(root, "x-axis"))[-2] == "3.0 s"  # axis ends at the last finite point


def test_chart_without_data_says_so() -> None:
    svg = timeline("nothing", lines=[Series("x", [], [])], stacked=[Series("y", [], [])])
    root = check_safe(svg)
    assert "no data" in texts(root)
    assert titles(group(root, "legend")) == ["y: no data", "x: no data"]
    assert not [g for g in root.iter("g") if g.get("class") in ("hover", "areas")]
    assert texts(group(root, "y-axis")) == ["0 B", "256 B", "512 B", "768 B", "1 KiB"]


def test_chart_with_no_series_at_all_is_still_valid() -> None:
    root = check_safe(timeline("empty"))
    assert "no data" in texts(root)


# --- timelines: size --------------------------------------------------------------------------


def test_a_million_point_chart_stays_small_and_keeps_its_peak() -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    t = np.sort(rng.uniform(0, 60, n))
    impacting = np.where(t > 2, 300 * KiB, 0) + rng.integers(0, 4 * KiB, n)
    transient = np.exp(-(((t - 12.3) / 0.8) ** 2)) * MiB + rng.integers(0, 40 * KiB, n)
    transient = np.round(transient)
    transient[n // 2] = 3 * MiB  # one point far above everything else
    total = impacting + transient
    svg = timeline(
        "big",
        stacked=[Series("impacting", t, impacting), Series("transient", t, transient)],
        lines=[Series("outstanding", t, total)],
        hlines=[HLine(4 * MiB, "limit")],
        duration=60,
    )
    root = check_safe(svg)
    assert len(svg.encode()) < 40_000
    zero, per_byte = y_scale(root)
    top_area = next(group(root, "areas").iter("path")).get("d", "")
    (line,) = [p for p in root.iter("path") if p.get("class") == "line"]
    for d in (top_area, line.get("d", "")):
        highest = (min(levels(d)) - zero) / per_byte
        assert abs(highest - total.max()) <= abs(0.05 / per_byte)  # within rounding to 0.1 px
    hover = "".join(titles(group(root, "hover")))
    assert f"transient: max {3.00:.2f} MiB" in hover
    assert "outstanding: peak" in titles(group(root, "legend"))[2]


# --- icicle -----------------------------------------------------------------------------------


def stacks() -> list[Block]:
    return [
        Block(
            "contosonet.sys!NetAllocRx",
            768 * KiB,
            (
                Block("ndis.sys!NdisAllocateNetBufferListPool", 512 * KiB),
                Block("contosonet.sys!RxInit", 128 * KiB, (Block("nt!ExAllocatePool2", 1),)),
            ),
        ),
        Block("contosonet.sys!CfgLoad", 256 * KiB),
    ]


def test_icicle_is_safe_and_nests_blocks_within_their_parents() -> None:
    svg = icicle("call sites", stacks(), width=1048)
    root = check_safe(svg)
    blocks = list(group(root, "icicle").iter("g"))
    rects = {
        (b.findtext("title") or "").split(":")[0]: b.find("rect") for b in blocks if len(b) > 0
    }
    geometry = {
        name: tuple(float(r.get(k, "nan")) for k in ("x", "y", "width"))
        for name, r in rects.items()
        if r is not None
    }
    # 1 MiB over 1024 px: one pixel per KiB, starting 12 px in; the 1-byte block is too narrow.
    assert geometry == {
        "contosonet.sys!NetAllocRx": (12.0, 34.0, 768.0),
        "contosonet.sys!CfgLoad": (780.0, 34.0, 256.0),
        "ndis.sys!NdisAllocateNetBufferListPool": (12.0, 54.0, 512.0),
        "contosonet.sys!RxInit": (524.0, 54.0, 128.0),
    }
    assert root.get("height") == str(34 + 2 * 20 + 8)
    assert titles(group(root, "icicle"))[0] == (
        "contosonet.sys!NetAllocRx: 768 KiB (75.0% of 1.00 MiB)"
    )


def test_icicle_labels_are_cut_to_fit_their_blocks() -> None:
    svg = icicle("cut", [Block("a" * 50, 3), Block("b", 97)], width=224)
    shown = texts(group(parse(svg), "icicle"))
    # 200 px for 100 bytes: the first block is 6 px (no label), the second 194 px (26 chars).
    assert shown == ["b"]
    svg = icicle("cut", [Block("x" * 50, 50), Block("b", 50)], width=224)
    first = texts(group(parse(svg), "icicle"))[0]
    assert first == "x" * 12 + "…"


def test_icicle_squeezes_children_that_claim_more_than_their_parent() -> None:
    svg = icicle("bad sums", [Block("p", 100, (Block("c1", 100), Block("c2", 100)))], width=224)
    root = parse(svg)
    widths = [float(r.get("width", "nan")) for r in group(root, "icicle").iter("rect")]
    assert widths == [200.0, 100.0, 100.0]


def test_icicle_honours_max_depth_and_escapes_labels() -> None:
    deep = Block("d3", 10)
    for name in ("d2", "d1", HOSTILE):
        deep = Block(name, 10, (deep,))
    root = check_safe(icicle(HOSTILE, [deep], max_depth=2))
    assert [t.split(":")[0] for t in titles(group(root, "icicle"))] == [HOSTILE_SHOWN, "d1"]
    assert root.get("aria-label") == HOSTILE_SHOWN


def test_icicle_without_bytes_says_so() -> None:
    root = check_safe(icicle("none", [Block("zero", 0), Block("negative", -5)]))
    assert "no data" in texts(root)
