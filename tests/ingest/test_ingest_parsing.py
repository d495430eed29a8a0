"""Pure parsing of periods and numbers as departments write them."""

from datetime import date, datetime

import pytest

from transforms.numbers import Number, NumberError, parse_number
from transforms.periods import Period, PeriodError, context_year, parse_period, with_year


@pytest.mark.parametrize(
    "text",
    [
        "2023-06",
        "202306",
        "2023年6月",
        "2023年1-6月",
        "２０２３年６月",
        "2023/6/30",
        "2023年6月份",
        202306.0,
    ],
)
def test_every_written_form_of_june_2023_parses_to_the_same_period(text):
    assert parse_period(text) == Period(2023, 6, 1)


def test_a_date_cell_is_the_month_it_falls_in():
    assert parse_period(datetime(2023, 6, 30)) == Period(2023, 6, 1)
    assert parse_period(date(2023, 3, 1)).key == "2023-03"


def test_months_without_a_year_take_the_year_from_context():
    p = parse_period("1-6月")
    assert p.year is None and p.month == 6
    assert with_year(p, 2023).key == "2023-06"
    assert parse_period("1-2月").month == 2


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("abc", "无法识别为报告期"),
        ("2023-13", "月份不在1-12之间"),
        ("3-6月", "不是年初至今累计"),
        ("2023年1-6", "无法识别"),
        ("2023.06", "无法识别"),  # a float cell 2023.10 would read as January: never guessed
        ("", "为空"),
    ],
)
def test_a_period_that_is_not_one_is_refused_with_a_reason(text, detail):
    with pytest.raises(PeriodError) as exc:
        parse_period(text)
    assert detail in exc.value.detail


def test_context_year_prefers_the_files_other_rows_then_its_title_then_the_plan():
    assert context_year([2023, 2023, 2022], ["2021年报表"], 2024) == 2023
    assert context_year([], ["红旗区2023年1-6月主要指标"], 2024) == 2023
    assert context_year([], ["主要指标"], 2024) == 2024


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,205,000", Number(1205000.0)),
        ("１２", Number(12.0)),
        ("8.6%", Number(8.6, percent=True)),
        ("８.６％", Number(8.6, percent=True)),
        ("１２３４．５", Number(1234.5)),
        ("－３", Number(-3.0)),
        ("１，２３４", Number(1234.0)),
        ("12 %", Number(12.0, percent=True)),
        ("- 5", Number(-5.0)),
        (" 3.9 ", Number(3.9)),
        ("−2.5", Number(-2.5)),
        (4300.0, Number(4300.0)),
        (7, Number(7.0)),
    ],
)
def test_numbers_with_separators_full_width_digits_and_percent_parse(cell, expected):
    assert parse_number(cell) == expected


@pytest.mark.parametrize("cell", [None, "", "—", "-", "/", float("nan")])
def test_an_empty_cell_or_dash_is_no_number(cell):
    assert parse_number(cell) is None


@pytest.mark.parametrize("cell", ["abc", "十二", "1,2", "12,34.5", "8..6", "1.2.3", True, "inf"])
def test_text_that_is_not_a_number_is_refused(cell):
    with pytest.raises(NumberError):
        parse_number(cell)


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("١٢٣", "0-9以外的数字"),  # Arabic-Indic: float() would read 123
        ("۱۲۳", "0-9以外的数字"),  # Extended Arabic-Indic (Persian)
        ("१२३", "0-9以外的数字"),  # Devanagari
        ("①②", "0-9以外的数字"),
        ("10²", "0-9以外的数字"),
        ("1 234", "中间有空格"),
        ("1\u00a0234", "中间有空格"),  # no-break space, as some exports group thousands
        ("1\u3000234", "中间有空格"),  # ideographic space
        ("12 345.6", "中间有空格"),
    ],
)
def test_digits_of_other_scripts_and_space_grouped_numbers_are_refused_with_a_reason(cell, words):
    with pytest.raises(NumberError) as err:
        parse_number(cell)
    assert words in err.value.detail


def test_every_rule_of_the_suite_has_a_severity_and_builds_into_a_gx_suite():
    from kpi.contract import COLUMNS
    from kpi.ingest.validate import build_suite, load_rules

    rules = load_rules()
    assert {r.severity for r in rules} == {"critical", "warning"}
    params = {
        "required_columns": [c.field for c in COLUMNS if c.required],
        "target_codes": ["a"],
        "status_values": ["已完成"],
        "plan_year": 2023,
        "as_of_index": 2023 * 12 + 6,
        "growth_min": -50.0,
        "growth_max": 100.0,
    }
    suite = build_suite(rules, params)
    assert [e.meta["id"] for e in suite.expectations] == [r.id for r in rules]
    assert [e.meta["severity"] for e in suite.expectations] == [r.severity for r in rules]


def test_a_suite_rule_without_a_known_severity_is_refused(tmp_path):
    from kpi.ingest.validate import load_rules

    (tmp_path / "bad.yaml").write_text(
        "expectations:\n  - {id: x, severity: fatal, expect: expect_column_to_exist,"
        " kwargs: {column: a}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="severity"):
        load_rules("bad", tmp_path)
