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
        "发改委", date(2023, 7, 15), [{"reason": "new", "episode_id": 12, "snap": _snap(3)}]
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


HOSTILE = [
    "[点我](http://evil.example/x)",
    "![图](http://evil.example/i.png)",
    '<font color="info">正常</font>',
    "<@zhangsan> @all",
    "**加粗** __粗__ *斜* _斜_ ~~删~~",
    "# 标题",
    "> 引用",
    "`代码` ```块```",
    "&lt;font&gt;",
    "行一\n# 行二\r\n> 行三",
    "\u202e反向\u200b",
]


def _receipt(value: str, file_name: str = "发改委_2023年6月.xlsx", n: int = 1) -> render.Doc:
    rows = [
        {
            "sheet": "Sheet1",
            "row": 5 + i,
            "column": "数值",
            "value": value,
            "reason": f"「{value}」不是数字",
        }
        for i in range(n)
    ]
    sub = {
        "file_name": file_name,
        "status": "partial",
        "n_rows": 10 + n,
        "n_accepted": 10,
        "n_rejected": n,
        "receipt": {"rejected": rows},
    }
    return render.receipt_doc("发改委", sub)


@pytest.mark.parametrize("text", HOSTILE)
def test_department_text_is_inert_in_wecom_markdown(text):
    safe = render.md_safe(text, render.QUOTE_MAX_CHARS)
    for live in ("[", "]", "<", ">", "@", "*", "_", "`", "~", "#", "&", "://", "\n", "\r"):
        assert live not in safe, f"{live!r} survived in {safe!r}"
    assert "\u202e" not in safe and "\u200b" not in safe
    md = "\n".join(render.to_markdown_parts(_receipt(text, file_name=f"{text}.xlsx")))
    assert safe in md and text not in md


def test_a_link_in_a_cell_or_file_name_reaches_the_group_as_plain_text():
    md = render.to_markdown_parts(_receipt("[点我](http://evil)", "[点我](tel：1)发改委.csv"))[0]
    assert "［点我］(http：//evil)" in md and "文件「［点我］(tel：1)发改委.csv」" in md


def test_email_html_escapes_department_text():
    html = render.to_html(_receipt('<script>alert(1)</script><a href="http://evil">x</a>'))
    assert "<script" not in html and "<a href" not in html
    assert "＜script＞" in html or "&lt;script&gt;" in html


def test_a_5000_character_value_quoted_twice_keeps_a_receipt_one_short_message():
    doc = _receipt("长" * 5000)
    parts = render.to_markdown_parts(doc)
    assert len(parts) == 1 and nbytes(parts[0]) < 1500
    assert "（填报值：" + "长" * (render.QUOTE_MAX_CHARS - 1) + "…）" in parts[0]
    assert "长" * render.REASON_MAX_CHARS not in parts[0]  # the reason quoting it is bounded too
    assert all(len(cell) <= render.REASON_MAX_CHARS for row in doc.rows for cell in row)


def test_a_receipt_lists_twenty_rows_in_wecom_and_counts_the_rest_while_the_email_has_all():
    doc = _receipt("abc", n=200)
    parts = render.to_markdown_parts(doc)
    assert len(parts) == 1
    assert parts[0].count("（填报值：abc）") == render.RECEIPT_MAX_ROWS
    assert "另有 180 行未列出" in parts[0]
    assert len(doc.rows) == 200 and doc.title == "【报送回执】发改委：200 行未入库"


def test_a_repeat_is_marked_and_still_fits_wecoms_limits():
    for part in render.to_markdown_parts(_digest(60)):
        marked = render.mark_resend(part, "markdown")
        assert marked.split("\n")[1] == render.RESEND_LINE
        assert nbytes(marked) <= MARKDOWN_MAX_BYTES
    eps = [
        {"episode_id": i, "dept_short": "发改委", "snap": _snap(i), "days_open": 1}
        for i in range(400)
    ]
    for part in render.to_text_parts(render.ack_reminder_doc("发改委", eps)):
        marked = render.mark_resend(part, "text")
        assert marked.startswith(render.RESEND_LINE) and nbytes(marked) <= TEXT_MAX_BYTES
    assert nbytes(render.RESEND_LINE) + 1 <= render.RESEND_RESERVE


def test_a_repeated_email_says_so_in_its_html_and_its_plain_text():
    html = render.mark_resend(render.to_html(_digest(2)), "html")
    text = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
    assert text.splitlines()[0] == render.RESEND_LINE
    assert render.RESEND_LINE in html.split("</div>", 1)[1]  # visible too


def test_a_failure_report_names_the_message_the_channel_and_the_reason():
    doc = render.failure_doc(
        [
            {
                "message_id": 7,
                "kind": "digest",
                "title": "【目标监测日报】2023-07-15",
                "channel": "kpiwecom://qyapi.weixin.qq.com#ab12cd34",
                "reason": "errcode 93000：机器人 key 无效或已删除",
                "attempts": 2,
            }
        ]
    )
    md = render.to_markdown_parts(doc)[0]
    assert md.startswith("### 【送达失败】1 条消息无法送达")
    assert "消息 7（日报）" in md and "errcode 93000" in md and "已尝试 2 次" in md
