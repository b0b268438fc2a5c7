"""Inline SVG charts for the HTML report: boot timelines and an icicle of call stacks.

CI systems serve artifacts under a content security policy that blocks scripts, `<style>`
elements and `style=` attributes, so every figure here is plain SVG drawn with presentation
attributes only (`fill`, `stroke`, `font-size`, ...), with no script, no external reference and
no namespace URL: the text is meant to sit inside an HTML page, whose parser puts `<svg>` in the
SVG namespace by itself. Hover values come from `<title>` children, which browsers show as
tooltips.

Everything is a pure function returning text. Output is deterministic (same input, same bytes),
coordinates are rounded to 0.1 px, and every label is folded onto one line, stripped of
characters XML forbids and escaped.

Series are step functions, as pool usage is: a value holds from its point's time until the next
point. Long series are reduced by `downsample`, which keeps, per time bucket, the first and last
points, the maximum and minimum points and the points that end them, so every peak is drawn at
its exact time and value and the step shape survives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gate.reports.common import one_line
from gate.units import format_bytes, format_count

__all__ = [
    "PALETTE",
    "Axis",
    "Block",
    "HLine",
    "Marker",
    "Series",
    "Span",
    "axis",
    "downsample",
    "icicle",
    "timeline",
]

Unit = Literal["bytes", "count"]
AxisKind = Literal["seconds", "bytes", "count"]
Floats = NDArray[np.float64]

# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE: tuple[str, ...] = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#999999",
)

_FONT = 12  # px, the root font size; ticks, legend and labels use it
_TITLE_FONT = 14
# Average advance of a sans-serif glyph in ems, a deliberate overestimate: layout only needs
# to keep text from colliding, and the real font is whatever the reader's browser picks.
_CHAR_EM = 0.6
_COLOR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?|[a-z]{3,20}")
_LABEL_CAP = 60  # characters of a legend, reference-line or marker label
_TITLE_CAP = 200  # characters of a tooltip or chart title
_BINARY_SCALES = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
# Span given to an axis whose data has none (all values equal).
_EMPTY_SPAN: dict[str, float] = {"seconds": 1.0, "bytes": 1024.0, "count": 1.0}


# --- public data ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Series:
    """A step series over a boot.

    `values[i]` holds from `times[i]` (seconds from trace start) until the next point; the last
    value holds to the end of the time axis. Points whose time or value is NaN or infinite are
    left out, and times need not be sorted (points are put in time order, stably). `color` is
    `#rgb`, `#rrggbb` or a lower-case SVG colour name; `None` takes the next of `PALETTE`.
    """

    label: str
    times: ArrayLike
    values: ArrayLike
    color: str | None = None


@dataclass(frozen=True)
class HLine:
    """A horizontal reference line, drawn with the text `"{label} {value}"` (e.g. the budget
    limit, the baseline). A NaN or infinite value is not drawn."""

    value: float
    label: str
    color: str = "#b2182b"
    dashed: bool = True


@dataclass(frozen=True)
class Marker:
    """A point marked on the chart with the text `"{label} {value} at {time}"`, e.g.
    `peak 1.50 MiB at 12.3 s`: the time with three significant digits, or with `decimals`
    decimals when given (`12.650 s`, as other reports print a moment). A marker with a NaN or
    infinite coordinate is not drawn."""

    time: float
    value: float
    label: str = ""
    color: str = "#222222"
    decimals: int | None = None


@dataclass(frozen=True)
class Span:
    """A shaded range of time, e.g. the evaluation window; `None` is the start or the end of
    the time axis."""

    start: float | None
    end: float | None
    label: str = ""
    color: str = "#6baed6"


@dataclass(frozen=True)
class Axis:
    """An axis range and its ticks as `(value, label)` pairs, lowest first."""

    low: float
    high: float
    ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class Block:
    """One frame of an icicle: its label, its bytes (itself and everything below it) and the
    blocks below it. Children whose bytes add up to less than the parent's leave the rest of
    the parent's width empty (bytes the parent allocates itself)."""

    label: str
    bytes: int
    children: tuple[Block, ...] = ()


# --- axes -------------------------------------------------------------------------------------


def axis(low: float, high: float, kind: AxisKind, *, target: int = 6, extend: bool = False) -> Axis:
    """Ticks for `low..high`: seconds and counts at 1, 2 or 5 × 10^k, bytes at powers of two.

    The step is the smallest of its kind that gives at most `target` intervals. `extend=True`
    widens the range to whole steps (a value axis that should end on a tick); otherwise the
    range is kept and only ticks inside it are returned. Byte ticks read `0 B`, `256 KiB`,
    `1.5 MiB`; seconds `0 s`, `0.5 s`, `20 s`; counts `1,000`.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        raise ValueError(f"axis range {low!r}..{high!r} is not a finite, ordered range")
    if high == low:
        high = low + _EMPTY_SPAN[kind]
    step = _tick_step(high - low, kind, max(int(target), 1))
    if extend:
        low = math.floor(low / step + 1e-9) * step
        high = math.ceil(high / step - 1e-9) * step
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    ticks = []
    for k in range(first, last + 1):
        value = round(k * step, 12)
        ticks.append((value, _tick_label(value, kind, decimals)))
    return Axis(low, high, tuple(ticks))


def _tick_step(span: float, kind: AxisKind, target: int) -> float:
    raw = span / target
    if kind == "bytes":
        return float(2 ** math.ceil(math.log2(raw))) if raw > 1 else 1.0
    exponent = math.floor(math.log10(raw))
    step = 10.0 ** (exponent + 1)
    for mantissa in (1, 2, 5):
        candidate = mantissa * 10.0**exponent
        if candidate >= raw * (1 - 1e-9):
            step = candidate
            break
    return max(step, 1.0) if kind == "count" else step


def _tick_label(value: float, kind: AxisKind, decimals: int) -> str:
    if kind == "seconds":
        return f"{value:.{decimals}f} s"
    if kind == "count":
        return format_count(value)
    return _binary_label(value)


def _binary_label(value: float) -> str:
    """A byte tick in the largest unit it reaches, with only the decimals it needs."""
    size = round(value)
    sign = "-" if size < 0 else ""
    size = abs(size)
    for unit, scale in _BINARY_SCALES:
        if size >= scale:
            text = f"{size / scale:.4f}".rstrip("0").rstrip(".")
            return f"{sign}{text} {unit}"
    return f"{sign}{size} B"


# --- downsampling -----------------------------------------------------------------------------


def downsample(times: ArrayLike, values: ArrayLike, max_points: int = 600) -> tuple[Floats, Floats]:
    """A step series reduced to at most `max_points` points, every peak kept exact.

    Non-finite points are dropped and the rest put in time order (stably) first. A series
    longer than `max_points` is cut into equal time buckets, as many as fit; each keeps its
    first and last points, its maximum and minimum points (the first of equal ones) and the
    points right after those, which end them. So the global maximum is kept with its exact
    time and value, each bucket's range of values is exact, and the value at every bucket
    boundary is the true one. Returns new float64 arrays `(times, values)`.
    """
    if max_points < 6:
        raise ValueError(f"max_points must be at least 6, not {max_points}")
    t, v = _clean(times, values, "series")
    if len(t) <= max_points:
        return t, v
    keep = _reduced(t, [v], max_points)
    return t[keep], v[keep]


def _clean(times: ArrayLike, values: ArrayLike, what: str) -> tuple[Floats, Floats]:
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if t.shape != v.shape:
        raise ValueError(f"{what}: {t.size} times but {v.size} values")
    finite = np.isfinite(t) & np.isfinite(v)
    if not finite.all():
        t, v = t[finite], v[finite]
    if t.size > 1 and bool((t[1:] < t[:-1]).any()):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


def _reduced(t: Floats, columns: Sequence[Floats], budget: int) -> NDArray[np.intp]:
    """At most `budget` rows keeping each column's per-bucket extremes, with as many buckets
    as fit: a bucket keeps up to 2 + 4 per column rows, but most keep far fewer (a rising run
    keeps three), so fewer, wider buckets are tried only when the first count is too many."""
    floor = max(budget // (2 + 4 * len(columns)), 1)
    buckets = max(budget // 2, floor)
    while True:
        keep = _kept_indices(t, columns, buckets)
        if len(keep) <= budget or buckets == floor:
            return keep
        buckets = max(floor, int(buckets * budget / len(keep) * 0.95))


def _kept_indices(t: Floats, columns: Sequence[Floats], buckets: int) -> NDArray[np.intp]:
    """Rows to keep so that each column keeps its per-bucket extremes, in time order."""
    n = len(t)
    edges = np.linspace(t[0], t[-1], max(buckets, 1) + 1)[1:-1]
    bucket = np.searchsorted(edges, t, side="right")
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], n]
    counts = ends - starts
    segment = np.repeat(np.arange(len(starts)), counts)
    keep = [starts, ends - 1]
    for v in columns:
        for reduce in (np.maximum, np.minimum):
            extreme = np.repeat(reduce.reduceat(v, starts), counts)
            hits = np.flatnonzero(v == extreme)
            first = hits[np.r_[True, segment[hits][1:] != segment[hits][:-1]]]
            keep += [first, np.minimum(first + 1, n - 1)]
    return np.unique(np.concatenate(keep))


def _held_max(t: Floats, v: Floats, edges: Floats, before: float) -> Floats:
    """The largest value the step series (at least one point) takes in each interval between
    `edges`, the last one closed; `before` is its value before its first point (NaN: none)."""
    start = np.searchsorted(t, edges[:-1], side="right")
    end = np.searchsorted(t, edges[1:], side="left")
    end[-1] = np.searchsorted(t, edges[-1], side="right")
    held = np.where(start > 0, v[np.maximum(start - 1, 0)], before)
    inside = np.full(len(start), np.nan)
    filled = end > start
    if filled.any():
        # reduceat over (start, end) pairs: the even results are the maxima of v[start:end].
        padded = np.r_[v, -np.inf]
        pairs = np.column_stack([start[filled], end[filled]]).reshape(-1)
        inside[filled] = np.maximum.reduceat(padded, pairs)[::2]
    return np.fmax(held, inside)


# --- text and numbers -------------------------------------------------------------------------


def _esc(text: str) -> str:
    """XML text or double-quoted attribute value."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _label(text: str, cap: int = _LABEL_CAP) -> str:
    return _esc(one_line(str(text), cap))


def _tooltip(text: str) -> str:
    """A `<title>` child; lines are kept (browsers show them as lines of the tooltip)."""
    lines = [one_line(line, _TITLE_CAP) for line in str(text).split("\n")]
    return f"<title>{_esc(chr(10).join(line for line in lines if line))}</title>"


def _n(x: float) -> str:
    """A coordinate rounded to 0.1 px, without a trailing `.0` or a negative zero."""
    text = f"{x:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _text_width(text: str, size: float = _FONT) -> float:
    return len(text) * size * _CHAR_EM


def _color(color: str) -> str:
    if not _COLOR.fullmatch(color):
        raise ValueError(f"colour {color!r} is not #rgb, #rrggbb or an SVG colour name")
    return color


def _seconds(t: float) -> str:
    """A time with three significant digits: `1.50 s`, `12.3 s`, `120 s`."""
    size = abs(t)
    decimals = 2 if size < 10 else 1 if size < 100 else 0
    return f"{t:.{decimals}f} s"


def _value(v: float, unit: Unit) -> str:
    if unit == "bytes":
        return format_bytes(v)
    return format_count(v) if float(v).is_integer() else f"{v:,.1f}"


# --- the timeline -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Curve:
    label: str
    color: str
    t: Floats
    v: Floats
    area: bool
    # A stacked layer's cumulative top: the sum of its own values and those below it.
    top: Floats | None = None

    @property
    def drawn(self) -> Floats:
        """The values the chart draws: the cumulative top of a stacked layer, else the values."""
        return self.v if self.top is None else self.top


@dataclass(frozen=True)
class _Frame:
    left: float
    right: float
    top: float
    bottom: float
    x: Axis
    y: Axis

    def px(self, t: Floats | float) -> Floats:
        scale = (self.right - self.left) / (self.x.high - self.x.low)
        return np.round(self.left + (np.asarray(t, dtype=np.float64) - self.x.low) * scale, 1)

    def py(self, v: Floats | float) -> Floats:
        scale = (self.bottom - self.top) / (self.y.high - self.y.low)
        return np.round(self.bottom - (np.asarray(v, dtype=np.float64) - self.y.low) * scale, 1)


def timeline(
    title: str,
    *,
    lines: Sequence[Series] = (),
    stacked: Sequence[Series] = (),
    hlines: Sequence[HLine] = (),
    markers: Sequence[Marker] = (),
    span: Span | None = None,
    unit: Unit = "bytes",
    duration: float | None = None,
    width: int = 720,
    height: int = 320,
    max_points: int = 600,
    hover_columns: int = 48,
) -> str:
    """An SVG time-series chart of a boot, as text.

    x is seconds from trace start, from 0 (or the earliest point) to `duration` (or the
    latest point, line, marker or span end, whichever is later); y is bytes in binary units
    (`unit="bytes"`) or counts, from 0 (or the lowest value) to a tick above the highest value,
    reference line or marker. `stacked` series are drawn as areas piled in the given order
    (first at the bottom), like WPA's Pool graph with its Impacting and Transient legends;
    a layer is 0 before its first point, and layers with different times are merged in time
    order (at equal times the earlier layer's point first). `lines` are drawn as step lines
    over the areas. Each series is downsampled to `max_points` (a stack of k layers to
    k × `max_points` rows). The plot is covered by `hover_columns` invisible columns whose
    tooltips give each series' exact maximum within the column; legend entries give each
    series' peak. The figure is `width` × `height` px with a matching viewBox.
    """
    if width < 200 or height < 120:
        raise ValueError(f"a {width}×{height} chart is too small to read (200×120 at least)")
    colors = iter(PALETTE * (1 + (len(stacked) + len(lines)) // len(PALETTE)))
    layers = [_curve(s, next(colors), area=True) for s in stacked]
    curves = [_curve(s, next(colors), area=False) for s in lines]
    refs = [h for h in hlines if math.isfinite(h.value)]
    marks = [m for m in markers if math.isfinite(m.time) and math.isfinite(m.value)]
    stack = _merge_layers(layers)
    legend, legend_bottom = _legend(layers + curves, unit, width)
    frame = _layout(width, height, legend_bottom, stack + curves, refs, marks, span, unit, duration)
    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_label(title, _TITLE_CAP)}" font-family="sans-serif" '
        f'font-size="{_FONT}">',
        f"<title>{_label(title, _TITLE_CAP)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        _title_text(title, width),
        legend,
        _grid(frame, unit),
        _span(frame, span, behind=True),
        _areas(frame, stack, max_points),
        "".join(_line(frame, c, max_points) for c in curves),
        _span(frame, span, behind=False),
        _hlines(frame, refs, unit),
        _x_axis(frame),
        _hover(frame, stack, curves, unit, hover_columns),
        _markers(frame, marks, unit),
    ]
    if not any(len(c.t) for c in stack + curves) and not refs and not marks:
        parts.append(_centered(frame, "no data"))
    parts.append("</svg>")
    return "".join(parts)


def _curve(series: Series, default_color: str, *, area: bool) -> _Curve:
    t, v = _clean(series.times, series.values, f"series {series.label!r}")
    color = _color(series.color) if series.color is not None else default_color
    return _Curve(one_line(str(series.label), _LABEL_CAP), color, t, v, area)


def _merge_layers(layers: list[_Curve]) -> list[_Curve]:
    """Stacked layers on one time grid with their cumulative tops (bottom layer first)."""
    if not layers:
        return []
    first = layers[0].t
    if all(np.array_equal(layer.t, first) for layer in layers):
        grid, own = first, [layer.v for layer in layers]
    else:
        times = np.concatenate([layer.t for layer in layers])
        which = np.concatenate([np.full(len(layer.t), k) for k, layer in enumerate(layers)])
        local = np.concatenate([np.arange(len(layer.t)) for layer in layers])
        order = np.argsort(times, kind="stable")
        grid, which, local = times[order], which[order], local[order]
        own = []
        for k, layer in enumerate(layers):
            latest = np.maximum.accumulate(np.where(which == k, local, -1))
            own.append(np.where(latest >= 0, layer.v[np.maximum(latest, 0)], 0.0))
    tops = np.cumsum(np.vstack(own), axis=0) if len(grid) else np.zeros((len(layers), 0))
    return [
        _Curve(layer.label, layer.color, grid, own[k], area=True, top=tops[k])
        for k, layer in enumerate(layers)
    ]


def _legend(curves: list[_Curve], unit: Unit, width: int) -> tuple[str, float]:
    """Legend entries in rows under the title, each with its series' peak as a tooltip."""
    x, y = 12.0, 40.0
    out = ['<g class="legend">']
    for c in curves:
        w = 18 + _text_width(c.label) + 16
        if x > 12 and x + w > width - 12:
            x, y = 12.0, y + 18
        if c.area:
            swatch = f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="12" height="10" fill="{c.color}"/>'
        else:
            swatch = f'<path d="M{_n(x)},{_n(y - 4)}h14" stroke="{c.color}" stroke-width="2.5"/>'
        out.append(
            f"<g>{_tooltip(_peak_text(c, unit))}{swatch}"
            f'<text x="{_n(x + 18)}" y="{_n(y)}">{_esc(c.label)}</text></g>'
        )
        x += w
    out.append("</g>")
    return "".join(out), (y if curves else 24.0)


def _peak_text(c: _Curve, unit: Unit) -> str:
    if not len(c.t):
        return f"{c.label}: no data"
    i = int(np.argmax(c.v))
    return f"{c.label}: peak {_value(c.v[i], unit)} at {_seconds(c.t[i])}"


def _layout(
    width: int,
    height: int,
    legend_bottom: float,
    curves: list[_Curve],
    refs: list[HLine],
    marks: list[Marker],
    span: Span | None,
    unit: Unit,
    duration: float | None,
) -> _Frame:
    """The plot rectangle and both axes, from the data's extent and the space text needs."""
    filled = [c for c in curves if len(c.t)]
    data_t = [float(c.t[0]) for c in filled] + [float(c.t[-1]) for c in filled]
    data_v = [float(c.drawn.max()) for c in filled] + [float(c.drawn.min()) for c in filled]
    data_t += [m.time for m in marks]
    data_v += [m.value for m in marks] + [h.value for h in refs]
    if span is not None:
        data_t += [s for s in (span.start, span.end) if s is not None and math.isfinite(s)]
    if duration is not None and math.isfinite(duration):
        data_t.append(duration)
    # A labelled span writes its label above the plot, clear of reference-line labels.
    top = legend_bottom + (30 if span is not None and one_line(span.label) else 16)
    bottom = height - 38.0
    y = axis(
        min([0.0, *data_v]),
        # Headroom over the highest value, so labels above it stay inside the plot.
        max([0.0, *data_v]) * 1.08,
        unit,
        target=_ticks_for(bottom - top, 36),
        extend=True,
    )
    label_w = max(_text_width(label) for _, label in y.ticks)
    left, right = 12 + label_w + 8, width - 16.0
    x = axis(
        min([0.0, *data_t]), max([0.0, *data_t]), "seconds", target=_ticks_for(right - left, 80)
    )
    return _Frame(left, right, top, bottom, x, y)


def _ticks_for(pixels: float, spacing: float) -> int:
    return max(2, int(pixels // spacing))


def _title_text(title: str, width: int) -> str:
    cap = max(8, int((width - 24) / (_TITLE_FONT * _CHAR_EM)))
    text = _label(title, min(cap, _TITLE_CAP))
    return f'<text x="12" y="20" font-size="{_TITLE_FONT}" font-weight="bold">{text}</text>'


def _grid(frame: _Frame, unit: Unit) -> str:
    """Horizontal grid lines with the value ticks at their left."""
    out = ['<g class="y-axis" fill="#444444">']
    path = []
    for value, label in frame.y.ticks:
        y = float(frame.py(value))
        path.append(f"M{_n(frame.left)},{_n(y)}H{_n(frame.right)}")
        out.append(
            f'<text x="{_n(frame.left - 6)}" y="{_n(y + 4)}" text-anchor="end">{_esc(label)}</text>'
        )
    out.append(f'<path d="{"".join(path)}" stroke="#e3e3e3" stroke-width="1"/>')
    out.append("</g>")
    return "".join(out)


def _x_axis(frame: _Frame) -> str:
    """The time axis line, its ticks and their labels, and what the axis measures."""
    b = frame.bottom
    out = ['<g class="x-axis" fill="#444444" text-anchor="middle">']
    marks = []
    for value, label in frame.x.ticks:
        x = float(frame.px(value))
        marks.append(f"M{_n(x)},{_n(b)}v4")
        out.append(f'<text x="{_n(x)}" y="{_n(b + 16)}">{_esc(label)}</text>')
    out.append(
        f'<path d="M{_n(frame.left)},{_n(b)}H{_n(frame.right)}{"".join(marks)}" '
        'stroke="#444444" stroke-width="1"/>'
    )
    centre = (frame.left + frame.right) / 2
    out.append(f'<text x="{_n(centre)}" y="{_n(b + 31)}">seconds from trace start</text>')
    out.append("</g>")
    return "".join(out)


def _step_path(xs: Floats, ys: Floats, x_end: float) -> str:
    """`M x0,y0 H x1 V y1 H x2 ...`: each value held until the next point, the last to x_end.

    Moves that do not change a rounded coordinate are left out, and a vertical move that goes
    on in the same direction as the one before it extends that one; a vertical move that turns
    back is kept, since it draws a peak that lasted less than a pixel.
    """
    out = [f"M{_n(xs[0])},{_n(ys[0])}"]
    last_x, last_y = float(xs[0]), float(ys[0])
    run_from: float | None = None  # where the vertical move just written started
    for x, y in zip(xs[1:].tolist(), ys[1:].tolist(), strict=True):
        if x != last_x:
            out.append(f"H{_n(x)}")
            last_x, run_from = x, None
        if y == last_y:
            continue
        if run_from is not None and (run_from < last_y) == (last_y < y):
            out[-1] = f"V{_n(y)}"
        else:
            run_from = last_y
            out.append(f"V{_n(y)}")
        last_y = y
    if x_end != last_x:
        out.append(f"H{_n(x_end)}")
    return "".join(out)


def _areas(frame: _Frame, stack: list[_Curve], max_points: int) -> str:
    """Stacked layers painted top layer first, each filled from its cumulative top down to
    zero, so every band shows between its own top and the one below it."""
    if not stack or not len(stack[0].t):
        return ""
    t = stack[0].t
    budget = max_points * len(stack)
    columns = [c.v for c in stack] + [c.drawn for c in stack[1:]]
    keep = _reduced(t, columns, budget) if len(t) > budget else np.arange(len(t))
    xs = frame.px(t[keep])
    base = _n(float(frame.py(max(frame.y.low, 0.0))))
    out = ['<g class="areas">']
    for c in reversed(stack):
        path = _step_path(xs, frame.py(c.drawn[keep]), frame.right)
        out.append(f'<path d="{path}V{base}H{_n(xs[0])}Z" fill="{c.color}"/>')
    out.append("</g>")
    return "".join(out)


def _line(frame: _Frame, c: _Curve, max_points: int) -> str:
    if not len(c.t):
        return ""
    t, v = (c.t, c.v) if len(c.t) <= max_points else downsample(c.t, c.v, max_points)
    path = _step_path(frame.px(t), frame.py(v), frame.right)
    return (
        f'<path class="line" d="{path}" fill="none" stroke="{c.color}" stroke-width="1.75" '
        'stroke-linejoin="round"/>'
    )


def _span(frame: _Frame, span: Span | None, *, behind: bool) -> str:
    """The shaded range behind the data; its edges and label over it, to stay visible."""
    if span is None:
        return ""
    start = frame.x.low if span.start is None or not math.isfinite(span.start) else span.start
    end = frame.x.high if span.end is None or not math.isfinite(span.end) else span.end
    if end < start:
        return ""
    x0, x1 = float(frame.px(start)), float(frame.px(end))
    color = _color(span.color)
    if behind:
        return (
            f'<rect class="span" x="{_n(x0)}" y="{_n(frame.top)}" width="{_n(x1 - x0)}" '
            f'height="{_n(frame.bottom - frame.top)}" fill="{color}" fill-opacity="0.18"/>'
        )
    edges = (
        f"M{_n(x0)},{_n(frame.top)}V{_n(frame.bottom)}M{_n(x1)},{_n(frame.top)}V{_n(frame.bottom)}"
    )
    label = _label(span.label)
    text = (
        f'<text x="{_n(x0)}" y="{_n(frame.top - 5)}" fill="#08519c">{label}</text>' if label else ""
    )
    return (
        f'<g class="span-edges"><path d="{edges}" stroke="{color}" stroke-width="1" '
        f'stroke-dasharray="3 3"/>{text}</g>'
    )


# White outline behind overlay text, so it stays legible over areas and lines.
_HALO = 'stroke="#ffffff" stroke-width="3" paint-order="stroke"'


def _hlines(frame: _Frame, refs: list[HLine], unit: Unit) -> str:
    """Reference lines with their labels at the right end, pushed apart when they collide."""
    if not refs:
        return ""
    out = ['<g class="hlines">']
    last_label_y = -math.inf
    for y, ref in sorted(((float(frame.py(h.value)), h) for h in refs), key=lambda p: p[0]):
        color = _color(ref.color)
        dash = ' stroke-dasharray="6 4"' if ref.dashed else ""
        text = _label(f"{ref.label} {_value(ref.value, unit)}")
        # Above the line unless that runs into the label above it, then below the line.
        label_y = y - 4 if y - 4 >= max(last_label_y + 14, frame.top + 11) else y + 13
        label_y = min(max(label_y, last_label_y + 14), frame.bottom - 2)
        last_label_y = label_y
        out.append(
            f'<g><path d="M{_n(frame.left)},{_n(y)}H{_n(frame.right)}" stroke="{color}" '
            f'stroke-width="1.5"{dash}/><text x="{_n(frame.right - 4)}" y="{_n(label_y)}" '
            f'text-anchor="end" fill="{color}" {_HALO}>{text}</text></g>'
        )
    out.append("</g>")
    return "".join(out)


def _markers(frame: _Frame, marks: list[Marker], unit: Unit) -> str:
    """Points with their labels beside them, kept inside the plot."""
    if not marks:
        return ""
    out = ['<g class="markers">']
    for m in marks:
        x, y = float(frame.px(m.time)), float(frame.py(m.value))
        when = _seconds(m.time) if m.decimals is None else f"{m.time:.{max(m.decimals, 0)}f} s"
        words = f"{_value(m.value, unit)} at {when}"
        plain = one_line(f"{m.label} {words}" if one_line(m.label) else words, _LABEL_CAP)
        right = x + 7 + _text_width(plain) <= frame.right
        tx, anchor = (x + 7, "start") if right else (x - 7, "end")
        ty = y - 7 if y - 7 >= frame.top + 11 else y + 16
        color = _color(m.color)
        out.append(
            f'<g>{_tooltip(plain)}<circle cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{color}" '
            f'stroke="#ffffff" stroke-width="1.5"/><text x="{_n(tx)}" y="{_n(ty)}" '
            f'text-anchor="{anchor}" fill="{color}" {_HALO}>{_esc(plain)}</text></g>'
        )
    out.append("</g>")
    return "".join(out)


def _hover(
    frame: _Frame, stack: list[_Curve], curves: list[_Curve], unit: Unit, columns: int
) -> str:
    """Invisible columns over the plot whose tooltips give each series' maximum within them,
    computed from every point, not the downsampled ones."""
    if columns < 1 or not any(len(c.t) for c in stack + curves):
        return ""
    edges = np.linspace(frame.x.low, frame.x.high, columns + 1)
    rows: list[tuple[str, Floats]] = []
    if stack and len(stack[0].t):
        rows += [(c.label, _held_max(c.t, c.v, edges, 0.0)) for c in stack]
        if len(stack) > 1:
            rows.append(("total", _held_max(stack[-1].t, stack[-1].drawn, edges, 0.0)))
    rows += [(c.label, _held_max(c.t, c.v, edges, math.nan)) for c in curves if len(c.t)]
    xs = frame.px(edges)
    out = ['<g class="hover" fill="#ffffff" fill-opacity="0">']
    for i in range(columns):
        lines = [f"{_seconds(edges[i])} – {_seconds(edges[i + 1])}"]
        lines += [f"{label}: max {_value(m[i], unit)}" for label, m in rows if not math.isnan(m[i])]
        out.append(
            f'<rect x="{_n(xs[i])}" y="{_n(frame.top)}" width="{_n(xs[i + 1] - xs[i])}" '
            f'height="{_n(frame.bottom - frame.top)}">{_tooltip(chr(10).join(lines))}</rect>'
        )
    out.append("</g>")
    return "".join(out)


def _centered(frame: _Frame, text: str) -> str:
    x, y = (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="middle" fill="#777777">{_esc(text)}</text>'


# --- the icicle -------------------------------------------------------------------------------

# Warm tones by depth, two per level so that neighbouring siblings differ.
_ICICLE_TONES = (("#f4a261", "#f6bd8a"), ("#e76f51", "#ee9480"), ("#e9c46a", "#f0d690"))


def icicle(
    title: str,
    roots: Sequence[Block],
    *,
    width: int = 720,
    row_height: int = 20,
    max_depth: int = 16,
    min_block_px: float = 2.0,
) -> str:
    """An icicle of call stacks as SVG text: one row per depth, the roots on top, each block as
    wide as its bytes' share of all roots' bytes and placed within its parent.

    Blocks narrower than `min_block_px`, and those deeper than `max_depth`, are left out (their
    bytes still count in their parent's width). A label is shown when its block is wide
    enough, cut with an ellipsis otherwise; every block's tooltip gives its label, bytes and
    share of the total.
    """
    total = sum(max(int(b.bytes), 0) for b in roots)
    rects: list[str] = []
    depth_used = 0
    if total > 0:
        x_scale = (width - 24) / total
        depth_used = _icicle_row(
            rects, roots, 12.0, 0, x_scale, total, row_height, max_depth, min_block_px
        )
    height = 34 + max(depth_used, 1) * row_height + 8
    head = (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_label(title, _TITLE_CAP)}" font-family="sans-serif" font-size="{_FONT}">'
        f"<title>{_label(title, _TITLE_CAP)}</title>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>{_title_text(title, width)}'
    )
    body = (
        "".join(rects)
        if rects
        else _centered(
            _Frame(12, width - 12, 34, height - 8, Axis(0, 1, ()), Axis(0, 1, ())), "no data"
        )
    )
    return f'{head}<g class="icicle">{body}</g></svg>'


def _icicle_row(
    out: list[str],
    blocks: Sequence[Block],
    x: float,
    depth: int,
    x_scale: float,
    total: int,
    row_height: int,
    max_depth: int,
    min_px: float,
) -> int:
    """Draw `blocks` side by side from `x` at `depth` and everything below them; returns the
    number of rows used from this depth down."""
    if depth >= max_depth:
        return 0
    used = 0
    y = 34 + depth * row_height
    for i, block in enumerate(blocks):
        size = max(int(block.bytes), 0)
        w = size * x_scale
        if w >= min_px:
            fill = _ICICLE_TONES[depth % len(_ICICLE_TONES)][i % 2]
            out.append(_icicle_block(block.label, size, total, x, y, w, row_height, fill))
            inner = sum(max(int(c.bytes), 0) for c in block.children)
            # Children claiming more than their parent are squeezed into the parent's width.
            child_scale = x_scale if inner <= size else w / inner
            below = _icicle_row(
                out, block.children, x, depth + 1, child_scale, total, row_height, max_depth, min_px
            )
            used = max(used, 1 + below)
        x += w
    return used


def _icicle_block(
    label: str, size: int, total: int, x: float, y: float, w: float, h: int, fill: str
) -> str:
    name = one_line(str(label), _TITLE_CAP)
    tip = _tooltip(f"{name}: {format_bytes(size)} ({size / total:.1%} of {format_bytes(total)})")
    rect = (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{h - 1}" fill="{fill}" '
        'stroke="#ffffff" stroke-width="0.5"/>'
    )
    fits = int((w - 6) / (_FONT * _CHAR_EM))
    text = ""
    if fits >= 3:
        shown = _esc(name if len(name) <= fits else name[: fits - 1] + "…")
        text = f'<text x="{_n(x + 3)}" y="{_n(y + h - 6)}" fill="#222222">{shown}</text>'
    return f"<g>{tip}{rect}{text}</g>"
