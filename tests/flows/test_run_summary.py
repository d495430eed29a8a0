"""What a run reports: counts from receipts and alerts, the digest, the artifacts, retry policy."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
from prefect.states import Completed, Failed

from flows.artifacts import artifact_key, file_rows, status_rows, summary_markdown
from flows.tasks import retry_on_io
from kpi.pipeline import alerts_raised, render_digest, run_counts

RECEIPTS = [
    {"file": "/in/a.xlsx", "status": "accepted", "accepted": 12, "rejected": []},
    {
        "file": "/in/b.xlsx",
        "status": "partial",
        "accepted": 3,
        "rejected": [{"row": 4}, {"row": 7}],
    },
    {
        "file": "/in/c.csv",
        "status": "rejected",
        "accepted": 0,
        "rejected": [],
        "reason": "无法读取",
    },
    {"file": "/in/a2.xlsx", "status": "duplicate", "accepted": 0, "rejected": []},
]
ALERTS = {"opened": 4, "worsened": 1, "recovered": 2, "repeated": 3, "messages": 6}


def test_counts_separate_files_by_outcome_and_sum_rows_accepted_and_rejected():
    assert run_counts(RECEIPTS, ALERTS) == {
        "files_seen": 4,
        "files_accepted": 1,
        "files_partial": 1,
        "files_rejected": 1,
        "files_duplicate": 1,
        "rows_accepted": 15,
        "rows_rejected": 2,
        "alerts_raised": 5,
    }


def test_alerts_raised_counts_new_and_worse_episodes_but_not_recoveries_or_repeats():
    assert alerts_raised(ALERTS) == 5
    assert alerts_raised({"recovered": 9, "repeated": 2}) == 0
    assert alerts_raised({}) == 0


def test_an_empty_night_counts_zero_everywhere():
    assert set(run_counts([], {}).values()) == {0}


def _summary() -> dict:
    from kpi.pipeline import file_row

    return {
        "plan": "hongqi-2023",
        "as_of": "2023-07-15",
        **run_counts(RECEIPTS, ALERTS),
        "files": [file_row(r) for r in RECEIPTS],
        "statuses": {"正常": 3, "滞后": 1},
        "alerts": ALERTS,
        "snapshot": "/x/kpi_snapshot.duckdb",
        "report": None,
    }


def test_the_summary_artifact_shows_rows_accepted_rejected_and_alerts_in_chinese():
    text = summary_markdown(_summary())
    assert "| 接收行数 | 15 |" in text
    assert "| 拒收行数 | 2 |" in text
    assert "| 新发提醒 | 5 |" in text
    assert "| 恢复正常 | 2 |" in text
    assert "滞后 1" in text


def test_the_files_table_names_each_file_without_its_folder():
    rows = file_rows(_summary())
    assert [r["文件"] for r in rows] == ["a.xlsx", "b.xlsx", "c.csv", "a2.xlsx"]
    assert rows[1]["拒收行数"] == 2 and rows[2]["原因"] == "无法读取"


def test_the_status_table_rounds_numbers_and_turns_missing_values_into_blanks():
    progress = pd.DataFrame(
        {
            "target_code": ["gdp_growth", "urban_jobs"],
            "name_zh": ["地区生产总值增长", "新增城镇就业"],
            "status": ["预警", "无数据"],
            "completion_rate": [45.234, float("nan")],
        }
    )
    rows = status_rows(progress)
    assert rows[0] == {
        "指标代码": "gdp_growth",
        "指标": "地区生产总值增长",
        "状态": "预警",
        "完成率(%)": 45.2,
    }
    assert rows[1]["完成率(%)"] is None
    assert status_rows(None) == [] and status_rows(progress.iloc[0:0]) == []


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
    assert text.index("完成投资") < text.index("市场主体")
    assert "| 正常 | 新增城镇就业" not in text  # on pace: not in the list to act on
    assert "- 发改委：金融会客厅（缺报）" in text
    assert "暂无进展数据" in render_digest("hongqi-2023", [])


def test_a_task_is_retried_only_when_an_io_error_failed_it():
    assert retry_on_io(None, None, Failed(data=OSError("disk full")))
    assert retry_on_io(None, None, Failed(data=duckdb.IOException("Could not set lock")))
    assert not retry_on_io(None, None, Failed(data=ValueError("bad number")))
    assert not retry_on_io(None, None, Completed(data=1))
