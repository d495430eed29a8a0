"""Inline SVG charts as pure functions: figures in, markup out (no scripts, no fonts fetched)."""

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


def _domain(values: list[float], from_zero: bool) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if from_zero:
        lo = min(0.0, lo)
        hi = max(hi, 0.0)
        pad = (hi - lo) * 0.08 or 1.0
        return lo, hi + pad
    span = (hi - lo) or abs(hi) * 0.2 or 1.0
    return lo - span * 0.15, hi + span * 0.15


@dataclass(frozen=True)
class LinePoint:
    """One figure on a trajectory chart: the month it runs to and its value."""

    month: int
    value: float
    label: str = ""


def line_chart(
    *,
    code: str,
    title: str,
    actual: Sequence[LinePoint],
    trajectory: Sequence[LinePoint] | None,
    target: float | None,
    status: str | None,
    from_zero: bool,
    width: int = 360,
    height: int = 200,
) -> Markup:
    """Cumulative (or level) actual by month against the expected trajectory and the target line."""
    left, right, top, bottom = 56, 14, 14, 30
    pw, ph = width - left - right, height - top - bottom
    values = [p.value for p in actual] + [p.value for p in trajectory or []]
    if target is not None:
        values.append(target)
    lo, hi = _domain(values, from_zero)

    def x(month: float) -> float:
        return left + month / 12 * pw

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    parts: list[str] = []
    for t in nice_ticks(lo, hi):
        parts.append(
            f'<path class="grid" d="M{_f(left)} {_f(y(t))} H{_f(left + pw)}" stroke="#d0d7de" '
            f'stroke-width="0.6"/><text x="{left - 4}" y="{_f(y(t) + 3.5)}" text-anchor="end" '
            f'class="tick">{escape(fmt_num(t))}</text>'
        )
    for m in range(1, 13):
        parts.append(
            f'<text x="{_f(x(m))}" y="{height - bottom + 14}" text-anchor="middle" '
            f'class="tick">{m}</text>'
        )
    parts.append(
        f'<path class="axis" d="M{left} {top} V{top + ph} H{left + pw}" stroke="{NEUTRAL}" '
        f'fill="none" stroke-width="0.8"/>'
    )
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
            f'fill="none"><title>实际累计</title></path>'
        )
        for p in actual:
            parts.append(
                f'<circle cx="{_f(x(p.month))}" cy="{_f(y(p.value))}" r="3" fill="{colour}">'
                f"<title>{escape(p.label or fmt_num(p.value))}</title></circle>"
            )
    else:
        parts.append(
            f'<text x="{_f(left + pw / 2)}" y="{_f(top + ph / 2)}" text-anchor="middle" '
            f'class="empty">暂无数据</text>'
        )
    return Markup(
        f'<svg class="chart line-chart" data-target="{escape(code)}" data-series="{series}" '
        f'role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )


@dataclass(frozen=True)
class Bar:
    """One growth rate: the actual figure against the figure it must reach."""

    code: str
    name: str
    actual: float | None
    marker: float | None
    status: str | None
    label: str


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 900) -> Markup:
    """Horizontal bars of growth rates (%) with a tick at each one's target."""
    left, right, top, row = 230, 150, 26, 30
    height = top + row * max(len(bars), 1) + 12
    pw = width - left - right
    values = [0.0]
    for b in bars:
        values += [v for v in (b.actual, b.marker) if v is not None]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - span * 0.05 if lo < 0 else lo, hi + span * 0.08

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    parts = []
    for t in nice_ticks(lo, hi, 6):
        parts.append(
            f'<path class="grid" d="M{_f(x(t))} {top - 4} V{height - 8}" stroke="#d0d7de" '
            f'stroke-width="0.6"/><text x="{_f(x(t))}" y="{top - 8}" text-anchor="middle" '
            f'class="tick">{escape(fmt_num(t))}%</text>'
        )
    parts.append(
        f'<path class="axis" d="M{_f(x(0))} {top - 4} V{height - 8}" stroke="{NEUTRAL}" '
        f'stroke-width="1"/>'
    )
    series = 0
    for i, b in enumerate(bars):
        cy = top + row * i + row / 2
        parts.append(
            f'<g class="bar-row" data-target="{escape(b.code)}"><text x="{left - 8}" '
            f'y="{_f(cy + 4)}" text-anchor="end" class="label"><title>{escape(b.name)}</title>'
            f"{escape(_short(b.name, 15))}</text>"
        )
        if b.actual is not None:
            series += 1
            x0, x1 = sorted((x(0), x(b.actual)))
            parts.append(
                f'<path class="series bar" d="M{_f(x0)} {_f(cy - 8)} H{_f(max(x1, x0 + 1))} '
                f'V{_f(cy + 8)} H{_f(x0)} Z" fill="{status_colour(b.status)}">'
                f"<title>{escape(b.label)}</title></path>"
            )
        if b.marker is not None:
            series += 1
            xm = x(b.marker)
            parts.append(
                f'<path class="series marker" d="M{_f(xm)} {_f(cy - 12)} V{_f(cy + 12)}" '
                f'stroke="{TARGET_COLOUR}" stroke-width="2.5"><title>目标 '
                f"{escape(fmt_num(b.marker))}%</title></path>"
            )
        parts.append(
            f'<text x="{left + pw + 8}" y="{_f(cy + 4)}" class="value">{escape(b.label)}</text></g>'
        )
    if not bars:
        parts.append(f'<text x="{left}" y="{top + 14}" class="empty">暂无增速类指标</text>')
    return Markup(
        f'<svg class="chart bar-chart" data-series="{series}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


@dataclass(frozen=True)
class Milestone:
    """One dated task on the timeline."""

    code: str
    name: str
    deadline: date
    done_on: date | None
    status: str | None
    days_overdue: int | None


def timeline(
    items: Sequence[Milestone], *, start: date, end: date, as_of: date, width: int = 900
) -> Markup:
    """Milestones on the plan year: deadline, completion, and the overdue stretch in red."""
    left, right, top, row = 230, 110, 30, 28
    height = top + row * max(len(items), 1) + 14
    pw = width - left - right
    days = max((end - start).days, 1)

    def x(d: date) -> float:
        return left + min(max((d - start).days, 0), days) / days * pw

    parts = []
    for m in range(1, 13):
        d = date(start.year, m, 1)
        if start <= d <= end:
            parts.append(
                f'<path class="grid" d="M{_f(x(d))} {top - 6} V{height - 8}" stroke="#d0d7de" '
                f'stroke-width="0.6"/><text x="{_f(x(d) + 2)}" y="{top - 12}" class="tick">'
                f"{m}月</text>"
            )
    xa = x(as_of)
    parts.append(
        f'<path class="asof" d="M{_f(xa)} {top - 6} V{height - 8}" stroke="{TRAJECTORY_COLOUR}" '
        f'stroke-width="1.5" stroke-dasharray="4 3"/><text x="{_f(xa + 3)}" y="{height - 10}" '
        f'class="tick asof-label">截至 {as_of.month}月{as_of.day}日</text>'
    )
    series = 0
    for i, it in enumerate(items):
        cy = top + row * i + row / 2
        colour = status_colour(it.status)
        overdue = bool(it.days_overdue and it.days_overdue > 0)
        parts.append(
            f'<g class="milestone{" overdue" if overdue else ""}" '
            f'data-target="{escape(it.code)}"><text x="{left - 8}" y="{_f(cy + 4)}" '
            f'text-anchor="end" class="label"><title>{escape(it.name)}</title>'
            f"{escape(_short(it.name, 15))}</text>"
            f'<path d="M{left} {_f(cy)} H{left + pw}" stroke="#eaeef2" stroke-width="1"/>'
        )
        xd = x(it.deadline)
        late_to = it.done_on or as_of
        if late_to > it.deadline:
            series += 1
            parts.append(
                f'<path class="series late" d="M{_f(xd)} {_f(cy)} H{_f(x(late_to))}" '
                f'stroke="{STATUS_COLOURS["严重滞后"]}" stroke-width="6" stroke-opacity="0.45">'
                f"<title>逾期</title></path>"
            )
        series += 1
        parts.append(
            f'<path class="series deadline" d="M{_f(xd)} {_f(cy - 7)} L{_f(xd + 7)} {_f(cy)} '
            f'L{_f(xd)} {_f(cy + 7)} L{_f(xd - 7)} {_f(cy)} Z" fill="{colour}" stroke="#24292f" '
            f'stroke-width="0.6"><title>期限 {it.deadline.isoformat()}</title></path>'
        )
        if it.done_on is not None:
            series += 1
            xc = x(it.done_on)
            parts.append(
                f'<path class="series done" d="M{_f(xc - 5)} {_f(cy)} a5 5 0 1 0 10 0 '
                f'a5 5 0 1 0 -10 0" fill="{STATUS_COLOURS["已完成"]}"><title>完成于 '
                f"{it.done_on.isoformat()}</title></path>"
            )
        note = f"逾期 {it.days_overdue} 天" if overdue else (it.status or "")
        parts.append(
            f'<text x="{left + pw + 8}" y="{_f(cy + 4)}" class="value" fill="'
            f'{STATUS_COLOURS["严重滞后"] if overdue else NEUTRAL}">{escape(note)}</text></g>'
        )
    if not items:
        parts.append(f'<text x="{left}" y="{top + 14}" class="empty">暂无节点任务</text>')
    return Markup(
        f'<svg class="chart timeline" data-series="{series}" role="img" aria-label="节点任务时间轴" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )
