"""The catalogue loader refuses each kind of schema error with a message naming entry and field."""

from __future__ import annotations

import pytest

from kpi.catalogue import CatalogueError, squash


@pytest.fixture
def _load_with(tiny_targets, make_catalogue):
    def load(mutate):
        mutate(tiny_targets)
        return make_catalogue(tiny_targets)

    return load


@pytest.fixture
def _problems(_load_with):
    def problems(mutate) -> str:
        with pytest.raises(CatalogueError) as info:
            _load_with(mutate)
        return str(info.value)

    return problems


def test_the_tiny_catalogue_is_valid(_problems, _load_with):
    cat = _load_with(lambda t: None)
    assert [t.code for t in cat.targets][:2] == ["gdp_growth", "investment_total"]


def test_an_unknown_kind_names_the_entry_and_field(_problems, _load_with):
    msg = _problems(lambda t: t[1].update(kind="wish"))
    assert "'investment_total'" in msg and "'kind'" in msg and "unknown kind 'wish'" in msg


def test_a_numeric_kind_without_a_value_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[2].update(value=None))
    assert "target 'urban_jobs' field 'value'" in msg and "needs a numeric value" in msg


def test_a_deadline_outside_the_plan_window_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[4].update(deadline="2024-06-30"))
    assert "target 'finance_hall_open' field 'deadline'" in msg and "outside the plan window" in msg


def test_a_duplicate_code_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[3].update(code="urban_jobs"))
    assert "target 'urban_jobs' field 'code': duplicate code" in msg


def test_a_department_not_in_the_register_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[0].update(department="nobody"))
    assert "target 'gdp_growth' field 'department': 'nobody' is not in the register" in msg


def test_a_supporting_department_not_in_the_register_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[0].update(supporting=["fgw", "ghost"]))
    assert "field 'supporting': 'ghost' is not in the register" in msg


def test_a_source_sentence_not_in_the_report_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[1].update(source="完成投资 300亿元"))
    assert "target 'investment_total' field 'source': sentence not found" in msg


def test_an_unknown_unit_is_refused(_problems, _load_with):
    msg = _problems(lambda t: t[1].update(unit="吨标煤"))
    assert "field 'unit': unknown unit" in msg


def test_every_problem_is_reported_at_once(_problems, _load_with):
    def break_two(t):
        t[0]["department"] = "nobody"
        t[1]["value"] = None

    err = pytest.raises(CatalogueError, _load_with, break_two).value
    assert len(err.problems) == 2


def test_source_matching_ignores_line_breaks_and_page_footers():
    text = "重点推\n\n— 12—\n\n 动 58 前行科创园"
    assert squash("重点推动 58 前行科创园") in squash(text)
