"""The SVG chart functions on tiny inputs: what they draw, where, and that text stays text."""

from __future__ import annotations

import re
from datetime import date

from kpi.reports.charts import (
    STATUS_COLOURS,
    TEXT_SIZE,
    Bar,
    LinePoint,
    Milestone,
    axis_marks,
    bar_axis,
    bar_row,
    fmt_num,
    line_chart,
    month_marks,
    nice_ticks,
    timeline_row,
    value_axis,
)


def paths(svg: str, cls: str) -> list[str]:
    return re.findall(rf'<path class="series {cls}" d="([^"]*)"', svg)


def series(svg: str, cls: str) -> list[str]:
    return re.findall(rf'<\w+ class="series {cls}"[^>]*>', svg)


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 227.4) == [0, 100, 200]
    assert nice_ticks(0, 10, 5) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(4.3, 4.7) == [4.3, 4.4, 4.5, 4.6, 4.7]
    assert nice_ticks(5, 5) == [5]  # an empty range gives one tick, not a loop


def test_numbers_read_as_people_write_them():
    assert fmt_num(1250000) == "1,250,000"
    assert fmt_num(102.80) == "102.8"
    assert fmt_num(0.5999999999999996) == "0.6"
    assert fmt_num(-0.001) == "0"
    assert fmt_num(None) == "—"
    assert fmt_num(float("nan")) == "—"


def test_a_trajectory_chart_draws_actual_trajectory_and_target():
    svg = line_chart(
        code="investment_total",
        title="完成投资",
        actual=[LinePoint(2, 15.0), LinePoint(6, 125.0)],
        trajectory=[LinePoint(0, 0.0), LinePoint(6, 113.7), LinePoint(12, 227.4)],
        target=227.4,
        status="正常",
        from_zero=True,
    )

    assert 'data-series="3"' in svg
    assert (
        len(paths(svg, "actual")) == len(paths(svg, "trajectory")) == len(paths(svg, "target")) == 1
    )
    # a cumulative line starts from zero at the start of the year
    assert paths(svg, "actual")[0].count("L") == 2
    assert 'data-axis-from="0"' in svg
    assert STATUS_COLOURS["正常"] in svg


def test_chart_text_is_never_smaller_than_twelve_units_in_a_phone_sized_chart():
    svg = line_chart(
        code="x", title="t", actual=[LinePoint(6, 1250000.0)], trajectory=None, target=2274000.0,
        status="正常", from_zero=True,
    )  # fmt: skip
    sizes = [int(s) for s in re.findall(r'<text [^>]*font-size="(\d+)"', svg)]
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))

    assert sizes and min(sizes) >= TEXT_SIZE >= 12
    assert width <= 350  # drawn at about its own size in a 390 px screen


def test_a_level_axis_starts_at_zero_unless_zero_would_flatten_it_and_then_it_says_so():
    assert value_axis([20.0, 55.0], from_zero=False).lo == 0  # zero shows the change fairly
    assert not value_axis([20.0, 55.0], from_zero=False).broken
    clustered = value_axis([52000.0, 53500.0, 55000.0], from_zero=False)
    assert clustered.broken and 0 < clustered.lo < 52000
    assert not value_axis([52000.0, 55000.0], from_zero=True).broken  # amounts always from zero

    svg = line_chart(
        code="m", title="市场主体", actual=[LinePoint(3, 52000.0), LinePoint(5, 53500.0)],
        trajectory=[LinePoint(0, 50000.0), LinePoint(12, 55000.0)], target=55000.0,
        status="正常", from_zero=False,
    )  # fmt: skip
    assert 'class="axis-break"' in svg
    assert "未从零开始" in svg
    flat = line_chart(
        code="r", title="注册率", actual=[LinePoint(6, 30.0)], trajectory=None, target=90.0,
        status="滞后", from_zero=False,
    )  # fmt: skip
    assert 'class="axis-break"' not in flat and 'data-axis-from="0"' in flat


def test_a_chart_without_figures_says_so_and_still_shows_the_target():
    svg = line_chart(
        code="x",
        title="t",
        actual=[],
        trajectory=None,
        target=5.5,
        status="无数据",
        from_zero=False,
    )

    assert 'data-series="1"' in svg
    assert "暂无数据" in svg
    assert paths(svg, "actual") == []


def test_the_target_line_sits_above_a_lagging_actual():
    svg = line_chart(
        code="x", title="t", actual=[LinePoint(6, 50.0)], trajectory=None, target=100.0,
        status="滞后", from_zero=True,
    )  # fmt: skip
    target_y = float(re.search(r'class="series target" d="M[\d.]+ ([\d.]+)', svg).group(1))
    actual_y = float(
        re.search(r'class="series actual" d="M[\d.]+ [\d.]+ L[\d.]+ ([\d.]+)', svg).group(1)
    )

    assert target_y < actual_y  # SVG y grows downwards


def test_growth_bars_share_one_scale_with_zero_and_handle_negative_and_missing_rates():
    bars = [
        Bar("a", "工业增加值增长", -2.0, 8.0, "严重滞后", "-2%"),
        Bar("b", "社消零增长", None, 6.0, "无数据", "—"),
    ]
    axis = bar_axis(bars)
    first, second = bar_row(bars[0], axis), bar_row(bars[1], axis)

    assert axis.lo < -2.0 and axis.hi > 8.0
    assert len(series(first, "bar")) == 1 and len(series(first, "marker")) == 1
    assert series(second, "bar") == [] and len(series(second, "marker")) == 1
    assert 'data-series="2"' in first and 'data-series="1"' in second
    # a negative bar ends at the zero line
    x = float(re.search(r'class="series bar" x="([\d.]+)%"', first).group(1))
    w = float(
        re.search(r'class="series bar" x="[\d.]+%" y="\d+" width="([\d.]+)%"', first).group(1)
    )
    zero = next(p for p, label in axis_marks(axis) if label == "0")
    assert abs(x + w - zero) < 0.05
    # shapes only, positioned in percent: nothing in a bar row can shrink text on a phone
    assert "<text" not in first


def test_an_overdue_milestone_gets_a_red_stretch_and_a_done_one_a_dot():
    start, end, as_of = date(2023, 1, 1), date(2023, 12, 31), date(2023, 7, 15)
    late = Milestone("late", "金融会客厅投入使用", date(2023, 6, 30), None, "严重滞后", 15)
    done = Milestone("done", "道路竣工通车", date(2023, 6, 30), date(2023, 6, 20), "已完成", None)
    late_svg = timeline_row(late, start=start, end=end, as_of=as_of)
    done_svg = timeline_row(done, start=start, end=end, as_of=as_of)

    assert late.overdue and not done.overdue
    assert len(series(late_svg, "late")) == 1 and series(late_svg, "done") == []
    assert len(series(done_svg, "done")) == 1 and series(done_svg, "late") == []
    assert len(paths(late_svg, "deadline")) == len(paths(done_svg, "deadline")) == 1
    assert 'class="chart track overdue" data-target="late"' in late_svg
    assert 'class="chart track" data-target="done"' in done_svg
    assert [label for _, label in month_marks(start, end)] == [str(m) for m in range(1, 13)]


def test_names_inside_a_chart_are_escaped():
    svg = bar_row(Bar("a", "<script>x</script>", 1.0, 2.0, "正常", "<b>"), bar_axis([]))
    line = line_chart(
        code="<c>", title="<t>", actual=[LinePoint(1, 1.0, "<i>")], trajectory=None, target=None,
        status="正常", from_zero=True,
    )  # fmt: skip

    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<i>" not in line and "<t>" not in line and "<c>" not in line
