"""The leadership workbook read back with openpyxl: layout, print setup, formats, no injection."""

from __future__ import annotations

import re

import pytest
from openpyxl import Workbook, load_workbook
from report_seed import (
    EVIL_DEPT_FILE,
    EVIL_NAME,
    EVIL_NOTE,
    EVIL_SHEET,
    EVIL_VALUE,
    PROGRESS,
)

from kpi.reports import write_reports
from kpi.reports.workbook import (
    DATA_FILLS,
    FORMULA_LEAD,
    LINE_HEIGHT,
    display_width,
    number_format,
    put,
    safe_text,
    sheet_title,
)

# departments in register order: 发改委, 统计局, 人社局, 科技局, 市场监管局
DEPARTMENT_SHEETS = ["发改委", "统计局", "人社局", "科技局", "市场监管局"]
TABLE_SHEETS = ["需关注", "全部指标", *DEPARTMENT_SHEETS, "数据报送", "拒收明细"]
NAMES = {
    "gdp_growth": "地区生产总值增长",
    "investment_total": "完成投资",
    "urban_jobs": "新增城镇就业",
    "unemployment_rate": "失业率",
    "finance_hall_open": "金融会客厅投入使用",
    "market_entities": "市场主体",
    "hightech_firms": EVIL_NAME,
}


@pytest.fixture
def workbook(written):
    """The module's workbook, loaded for this test alone (openpyxl's reads can add cells)."""
    return load_workbook(written[1]["workbook"])


def header_row(ws, first: str) -> int:
    return next(r for r in range(1, 10) if ws.cell(row=r, column=1).value == first)


def table(ws, first: str) -> tuple[int, list[str], list[dict]]:
    head = header_row(ws, first)
    titles = [c.value for c in ws[head]]
    rows = []
    for r in range(head + 1, ws.max_row + 1):
        if ws.cell(row=r, column=1).value is None:
            break
        rows.append({t: ws.cell(row=r, column=i + 1) for i, t in enumerate(titles)})
    return head, titles, rows


def test_the_workbook_has_a_summary_attention_all_targets_then_a_sheet_per_department(workbook):
    assert workbook.sheetnames == ["汇总", *TABLE_SHEETS]


def test_the_name_comes_first_in_chinese_and_is_frozen_with_the_header(workbook):
    for name in ["全部指标", *DEPARTMENT_SHEETS]:
        ws = workbook[name]
        head, titles, rows = table(ws, "指标")
        assert titles[0] == "指标" and titles[-1] == "指标代码", name
        assert ws.freeze_panes == f"B{head + 1}", name
        for row in rows:
            assert NAMES[row["指标代码"].value] in row["指标"].value


def test_rows_go_by_department_then_worst_first(workbook):
    _, _, rows = table(workbook["全部指标"], "指标")
    departments = [r["牵头单位"].value for r in rows]
    order = ["严重滞后", "滞后", "预警", "无数据", "正常", "已完成"]

    assert list(dict.fromkeys(departments)) == DEPARTMENT_SHEETS
    for dept in DEPARTMENT_SHEETS:
        statuses = [r["状态"].value for r in rows if r["牵头单位"].value == dept]
        assert statuses == sorted(statuses, key=order.index), dept
    # 发改委: the overdue milestone before the investment on pace
    assert [r["指标代码"].value for r in rows if r["牵头单位"].value == "发改委"] == [
        "finance_hall_open",
        "investment_total",
    ]


def test_each_department_sheet_lists_its_targets_with_their_status(workbook):
    found = {}
    for name in DEPARTMENT_SHEETS:
        _, _, rows = table(workbook[name], "指标")
        for row in rows:
            found[row["指标代码"].value] = row["状态"].value
            assert row["状态"].fill.fgColor.rgb not in (None, "00000000")

    assert found == {code: row[8] for code, row in PROGRESS.items()}


def test_missing_data_is_coloured_and_notes_wrap(workbook):
    _, _, rows = table(workbook["全部指标"], "指标")
    by_code = {r["指标代码"].value: r for r in rows}

    missing = by_code["market_entities"]["数据状态"]
    assert missing.value == "缺报"
    assert missing.fill.fgColor.rgb.endswith(DATA_FILLS["缺报"][0])
    assert by_code["hightech_firms"]["数据状态"].fill.fgColor.rgb.endswith(
        DATA_FILLS["数据异常"][0]
    )
    assert by_code["investment_total"]["数据状态"].fill.fgColor.rgb in (None, "00000000")
    for row in rows:
        assert row["说明"].alignment.wrap_text
        assert row["指标"].alignment.wrap_text
    # rows are as tall as their wrapped text (LibreOffice keeps a row one line tall otherwise)
    ws = workbook["全部指标"]
    long_note = by_code["finance_hall_open"]["单位备注"]
    assert ws.row_dimensions[long_note.row].height >= 2 * LINE_HEIGHT
    assert ws.row_dimensions[by_code["investment_total"]["指标"].row].height is None


def test_every_sheet_prints_landscape_one_page_wide_with_its_titles_repeated(workbook):
    for ws in workbook:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        rows = re.fullmatch(r"\$1:\$(\d+)", ws.print_title_rows or "")
        assert rows, (ws.title, ws.print_title_rows)
        # the repeated rows end with the table's header
        assert ws.freeze_panes.endswith(str(int(rows.group(1)) + 1)), ws.title
    # the code columns are left off paper
    head, titles, _ = table(workbook["全部指标"], "指标")
    last = chr(ord("A") + titles.index("指标代码") - 1)
    assert workbook["全部指标"].print_area.startswith(f"'全部指标'!$A$1:${last}$")


def test_widths_fit_the_text_counting_chinese_characters_double(workbook):
    ws = workbook["汇总"]
    head = header_row(ws, "牵头单位")
    longest = max(
        display_width(str(ws.cell(row=r, column=1).value or ""))
        for r in range(head, ws.max_row + 1)
        if ws.cell(row=r, column=1).value
        and not str(ws.cell(row=r, column=1).value).startswith("谁")
    )
    assert ws.column_dimensions["A"].width >= min(longest, 40)
    ws = workbook["数据报送"]
    _, titles, rows = table(ws, "文件")
    col = chr(ord("A") + titles.index("单位"))
    assert ws.column_dimensions[col].width >= display_width("市场监管局")
    assert display_width("发改委a") == 7


def test_no_number_format_can_show_a_trailing_point(workbook):
    for ws in workbook:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, int | float):
                    assert ".#" not in c.number_format and not c.number_format.endswith("."), (
                        ws.title,
                        c.coordinate,
                        c.number_format,
                    )


def test_number_formats_follow_each_values_decimals():
    assert number_format(90.0) == "#,##0"
    assert number_format(227.4) == "#,##0.0"
    assert number_format(0.5999999999999996) == "#,##0.0"
    assert number_format(81.86) == "#,##0.00"
    assert number_format(1.23456) == "#,##0.00"
    assert number_format(None) == "General"


def test_figures_are_numbers_in_the_unit_the_report_wrote(workbook):
    _, _, rows = table(workbook["发改委"], "指标")
    row = next(r for r in rows if r["指标代码"].value == "investment_total")

    assert row["单位"].value == "亿元"
    assert row["目标值"].value == pytest.approx(227.4)
    assert row["目标值"].number_format == "#,##0.0"
    assert row["实际值"].value == pytest.approx(125.0)
    assert row["实际值"].number_format == "#,##0"
    assert row["完成率(%)"].value == pytest.approx(54.97)
    assert row["完成率(%)"].number_format == "0.0"
    assert row["差距(百分点)"].value == pytest.approx(4.97)
    assert row["差距"].value == "超序时进度 5 个百分点"


def test_a_ceiling_has_no_completion_rate_and_says_its_breach(workbook):
    _, _, rows = table(workbook["人社局"], "指标")
    row = next(r for r in rows if r["指标代码"].value == "unemployment_rate")

    assert row["完成率(%)"].value is None
    assert row["差距"].value == "超出上限 0.2 个百分点"


def test_the_attention_sheet_lists_who_is_behind_and_the_missing_data_apart(workbook):
    ws = workbook["需关注"]
    _, _, rows = table(ws, "指标")
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]

    assert [r["状态"].value for r in rows] == ["严重滞后", "严重滞后", "滞后", "预警"]
    assert rows[0]["牵头单位"].value == "发改委"
    assert "缺报" in texts and "数据异常" in texts


def test_the_submission_sheet_marks_the_nights_files_and_gives_reasons(workbook):
    _, _, rows = table(workbook["数据报送"], "文件")
    by_file = {r["文件"].value: r for r in rows}

    assert by_file["人社局 补报.xlsx"]["本次夜间运行"].value == "是"
    assert by_file["发改委 2023年6月.xlsx"]["本次夜间运行"].value is None
    assert by_file["人社局6月.csv"]["原因"].value.startswith("拒收 1 行：第5行")
    assert by_file["人社局6月.csv"]["结果"].value == "部分接收"


def test_no_text_cell_starts_with_a_formula_character(workbook):
    texts = [
        (ws.title, c.coordinate, c.value, c.data_type)
        for ws in workbook
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]

    assert [t for t in texts if t[2].startswith(("=", "+", "-", "@"))] == []
    assert all(t[3] == "s" for t in texts)
    values = {t[2] for t in texts}
    # the hostile texts are there, as inert text
    for hostile in (EVIL_NOTE, EVIL_NAME, EVIL_VALUE, EVIL_SHEET, EVIL_DEPT_FILE, "@cmd"):
        assert "'" + hostile in values, hostile


def test_safe_text_quotes_formula_leads_and_leaves_other_text_alone():
    for lead in FORMULA_LEAD:
        assert safe_text(lead + "1") == "'" + lead + "1"
    assert safe_text("正常") == "正常"
    assert safe_text("2023-06") == "2023-06"
    assert safe_text("a\x01b") == "ab"  # control characters would corrupt the file


def test_put_writes_numbers_as_numbers_and_text_as_inert_strings():
    ws = Workbook().active
    number = put(ws, 1, 1, -3.5, "0.0")
    text = put(ws, 1, 2, "=SUM(A1)")

    unguarded = ws.cell(row=1, column=3)
    unguarded.value = "=SUM(A1)"

    assert number.value == -3.5 and number.data_type == "n"
    assert text.value == "'=SUM(A1)" and text.data_type == "s"
    assert unguarded.data_type == "f"  # what openpyxl does with raw text: a live formula


def test_sheet_titles_are_legal_and_unique():
    taken: set[str] = set()

    assert sheet_title("发改委", taken) == "发改委"
    assert sheet_title("发改委", taken) == "发改委(2)"
    assert sheet_title("a/b:c*?[d]", taken) == "a_b_c___d_"
    assert len(sheet_title("很" * 40, taken)) == 31


def test_rejected_rows_are_read_up_to_a_bound_and_the_rest_counted(seeded, tmp_path, monkeypatch):
    import kpi.reports.data

    monkeypatch.setattr(kpi.reports.data, "ROWS_KEPT", 2)
    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
    ws = load_workbook(paths["workbook"])["拒收明细"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    page = paths["html"].read_text(encoding="utf-8")

    assert any(t.startswith("共 5 行，此处列出最新的 2 行") for t in texts)
    assert "被拒收或提示的行（共 5 行" in page
