"""The leadership workbook read back with openpyxl: statuses, layout, and no formula injection."""

from __future__ import annotations

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
from kpi.reports.workbook import FORMULA_LEAD, put, safe_text, sheet_title

DEPARTMENT_SHEETS = ["发改委", "统计局", "人社局", "科技局", "市场监管局"]


@pytest.fixture
def workbook(seeded, tmp_path):
    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
    return load_workbook(paths["workbook"])


def header_row(ws, first: str) -> int:
    return next(r for r in range(1, 10) if ws.cell(row=r, column=1).value == first)


def test_the_workbook_has_a_summary_then_one_sheet_per_department(workbook):
    assert workbook.sheetnames == ["汇总", *DEPARTMENT_SHEETS, "数据报送", "拒收明细"]


def test_each_department_sheet_lists_its_targets_with_their_status(workbook):
    found = {}
    for name in DEPARTMENT_SHEETS:
        ws = workbook[name]
        head = header_row(ws, "代码")
        titles = [c.value for c in ws[head]]
        col = titles.index("状态") + 1
        for r in range(head + 1, ws.max_row + 1):
            code = ws.cell(row=r, column=1).value
            found[code] = ws.cell(row=r, column=col).value
            assert ws.cell(row=r, column=col).fill.fgColor.rgb not in (None, "00000000")

    assert found == {code: row[8] for code, row in PROGRESS.items()}


def test_every_sheet_freezes_its_header_row(workbook):
    for ws in workbook:
        first = (
            "牵头单位"
            if ws.title == "汇总"
            else ("代码" if ws.title in DEPARTMENT_SHEETS else "接收时间")
        )
        head = header_row(ws, first)
        assert ws.freeze_panes == f"A{head + 1}", ws.title
        assert ws.column_dimensions["A"].width > 5


def test_the_summary_counts_statuses_by_department(workbook):
    ws = workbook["汇总"]
    head = header_row(ws, "牵头单位")
    titles = [c.value for c in ws[head]]
    total = next(
        r for r in range(head + 1, ws.max_row + 1) if ws.cell(row=r, column=1).value == "合计"
    )
    counts = {titles[c - 1]: ws.cell(row=total, column=c).value for c in range(2, 8)}

    assert counts == {"已完成": 0, "正常": 1, "预警": 1, "滞后": 1, "严重滞后": 2, "无数据": 2}


def test_figures_are_numbers_in_the_unit_the_report_wrote(workbook):
    ws = workbook["发改委"]
    head = header_row(ws, "代码")
    titles = [c.value for c in ws[head]]
    row = next(
        r
        for r in range(head + 1, ws.max_row + 1)
        if ws.cell(row=r, column=1).value == "investment_total"
    )

    def cell(title):
        return ws.cell(row=row, column=titles.index(title) + 1)

    assert cell("单位").value == "亿元"
    assert cell("目标值").value == pytest.approx(227.4)
    assert cell("实际值").value == pytest.approx(125.0)
    assert cell("完成率(%)").value == pytest.approx(54.97)
    assert cell("完成率(%)").number_format == "0.0"
    assert cell("差距(百分点)").value == pytest.approx(4.97)


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
