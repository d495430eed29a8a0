"""What a run reports, as people read it: counts, the artifacts in Chinese, the digest, retries."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
from prefect.states import Completed, Failed

from flows.artifacts import (
    artifact_key,
    file_rows,
    key_value_rows,
    status_rows,
    summary_markdown,
)
from flows.tasks import retry_on_io
from kpi.pipeline import alerts_raised, file_counts, render_digest

FILES = [
    {"file": "a.xlsx", "department": "发改委", "status": "accepted", "status_zh": "全部接收",
     "accepted": 12, "rejected": 0, "revisions": 1, "reason": None},
    {"file": "b.xlsx", "department": "统计局", "status": "partial", "status_zh": "部分接收",
     "accepted": 3, "rejected": 2, "revisions": 0, "reason": None},
    {"file": "c.csv", "department": None, "status": "rejected", "status_zh": "整体退回",
     "accepted": 0, "rejected": 0, "revisions": 0, "reason": "无法读取"},
    {"file": "a2.xlsx", "department": "发改委", "status": "duplicate", "status_zh": "重复文件",
     "accepted": 0, "rejected": 0, "revisions": 0, "reason": "内容完全相同"},
    {"file": "~$a.xlsx", "department": None, "status": "skipped", "status_zh": "已跳过",
     "accepted": 0, "rejected": 0, "revisions": 0, "reason": "Excel 锁文件"},
]  # fmt: skip
ALERTS = {"opened": 4, "worsened": 1, "recovered": 2, "repeated": 3, "messages": 6}


def test_counts_separate_files_by_outcome_and_never_count_a_skipped_file_as_seen():
    assert file_counts(FILES) == {
        "files_seen": 4,
        "files_accepted": 1,
        "files_partial": 1,
        "files_rejected": 1,
        "files_duplicate": 1,
        "files_skipped": 1,
        "rows_accepted": 15,
        "rows_rejected": 2,
    }


def test_alerts_raised_counts_new_and_worse_episodes_but_not_recoveries_or_repeats():
    assert alerts_raised(ALERTS) == 5
    assert alerts_raised({"recovered": 9, "repeated": 2}) == 0
    assert alerts_raised({}) == 0


def test_an_empty_night_counts_zero_everywhere():
    assert set(file_counts([]).values()) == {0}


def _summary() -> dict:
    seen = [f for f in FILES if f["status"] != "skipped"]
    return {
        "plan": "hongqi-2023",
        "as_of": "2023-07-15",
        **file_counts(FILES),
        "alerts_raised": alerts_raised(ALERTS),
        "files": seen,
        "skipped": [f for f in FILES if f["status"] == "skipped"],
        "statuses": {"滞后": 1, "正常": 3},
        "alerts": ALERTS,
        "snapshot": "/x/kpi_snapshot.duckdb",
        "report": {"html": "/x/r.html", "workbook": "/x/r.xlsx", "data_docs": None},
    }


def test_the_summary_artifact_shows_counts_in_chinese_and_no_python_structure():
    text = summary_markdown(_summary())
    assert "| 收到文件 | 4 |" in text
    assert "| 接收行数 | 15 |" in text and "| 拒收行数 | 2 |" in text
    assert "| 新发提醒 | 5 |" in text and "| 恢复正常 | 2 |" in text
    assert "状态分布：滞后 1，正常 3" in text
    assert "跳过的文件（1 个，不计入收到文件）：`~$a.xlsx`" in text
    assert "- 进展报告：`/x/r.html`" in text and "数据校验文档" not in text
    for raw in ("{", "}", "[", "'html'", "None", "accepted"):
        assert raw not in text


def test_the_files_table_leads_with_the_result_in_chinese_and_names_departments():
    rows = file_rows(_summary())
    assert list(rows[0]) == ["结果", "文件", "填报单位", "接收行数", "拒收行数", "修订", "原因"]
    assert [r["结果"] for r in rows] == ["全部接收", "部分接收", "整体退回", "重复文件"]
    assert rows[1]["填报单位"] == "统计局" and rows[2]["原因"] == "无法读取"
    assert all(r["文件"] != "~$a.xlsx" for r in rows)  # skipped files are listed apart


def test_the_status_table_leads_with_the_status_worst_first_with_chinese_department_names():
    progress = pd.DataFrame(
        {
            "target_code": ["gdp_growth", "urban_jobs", "market_entities", "investment_total"],
            "name_zh": ["地区生产总值增长", "新增城镇就业", "市场主体", "完成投资"],
            "department_code": ["tjj", "rsj", "scjgj", "fgw"],
            "status": ["预警", "无数据", "严重滞后", "严重滞后"],
            "completion_rate": [45.234, float("nan"), 10.0, 30.0],
            "gap_pp": [-2.0, float("nan"), -40.0, -20.0],
        }
    )
    names = {"tjj": "统计局", "rsj": "人社局", "scjgj": "市场监管局", "fgw": "发改委"}
    rows = status_rows(progress, names)
    assert list(rows[0])[0] == "状态"
    assert [r["指标"] for r in rows] == ["市场主体", "完成投资", "地区生产总值增长", "新增城镇就业"]
    assert rows[0]["牵头单位"] == "市场监管局"
    assert rows[2]["完成率(%)"] == 45.2 and rows[3]["完成率(%)"] is None
    assert status_rows(None) == [] and status_rows(progress.iloc[0:0]) == []


def test_a_delivery_result_becomes_rows_of_words_and_numbers_without_structures():
    rows = key_value_rows(
        {"sent": 3, "held": 0, "by_outcome": {"sent": 3, "timeout": 1}, "error": None}
    )
    assert rows == [
        {"项目": "送达次数", "值": 3},
        {"项目": "暂缓（免打扰时段）", "值": 0},
        {"项目": "各结果次数", "值": "送达 3，超时 1"},
        {"项目": "错误", "值": "—"},
    ]
    assert all(isinstance(r["值"], int | str) for r in rows)


def test_artifact_keys_keep_only_lower_case_letters_digits_and_dashes():
    assert artifact_key("hongqi-2023", "status") == "hongqi-2023-status"
    assert artifact_key("Hongqi_2023 ", "红旗") == "hongqi-2023"


def test_the_digest_lists_targets_behind_worst_first_and_the_data_problems_apart():
    rec = {
        "as_of": date(2023, 7, 15),
        "department_zh": "发改委",
        "completion_rate": 30.0,
        "time_progress": 50.0,
        "outlook": "仍需付出更大努力",
        "data_status": "正常",
    }
    records = [
        dict(rec, name_zh="完成投资", status="严重滞后", gap_pp=-20.0),
        dict(rec, name_zh="市场主体", status="预警", gap_pp=-3.0),
        dict(rec, name_zh="新增城镇就业", status="正常", gap_pp=2.0),
        dict(rec, name_zh="金融会客厅", status="无数据", gap_pp=None, data_status="缺报"),
    ]
    text = render_digest("hongqi-2023", records)
    assert "截至 2023-07-15" in text
    assert "共 4 项：严重滞后 1 项，预警 1 项，无数据 1 项，正常 1 项" in text
    assert text.index("完成投资") < text.index("市场主体")
    assert "| 正常 | 新增城镇就业" not in text  # on pace: not in the list to act on
    assert "- 发改委：金融会客厅（缺报）" in text
    assert "暂无进展数据" in render_digest("hongqi-2023", [])


def test_a_task_is_retried_only_when_an_io_error_failed_it():
    assert retry_on_io(None, None, Failed(data=OSError("disk full")))
    assert retry_on_io(None, None, Failed(data=duckdb.IOException("Could not set lock")))
    assert not retry_on_io(None, None, Failed(data=ValueError("bad number")))
    assert not retry_on_io(None, None, Completed(data=1))
