"""The SVG chart functions on tiny inputs: what they draw, where, and that text stays text."""

from __future__ import annotations

import re
from datetime import date

from kpi.reports.charts import (
    STATUS_COLOURS,
    Bar,
    LinePoint,
    Milestone,
    bar_chart,
    fmt_num,
    line_chart,
    nice_ticks,
    timeline,
)


def paths(svg: str, cls: str) -> list[str]:
    return re.findall(rf'<path class="series {cls}" d="([^"]*)"', svg)


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 227.4) == [0, 100, 200]
    assert nice_ticks(0, 10, 5) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(4.3, 4.7) == [4.3, 4.4, 4.5, 4.6, 4.7]
    assert nice_ticks(5, 5) == [5]  # an empty range gives one tick, not a loop


def test_numbers_read_as_people_write_them():
    assert fmt_num(1250000) == "1,250,000"
    assert fmt_num(102.80) == "102.8"
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
    assert STATUS_COLOURS["正常"] in svg


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


def test_growth_bars_handle_negative_rates_and_missing_figures():
    svg = bar_chart(
        [
            Bar("a", "工业增加值增长", -2.0, 8.0, "严重滞后", "-2%"),
            Bar("b", "社消零增长", None, 6.0, "无数据", "—"),
        ],
        title="增速",
    )

    assert len(paths(svg, "bar")) == 1
    assert len(paths(svg, "marker")) == 2
    assert 'data-series="3"' in svg


def test_an_overdue_milestone_gets_a_red_stretch_and_a_done_one_a_dot():
    items = [
        Milestone("late", "金融会客厅投入使用", date(2023, 6, 30), None, "严重滞后", 15),
        Milestone("done", "道路竣工通车", date(2023, 6, 30), date(2023, 6, 20), "已完成", None),
    ]
    svg = timeline(items, start=date(2023, 1, 1), end=date(2023, 12, 31), as_of=date(2023, 7, 15))

    assert len(paths(svg, "late")) == 1
    assert len(paths(svg, "done")) == 1
    assert len(paths(svg, "deadline")) == 2
    assert 'class="milestone overdue" data-target="late"' in svg
    assert 'class="milestone" data-target="done"' in svg
    assert "逾期 15 天" in svg


def test_names_inside_a_chart_are_escaped():
    svg = bar_chart([Bar("a", "<script>x</script>", 1.0, 2.0, "正常", "<b>")], title="<t>")

    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
