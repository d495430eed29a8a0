"""How the generator reasons about the status each target should have at the as-of date."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from kpi.catalogue import load_catalogue
from kpi.config import ROOT


@pytest.fixture(scope="module")
def thr():
    return tomllib.loads((ROOT / "config" / "status.toml").read_text(encoding="utf-8"))


def row(code, period, arrival, value=None, growth=None, status=None, done=None, path="f.xlsx"):
    return {
        "code": code,
        "period": period,
        "arrival": arrival,
        "path": path,
        "value": value,
        "growth_pct": growth,
        "reference_value": None,
        "status": status,
        "completion_date": done,
    }


def test_cumulative_ahead_of_time_progress_is_normal(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("investment_total")  # 227.4 亿元, monthly, no profile
    rows = [row(t.code, "2023-05", "2023-06-08", value=102.8 * 1e4)]
    v = gen.judge(t, rows, 2023, date(2023, 6, 9), thr)
    assert v["status"] == ["正常"] and v["data_status"] == ["正常"]
    assert "45.2%" in v["reasoning"] and "41.7%" in v["reasoning"] and "+3.5" in v["reasoning"]


def test_cumulative_gap_in_the_middle_of_a_band_gets_that_band_only(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("investment_total")
    rows = [row(t.code, "2023-06", "2023-07-08", value=227.4e4 * 0.40)]  # gap -10 pp
    assert gen.judge(t, rows, 2023, date(2023, 7, 15), thr)["status"] == ["滞后"]
    near = [row(t.code, "2023-06", "2023-07-08", value=227.4e4 * 0.455)]  # gap -4.5 pp
    assert gen.judge(t, near, 2023, date(2023, 7, 15), thr)["status"] == ["预警", "滞后"]


def test_rows_arriving_after_the_as_of_date_are_not_seen(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("investment_total")
    rows = [
        row(t.code, "2023-05", "2023-06-08", value=102.8e4),
        row(t.code, "2023-06", "2023-07-20", value=10e4),
    ]
    v = gen.judge(t, rows, 2023, date(2023, 7, 15), thr)
    assert v["latest_period"] == "2023-05" and v["data_status"] == ["缺报"]


def test_a_later_file_for_the_same_period_is_the_one_judged(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("investment_total")
    rows = [
        row(t.code, "2023-06", "2023-07-08", value=227.4e4 * 0.55, path="a.xlsx"),
        row(t.code, "2023-06", "2023-07-12", value=227.4e4 * 0.30, path="b.xlsx"),
    ]
    assert gen.judge(t, rows, 2023, date(2023, 7, 15), thr)["status"] == ["严重滞后"]


def test_missing_report_is_a_data_status_and_refused_rows_are_data_errors(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("urban_jobs")
    april = [row(t.code, "2023-04", "2023-05-08", value=3000)]
    v = gen.judge(t, april, 2023, date(2023, 7, 15), thr)
    assert v["data_status"] == ["缺报"] and v["latest_period"] == "2023-04"
    refused = [{"period": "2023-06", "arrival": "2023-07-05"}]
    w = gen.judge(t, april, 2023, date(2023, 7, 15), thr, refused)
    assert w["data_status"] == ["数据异常"]
    nothing = gen.judge(t, [], 2023, date(2023, 2, 1), thr)
    assert nothing["status"] == ["无数据"] and nothing["data_status"] == ["未到期"]


def test_report_due_today_is_not_yet_missing(gen, tiny_catalogue, thr):
    t = tiny_catalogue.target("urban_jobs")  # due day 10
    may = [row(t.code, "2023-05", "2023-06-08", value=3600)]
    assert gen.judge(t, may, 2023, date(2023, 7, 10), thr)["data_status"] == ["正常"]
    assert gen.judge(t, may, 2023, date(2023, 7, 11), thr)["data_status"] == ["缺报"]


def test_growth_ceiling_and_milestone_verdicts(gen, tiny_catalogue, thr):
    gdp = tiny_catalogue.target("gdp_growth")
    v = gen.judge(
        gdp, [row(gdp.code, "2023-06", "2023-07-18", growth=5.0)], 2023, date(2023, 7, 25), thr
    )
    assert v["status"] == ["滞后"]  # -3.5 points: between -2 and -5
    cap = tiny_catalogue.target("unemployment_rate")
    at = gen.judge(
        cap, [row(cap.code, "2023-06", "2023-07-08", value=4.5)], 2023, date(2023, 7, 15), thr
    )
    over = gen.judge(
        cap, [row(cap.code, "2023-06", "2023-07-08", value=4.6)], 2023, date(2023, 7, 15), thr
    )
    assert at["status"] == ["正常"] and over["status"] == ["滞后", "严重滞后"]
    hall = tiny_catalogue.target("finance_hall_open")  # deadline 2023-06-30
    going = [row(hall.code, "2023-05", "2023-06-05", status="in_progress")]
    assert gen.judge(hall, going, 2023, date(2023, 6, 8), thr)["status"] == ["预警"]
    assert gen.judge(hall, going, 2023, date(2023, 7, 2), thr)["status"] == ["滞后", "严重滞后"]
    done = going + [row(hall.code, "2023-06", "2023-07-05", status="done", done="2023-06-20")]
    assert gen.judge(hall, done, 2023, date(2023, 7, 15), thr)["status"] == ["已完成"]


def test_check_story_refuses_data_that_misses_its_design(gen, tiny_catalogue):
    t = tiny_catalogue.target("investment_total")
    lagging = gen.Story("lagging_from", month=4, severity="滞后")
    ok = {"status": ["滞后"], "data_status": ["正常"]}
    gen.check_story(t, lagging, ok, None)
    with pytest.raises(gen.DesignError, match="investment_total"):
        gen.check_story(t, lagging, {"status": ["正常"], "data_status": ["正常"]}, None)
    with pytest.raises(gen.DesignError):
        gen.check_story(
            t, gen.Story("on_pace"), {"status": ["滞后"], "data_status": ["正常"]}, None
        )


def test_designed_stories_fail_loudly_on_a_catalogue_without_their_codes(
    gen, tiny_catalogue, tmp_path
):
    with pytest.raises(gen.DesignError, match="project_investment"):
        gen.assign_stories(tiny_catalogue)
    path = tmp_path / "catalogue" / f"{tiny_catalogue.plan.code}.yaml"
    with pytest.raises(gen.DesignError):
        gen.generate(tmp_path / "out", catalogue=path)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_the_seed_decides_the_trajectories(gen, thr):
    cat = load_catalogue(ROOT / "catalogue" / "hongqi-2023.yaml")
    t = next(t for t in cat.targets if t.kind == "growth_rate")
    story = gen.Story("on_pace")
    same = gen.trajectory(t, story, 6, 1, thr), gen.trajectory(t, story, 6, 1, thr)
    assert same[0] == same[1]
    assert gen.trajectory(t, story, 6, 2, thr) != same[0]
