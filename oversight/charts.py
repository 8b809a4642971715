"""Charts as server-rendered SVG: line charts, bar charts, histograms and sparklines.

No JavaScript and no remote assets. Every chart is an ``<svg role="img">`` named by its ``<title>`` and
described by its ``<desc>`` (aria-labelledby both), each data point carries its own ``<title>`` (shown on
hover), series differ by dash pattern and marker as well as colour, and the page renders the same numbers
as a table under the chart (``Chart.table``) for anyone who cannot see it.

    chart = line_chart(title="Overturn rate", desc="...", labels=["2026-10", "2026-11"],
                       series=[Series("v1", [0.1, 0.4])], fmt=percent, threshold=Threshold(0.25, "Stop"))
    chart.svg        # SafeString to put in the page
    chart.table      # Table(head, rows) of formatted values
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Okabe-Ito colours (distinguishable with colour-blindness), each with its own dash and marker.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4")
MARKERS = ("circle", "square", "diamond", "triangle", "circle", "square", "diamond")
THRESHOLD_COLOUR = "#d4351c"

_ids = itertools.count(1)

Formatter = Callable[[float | None], str]
NO_VALUE = "\u2013"  # an en dash where there is no number


def percent(v: float | None) -> str:
    return NO_VALUE if v is None else f"{v * 100:.1f}%"


def number(v: float | None) -> str:
    if v is None:
        return NO_VALUE
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def ratio(v: float | None) -> str:
    return NO_VALUE if v is None else f"{v:.2f}"


def in_days(v: float | None) -> str:
    """A number of days (charts of durations plot days, so their axis has round numbers)."""
    return NO_VALUE if v is None else f"{v:.1f} d"


def days(v: float | None) -> str:
    """Seconds shown in days, or hours, minutes or seconds for shorter times."""
    if v is None:
        return NO_VALUE
    if v >= 86400:
        return f"{v / 86400:.1f} d"
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.0f} s"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True)
class Table:
    head: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    svg: SafeString
    table: Table = field(default_factory=lambda: Table([], []))

    @property
    def empty(self) -> bool:
        return not self.table.rows


@dataclass(frozen=True)
class _Frame:
    width: int = 680
    height: int = 270
    left: int = 64
    right: int = 16
    top: int = 30  # room for the legend
    bottom: int = 56

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, v: float, top: float) -> float:
        return self.top + self.plot_h * (1 - (v / top if top else 0))


def nice_top(v: float) -> float:
    """A round number at or above ``v`` for the top of the axis (1, 2, 2.5, 5 x a power of ten)."""
    if v <= 0:
        return 1.0
    exp = math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        top = m * 10**exp
        if top >= v - 1e-12:
            return float(top)
    return float(10 ** (exp + 1))


def _f(x: float) -> str:
    return f"{x:.1f}"


def _open(chart_id: str, title: str, desc: str, frame: _Frame) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" role="img" '
        f'viewBox="0 0 {frame.width} {frame.height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _axes(frame: _Frame, top: float, fmt: Formatter, labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    out = ['<g class="chart__axes" aria-hidden="true" font-size="11" fill="#505a5f">']
    for i in range(5):
        v = top * i / 4
        y = frame.y(v, top)
        out.append(
            f'<line x1="{frame.left}" x2="{_f(frame.width - frame.right)}" y1="{_f(y)}" y2="{_f(y)}" '
            f'stroke="#b1b4b6" stroke-width="{1 if i == 0 else 0.5}"/>'
        )
        out.append(f'<text x="{frame.left - 6}" y="{_f(y + 4)}" text-anchor="end">{escape(fmt(v))}</text>')
    step = max(1, math.ceil(len(labels) / 12))  # at most about 12 labels under the axis
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % step and i != len(labels) - 1:
            continue
        y = frame.height - frame.bottom + 16
        out.append(
            f'<text x="{_f(x)}" y="{y}" text-anchor="end" transform="rotate(-30 {_f(x)} {y})">'
            f"{escape(label)}</text>"
        )
    out.append("</g>")
    return out


def _threshold(frame: _Frame, top: float, threshold: Threshold | None, fmt: Formatter) -> list[str]:
    if threshold is None:
        return []
    y = frame.y(threshold.value, top)
    text = f"{threshold.label}: {fmt(threshold.value)}"
    return [
        f'<g class="chart__threshold"><title>{escape(text)}</title>'
        f'<line x1="{frame.left}" x2="{_f(frame.width - frame.right)}" y1="{_f(y)}" y2="{_f(y)}" '
        f'stroke="{THRESHOLD_COLOUR}" stroke-width="2" stroke-dasharray="8 4"/>'
        f'<text x="{_f(frame.width - frame.right - 4)}" y="{_f(y - 5)}" text-anchor="end" font-size="12" '
        f'font-weight="700" fill="{THRESHOLD_COLOUR}">{escape(text)}</text></g>'
    ]


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{_f(x - 3.5)}" y="{_f(y - 3.5)}" width="7" height="7" fill="{colour}"/>'
    if kind == "diamond":
        d = f"M{_f(x)} {_f(y - 5)}L{_f(x + 5)} {_f(y)}L{_f(x)} {_f(y + 5)}L{_f(x - 5)} {_f(y)}Z"
        return f'<path d="{d}" fill="{colour}"/>'
    if kind == "triangle":
        d = f"M{_f(x)} {_f(y - 5)}L{_f(x + 5)} {_f(y + 4)}L{_f(x - 5)} {_f(y + 4)}Z"
        return f'<path d="{d}" fill="{colour}"/>'
    return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4" fill="{colour}"/>'


def _legend(frame: _Frame, names: Sequence[str], *, lines: bool) -> list[str]:
    if len(names) < 2:
        return []
    out = ['<g class="chart__legend" aria-hidden="true" font-size="12">']
    x = float(frame.left)
    y = 16
    for i, name in enumerate(names):
        colour, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
        if lines:
            out.append(
                f'<line x1="{_f(x)}" x2="{_f(x + 22)}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
                f'stroke-width="2.5" stroke-dasharray="{dash}"/>'
            )
            out.append(_marker(MARKERS[i % len(MARKERS)], x + 11, y - 4, colour))
        else:
            out.append(f'<rect x="{_f(x)}" y="{y - 10}" width="14" height="10" fill="{colour}"/>')
        out.append(f'<text x="{_f(x + 28)}" y="{y}">{escape(name)}</text>')
        x += 40 + 7 * len(name)
    out.append("</g>")
    return out


def _table(labels: Sequence[str], series: Sequence[Series], fmt: Formatter, first: str) -> Table:
    return Table(
        head=[first, *(s.name for s in series)],
        rows=[[label, *(fmt(s.values[i]) for s in series)] for i, label in enumerate(labels)],
    )


def _top(series: Sequence[Series], threshold: Threshold | None, y_max: float | None) -> float:
    """The top of the value axis: ``y_max``, or a round number above every value. Counts (whole numbers)
    get a top divisible into four whole steps, so every gridline is a whole number."""
    if y_max is not None:
        return y_max
    values = [v for s in series for v in s.values if v is not None]
    if threshold is not None:
        values.append(threshold.value)
    top = max(values, default=0.0)
    if values and all(float(v).is_integer() for v in values):
        return float(4 * max(1, math.ceil(nice_top(top / 4))))
    return nice_top(top)


def line_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = number,
    threshold: Threshold | None = None,
    y_max: float | None = None,
    x_title: str = "Period",
) -> Chart:
    """One line per series over ``labels``; a missing value (None) breaks the line."""
    chart_id = f"chart-{next(_ids)}"
    frame = _Frame()
    top = _top(series, threshold, y_max)
    n = len(labels)
    xs = [frame.left + (frame.plot_w * (i + 0.5) / n if n else 0) for i in range(n)]
    out = _open(chart_id, title, desc, frame)
    out += _axes(frame, top, fmt, labels, xs)
    out += _threshold(frame, top, threshold, fmt)
    for si, s in enumerate(series):
        colour, dash, marker = (
            PALETTE[si % len(PALETTE)],
            DASHES[si % len(DASHES)],
            MARKERS[si % len(MARKERS)],
        )
        out.append(f'<g class="chart__series" data-series="{escape(s.name)}">')
        run: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(s.values):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{_f(xs[i])},{_f(frame.y(min(v, top), top))}")
        if run:
            runs.append(run)
        for r in runs:
            if len(r) > 1:
                out.append(
                    f'<polyline points="{" ".join(r)}" fill="none" stroke="{colour}" stroke-width="2.5" '
                    f'stroke-dasharray="{dash}"/>'
                )
        for i, v in enumerate(s.values):
            if v is None:
                continue
            point = _marker(marker, xs[i], frame.y(min(v, top), top), colour)
            tip = f"{s.name}, {labels[i]}: {fmt(v)}"
            out.append(f"<g><title>{escape(tip)}</title>{point}</g>")
        out.append("</g>")
    out += _legend(frame, [s.name for s in series], lines=True)
    out.append("</svg>")
    return Chart(chart_id, title, desc, mark_safe("".join(out)), _table(labels, series, fmt, x_title))  # noqa: S308 - every text is escaped


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = number,
    threshold: Threshold | None = None,
    y_max: float | None = None,
    x_title: str = "Period",
    gap: float = 0.25,
    highlight: Callable[[float | None], bool] | None = None,
) -> Chart:
    """Grouped bars: one group per label, one bar per series. ``highlight`` outlines flagged bars."""
    chart_id = f"chart-{next(_ids)}"
    frame = _Frame()
    top = _top(series, threshold, y_max)
    n = max(1, len(labels))
    slot = frame.plot_w / n
    inner = slot * (1 - gap)
    bar_w = inner / max(1, len(series))
    xs = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    out = _open(chart_id, title, desc, frame)
    out += _axes(frame, top, fmt, labels, xs)
    base = frame.y(0, top)
    for si, s in enumerate(series):
        colour = PALETTE[si % len(PALETTE)]
        out.append(f'<g class="chart__series" data-series="{escape(s.name)}">')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = frame.left + slot * i + slot * gap / 2 + bar_w * si
            y = frame.y(min(v, top), top)
            flagged = highlight is not None and highlight(v)
            stroke = f' stroke="{THRESHOLD_COLOUR}" stroke-width="3"' if flagged else ""
            tip = f"{s.name + ', ' if len(series) > 1 else ''}{labels[i]}: {fmt(v)}"
            out.append(
                f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(1.0, bar_w - 1))}" '
                f'height="{_f(max(0.0, base - y))}" fill="{colour}"{stroke}>'
                f"<title>{escape(tip)}</title></rect>"
            )
        out.append("</g>")
    out += _threshold(frame, top, threshold, fmt)
    out += _legend(frame, [s.name for s in series], lines=False)
    out.append("</svg>")
    return Chart(chart_id, title, desc, mark_safe("".join(out)), _table(labels, series, fmt, x_title))  # noqa: S308 - every text is escaped


def histogram(*, title: str, desc: str, bucket_labels: Sequence[str], counts: Sequence[int]) -> Chart:
    """Counts per bucket as touching bars (a distribution, not a comparison)."""
    return bar_chart(
        title=title,
        desc=desc,
        labels=bucket_labels,
        series=[Series("Appeals", [float(c) for c in counts])],
        fmt=number,
        x_title="Time to outcome",
        gap=0.02,
    )


def sparkline(values: Sequence[float | None], *, title: str, fmt: Formatter = percent) -> SafeString:
    """A word-sized trend for a table cell; its title states first and last values."""
    width, height, pad = 96, 24, 2
    known = [v for v in values if v is not None]
    chart_id = f"spark-{next(_ids)}"
    if not known:
        summary = f"{title}: no data"
    else:
        summary = f"{title}: from {fmt(known[0])} to {fmt(known[-1])} over {len(values)} periods"
    top = max(known, default=0.0) or 1.0
    n = len(values)
    step = (width - 2 * pad) / max(1, n - 1)
    points = [
        f"{_f(pad + step * i)},{_f(height - pad - (height - 2 * pad) * v / top)}"
        for i, v in enumerate(values)
        if v is not None
    ]
    line = (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>'
        if len(points) > 1
        else ""
    )
    last = points[-1].split(",") if points else None
    dot = f'<circle cx="{last[0]}" cy="{last[1]}" r="2.5" fill="{PALETTE[0]}"/>' if last else ""
    return mark_safe(  # noqa: S308 - the only text is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}">'
        f'<title id="{chart_id}">{escape(summary)}</title>{line}{dot}</svg>'
    )
