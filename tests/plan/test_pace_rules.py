"""序时进度曲线: a seasonal curve cannot hide a lag, and a level without a baseline is not a false alarm."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest
import yaml

from kpi.catalogue import CatalogueError
from kpi.config import ROOT
from transforms.progress import (
    PACES_BY_KIND,
    Obs,
    Spec,
    judge,
    profile_shortfalls,
    quarter_floors,
    thresholds_from_dict,
)

STATUS = tomllib.loads((ROOT / "config" / "status.toml").read_text("utf-8"))
TH = thresholds_from_dict(STATUS)
OCTOBER = date(2023, 11, 15)
BATCH = (0.0, 0.05, 0.10, 0.15, 0.25, 0.35, 0.40, 0.50, 0.60, 0.70, 0.85, 1.0)


def spec(**kw) -> Spec:
    base = {"code": "x", "kind": "count", "comparator": ">=", "target": 3.0, "unit": "座"}
    base |= {"year": 2023, "deadline": date(2023, 12, 31)}
    return Spec(**(base | kw))


def test_the_floors_are_the_straight_line_minus_the_configured_trail():
    assert TH.max_trail_pp == 15
    assert quarter_floors(15) == pytest.approx((0.10, 0.35, 0.60, 1.0))
    assert quarter_floors(0) == pytest.approx((0.25, 0.50, 0.75, 1.0))


def test_a_curve_of_zero_until_december_falls_short_at_every_quarter():
    step = [0.0] * 11 + [1.0]
    assert [q for q, _, _ in profile_shortfalls(step, TH.quarter_floors)] == [1, 2, 3]
    assert profile_shortfalls(BATCH, TH.quarter_floors) == []


def test_one_of_three_key_buildings_in_october_is_behind_on_a_floored_curve():
    j = judge(
        spec(profile=BATCH, profile_basis="profile", pace="seasonal"), Obs(10, 1), OCTOBER, TH
    )
    assert j.time_progress == pytest.approx(70.0)
    assert j.status == "严重滞后"  # 33.3 % against 70 %: 36.7 points behind


def test_five_of_ten_research_platforms_in_october_get_a_warning():
    s = spec(target=10.0, unit="个", profile=BATCH, profile_basis="profile", pace="seasonal")
    assert judge(s, Obs(10, 5), OCTOBER, TH).status in ("滞后", "预警")


def test_a_level_without_a_baseline_on_the_path_rule_climbs_from_zero():
    s = spec(kind="level", target=100.0, unit="家", pace="path")
    j = judge(s, Obs(3, 32), date(2023, 4, 20), TH)
    assert j.status == "正常"  # 32 % against 25 %, not 严重滞后
    assert j.time_progress == pytest.approx(25.0)
    assert "从零起步" in j.detail_zh
    assert judge(s, Obs(9, 40), date(2023, 10, 20), TH).status == "严重滞后"  # 40 % against 75 %


def test_the_direct_rule_compares_a_rate_with_its_target_unscaled():
    s = spec(kind="level", target=90.0, unit="%", pace="direct", baseline=70.0)
    j = judge(s, Obs(3, 85.0), date(2023, 4, 20), TH)
    assert j.time_progress is None
    assert j.completion_rate == pytest.approx(85 / 90 * 100)


def test_a_monthly_plan_below_the_floor_is_refused():
    doc = STATUS | {"monthly_plans": {"p": {"x": [0] * 11 + [1]}}}
    with pytest.raises(ValueError, match="below the floor"):
        thresholds_from_dict(doc)


def test_the_trail_cannot_be_configured_beyond_a_quarter():
    with pytest.raises(ValueError, match="max_trail_pp"):
        thresholds_from_dict(STATUS | {"profile": {"max_trail_pp": 40}})


def test_a_catalogue_curve_below_the_floor_names_target_and_quarter(tiny_targets, make_catalogue):
    tiny_targets[6].update(profile=[0.0] * 11 + [1.0], pace="seasonal")
    with pytest.raises(CatalogueError) as info:
        make_catalogue(tiny_targets)
    msg = str(info.value)
    assert (
        "'hightech_firms' field 'profile': expects 0% by the end of Q1, below the floor of 10%"
        in msg
    )


@pytest.mark.parametrize(
    ("index", "pace"),
    [(1, "path"), (0, "linear"), (4, "direct"), (5, "seasonal"), (2, "dated")],
)
def test_a_pace_that_does_not_fit_the_kind_is_refused(tiny_targets, make_catalogue, index, pace):
    tiny_targets[index]["pace"] = pace
    with pytest.raises(CatalogueError, match="field 'pace'|field 'profile'"):
        make_catalogue(tiny_targets)


def test_a_plan_without_pace_keeps_its_old_rules(tiny_catalogue):
    paces = {t.code: t.pace for t in tiny_catalogue.targets}
    assert paces["investment_total"] == "linear"
    assert paces["market_entities"] == "direct"  # no baseline: as before the rule was named
    assert paces["finance_hall_open"] == "dated"
    assert all(t.pace in PACES_BY_KIND[t.kind] for t in tiny_catalogue.targets)


def test_hongqi_names_a_pace_for_every_target_and_every_curve_meets_the_floors(hongqi):
    doc = yaml.safe_load((ROOT / "catalogue" / "hongqi-2023.yaml").read_text("utf-8"))
    assert all("pace" in t for t in doc["targets"])
    for t in hongqi.targets:
        if t.profile:
            assert profile_shortfalls(t.profile, TH.quarter_floors) == [], t.code
    smart = hongqi.target("smart_island_tech_firms")
    assert smart.pace == "path" and smart.baseline is None
    assert hongqi.target("building_local_registration_rate").pace == "direct"
