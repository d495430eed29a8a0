"""What a person reads of a figure: the quantity it is in, and the honest word for a gap."""

from __future__ import annotations

from datetime import date

from kpi.reports.view import (
    data_reason,
    file_reason,
    gap_text,
    reason_text,
    strip_file_prefix,
    with_unit,
)

AS_OF = date(2023, 7, 15)


def mart(kind: str, **kw) -> dict:
    row = {
        "kind": kind,
        "status": "正常",
        "actual": None,
        "target_value": None,
        "gap_pp": None,
        "time_progress": None,
        "completion_rate": None,
        "latest_period": "2023-06",
        "days_overdue": None,
        "computed": False,
        "detail_zh": "",
        "deadline": date(2023, 12, 31),
    }
    return row | kw


def test_a_ceiling_breach_reads_as_points_over_the_limit_not_a_completion_rate():
    row = mart("ceiling", status="严重滞后", actual=4.9, target_value=4.5, gap_pp=-0.4,
               completion_rate=108.9)  # fmt: skip

    assert gap_text(row, "%", 1.0, AS_OF) == "超出上限 0.4 个百分点"
    assert reason_text(row, "%", 1.0, "≤ 4.5%") == "6月末 4.9%，上限 4.5%"
    assert "108.9" not in reason_text(row, "%", 1.0, "≤ 4.5%")
    within = mart("ceiling", actual=4.1, target_value=4.5, gap_pp=0.4)
    assert gap_text(within, "%", 1.0, AS_OF) == "低于上限 0.4 个百分点"
    at = mart("ceiling", actual=4.5, target_value=4.5, gap_pp=0.0)
    assert gap_text(at, "%", 1.0, AS_OF) == "等于上限"
    # a ceiling counted in cases is over by cases, not points
    cases = mart("ceiling", status="严重滞后", actual=2.0, target_value=0.0)
    assert gap_text(cases, "起", 1.0, AS_OF) == "超出上限 2 起"


def test_a_relative_target_is_in_points():
    row = mart("relative", actual=0.5999999999999996, target_value=0.0, gap_pp=0.5999999999999996)

    assert with_unit(row["actual"], "百分点") == "0.6 个百分点"
    assert with_unit(0.0, "百分点") == "0 个百分点"
    assert gap_text(row, "百分点", 1.0, AS_OF) == "高于要求 0.6 个百分点"
    assert gap_text(mart("relative", actual=4.0, gap_pp=-1.0), "百分点", 1.0, AS_OF) == (
        "低于要求 1 个百分点"
    )


def test_growth_and_cumulative_gaps_name_what_they_are_measured_against():
    growth = mart("growth_rate", actual=6.5, target_value=10.0, gap_pp=-3.5)
    jobs = mart("count", actual=3000.0, target_value=8500.0, gap_pp=-14.71, time_progress=50.0,
                completion_rate=35.29)  # fmt: skip

    assert gap_text(growth, "%", 1.0, AS_OF) == "低于目标 3.5 个百分点"
    assert reason_text(growth, "%", 1.0, "≥ 10%") == "1-6月累计增长 6.5%，目标 ≥ 10%"
    assert gap_text(jobs, "人", 1.0, AS_OF) == "滞后序时进度 14.7 个百分点"
    assert reason_text(jobs, "人", 1.0, "≥ 8,500 人") == (
        "1-6月累计 3,000 人，完成率 35.3%，序时进度 50%"
    )
    on_pace = mart("cumulative", actual=1.0, target_value=2.0, gap_pp=0.04, time_progress=50.0)
    assert gap_text(on_pace, "亿元", 1.0, AS_OF) == "达到序时进度"


def test_a_level_without_a_path_says_how_far_from_the_target():
    row = mart("level", actual=53500.0, target_value=55000.0, gap_pp=-2.73, completion_rate=97.27)

    assert gap_text(row, "万户", 0.0001, AS_OF) == "距目标差 0.15 万户"
    assert reason_text(row, "万户", 0.0001, "≥ 5.5 万户") == "6月末 5.35 万户，目标 ≥ 5.5 万户"


def test_milestones_count_days_overdue_or_left():
    late = mart("milestone", status="严重滞后", days_overdue=15)
    soon = mart("milestone", status="预警", deadline=date(2023, 8, 1))
    done = mart("milestone", status="已完成", days_overdue=3)

    assert gap_text(late, "", 1.0, AS_OF) == "逾期 15 天"
    assert gap_text(soon, "", 1.0, AS_OF) == "距期限 17 天"
    assert gap_text(done, "", 1.0, AS_OF) == "已完成（逾期 3 天）"


def test_a_missing_report_names_the_month_due():
    row = mart(
        "level",
        detail_zh="4月末5.23万户；6月数据应于7月10日前报送，尚未收到；本单位最近一次报送：2023-05-04",
    )

    assert data_reason(row) == "6月数据应于7月10日前报送，尚未收到"
    assert data_reason(mart("count", latest_period="2023-04")) == "最近报告期 2023-04"


def test_a_partly_accepted_file_gets_its_reasons_without_repeating_the_file_name():
    sub = {"file_name": "住建局.xlsx", "reason_zh": None, "n_rejected": 3}
    rows = [
        {"severity": "critical", "sheet": "填报表",
         "reason_zh": f"文件“住建局.xlsx”工作表“填报表”第{n}行“数值”列“x”：数值不是数字"}
        for n in (3, 4, 5)
    ] + [{"severity": "warning", "sheet": "填报表", "reason_zh": "备注过长"}]  # fmt: skip

    text = file_reason(sub, rows)

    assert text.startswith("拒收 3 行：第3行“数值”列“x”：数值不是数字；第4行")
    assert "等" in text and text.endswith("提示 1 条")
    assert "住建局.xlsx" not in text
    assert (
        file_reason({"file_name": "a", "reason_zh": "文件为空（0字节）"}, []) == "文件为空（0字节）"
    )
    # only an exact prefix is cut: another file's name stays
    assert strip_file_prefix("文件“b.xlsx”第3行", "a.xlsx") == "文件“b.xlsx”第3行"
