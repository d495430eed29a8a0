"""Export then import of a plan's 分解表 is lossless, and the workbook is what an office keeps."""

from __future__ import annotations

from openpyxl import load_workbook

from kpi.catalogue import load_catalogue
from kpi.config import ROOT
from kpi.plan import export_plan, import_plan
from kpi.plan.table import HEADERS

OFFICE_COLUMNS = [
    "序号", "目标任务", "原文", "类型", "比较", "目标值", "单位",
    "完成时限", "牵头单位", "责任单位", "报送周期", "序时进度曲线", "是否重点", "备注",
]  # fmt: skip


def test_hongqi_exported_and_imported_back_has_the_same_targets_in_every_field(
    hongqi, exported, catalogue_dir, cfg
):
    path = import_plan(cfg, exported, "hongqi-2023", catalogue_dir)
    back = load_catalogue(path)
    assert [t.model_dump() for t in back.targets] == [t.model_dump() for t in hongqi.targets]
    assert back.plan == hongqi.plan
    # and the text in git is exactly what import writes: stable order, nothing lost
    assert path.read_text("utf-8") == (ROOT / "catalogue" / "hongqi-2023.yaml").read_text("utf-8")


def test_the_workbook_has_the_office_columns_first_then_the_catalogue_fields(exported):
    ws = load_workbook(exported)["分解表"]
    headers = [c.value for c in ws[2]]
    assert headers[:14] == OFFICE_COLUMNS
    assert headers == list(HEADERS)
    assert ws["B3"].value == "地区生产总值增长" and ws["H3"].data_type == "d"


def test_the_workbook_offers_drop_down_lists_and_instructions(exported, hongqi):
    wb = load_workbook(exported)
    assert wb.sheetnames[0] == "分解表"
    assert {"填写说明", "计划信息", "选项"} <= set(wb.sheetnames)
    assert wb["选项"].sheet_state == "hidden"
    ws = wb["分解表"]
    lists = {
        str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
        for dv in ws.data_validations.dataValidation
        if dv.type == "list"
    }
    # 类型 (D), 比较 (E), 牵头单位 (I), 报送周期 (K), 序时进度曲线 (L), 是否重点 (M)
    assert set("DEIKLM") <= set(lists)
    opts = wb["选项"]
    col = {opts.cell(1, j).value: j for j in range(1, opts.max_column + 1)}
    depts = [opts.cell(i, col["单位"]).value for i in range(2, 2 + len(hongqi.departments))]
    assert depts == [d.short_zh for d in hongqi.departments]
    kinds = [opts.cell(i, col["类型"]).value for i in range(2, 10)]
    assert "增速" in kinds and "节点任务" in kinds
    help_text = "\n".join(str(c.value or "") for c in wb["填写说明"]["A"])
    assert "序时进度曲线" in help_text and "二季度末 35%" in help_text


def test_text_that_looks_like_a_formula_stays_text(hongqi, tmp_path):
    t = hongqi.targets[0].model_copy(update={"notes": '=HYPERLINK("http://x")'})
    cat = hongqi.model_copy(update={"targets": [t]})
    ws = load_workbook(export_plan(cat, tmp_path / "f.xlsx"))["分解表"]
    cell = ws["N3"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
