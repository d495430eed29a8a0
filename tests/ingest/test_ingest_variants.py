"""Every format and way of writing that departments really send is read into the same numbers."""

from __future__ import annotations

import zipfile

import pytest
from ingest_helpers import (
    AS_OF,
    GOOD_VALUES,
    HEADER,
    good_rows,
    query,
    r,
    write_csv,
    write_html_xls,
    write_xls,
    write_xlsx,
)

from kpi.ingest import ingest_files

MESSY_HEADER = [
    " 填报 单位 ",  # spaces inside and around
    "报告期",
    "指标代码＊",  # full-width required marker
    "指标名称",
    "计量单位",
    "数值",
    "同比增长（％）",  # full-width brackets and percent
    "上年同期值",
    "参照值",
    "进展状态",
    "完成日期",
    "备注",
    "联系人",  # a column the template does not have
]
ENGLISH_HEADER = [
    "Department",
    "Period",
    "Code",
    "Name",
    "Unit",
    "Value",
    "Growth",
    "Prior_Value",
    "Reference",
    "Status",
    "Done_On",
    "Note",
]


def _variants():
    rows = good_rows()
    return {
        "xlsx_template": lambda p: write_xlsx(p / "发改委.xlsx", rows),
        "xlsx_title_blank_rows_extra_columns": lambda p: write_xlsx(
            p / "messy.xlsx",
            [[*row, "张三"] for row in rows[:3]] + [[None] * 13] + [[*row, ""] for row in rows[3:]],
            header=MESSY_HEADER,
            title="红旗区2023年1-6月目标任务完成情况",
            blank_rows=2,
        ),
        "xlsx_english_headers": lambda p: write_xlsx(p / "en.xlsx", rows, header=ENGLISH_HEADER),
        "xls_real_biff": lambda p: write_xls(p / "old.xls", rows, title="2023年1-6月"),
        "xls_html_gb2312": lambda p: write_html_xls(p / "export.xls", rows, title="2023年1-6月"),
        "xls_html_utf8": lambda p: write_html_xls(
            p / "export8.xls", rows, charset="utf-8", encoding="utf-8"
        ),
        "csv_utf8": lambda p: write_csv(p / "a.csv", rows),
        "csv_utf8_bom": lambda p: write_csv(p / "b.csv", rows, bom=True),
        "csv_gb18030": lambda p: write_csv(p / "c.csv", rows, encoding="gb18030"),
    }


@pytest.mark.parametrize("variant", list(_variants()))
def test_each_accepted_format_loads_every_row_in_canonical_units(
    cfg, tiny_catalogue, tmp_path, variant
):
    path = _variants()[variant](tmp_path / "in")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt
    assert receipt["accepted"] == 7 and receipt["rejected"] == []
    obs = {o["target_code"]: o for o in query(cfg, "select * from staged.observations")}
    assert set(obs) == set(GOOD_VALUES)
    for code, (value, unit) in GOOD_VALUES.items():
        assert obs[code]["period"] == "2023-06"
        assert obs[code]["value"] == pytest.approx(value) if value is not None else True
        assert obs[code]["unit"] == unit
    assert obs["gdp_growth"]["growth_pct"] == pytest.approx(8.6)
    assert obs["finance_hall_open"]["milestone_status"] == "done"
    assert str(obs["finance_hall_open"]["completion_date"]) == "2023-06-28"


def test_periods_in_every_written_form_load_as_the_same_month(cfg, tiny_catalogue, tmp_path):
    forms = [
        "2023-06",
        "202306",
        "2023年6月",
        "2023年1-6月",
        "1-6月",
        "２０２３年６月",
        "2023/6/30",
    ]
    rows = [[*row[:1], form, *row[2:]] for row, form in zip(good_rows(), forms, strict=True)]
    path = write_csv(tmp_path / "periods.csv", rows)
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt
    periods = query(cfg, "select distinct period, period_start_month from staged.observations")
    assert periods == [{"period": "2023-06", "period_start_month": 1}]


def test_months_without_a_year_take_it_from_the_title_row(cfg, tiny_catalogue, tmp_path):
    rows = [[*row[:1], "1-5月", *row[2:]] for row in good_rows()]
    path = write_xlsx(tmp_path / "t.xlsx", rows, title="红旗区2023年1-5月主要指标")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    assert query(cfg, "select distinct period from staged.observations") == [{"period": "2023-05"}]


def test_months_without_a_year_anywhere_take_the_plan_year(cfg, tiny_catalogue, tmp_path):
    rows = [[*row[:1], "1-2月", *row[2:]] for row in good_rows()]
    path = write_csv(tmp_path / "noyear.csv", rows)
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    assert query(cfg, "select distinct period from staged.observations") == [{"period": "2023-02"}]


def test_numbers_with_separators_full_width_digits_and_percent_load(cfg, tiny_catalogue, tmp_path):
    rows = [
        r("发改委", "2023-06", "investment_total", "万元", "1,205,000"),
        r("统计局", "2023-06", "gdp_growth", "%", growth="８.６%"),
        r("人社局", "2023-06", "urban_jobs", "人", "４,３００"),
        r("人社局", "2023-06", "unemployment_rate", None, "3.9%"),  # unit taken from the %
        r("科技局", "2023-06", "hightech_firms", "家", "１２"),
    ]
    [receipt] = ingest_files(
        cfg, tiny_catalogue, [write_csv(tmp_path / "n.csv", rows)], as_of=AS_OF
    )
    assert receipt["status"] == "accepted", receipt
    got = {
        o["target_code"]: (o["value"], o["growth_pct"])
        for o in query(cfg, "select * from staged.observations")
    }
    assert got == {
        "investment_total": (1205000.0, None),
        "gdp_growth": (None, 8.6),
        "urban_jobs": (4300.0, None),
        "unemployment_rate": (3.9, None),
        "hightech_firms": (12.0, None),
    }


def test_units_that_differ_from_the_catalogue_but_convert_are_converted(
    cfg, area_catalogue, tmp_path
):
    rows = [
        r("发改委", "2023-06", "investment_total", "元", "12,050,000,000"),
        r("人社局", "2023-06", "urban_jobs", "万人", 0.43),
        r("发改委", "2023-06", "demolition_area", "平方米", "450,000"),
        r("市场监管局", "2023-06", "market_entities", "户", 53000),
    ]
    [receipt] = ingest_files(
        cfg, area_catalogue, [write_xlsx(tmp_path / "u.xlsx", rows)], as_of=AS_OF
    )
    assert receipt["status"] == "accepted", receipt
    got = {
        o["target_code"]: (o["value"], o["unit"], o["value_raw"], o["unit_raw"])
        for o in query(cfg, "select * from staged.observations")
    }
    assert got["investment_total"][:2] == (pytest.approx(1205000.0), "万元")
    assert got["investment_total"][2:] == ("12,050,000,000", "元")  # as written, for lineage
    assert got["urban_jobs"][:2] == (pytest.approx(4300.0), "人")
    assert got["demolition_area"][:2] == (pytest.approx(450000.0), "平方米")  # canonical
    assert got["market_entities"][:2] == (pytest.approx(53000.0), "户")


def _with_cached_formula(path, cached: str):
    """Rewrite the first formula of a workbook to carry a cached result, as Excel saves it."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    assert "<f>1+1</f><v></v>" in sheet or "<f>1+1</f><v />" in sheet
    sheet = sheet.replace("<f>1+1</f><v></v>", f"<f>1+1</f><v>{cached}</v>")
    sheet = sheet.replace("<f>1+1</f><v />", f"<f>1+1</f><v>{cached}</v>")
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_a_formula_is_read_as_its_cached_value_and_never_evaluated(cfg, tiny_catalogue, tmp_path):
    rows = [r("科技局", "2023-06", "hightech_firms", "家", "=1+1")]
    path = write_xlsx(tmp_path / "f.xlsx", rows)
    _with_cached_formula(path, "9")  # evaluating =1+1 would give 2
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt
    assert query(cfg, "select value from staged.observations") == [{"value": 9.0}]


def test_a_formula_without_a_cached_value_is_an_empty_cell_not_a_computed_one(
    cfg, tiny_catalogue, tmp_path
):
    # Its row then holds nothing entered: a blank template row, and the file has no other.
    rows = [r("科技局", "2023-06", "hightech_firms", "家", "=1+1")]
    path = write_xlsx(tmp_path / "f.xlsx", rows)
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "rejected" and receipt["refusal"] == "has_data_rows"


def test_a_department_column_merged_down_applies_to_every_row_it_covers(
    cfg, tiny_catalogue, tmp_path
):
    rows = [
        r("发改委", "2023-06", "investment_total", "亿元", 120.5),
        r(None, "2023-06", "finance_hall_open", status="推进中"),
    ]
    path = write_xlsx(tmp_path / "merged.xlsx", rows)
    import openpyxl

    wb = openpyxl.load_workbook(path)
    wb.active.merge_cells("A2:A3")
    wb.save(path)
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt
    assert receipt["department"] == "fgw"


def test_header_is_found_below_a_title_in_a_csv_with_semicolons(cfg, tiny_catalogue, tmp_path):
    text = "报表标题;;\n" + ";".join(HEADER) + "\n"
    text += ";".join("" if v is None else str(v) for v in good_rows()[0]) + "\n"
    path = tmp_path / "semi.csv"
    path.write_text(text, encoding="utf-8")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt
    assert receipt["accepted"] == 1
