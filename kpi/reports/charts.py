"""Inline SVG charts as pure functions: figures in, markup out (no scripts, no fonts fetched).

Charts are drawn for a phone first. A trajectory chart is 340 units wide with 12-unit text, so
it is drawn at about its own size in a 390 px wide screen and never shrinks text below 11 px.
Growth bars and milestone tracks are one row each, positioned in percent of their width: the
names beside them are HTML (they wrap), and the SVG holds shapes only, so no text can shrink.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

STATUS_COLOURS = {
    "已完成": "#1a7f37",
    "正常": "#2da44e",
    "预警": "#d4a72c",
    "滞后": "#e16f24",
    "严重滞后": "#cf222e",
    "无数据": "#8c959f",
}
NEUTRAL = "#57606a"
TARGET_COLOUR = "#cf222e"
TRAJECTORY_COLOUR = "#0969da"
TEXT_SIZE = 12  # user units; a chart is never drawn below ~0.92 of its size on a phone


def status_colour(status: str | None) -> str:
    """The traffic-light colour of a status (grey when unknown)."""
    return STATUS_COLOURS.get(status or "", STATUS_COLOURS["无数据"])


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About `n` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def fmt_num(v: float | None, digits: int = 2) -> str:
    """A number for people: thousands separators, trailing zeros dropped, '—' for none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    text = f"{v:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _f(v: float) -> str:
    return f"{v:.1f}"


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in points)


@dataclass(frozen=True)
class Axis:
    """A value axis: its range, and whether it starts above zero (a marked break)."""

    lo: float
    hi: float
    broken: bool = False


# Levels start at zero unless every figure sits in the top half of the range: then zero would
# flatten the year into a line, so the axis starts near the figures and says so (a marked break).
BREAK_RATIO = 0.5


def value_axis(values: list[float | None], from_zero: bool) -> Axis:
    """The y range of a chart: from zero, or from near the figures with a marked break."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return Axis(0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if from_zero or lo <= 0 or lo <= hi * BREAK_RATIO:
        lo, hi = min(0.0, lo), max(hi, 0.0)
        return Axis(lo, hi + ((hi - lo) * 0.08 or 1.0))
    span = (hi - lo) or abs(hi) * 0.2 or 1.0
    ticks = nice_ticks(0, span, 4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    floor = math.floor((lo - span * 0.15) / step) * step
    return Axis(max(floor, 0.0), hi + span * 0.15, broken=floor > 0)


@dataclass(frozen=True)
class LinePoint:
    """One figure on a trajectory chart: the month it runs to and its value."""

    month: int
    value: float
    label: str = ""


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start", size: int = TEXT_SIZE):
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'class="{cls}">{escape(text)}</text>'
    )


def line_chart(
    *,
    code: str,
    title: str,
    actual: Sequence[LinePoint],
    trajectory: Sequence[LinePoint] | None,
    target: float | None,
    status: str | None,
    from_zero: bool,
    width: int = 340,
    height: int = 200,
) -> Markup:
    """Cumulative (or level) actual by month against the expected trajectory and the target line."""
    values = [p.value for p in actual] + [p.value for p in trajectory or []]
    if target is not None:
        values.append(target)
    axis = value_axis(values, from_zero)
    lo, hi = axis.lo, axis.hi
    ticks = nice_ticks(lo, hi)
    label_w = max(len(fmt_num(t)) for t in ticks) * TEXT_SIZE * 0.6
    left, right, top, bottom = max(30, round(label_w) + 10), 10, 12, 24
    note_h = 18 if axis.broken else 0
    height += note_h
    pw, ph = width - left - right, height - top - bottom - note_h

    def x(month: float) -> float:
        return left + month / 12 * pw

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    parts: list[str] = []
    for t in ticks:
        parts.append(
            f'<path class="grid" d="M{_f(left)} {_f(y(t))} H{_f(left + pw)}" stroke="#d0d7de" '
            f'stroke-width="0.6"/>' + _text(left - 4, y(t) + 4, fmt_num(t), "tick", "end")
        )
    for m in range(1, 13):
        parts.append(_text(x(m), top + ph + 16, str(m), "tick", "middle"))
    parts.append(
        f'<path class="axis" d="M{left} {top} V{top + ph} H{left + pw}" stroke="{NEUTRAL}" '
        f'fill="none" stroke-width="0.8"/>'
    )
    if axis.broken:
        # two slanted strokes across the foot of the y axis: the axis does not start at zero
        yb = top + ph - 8
        parts.append(
            f'<path class="axis-break" d="M{left - 5} {yb + 3} L{left + 5} {yb - 1} '
            f'M{left - 5} {yb + 7} L{left + 5} {yb + 3}" stroke="{NEUTRAL}" stroke-width="1.2"/>'
            f'<path d="M{left - 5} {yb + 4} L{left + 5} {yb} L{left + 5} {yb + 3} '
            f'L{left - 5} {yb + 7} Z" fill="#fff"/>'
        )
        parts.append(_text(left, height - 4, f"纵轴自 {fmt_num(lo)} 起（未从零开始）", "axis-note"))
    series = 0
    if target is not None:
        series += 1
        parts.append(
            f'<path class="series target" d="M{_f(left)} {_f(y(target))} H{_f(left + pw)}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1.2" stroke-dasharray="6 3" fill="none">'
            f"<title>目标 {escape(fmt_num(target))}</title></path>"
        )
    if trajectory:
        series += 1
        pts = [(x(p.month), y(p.value)) for p in trajectory]
        parts.append(
            f'<path class="series trajectory" d="{_path(pts)}" stroke="{TRAJECTORY_COLOUR}" '
            f'stroke-width="1.2" stroke-dasharray="3 3" fill="none"><title>序时进度</title></path>'
        )
    colour = status_colour(status)
    if actual:
        series += 1
        pts = [(x(p.month), y(p.value)) for p in actual]
        if from_zero and actual[0].month > 0:
            pts.insert(0, (x(0), y(0)))
        parts.append(
            f'<path class="series actual" d="{_path(pts)}" stroke="{colour}" stroke-width="2.2" '
            f'fill="none"><title>实际</title></path>'
        )
        for p in actual:
            parts.append(
                f'<circle cx="{_f(x(p.month))}" cy="{_f(y(p.value))}" r="3" fill="{colour}">'
                f"<title>{escape(p.label or fmt_num(p.value))}</title></circle>"
            )
    else:
        parts.append(_text(left + pw / 2, top + ph / 2, "暂无数据", "empty", "middle", 13))
    return Markup(
        f'<svg class="chart line-chart" data-target="{escape(code)}" data-series="{series}" '
        f'data-axis-from="{escape(fmt_num(lo))}" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        + "".join(parts)
        + "</svg>"
    )


# --------------------------------------------------------------------------- growth bars


@dataclass(frozen=True)
class Bar:
    """One growth rate: the actual figure against the figure it must reach."""

    code: str
    name: str
    actual: float | None
    marker: float | None
    status: str | None
    label: str


def bar_axis(bars: Sequence[Bar]) -> Axis:
    """One scale for every growth bar (zero always in it), so rows compare with each other."""
    values = [0.0]
    for b in bars:
        values += [v for v in (b.actual, b.marker) if v is not None and math.isfinite(v)]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return Axis(lo - span * 0.06 if lo < 0 else lo, hi + span * 0.06)


def _pct(v: float, axis: Axis) -> float:
    return max(0.0, min(100.0, (v - axis.lo) / (axis.hi - axis.lo) * 100))


def axis_marks(axis: Axis, unit: str = "") -> list[tuple[float, str]]:
    """Tick positions (percent of the width) and their labels, for an HTML axis row."""
    return [(round(_pct(t, axis), 2), f"{fmt_num(t)}{unit}") for t in nice_ticks(axis.lo, axis.hi)]


def bar_row(bar: Bar, axis: Axis, height: int = 26) -> Markup:
    """One growth bar and its target tick, on the shared scale (shapes only, in percent)."""
    zero = _pct(0.0, axis)
    parts = [
        f'<line class="axis" x1="{zero:.2f}%" x2="{zero:.2f}%" y1="0" y2="{height}" '
        f'stroke="{NEUTRAL}" stroke-width="1"/>'
    ]
    series = 0
    if bar.actual is not None and math.isfinite(bar.actual):
        series += 1
        x0, x1 = sorted((zero, _pct(bar.actual, axis)))
        parts.append(
            f'<rect class="series bar" x="{x0:.2f}%" y="{height / 2 - 7:.0f}" '
            f'width="{max(x1 - x0, 0.4):.2f}%" height="14" fill="{status_colour(bar.status)}">'
            f"<title>{escape(bar.label)}</title></rect>"
        )
    if bar.marker is not None and math.isfinite(bar.marker):
        series += 1
        xm = _pct(bar.marker, axis)
        parts.append(
            f'<line class="series marker" x1="{xm:.2f}%" x2="{xm:.2f}%" y1="1" '
            f'y2="{height - 1}" stroke="{TARGET_COLOUR}" stroke-width="3"><title>目标 '
            f"{escape(fmt_num(bar.marker))}</title></line>"
        )
    return Markup(
        f'<svg class="chart bar" data-target="{escape(bar.code)}" data-series="{series}" '
        f'role="img" aria-label="{escape(bar.name)}：{escape(bar.label)}" width="100%" '
        f'height="{height}">' + "".join(parts) + "</svg>"
    )


# --------------------------------------------------------------------------- milestones


@dataclass(frozen=True)
class Milestone:
    """One dated task on the timeline."""

    code: str
    name: str
    deadline: date
    done_on: date | None
    status: str | None
    days_overdue: int | None

    @property
    def overdue(self) -> bool:
        """Past its deadline and not done."""
        return bool(self.days_overdue and self.days_overdue > 0 and self.done_on is None)


def _day_pct(d: date, start: date, end: date) -> float:
    days = max((end - start).days, 1)
    return min(max((d - start).days, 0), days) / days * 100


def month_marks(start: date, end: date) -> list[tuple[float, str]]:
    """The first of each month of the plan year (percent of the width) and its number."""
    marks = []
    for m in range(1, 13):
        d = date(start.year, m, 1)
        if start <= d <= end:
            marks.append((round(_day_pct(d, start, end), 2), str(m)))
    return marks


def timeline_row(
    item: Milestone, *, start: date, end: date, as_of: date, height: int = 26
) -> Markup:
    """One milestone's track: its deadline, completion, and the overdue stretch in red."""
    cy = height / 2
    parts = [
        f'<line x1="0" x2="100%" y1="{cy}" y2="{cy}" stroke="#eaeef2" stroke-width="2"/>',
        *(
            f'<line class="grid" x1="{p:.2f}%" x2="{p:.2f}%" y1="0" y2="{height}" '
            f'stroke="#d0d7de" stroke-width="0.6"/>'
            for p, _ in month_marks(start, end)
        ),
    ]
    xa = _day_pct(as_of, start, end)
    parts.append(
        f'<line class="asof" x1="{xa:.2f}%" x2="{xa:.2f}%" y1="0" y2="{height}" '
        f'stroke="{TRAJECTORY_COLOUR}" stroke-width="1.5" stroke-dasharray="4 3"/>'
    )
    series = 0
    xd = _day_pct(item.deadline, start, end)
    late_to = item.done_on or as_of
    if late_to > item.deadline:
        series += 1
        xl = _day_pct(late_to, start, end)
        parts.append(
            f'<rect class="series late" x="{xd:.2f}%" y="{cy - 4}" width="{max(xl - xd, 0.4):.2f}%" '
            f'height="8" fill="{STATUS_COLOURS["严重滞后"]}" fill-opacity="0.45"><title>逾期</title>'
            f"</rect>"
        )
    series += 1
    parts.append(
        f'<svg x="{xd:.2f}%" y="{cy}" overflow="visible"><path class="series deadline" '
        f'd="M0 -7 L7 0 L0 7 L-7 0 Z" fill="{status_colour(item.status)}" stroke="#24292f" '
        f'stroke-width="0.6"><title>期限 {item.deadline.isoformat()}</title></path></svg>'
    )
    if item.done_on is not None:
        series += 1
        parts.append(
            f'<circle class="series done" cx="{_day_pct(item.done_on, start, end):.2f}%" '
            f'cy="{cy}" r="5" fill="{STATUS_COLOURS["已完成"]}"><title>完成于 '
            f"{item.done_on.isoformat()}</title></circle>"
        )
    return Markup(
        f'<svg class="chart track{" overdue" if item.overdue else ""}" '
        f'data-target="{escape(item.code)}" data-series="{series}" role="img" '
        f'aria-label="{escape(item.name)}：期限 {item.deadline.isoformat()}" width="100%" '
        f'height="{height}">' + "".join(parts) + "</svg>"
    )
