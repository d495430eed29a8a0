"""Pure rendering: byte budgets, numbered parts at row boundaries, readable Chinese, email HTML."""

from __future__ import annotations

import re
from datetime import date

import pytest
from apprise import NotifyFormat
from apprise.conversion import convert_between

from kpi.alerts import render
from kpi.alerts.render import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, nbytes


def _snap(i: int, status: str = "严重滞后") -> dict:
    return {
        "target_code": f"project_{i:02d}",
        "name_zh": f"第{i}号重点项目年度计划投资完成情况",
        "kind": "cumulative",
        "department_code": "fgw",
        "unit": "万元",
        "display_unit": "亿元",
        "display_factor": 1e4,
        "actual": 30.0e4 + i,
        "target_value": 100.0e4,
        "completion_rate": 30.0,
        "time_progress": 50.0,
        "gap_pp": -20.0,
        "status": status,
        "outlook": "仍需付出更大努力",
    }


def _digest(n: int) -> render.Doc:
    entries = [
        {"episode_id": i, "dept_short": "发改委", "snap": _snap(i), "days_open": 2}
        for i in range(1, n + 1)
    ]
    return render.digest_doc("红旗区2023年目标", date(2023, 7, 15), entries, [], "")


def test_a_60_target_digest_splits_into_numbered_parts_each_within_4096_bytes():
    parts = render.to_markdown_parts(_digest(60))
    assert len(parts) > 1
    assert all(nbytes(p) <= MARKDOWN_MAX_BYTES for p in parts)
    for k, part in enumerate(parts, start=1):
        assert part.startswith("### 【目标监测日报】")
        assert f"（{k}/{len(parts)}）" in part.splitlines()[0]


def test_the_split_happens_at_row_boundaries_and_loses_no_row():
    parts = render.to_markdown_parts(_digest(60))
    numbers = [int(n) for p in parts for n in re.findall(r"^\*\*(\d+)\. ", p, flags=re.M)]
    assert numbers == list(range(1, 61))
    for p in parts:  # every row block keeps its figures line right below its name line
        blocks = [b for b in p.split("\n\n") if b.startswith("**")]
        assert all("完成率 30%" in b for b in blocks)


def test_a_short_message_is_one_part_without_a_number():
    parts = render.to_markdown_parts(_digest(2))
    assert len(parts) == 1
    assert "（1/1）" not in parts[0]


def test_a_row_longer_than_a_part_continues_in_the_next_part_marked_rather_than_cut():
    doc = render.Doc("标题", [], [], [], ["行" * 3000], ["行"])
    parts = render.to_markdown_parts(doc)
    assert all(nbytes(p) <= MARKDOWN_MAX_BYTES for p in parts)
    assert sum(p.count("行") for p in parts) == 3000
    assert "（续）" in parts[0]


def test_a_budget_too_small_for_the_header_is_refused():
    with pytest.raises(ValueError):
        render.pack(lambda k, n: "头" * 40, ["a"], "", 100)


def test_mention_text_keeps_within_2048_bytes():
    eps = [
        {"episode_id": i, "dept_short": "发改委", "snap": _snap(i), "days_open": 1}
        for i in range(1, 400)
    ]
    doc = render.ack_reminder_doc("发改委", eps)
    parts = render.to_text_parts(doc)
    assert parts and all(nbytes(p) <= TEXT_MAX_BYTES for p in parts)
    assert "399" in "".join(parts)


def test_a_department_alert_says_value_target_rate_against_time_progress_gap_and_outlook():
    doc = render.dept_alert_doc(
        "发改委", date(2023, 7, 15), [{"reason": "new", "episode_id": 12, "snap": _snap(3)}], ""
    )
    md = render.to_markdown_parts(doc)[0]
    assert "完成 30亿元 / 目标 100亿元" in md
    assert "完成率 30%，序时进度 50%，落后序时进度 20 个百分点" in md
    assert "预判：仍需付出更大努力" in md
    assert "编号 12" in md and "新出现" in md
    assert '<font color="warning">严重滞后</font>' in md


def test_a_growth_rate_is_compared_with_its_target_not_with_time_progress():
    snap = {
        "name_zh": "地区生产总值增长",
        "kind": "growth_rate",
        "unit": "%",
        "actual": 6.1,
        "target_value": 8.5,
        "gap_pp": -2.4,
        "status": "滞后",
    }
    lines = render.figure_lines(snap)
    assert lines == ["累计增长 6.1%，目标 8.5%，低于目标 2.4 个百分点"]
    assert "序时" not in "".join(lines)


def test_data_cannot_inject_markdown_or_colours():
    assert (
        render.md_safe('<font color="info">好</font>**') == '＜font color="info"＞好＜/font＞＊＊'
    )


def test_the_email_plain_alternative_reads_as_lines_not_one_cell_per_line():
    html = render.to_html(_digest(3))
    text = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
    lines = text.splitlines()
    assert lines[0].startswith("【目标监测日报】2023-07-15")
    assert any(
        line.startswith("1. 第1号重点项目年度计划投资完成情况（发改委）严重滞后：完成 30亿元")
        for line in lines
    )
    assert "完成值" not in text  # table headers are for the HTML view only
    assert "<table" in html and "<th><meta>完成率</th>" in html


def test_a_milestone_is_described_by_the_progress_detail_and_a_ceiling_by_its_figures():
    milestone = {"kind": "milestone", "days_overdue": 15, "detail_zh": "期限2023-06-30已过15天"}
    assert render.figure_lines(milestone) == ["期限2023-06-30已过15天"]
    assert render.figure_lines({"kind": "milestone", "days_overdue": 15}) == ["已逾期 15 天"]
    ceiling = {"kind": "ceiling", "unit": "%", "actual": 4.9, "target_value": 4.5, "detail_zh": "x"}
    assert render.figure_lines(ceiling) == ["当前 4.9%，上限 4.5%"]
