"""The progress maths per kind, with hand-worked numbers and the issue's edge cases."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from kpi.config import ROOT
from transforms.progress import (
    Grades,
    Obs,
    Spec,
    data_note,
    data_status,
    due_date,
    gap_phrase,
    grade,
    growth_from_levels,
    history_change,
    judge,
    latest_due_month,
    profile_from_monthly_plan,
    spec_of,
    thresholds_from_dict,
    time_share,
)

TH = thresholds_from_dict(tomllib.loads((ROOT / "config" / "status.toml").read_text("utf-8")))
AS_OF = date(2023, 7, 15)


def spec(kind="cumulative", target=227.4, comparator=">=", **kw) -> Spec:
    base = {"code": "x", "kind": kind, "comparator": comparator, "target": target}
    base |= {"year": 2023, "deadline": date(2023, 12, 31), "unit": "亿元"}
    return Spec(**(base | kw))


# ---------------------------------------------------------------- cumulative and counts


def test_after_five_months_227_4_target_with_102_8_done_is_45_2_against_41_7_ahead_3_5():
    j = judge(spec(), Obs(month=5, value=102.8), AS_OF, TH)
    assert round(j.completion_rate, 1) == 45.2
    assert round(j.time_progress, 1) == 41.7
    assert round(j.gap_pp, 1) == 3.5
    assert j.status == "正常"
    assert "超序时进度3.5个百分点" in j.detail_zh
    assert round(j.expected, 2) == round(227.4 * 5 / 12, 2)
    assert round(j.projection, 2) == round(102.8 * 12 / 5, 2)
    assert j.outlook == "进展顺利"


def test_time_progress_uses_the_latest_period_reported_not_the_calendar():
    j = judge(spec(), Obs(month=3, value=50), date(2023, 7, 15), TH)
    assert j.time_progress == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("done", "status"),
    [
        (113.7, "正常"),  # exactly on 序时进度 after six months
        (105.0, "预警"),  # 46.2% against 50%: 3.8 points behind
        (90.0, "滞后"),  # 39.6%: 10.4 points behind
        (70.0, "严重滞后"),  # 30.8%: 19.2 points behind
    ],
)
def test_cumulative_status_follows_the_gap_thresholds(done, status):
    assert judge(spec(), Obs(month=6, value=done), AS_OF, TH).status == status


def test_reaching_time_progress_is_worded_as_reaching_it():
    assert gap_phrase(0.02) == "达到序时进度"
    assert gap_phrase(-4.26) == "滞后序时进度4.3个百分点"


def test_counts_have_their_own_wider_thresholds():
    s = spec(kind="count", target=8500, unit="人")
    # 6 months, 3400 of 8500 = 40%: 10 points behind is 预警 for a count, 滞后 for an amount
    assert judge(s, Obs(month=6, value=3400), AS_OF, TH).status == "预警"
    assert judge(spec(target=8500), Obs(month=6, value=3400), AS_OF, TH).status == "滞后"


def test_a_target_already_met_is_done_with_no_outlook():
    j = judge(spec(), Obs(month=6, value=230.0), AS_OF, TH)
    assert j.status == "已完成"
    assert j.outlook is None
    assert j.completion_rate > 100


def test_a_target_not_yet_met_is_not_done():
    assert judge(spec(), Obs(month=11, value=227.3), AS_OF, TH).status != "已完成"


def test_a_seasonal_profile_sets_time_progress():
    back_loaded = (0.04, 0.10, 0.18, 0.26, 0.35, 0.46, 0.54, 0.62, 0.72, 0.82, 0.91, 1.0)
    s = spec(profile=back_loaded, profile_basis="profile")
    j = judge(s, Obs(month=6, value=100.0), AS_OF, TH)
    assert j.time_progress == pytest.approx(46.0)
    assert j.gap_pp == pytest.approx(100 / 227.4 * 100 - 46.0)
    assert j.status == "预警"  # 44.0% against 46%; against months/12 it would be 6 points worse
    assert "季节进度曲线" in j.detail_zh


def test_a_monthly_plan_becomes_cumulative_shares_of_its_total():
    p = profile_from_monthly_plan([1] * 6 + [3] * 6)
    assert p[5] == pytest.approx(6 / 24)
    assert p[-1] == 1.0
    with pytest.raises(ValueError):
        profile_from_monthly_plan([1] * 11)
    with pytest.raises(ValueError):
        profile_from_monthly_plan([0] * 12)


def test_a_profile_that_expects_nothing_yet_gives_no_projection():
    step = tuple([0.0] * 11 + [1.0])
    j = judge(spec(kind="count", target=30, unit="家", profile=step), Obs(6, 0), AS_OF, TH)
    assert j.status == "正常"
    assert j.time_progress == 0
    assert j.projection is None and j.outlook is None


@pytest.mark.parametrize(
    ("done", "outlook"),
    [(113.7, "进展顺利"), (104.0, "经过努力能够完成"), (95.0, "仍需付出更大努力")],
)
def test_outlook_tiers_by_projection_share_of_target(done, outlook):
    # after 6 months the projection is twice the year-to-date: 227.4, 208, 190
    assert judge(spec(), Obs(month=6, value=done), AS_OF, TH).outlook == outlook


# ---------------------------------------------------------------- growth rates


def test_growth_is_compared_with_the_annual_rate_unscaled():
    s = spec(kind="growth_rate", target=8.5, unit="%")
    j = judge(s, Obs(month=3, growth_pct=7.2), AS_OF, TH)
    assert j.gap_pp == pytest.approx(-1.3)
    assert j.status == "预警"
    assert j.time_progress is None
    assert j.computed is False
    assert j.outlook == "仍需付出更大努力"  # -1.3 points is beyond reachable_pp = -1.0
    assert judge(s, Obs(month=3, growth_pct=8.5), AS_OF, TH).status == "正常"
    assert judge(s, Obs(month=3, growth_pct=2.0), AS_OF, TH).status == "严重滞后"


def test_growth_is_computed_from_levels_when_no_rate_is_reported_and_flagged():
    s = spec(kind="growth_rate", target=10, unit="%")
    j = judge(s, Obs(month=6, value=55.0, prior_value=50.0), AS_OF, TH)
    assert j.actual == pytest.approx(10.0)
    assert j.computed is True
    assert "测算" in j.detail_zh


def test_a_reported_rate_beats_levels():
    s = spec(kind="growth_rate", target=10, unit="%")
    j = judge(s, Obs(month=6, value=55.0, prior_value=50.0, growth_pct=9.0), AS_OF, TH)
    assert j.actual == 9.0 and j.computed is False


def test_growth_from_levels_needs_a_positive_prior_value():
    assert growth_from_levels(10, 0) is None
    assert growth_from_levels(None, 5) is None
    s = spec(kind="growth_rate", target=10, unit="%")
    assert judge(s, Obs(month=6, value=55.0), AS_OF, TH).status == "无数据"


def test_a_growth_rate_is_done_only_on_the_full_year_figure():
    s = spec(kind="growth_rate", target=8.5, unit="%")
    assert judge(s, Obs(month=6, growth_pct=9.0), AS_OF, TH).status == "正常"
    assert judge(s, Obs(month=12, growth_pct=9.0), date(2024, 1, 25), TH).status == "已完成"


# ---------------------------------------------------------------- levels


def test_a_level_with_a_baseline_is_judged_on_the_straight_path_from_it():
    s = spec(kind="level", target=55000, unit="万户", factor=1e4, baseline=50000)
    j = judge(s, Obs(month=6, value=52000), AS_OF, TH)
    assert j.expected == pytest.approx(52500)
    assert j.completion_rate == pytest.approx(40.0)  # 2000 of the 5000 increase
    assert j.time_progress == pytest.approx(50.0)
    assert j.gap_pp == pytest.approx(-10.0)
    assert j.status == "滞后"
    assert j.projection == pytest.approx(54000)
    assert j.outlook == "经过努力能够完成"  # 54000 / 55000 = 98%
    assert "5.2万户" in j.detail_zh
    assert judge(s, Obs(month=6, value=52600), AS_OF, TH).status == "正常"


def test_a_level_without_a_baseline_is_judged_against_the_target():
    s = spec(kind="level", target=90, unit="%")
    j = judge(s, Obs(month=6, value=85.0), AS_OF, TH)
    assert j.completion_rate == pytest.approx(85 / 90 * 100)
    assert j.gap_pp == pytest.approx(85 / 90 * 100 - 100)
    assert j.time_progress is None
    assert j.status == "滞后"
    assert judge(s, Obs(month=6, value=90.0), AS_OF, TH).status == "正常"


def _with_baseline(t, value, unit):
    return type(t).model_validate(
        t.model_dump() | {"baseline": {"value": value, "unit": unit, "year": 2022}}
    )


def test_a_baseline_is_converted_to_the_canonical_unit(tiny_catalogue):
    t = _with_baseline(tiny_catalogue.target("market_entities"), 5.0, "万户")
    assert spec_of(t, 2023).baseline == 50000


def test_a_baseline_in_another_unit_family_is_ignored(tiny_catalogue):
    t = _with_baseline(tiny_catalogue.target("gdp_growth"), 254, "亿元")
    assert spec_of(t, 2023).baseline is None


# ---------------------------------------------------------------- ceilings


def test_a_ceiling_exactly_at_its_limit_is_within_it():
    s = spec(kind="ceiling", target=4.5, comparator="<=", unit="%")
    j = judge(s, Obs(month=6, value=4.5), AS_OF, TH)
    assert j.status == "正常"
    assert j.gap_pp == pytest.approx(0.0)
    assert j.outlook == "进展顺利"


def test_any_breach_of_a_ceiling_is_red():
    s = spec(kind="ceiling", target=4.5, comparator="<=", unit="%")
    j = judge(s, Obs(month=6, value=4.51), AS_OF, TH)
    assert j.status == "严重滞后"
    assert j.outlook == "仍需付出更大努力"
    assert "超出上限" in j.detail_zh


def test_a_rate_over_its_ceiling_is_said_in_points_and_a_count_in_its_unit():
    rate = spec(kind="ceiling", target=4.5, comparator="<=", unit="%")
    j = judge(rate, Obs(month=6, value=4.9), AS_OF, TH)
    assert j.detail_zh == "6月末4.9%，上限4.5%，超出上限0.4个百分点"
    cases = spec(kind="ceiling", target=2, comparator="<=", unit="起")
    assert judge(cases, Obs(month=6, value=5), AS_OF, TH).detail_zh.endswith("超出上限3起")


def test_the_data_note_of_rejected_rows_says_rejected_as_the_report_does():
    note = data_note("数据异常", 6, 2023, 10)
    assert "拒收" in note and "隔离" not in note


def test_a_zero_ceiling_counts_a_single_case_as_a_breach():
    s = spec(kind="ceiling", target=0, comparator="<=", unit="起")
    assert judge(s, Obs(month=6, value=0), AS_OF, TH).status == "正常"
    j = judge(s, Obs(month=6, value=1), AS_OF, TH)
    assert j.status == "严重滞后"
    assert j.gap_pp is None  # no percentage points for a count of cases


# ---------------------------------------------------------------- relative targets


def test_a_relative_target_compares_own_growth_minus_the_reference_with_the_margin():
    s = spec(kind="relative", target=5, unit="百分点")
    j = judge(s, Obs(month=6, growth_pct=12.0, reference_value=6.0), AS_OF, TH, "全区平均")
    assert j.actual == pytest.approx(6.0)
    assert j.gap_pp == pytest.approx(1.0)
    assert j.status == "正常"
    assert "全区平均6%" in j.detail_zh
    behind = judge(s, Obs(month=6, growth_pct=9.0, reference_value=6.0), AS_OF, TH)
    assert behind.gap_pp == pytest.approx(-2.0)
    assert behind.status == "滞后"


def test_a_strictly_above_target_is_not_met_by_a_tie():
    s = spec(kind="relative", target=0, comparator=">", unit="百分点")
    assert judge(s, Obs(month=6, growth_pct=6.0, reference_value=6.0), AS_OF, TH).status == "预警"
    assert judge(s, Obs(month=6, growth_pct=6.1, reference_value=6.0), AS_OF, TH).status == "正常"


def test_a_relative_target_without_the_reference_has_no_data():
    s = spec(kind="relative", target=5, unit="百分点")
    assert judge(s, Obs(month=6, growth_pct=12.0), AS_OF, TH).status == "无数据"


# ---------------------------------------------------------------- milestones


def milestone(deadline=date(2023, 6, 30), kind="milestone") -> Spec:
    return spec(kind=kind, target=None, comparator="done", unit=None, deadline=deadline)


def test_a_milestone_due_tomorrow_and_not_done_is_at_risk():
    j = judge(milestone(), Obs(month=5, milestone_status="in_progress"), date(2023, 6, 29), TH)
    assert j.status == "预警"
    assert j.days_overdue is None
    assert j.outlook == "经过努力能够完成"


def test_a_milestone_due_yesterday_and_not_done_is_overdue_by_one_day():
    j = judge(milestone(), Obs(month=6, milestone_status="in_progress"), date(2023, 7, 1), TH)
    assert j.status == "严重滞后"
    assert j.days_overdue == 1
    assert j.outlook == "仍需付出更大努力"


def test_a_milestone_far_from_its_deadline_is_on_schedule():
    j = judge(milestone(), Obs(month=3, milestone_status="not_started"), date(2023, 4, 15), TH)
    assert j.status == "正常"


def test_a_milestone_done_late_records_the_days_late():
    j = judge(
        milestone(),
        Obs(month=7, milestone_status="done", completion_date=date(2023, 7, 12)),
        AS_OF,
        TH,
    )
    assert j.status == "已完成"
    assert j.days_overdue == 12
    assert "逾期12天" in j.detail_zh


def test_a_milestone_done_on_time_has_no_days_late():
    done = Obs(month=6, milestone_status="done", completion_date=date(2023, 6, 30))
    j = judge(milestone(), done, AS_OF, TH)
    assert j.status == "已完成" and j.days_overdue is None


def test_a_milestone_without_any_report_has_no_data_until_its_deadline_passes():
    assert judge(milestone(), None, date(2023, 6, 1), TH).status == "无数据"
    j = judge(milestone(), None, date(2023, 7, 5), TH)
    assert j.status == "严重滞后" and j.days_overdue == 5


def test_a_qualitative_task_is_a_milestone_due_at_plan_end():
    q = milestone(deadline=date(2023, 12, 31), kind="qualitative")
    assert judge(q, Obs(month=6, milestone_status="in_progress"), AS_OF, TH).status == "正常"
    late = judge(q, Obs(month=11, milestone_status="in_progress"), date(2023, 12, 15), TH)
    assert late.status == "预警"


# ---------------------------------------------------------------- no data


@pytest.mark.parametrize("kind", ["cumulative", "count", "growth_rate", "level", "relative"])
def test_a_target_with_no_data_is_never_on_track(kind):
    j = judge(spec(kind=kind), None, AS_OF, TH)
    assert j.status == "无数据"
    assert j.outlook is None and j.completion_rate is None


# ---------------------------------------------------------------- data status


def test_a_report_is_due_on_its_due_day_of_the_next_month():
    assert due_date(2023, 6, 10) == date(2023, 7, 10)
    assert due_date(2023, 12, 20) == date(2024, 1, 20)
    months = tuple(range(1, 13))
    assert latest_due_month(2023, months, 10, date(2023, 7, 10)) == 5  # due today: not late
    assert latest_due_month(2023, months, 10, date(2023, 7, 11)) == 6
    assert latest_due_month(2023, months, 10, date(2023, 1, 15)) is None


def _ds(reported=(), quarantined=(), as_of=AS_OF, months=tuple(range(1, 13)), done=False):
    return data_status(
        year=2023,
        months=months,
        due_day=10,
        as_of=as_of,
        reported=set(reported),
        quarantined=set(quarantined),
        done=done,
    )


def test_a_missing_latest_report_is_missing_even_with_older_ones():
    assert _ds(reported={4, 5}) == ("缺报", 6)
    assert _ds(reported={4, 5, 6}) == ("正常", 6)


def test_a_period_with_only_quarantined_rows_is_a_data_anomaly():
    assert _ds(reported={5}, quarantined={6}) == ("数据异常", 6)
    assert _ds(reported={5, 6}, quarantined={6}) == ("正常", 6)


def test_january_and_february_reported_together_leave_no_january_report_due():
    jan_feb_months = tuple(range(2, 13))  # kpi.contract.reporting_months for growth, cumulative
    assert _ds(as_of=date(2023, 2, 20), months=jan_feb_months) == ("未到期", None)
    assert _ds(as_of=date(2023, 3, 11), months=jan_feb_months) == ("缺报", 2)
    assert _ds(reported={2}, as_of=date(2023, 3, 11), months=jan_feb_months) == ("正常", 2)


def test_nothing_due_yet_is_not_yet_due():
    assert _ds(as_of=date(2023, 2, 1)) == ("未到期", None)
    assert _ds(reported={1}, as_of=date(2023, 2, 1)) == ("正常", None)


def test_a_done_milestone_needs_no_further_reports():
    assert _ds(reported={3}, done=True) == ("正常", 6)


# ---------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("previous", "now", "ever", "change"),
    [
        ((None, None), ("正常", "正常"), False, "first"),
        (("正常", "正常"), ("正常", "正常"), False, None),
        (("正常", "正常"), ("预警", "正常"), False, "fell_behind"),
        (("正常", "正常"), ("预警", "正常"), True, "relapsed"),
        (("预警", "正常"), ("滞后", "正常"), True, "worsened"),
        (("严重滞后", "正常"), ("滞后", "正常"), True, "improved"),
        (("滞后", "正常"), ("正常", "正常"), True, "recovered"),
        (("滞后", "正常"), ("已完成", "正常"), True, "completed"),
        (("已完成", "正常"), ("预警", "正常"), False, "fell_behind"),
        (("正常", "正常"), ("正常", "缺报"), False, "worsened"),
        (("正常", "缺报"), ("正常", "正常"), False, "improved"),
        (("无数据", "缺报"), ("正常", "正常"), False, "improved"),
    ],
)
def test_history_names_each_kind_of_change(previous, now, ever, change):
    assert history_change(*previous, *now, ever_behind=ever) == change


# ---------------------------------------------------------------- configuration


def test_the_shipped_status_config_is_valid_and_ordered():
    assert TH.grades["cumulative"] == Grades(0.0, -5.0, -15.0)
    assert TH.at_risk_days == 30
    assert grade(-5.0, TH.grades["cumulative"]) == "预警"  # the boundary belongs to the milder


def test_a_status_config_with_inverted_thresholds_is_refused():
    doc = tomllib.loads((ROOT / "config" / "status.toml").read_text("utf-8"))
    doc["cumulative"]["behind"] = -20.0
    with pytest.raises(ValueError, match="cumulative"):
        thresholds_from_dict(doc)
    doc["cumulative"]["behind"] = -5.0
    del doc["count"]
    with pytest.raises(ValueError, match="count"):
        thresholds_from_dict(doc)


def test_time_share_refuses_a_month_outside_the_year():
    assert time_share(12) == 1.0
    with pytest.raises(ValueError):
        time_share(13)
