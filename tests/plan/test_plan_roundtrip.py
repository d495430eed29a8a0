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


# ---------------------------------------------------------------- monthly plans (status.toml)

INVESTMENT_PLAN = [5, 8, 14, 18, 20, 25, 18, 18, 22, 22, 20, 37]  # status.toml's own example
CAPITAL_PLAN = [1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4]


def _with_monthly_plans(cfg, tmp_path, plans: dict[str, list[int]], plan="hongqi-2023"):
    """Settings whose status config is the project's plus [monthly_plans."<plan>"]."""
    from dataclasses import replace

    text = (ROOT / "config" / "status.toml").read_text("utf-8")
    text += f'\n[monthly_plans."{plan}"]\n'
    text += "".join(f"{code} = {amounts}\n" for code, amounts in plans.items())
    path = tmp_path / "status.toml"
    path.write_text(text, encoding="utf-8")
    return replace(cfg, status_config=path)


def _cells(path, *codes) -> dict[str, str]:
    ws = load_workbook(path)["分解表"]
    col = {h: j for j, h in enumerate(HEADERS, start=1)}
    rows = {ws.cell(r, col["指标代码"]).value: r for r in range(3, ws.max_row + 1)}
    return {c: ws.cell(rows[c], col["各月累计进度(%)"]).value for c in codes}


def test_the_exported_table_shows_the_monthly_plans_that_set_time_progress_and_imports_back_unchanged(
    hongqi, cfg, tmp_path, catalogue_dir
):
    from kpi.plan import monthly_plans
    from transforms.progress import profile_from_monthly_plan

    plans = {"project_investment": INVESTMENT_PLAN, "domestic_capital_attracted": CAPITAL_PLAN}
    cfg = _with_monthly_plans(cfg, tmp_path, plans)
    path = export_plan(hongqi, tmp_path / "f.xlsx", monthly_plans(cfg, "hongqi-2023"))

    cells = _cells(
        path, "project_investment", "domestic_capital_attracted", "foreign_capital_absorbed"
    )
    shares = profile_from_monthly_plan(INVESTMENT_PLAN)
    assert cells["project_investment"] == (
        "月度计划：" + ",".join(f"{x * 100:.2f}".rstrip("0").rstrip(".") for x in shares)
        + "；季节曲线：4,10,18,26,35,46,54,62,72,82,91,100"
    )  # fmt: skip
    assert cells["project_investment"].startswith("月度计划：2.2,5.73,11.89,")
    assert cells["domestic_capital_attracted"].startswith("月度计划：4.17,8.33,16.67,")
    assert cells["foreign_capital_absorbed"] in (None, "")  # no plan, no curve: nothing to show

    back = load_catalogue(import_plan(cfg, path, "hongqi-2023", catalogue_dir))
    assert [t.model_dump() for t in back.targets] == [t.model_dump() for t in hongqi.targets]


def test_a_monthly_plan_edited_in_the_table_is_refused_naming_row_and_column(
    hongqi, cfg, tmp_path, catalogue_dir
):
    from kpi.plan import ImportError_, monthly_plans

    cfg = _with_monthly_plans(cfg, tmp_path, {"domestic_capital_attracted": CAPITAL_PLAN})
    path = export_plan(hongqi, tmp_path / "f.xlsx", monthly_plans(cfg, "hongqi-2023"))
    wb = load_workbook(path)
    ws = wb["分解表"]
    col, code = HEADERS.index("各月累计进度(%)") + 1, HEADERS.index("指标代码") + 1
    row = next(
        r for r in range(3, ws.max_row + 1)
        if ws.cell(r, code).value == "domestic_capital_attracted"
    )  # fmt: skip
    ws.cell(row, col).value = ws.cell(row, col).value.replace("4.17,", "6,", 1)
    wb.save(path)

    try:
        import_plan(cfg, path, "hongqi-2023", catalogue_dir)
    except ImportError_ as exc:
        (problem,) = exc.problems
    else:
        raise AssertionError("an edited monthly plan was imported")
    assert problem.startswith(f"第{row}行“各月累计进度(%)”列：月度计划与")
    assert "1月末：表中 6%，配置为 4.17%" in problem and "config/status.toml" in problem
    assert not (catalogue_dir / "hongqi-2023.yaml").exists()


def test_a_monthly_plan_the_config_does_not_hold_for_the_new_plan_code_is_refused(
    hongqi, cfg, tmp_path, catalogue_dir
):
    from kpi.plan import ImportError_, monthly_plans

    cfg = _with_monthly_plans(cfg, tmp_path, {"domestic_capital_attracted": CAPITAL_PLAN})
    path = export_plan(hongqi, tmp_path / "f.xlsx", monthly_plans(cfg, "hongqi-2023"))

    try:
        import_plan(cfg, path, "hongqi-2024", catalogue_dir)
    except ImportError_ as exc:
        problems = [p for p in exc.problems if "各月累计进度" in p]
    else:
        raise AssertionError("imported")
    assert len(problems) == 1
    assert "没有本计划“domestic_capital_attracted”的月度计划" in problems[0]
    assert "请删去“月度计划：…”" in problems[0]


def test_a_monthly_plan_on_a_target_not_judged_by_a_curve_is_refused(
    hongqi, cfg, tmp_path, catalogue_dir
):
    from kpi.plan import ImportError_

    cfg = _with_monthly_plans(cfg, tmp_path, {"gdp_growth": CAPITAL_PLAN})
    path = export_plan(hongqi, tmp_path / "f.xlsx")
    wb = load_workbook(path)
    ws = wb["分解表"]
    col = {h: j for j, h in enumerate(HEADERS, start=1)}
    row = next(
        r for r in range(3, ws.max_row + 1) if ws.cell(r, col["指标代码"]).value == "gdp_growth"
    )
    ws.cell(
        row, col["各月累计进度(%)"]
    ).value = "月度计划：4.55,9.09,18.18,27.27,36.36,45.45,54.55,63.64,72.73,81.82,90.91,100"
    wb.save(path)

    try:
        import_plan(cfg, path, "hongqi-2023", catalogue_dir)
    except ImportError_ as exc:
        assert exc.problems == [
            f"第{row}行“各月累计进度(%)”列：只有累计量、累计数按月度计划计算序时进度"
        ]
    else:
        raise AssertionError("imported")


def test_kpi_plan_export_shows_the_monthly_plans_of_the_status_config(cfg, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kpi.cli import main
    from kpi.config import settings

    status = _with_monthly_plans(cfg, tmp_path, {"project_investment": INVESTMENT_PLAN})
    monkeypatch.setenv("KPI_STATUS_CONFIG", str(status.status_config))
    settings.cache_clear()
    try:
        out = tmp_path / "exported.xlsx"
        result = CliRunner().invoke(
            main, ["plan", "export", "--plan", "hongqi-2023", "-o", str(out)]
        )
    finally:
        settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert _cells(out, "project_investment")["project_investment"].startswith("月度计划：2.2,")


def test_a_curve_cell_with_a_label_twice_gets_one_clear_problem(
    hongqi, cfg, tmp_path, catalogue_dir
):
    from kpi.plan import ImportError_

    path = export_plan(hongqi, tmp_path / "f.xlsx")
    wb = load_workbook(path)
    ws = wb["分解表"]
    col = {h: j for j, h in enumerate(HEADERS, start=1)}
    row = next(
        r for r in range(3, ws.max_row + 1)
        if ws.cell(r, col["指标代码"]).value == "project_investment"
    )  # fmt: skip
    curve = ws.cell(row, col["各月累计进度(%)"]).value
    ws.cell(row, col["各月累计进度(%)"]).value = f"季节曲线：{curve}；季节曲线：{curve}"
    wb.save(path)

    try:
        import_plan(cfg, path, "hongqi-2023", catalogue_dir)
    except ImportError_ as exc:
        assert exc.problems == [f"第{row}行“各月累计进度(%)”列：“季节曲线”出现了两次"]
    else:
        raise AssertionError("imported")
