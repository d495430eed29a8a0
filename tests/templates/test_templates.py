"""Department submission templates: contract columns, due rows, drop-downs, instructions, CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click
import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from kpi.catalogue import load_catalogue
from kpi.contract import COLUMNS, KIND_HELP_ZH, STATUS_VOCAB, reporting_months
from kpi.templates import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    SHEET_FORM,
    SHEET_HELP,
    Period,
    TemplateError,
    parse_period,
    safe_text,
    template_bytes,
    template_cmd,
    write_template,
)

HEADERS = [c.header_zh for c in COLUMNS]


def expected_codes(cat, dept: str, month: int) -> list[str]:
    """The contract, restated: the department's targets whose kind and cadence report in month."""
    return [
        t.code
        for t in cat.targets
        if t.department == dept and month in reporting_months(t.kind, t.cadence)
    ]


def form_rows(path: Path) -> tuple[openpyxl.Workbook, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET_FORM]
    rows = [r for r in ws.iter_rows(min_row=FIRST_DATA_ROW, values_only=True) if any(r)]
    return wb, rows


def check_template(cat, dept, month: int, path: Path) -> None:
    wb, rows = form_rows(path)
    ws = wb[SHEET_FORM]
    assert [c.value for c in ws[HEADER_ROW]] == HEADERS
    assert [r[2] for r in rows] == expected_codes(cat, dept.code, month)
    by_code = {t.code: t for t in cat.targets}
    for r in rows:
        t = by_code[r[2]]
        assert r[:5] == (dept.short_zh, f"2023-{month:02d}", t.code, t.name_zh, t.unit)
        assert all(v is None for v in r[5:]), "only the pre-filled columns carry text"
    title = ws.cell(1, 1).value
    assert (
        title
        == f"{cat.plan.district_zh}2023年目标任务进展填报表（{dept.short_zh} · 2023年{month}月）"
    )
    assert f"A1:{openpyxl.utils.get_column_letter(len(COLUMNS))}1" in {
        str(r) for r in ws.merged_cells.ranges
    }
    assert ws.freeze_panes == f"A{FIRST_DATA_ROW}"


@pytest.mark.parametrize("month", [5, 6])  # May: monthly targets only; June: quarterly too
def test_every_tiny_department_template_opens_with_the_rows_due(tiny_catalogue, tmp_path, month):
    written = 0
    for dept in tiny_catalogue.departments:
        if not expected_codes(tiny_catalogue, dept.code, month):
            with pytest.raises(TemplateError, match="没有需要报送"):
                write_template(tiny_catalogue, dept.code, f"2023-{month:02d}", tmp_path / "x.xlsx")
            continue
        path = write_template(
            tiny_catalogue, dept.short_zh, f"2023-{month:02d}", tmp_path / f"{dept.code}.xlsx"
        )
        check_template(tiny_catalogue, dept, month, path)
        written += 1
    assert written >= 4


def test_quarterly_target_appears_only_in_quarter_months(tiny_catalogue, tmp_path):
    with pytest.raises(TemplateError):  # 统计局 has only the quarterly GDP growth
        write_template(tiny_catalogue, "tjj", "2023-05", tmp_path / "may.xlsx")
    june = write_template(tiny_catalogue, "tjj", "2023-06", tmp_path / "june.xlsx")
    assert [r[2] for r in form_rows(june)[1]] == ["gdp_growth"]


def test_january_leaves_out_cumulative_and_growth_targets_reported_with_february(
    tiny_catalogue, tmp_path
):
    jan = form_rows(write_template(tiny_catalogue, "fgw", "2023-01", tmp_path / "j.xlsx"))[1]
    feb_path = write_template(tiny_catalogue, "fgw", "2023-02", tmp_path / "f.xlsx")
    feb = form_rows(feb_path)[1]
    assert [r[2] for r in jan] == ["finance_hall_open"]
    assert [r[2] for r in feb] == ["investment_total", "finance_hall_open"]
    help_text = "\n".join(
        str(c.value)
        for row in openpyxl.load_workbook(feb_path)[SHEET_HELP].iter_rows()
        for c in row
    )
    assert "1-2月合并报送" in help_text


def test_every_real_department_template_opens_for_a_monthly_and_a_quarterly_month(hongqi, tmp_path):
    for month in (5, 6):
        for dept in hongqi.departments:
            if not expected_codes(hongqi, dept.code, month):
                continue
            path = tmp_path / f"{dept.code}-{month}.xlsx"
            path.write_bytes(template_bytes(hongqi, dept, Period(2023, month)))
            check_template(hongqi, dept, month, path)


def test_status_column_has_a_drop_down_of_the_vocabulary(tiny_catalogue, tmp_path):
    path = write_template(tiny_catalogue, "fgw", "2023-06", tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)[SHEET_FORM]
    col = openpyxl.utils.get_column_letter([c.field for c in COLUMNS].index("status") + 1)
    (dv,) = ws.data_validations.dataValidation
    assert dv.type == "list"
    assert dv.formula1 == '"' + ",".join(STATUS_VOCAB) + '"'
    assert str(dv.sqref) == f"{col}{FIRST_DATA_ROW}:{col}{FIRST_DATA_ROW + 1}"


def test_instructions_explain_each_kind_present_and_the_due_date(tiny_catalogue, tmp_path):
    path = write_template(tiny_catalogue, "rsj", "2023-06", tmp_path / "t.xlsx")
    cells = [c.value for row in openpyxl.load_workbook(path)[SHEET_HELP].iter_rows() for c in row]
    text = "\n".join(str(c) for c in cells if c is not None)
    assert KIND_HELP_ZH["count"] in text and KIND_HELP_ZH["ceiling"] in text
    assert KIND_HELP_ZH["milestone"] not in text, "a kind the department does not report"
    assert "2023年7月10日前报送" in text
    for rule in ("必须能够换算", "每个指标一行", "请勿修改"):
        assert rule in text


def test_csv_template_is_utf8_with_bom_header_and_rows(tiny_catalogue, tmp_path):
    path = write_template(tiny_catalogue, "rsj", "2023-06", tmp_path / "t.csv", fmt="csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert [r[2] for r in rows[1:]] == ["urban_jobs", "unemployment_rate"]
    assert rows[1][:5] == ["人社局", "2023-06", "urban_jobs", "新增城镇就业", "人"]


def test_catalogue_text_that_looks_like_a_formula_stays_text(tiny_catalogue, tmp_path):
    path = tmp_path / "catalogue" / f"{tiny_catalogue.plan.code}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    (jobs,) = [t for t in doc["targets"] if t["code"] == "urban_jobs"]
    jobs["name_zh"] = "=HYPERLINK(1)"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cat = load_catalogue(path)
    xlsx = write_template(cat, "rsj", "2023-06", tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(xlsx)[SHEET_FORM]
    cell = ws.cell(FIRST_DATA_ROW, 4)
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s"
    raw = write_template(cat, "rsj", "2023-06", tmp_path / "t.csv", fmt="csv")
    csv_rows = list(csv.reader(io.StringIO(raw.read_text(encoding="utf-8-sig"))))
    assert csv_rows[1][3] == "'=HYPERLINK(1)"
    assert safe_text("@x") == "'@x" and safe_text("-1") == "'-1" and safe_text("发改委") == "发改委"


def test_same_template_gives_the_same_bytes(tiny_catalogue):
    dept = tiny_catalogue.department("fgw")
    assert template_bytes(tiny_catalogue, dept, Period(2023, 6)) == template_bytes(
        tiny_catalogue, dept, Period(2023, 6)
    )


@pytest.mark.parametrize(
    ("department", "period", "message"),
    [
        ("规划局", "2023-06", "未知单位"),
        ("fgw", "2024-06", "不在计划年度"),
        ("fgw", "2023-13", "无法识别"),
        ("fgw", "六月", "无法识别"),
        ("dcj", "2023-06", "没有需要报送"),
    ],
)
def test_bad_requests_are_refused_with_a_chinese_reason(
    tiny_catalogue, tmp_path, department, period, message
):
    with pytest.raises(TemplateError, match=message):
        write_template(tiny_catalogue, department, period, tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()


def test_periods_are_read_in_the_usual_spellings():
    for text in ("2023-06", "202306", "2023/6", "2023年6月", "２０２３-０６"):
        assert parse_period(text) == Period(2023, 6)


def test_unknown_format_is_refused(tiny_catalogue, tmp_path):
    with pytest.raises(TemplateError, match="不支持的格式"):
        write_template(tiny_catalogue, "fgw", "2023-06", tmp_path / "t.ods", fmt="ods")


def test_template_command_writes_the_file_and_is_registered(hongqi, tmp_path):
    out = tmp_path / "发改委.xlsx"
    result = CliRunner().invoke(
        template_cmd,
        ["--department", "发改委", "--period", "2023-06", "-o", str(out)],
        obj={"plan": "hongqi-2023"},
    )
    assert result.exit_code == 0, result.output
    assert "已生成" in result.output
    check_template(hongqi, hongqi.department("fgw"), 6, out)
    bad = CliRunner().invoke(
        template_cmd, ["-d", "nobody", "-p", "2023-06"], obj={"plan": "hongqi-2023"}
    )
    assert bad.exit_code != 0 and "未知单位" in bad.output

    from kpi.cli.catalogue import register

    group = click.Group()
    register(group)
    assert "template" in group.commands


# ---------------------------------------------------------------- where and in which format


def invoke_template(args, home):
    return CliRunner().invoke(
        template_cmd, args, obj={"plan": "hongqi-2023"}, env={"KPI_HOME": str(home)}
    )


@pytest.fixture
def home(tmp_path, monkeypatch):
    from kpi.config import settings

    monkeypatch.setenv("KPI_HOME", str(tmp_path / "home"))
    settings.cache_clear()
    yield tmp_path / "home"
    settings.cache_clear()


def test_without_output_the_template_goes_to_the_homes_templates_folder(
    home, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = invoke_template(["-d", "区发改委", "-p", "2023-06"], home)
    assert result.exit_code == 0, result.output
    written = home / "templates" / "发改委_2023年6月.xlsx"
    assert written.is_file() and str(written) in result.output
    assert openpyxl.load_workbook(written)[SHEET_FORM]  # a real workbook
    assert list(tmp_path.glob("*.xlsx")) == []  # never the current folder


@pytest.mark.parametrize(
    ("output", "fmt", "written", "kind"),
    [
        ("t.csv", None, "t.csv", "csv"),
        ("t.xlsx", None, "t.xlsx", "xlsx"),
        ("t.XLSX", None, "t.XLSX", "xlsx"),
        ("t", "csv", "t.csv", "csv"),
        ("t", None, "t.xlsx", "xlsx"),
        ("t.csv", "csv", "t.csv", "csv"),
    ],
)
def test_the_format_follows_the_output_extension(home, tmp_path, output, fmt, written, kind):
    args = ["-d", "发改委", "-p", "2023-06", "-o", str(tmp_path / output)]
    result = invoke_template(args + (["--format", fmt] if fmt else []), home)
    assert result.exit_code == 0, result.output
    data = (tmp_path / written).read_bytes()
    assert data.startswith(b"PK") == (kind == "xlsx")  # a zip, or CSV text
    if kind == "csv":
        assert data.decode("utf-8-sig").startswith("填报单位,")


def test_an_output_folder_gets_the_usual_name_inside_it(home, tmp_path):
    result = invoke_template(["-d", "发改委", "-p", "2023-06", "-o", str(tmp_path)], home)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "发改委_2023年6月.xlsx").is_file()


@pytest.mark.parametrize(
    ("output", "fmt", "message"),
    [
        ("t.xlsx", "csv", "格式 csv 与输出文件“t.xlsx”的扩展名 .xlsx 不一致"),
        ("t.csv", "xlsx", "不一致"),
        ("t.xls", None, "扩展名应为 .xlsx 或 .csv"),
        ("missing/t.xlsx", None, "输出目录不存在"),
    ],
)
def test_an_output_that_contradicts_itself_is_refused_and_nothing_written(
    home, tmp_path, output, fmt, message
):
    args = ["-d", "发改委", "-p", "2023-06", "-o", str(tmp_path / output)]
    result = invoke_template(args + (["--format", fmt] if fmt else []), home)
    assert result.exit_code != 0 and message in result.output
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_write_template_refuses_a_csv_under_an_xlsx_name(tiny_catalogue, tmp_path):
    with pytest.raises(TemplateError, match="不一致"):
        write_template(tiny_catalogue, "fgw", "2023-06", tmp_path / "t.xlsx", fmt="csv")
    assert not (tmp_path / "t.xlsx").exists()


def test_an_unknown_department_names_the_closest_and_the_valid_ones(tiny_catalogue, tmp_path):
    with pytest.raises(TemplateError) as info:
        write_template(tiny_catalogue, "发改局x", "2023-06", tmp_path / "t.xlsx")
    assert "发改委（区发展和改革委员会）" in str(info.value)
    assert "已登记单位：发改委、统计局、人社局" in str(info.value)
