"""compute_progress on a real DuckDB warehouse: marts, history, data status, views."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from kpi.progress import ALL_COLUMNS, COLUMNS, compute_progress, progress_records

JULY = date(2023, 7, 15)


def rows(cfg, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def by_code(df) -> dict[str, dict]:
    return {r["target_code"]: r for r in df.to_dict("records")}


def test_the_hand_worked_investment_figure_lands_in_mart_progress(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 102.8e4)  # 102.8 亿元 in 万元
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 5))
    (rate, tp, gap, status, period, unit, target) = rows(
        cfg,
        "select completion_rate, time_progress, gap_pp, status, latest_period, unit,"
        " target_value from mart.progress where target_code = 'investment_total'",
    )[0]
    assert (round(rate, 1), round(tp, 1), round(gap, 1)) == (45.2, 41.7, 3.5)
    assert (status, period, unit, target) == ("正常", "2023-05", "万元", 2274000.0)


def test_every_target_of_the_catalogue_gets_a_row_with_the_contract_columns(
    cfg, tiny_catalogue, warehouse
):
    df = compute_progress(cfg, tiny_catalogue, JULY)
    assert list(df.columns) == list(ALL_COLUMNS)
    assert ALL_COLUMNS[: len(COLUMNS)] == COLUMNS  # the contract, then the point-in-time column
    assert set(df["target_code"]) == {t.code for t in tiny_catalogue.targets}
    cols = [
        r[0]
        for r in rows(
            cfg,
            "select column_name from duckdb_columns() where "
            "schema_name = 'mart' and table_name = 'progress'",
        )
    ]
    assert cols == list(ALL_COLUMNS)


def test_with_no_data_yet_nothing_is_shown_on_track(cfg, tiny_catalogue, warehouse):
    df = compute_progress(cfg, tiny_catalogue, JULY)
    got = by_code(df)
    assert "正常" not in set(df["status"])
    assert got["investment_total"]["status"] == "无数据"
    assert got["investment_total"]["data_status"] == "缺报"
    assert got["finance_hall_open"]["status"] == "严重滞后"  # due 30 June, no report at all
    assert got["finance_hall_open"]["days_overdue"] == 15


def test_before_any_report_is_due_the_data_status_is_not_yet_due(cfg, tiny_catalogue, warehouse):
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 2, 1)))
    assert got["investment_total"]["status"] == "无数据"
    assert got["investment_total"]["data_status"] == "未到期"


def test_january_and_february_reported_together_count_as_two_months(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-02", 30e4)  # 1-2月, no January row
    warehouse.obs("urban_jobs", "2023-02", 1500)
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 3, 15)))
    inv = got["investment_total"]
    assert inv["time_progress"] == pytest.approx(200 / 12)
    assert inv["completion_rate"] == pytest.approx(30 / 227.4 * 100)
    assert inv["latest_period"] == "2023-02"
    assert inv["data_status"] == "正常"
    assert got["urban_jobs"]["data_status"] == "正常"  # the February figure covers January


def test_a_revision_that_lowers_a_value_is_re_judged_and_logged(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-06", 114e4)
    first = by_code(compute_progress(cfg, tiny_catalogue, JULY))["investment_total"]
    assert first["status"] == "正常"
    warehouse.obs("investment_total", "2023-06", 90e4)  # corrected downwards
    second = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 16)))
    assert second["investment_total"]["actual"] == 90e4
    assert second["investment_total"]["status"] == "滞后"
    history = rows(
        cfg,
        "select as_of, previous_status, status, change from mart.status_history"
        " where target_code = 'investment_total' order by as_of",
    )
    assert history == [
        (JULY, None, "正常", "first"),
        (date(2023, 7, 16), "正常", "滞后", "fell_behind"),
    ]


def test_a_rerun_for_the_same_date_replaces_its_rows_and_history(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-06", 114e4)
    compute_progress(cfg, tiny_catalogue, JULY)
    warehouse.obs("investment_total", "2023-06", 70e4)
    compute_progress(cfg, tiny_catalogue, JULY)
    assert rows(cfg, "select count(*) from mart.progress") == [(7,)]
    assert rows(
        cfg,
        "select status, change from mart.status_history where target_code = 'investment_total'",
    ) == [("严重滞后", "first")]


def test_other_dates_keep_their_rows(cfg, tiny_catalogue, warehouse):
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 15))
    compute_progress(cfg, tiny_catalogue, JULY)
    assert rows(cfg, "select as_of, count(*) from mart.progress group by 1 order by 1") == [
        (date(2023, 6, 15), 7),
        (JULY, 7),
    ]


def test_history_records_falling_behind_recovering_and_relapsing(cfg, tiny_catalogue, warehouse):
    w = warehouse
    w.obs("urban_jobs", "2023-03", 2200)  # 25.9% vs 25%
    compute_progress(cfg, tiny_catalogue, date(2023, 4, 9))
    w.obs("urban_jobs", "2023-04", 2300)  # 27.1% vs 33.3%: behind
    compute_progress(cfg, tiny_catalogue, date(2023, 5, 9))
    w.obs("urban_jobs", "2023-05", 3600)  # 42.4% vs 41.7%: back on pace
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 9))
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 10))  # nothing changed: no row
    w.obs("urban_jobs", "2023-06", 3700)  # 43.5% vs 50%: behind again
    compute_progress(cfg, tiny_catalogue, date(2023, 7, 9))
    got = rows(
        cfg,
        "select as_of, status, change from mart.status_history"
        " where target_code = 'urban_jobs' order by as_of",
    )
    assert [(s, c) for _, s, c in got] == [
        ("正常", "first"),
        ("预警", "fell_behind"),
        ("正常", "recovered"),
        ("预警", "relapsed"),
    ]
    assert date(2023, 6, 10) not in [d for d, _, _ in got]


def test_a_period_with_only_quarantined_rows_is_a_data_anomaly(cfg, tiny_catalogue, warehouse):
    warehouse.obs("urban_jobs", "2023-05", 3600)
    warehouse.reject("urban_jobs", "2023-06")
    got = by_code(compute_progress(cfg, tiny_catalogue, JULY))["urban_jobs"]
    assert got["data_status"] == "数据异常"
    assert got["latest_period"] == "2023-05"  # judged on the last good figure
    assert "未通过校验" in got["detail_zh"]


def test_a_quarantined_row_beside_a_good_one_is_not_an_anomaly(cfg, tiny_catalogue, warehouse):
    warehouse.obs("urban_jobs", "2023-06", 4300)
    warehouse.reject("urban_jobs", "2023-06")
    assert by_code(compute_progress(cfg, tiny_catalogue, JULY))["urban_jobs"]["data_status"] == (
        "正常"
    )


def test_a_missing_report_names_the_departments_last_submission(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 95e4)
    warehouse.submission(
        "fgw",
        "发改委6月.xlsx",
        received=datetime(2023, 7, 8),
        status="rejected",
        reason_zh="文件无法读取",
    )
    got = by_code(compute_progress(cfg, tiny_catalogue, JULY))["investment_total"]
    assert got["data_status"] == "缺报"
    assert "7月10日前报送" in got["detail_zh"]
    assert "发改委6月.xlsx" in got["detail_zh"] and "整体退回" in got["detail_zh"]


def test_figures_for_periods_after_the_as_of_date_are_not_counted(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 95e4)
    warehouse.obs("investment_total", "2023-06", 120e4)
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 6, 20)))["investment_total"]
    assert got["latest_period"] == "2023-05" and got["actual"] == 95e4


def test_a_milestone_done_late_is_done_with_days_late(cfg, tiny_catalogue, warehouse):
    warehouse.obs("finance_hall_open", "2023-06", milestone_status="in_progress")
    warehouse.obs(
        "finance_hall_open",
        "2023-07",
        milestone_status="done",
        completion_date=date(2023, 7, 3),
    )
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 8, 15)))["finance_hall_open"]
    assert (got["status"], got["days_overdue"], got["data_status"]) == ("已完成", 3, "正常")
    assert got["outlook"] is None


def test_growth_computed_from_levels_is_flagged_in_the_mart(cfg, tiny_catalogue, warehouse):
    warehouse.obs("gdp_growth", "2023-03", 60.0, prior_value=55.0)
    got = by_code(compute_progress(cfg, tiny_catalogue, JULY))["gdp_growth"]
    assert got["computed"] is True or got["computed"] == 1
    assert got["actual"] == pytest.approx((60 / 55 - 1) * 100)
    assert rows(cfg, "select computed from mart.progress where target_code = 'gdp_growth'") == [
        (True,)
    ]


def test_a_monthly_plan_in_the_status_config_sets_time_progress(
    cfg, tiny_catalogue, warehouse, tmp_path
):
    conf = (cfg.status_config.read_text("utf-8")).replace(
        "[monthly_plans]",
        '[monthly_plans]\n[monthly_plans."tiny-2023"]\n'
        "investment_total = [2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]\n",
    )
    (tmp_path / "status.toml").write_text(conf, encoding="utf-8")
    cfg2 = type(cfg)(**{**cfg.__dict__, "status_config": tmp_path / "status.toml"})
    warehouse.obs("investment_total", "2023-06", 60e4)
    got = by_code(compute_progress(cfg2, tiny_catalogue, JULY))["investment_total"]
    assert got["time_progress"] == pytest.approx(40.0)
    assert rows(
        cfg,
        "select share, basis from mart.time_profile where target_code = 'investment_total'"
        " and month = 6",
    ) == [(0.4, "monthly_plan")]


def test_progress_records_are_json_ready_with_the_fields_the_cli_promises(
    cfg, tiny_catalogue, warehouse
):
    warehouse.obs("investment_total", "2023-06", 114e4)
    records = progress_records(compute_progress(cfg, tiny_catalogue, JULY))
    text = json.dumps(records, ensure_ascii=False)
    inv = next(r for r in json.loads(text) if r["code"] == "investment_total")
    for key in (
        "code",
        "status",
        "data_status",
        "actual",
        "expected",
        "completion_rate",
        "time_progress",
        "gap_pp",
        "outlook",
    ):
        assert key in inv
    assert inv["as_of"] == "2023-07-15"
    none_days = next(r for r in records if r["code"] == "urban_jobs")["days_overdue"]
    assert none_days is None


def test_the_views_show_progress_lineage_submissions_and_rejections(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 95e4)
    warehouse.obs("investment_total", "2023-06", 114e4)
    warehouse.obs("investment_total", "2023-06", 110e4)  # a revision
    warehouse.reject("urban_jobs", "2023-06")
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 20))
    compute_progress(cfg, tiny_catalogue, JULY)
    assert rows(
        cfg,
        "select as_of, department_zh, unit_written, actual_written, target_written, status"
        " from mart.current_progress where target_code = 'investment_total'",
    ) == [(JULY, "发改委", "亿元", 110.0, 227.4, "预警")]
    assert rows(
        cfg,
        "select period, round(completion_rate, 1), round(time_progress, 1) from"
        " mart.progress_by_period where target_code = 'investment_total' order by period",
    ) == [("2023-05", 41.8, 41.7), ("2023-06", 48.4, 50.0)]
    assert rows(
        cfg,
        "select value, revision_no, revised_from_value, sheet, file_name like 'fgw-2023-06%'"
        " from mart.current_observations where target_code = 'investment_total'"
        " and period = '2023-06'",
    ) == [(110e4, 2, 114e4, "Sheet1", True)]
    assert rows(cfg, "select count(*) from mart.submissions where department_zh = '发改委'") == [
        (3,)
    ]
    assert rows(cfg, "select name_zh, severity_zh, reason_zh from mart.rejections") == [
        ("新增城镇就业", "拒收", "数值超出合理范围")
    ]
    assert rows(
        cfg,
        "select as_of, department_zh, name_zh, status, change_zh from mart.status_changes"
        " where target_code = 'investment_total' order by as_of",
    ) == [
        (date(2023, 6, 20), "发改委", "完成投资", "正常", "首次判定"),
        (JULY, "发改委", "完成投资", "预警", "转为滞后"),
    ]


def test_every_column_of_the_marts_and_views_has_a_chinese_comment(cfg, warehouse):
    missing = rows(
        cfg,
        "select table_name, column_name from duckdb_columns() where schema_name = 'mart'"
        " and (comment is null or not regexp_matches(comment, '[\\x{4e00}-\\x{9fff}]'))",
    )
    assert missing == []
    views = {
        r[0] for r in rows(cfg, "select view_name from duckdb_views() where schema_name = 'mart'")
    }
    assert {
        "current_progress",
        "progress_by_period",
        "current_observations",
        "submissions",
        "rejections",
        "status_changes",
    } <= views


def test_the_view_sql_in_transforms_is_select_only():
    from kpi.config import ROOT
    from kpi.warehouse import expand_includes

    con = duckdb.connect()
    for path in sorted((ROOT / "transforms").glob("*.sql")):
        text = expand_includes(path.read_text("utf-8"))  # as their readers expand them
        kinds = {s.type.name for s in con.extract_statements(text)}
        assert kinds == {"SELECT"}, path.name


def test_a_later_row_without_a_figure_does_not_hide_the_last_figure(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 95e4)
    warehouse.obs("investment_total", "2023-06", None)  # a note-only row
    got = by_code(compute_progress(cfg, tiny_catalogue, JULY))["investment_total"]
    assert (got["latest_period"], got["actual"]) == ("2023-05", 95e4)
    assert got["data_status"] == "正常"  # June was reported, even if without a number


def test_a_milestone_stays_done_when_a_later_row_repeats_an_older_step(
    cfg, tiny_catalogue, warehouse
):
    warehouse.obs("finance_hall_open", "2023-05", milestone_status="done")
    warehouse.obs("finance_hall_open", "2023-06", milestone_status="in_progress")
    warehouse.obs("finance_hall_open", "2023-07", milestone_status=None)  # a note-only row
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 8, 15)))["finance_hall_open"]
    assert (got["status"], got["latest_period"]) == ("已完成", "2023-05")


def test_a_milestone_is_judged_on_its_last_step_when_none_is_done(cfg, tiny_catalogue, warehouse):
    warehouse.obs("finance_hall_open", "2023-04", milestone_status="in_progress")
    warehouse.obs("finance_hall_open", "2023-05", milestone_status="not_started")
    warehouse.obs("finance_hall_open", "2023-06", milestone_status=None)  # a note-only row
    got = by_code(compute_progress(cfg, tiny_catalogue, JULY))["finance_hall_open"]
    assert got["latest_period"] == "2023-05" and got["status"] != "已完成"


def test_a_growth_target_skips_a_later_level_without_last_years_level(
    cfg, tiny_catalogue, warehouse
):
    warehouse.obs("gdp_growth", "2023-03", growth_pct=9.1)
    warehouse.obs("gdp_growth", "2023-06", 120.0)  # this year's level only: no growth follows
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 8, 15)))["gdp_growth"]
    assert (got["latest_period"], got["actual"]) == ("2023-03", 9.1)
    warehouse.obs("gdp_growth", "2023-06", 120.0, prior_value=100.0)  # a revision adds it
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 8, 16)))["gdp_growth"]
    assert got["latest_period"] == "2023-06"
    assert got["actual"] == pytest.approx(20.0)


def test_with_only_unusable_rows_the_latest_period_is_shown(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-04", None)
    warehouse.obs("investment_total", "2023-05", None)
    got = by_code(compute_progress(cfg, tiny_catalogue, date(2023, 6, 20)))["investment_total"]
    assert got["latest_period"] == "2023-05" and pd.isna(got["actual"])
    assert got["data_status"] == "正常"  # May was reported, even if without a number


@pytest.mark.parametrize(
    ("reference", "label"),
    [
        ("city_average", "全市平均"),
        ("district_average", "全区平均"),
        ("province_average", "全省平均"),
        ("national_average", "全国平均"),
    ],
)
def test_every_reference_kind_is_named_in_chinese_in_the_detail(
    cfg, tiny_targets, make_catalogue, make_warehouse, reference, label
):
    relative = {
        **tiny_targets[0],
        "code": "above_reference",
        "name_zh": "增速高于平均",
        "kind": "relative",
        "comparator": ">",
        "value": 0,
        "unit": "百分点",
        "reference": reference,
        "headline": False,
        "cadence": "monthly",
        "due_day": 10,
    }
    cat = make_catalogue([relative])
    make_warehouse(cat).obs("above_reference", "2023-06", growth_pct=7.0, reference_value=6.2)
    got = by_code(compute_progress(cfg, cat, JULY))["above_reference"]
    assert f"{label}6.2%" in got["detail_zh"] and "参照值" not in got["detail_zh"]


def test_the_register_of_reference_kinds_and_their_chinese_names_agree():
    from kpi.catalogue import REFERENCE_ZH, REFERENCES

    assert set(REFERENCE_ZH) == set(REFERENCES)
