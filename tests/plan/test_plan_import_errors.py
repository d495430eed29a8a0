"""A bad 分解表 is refused row by row in Chinese, and nothing is written until every row is valid."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from openpyxl import load_workbook

from kpi.plan import ImportError_, import_plan
from kpi.plan.table import HEADERS

COL = {h: i + 1 for i, h in enumerate(HEADERS)}


def edit(path, changes: dict[tuple[int, str], object]):
    """Change cells of the 分解表 sheet: {(row, header): value}."""
    wb = load_workbook(path)
    ws = wb["分解表"]
    for (row, header), value in changes.items():
        ws.cell(row=row, column=COL[header]).value = value
    wb.save(path)
    return path


def problems(cfg, path, folder) -> list[str]:
    with pytest.raises(ImportError_) as info:
        import_plan(cfg, path, "hongqi-2023", folder)
    assert not (folder / "hongqi-2023.yaml").exists()  # nothing written
    return info.value.problems


# row 3 is gdp_growth (growth_rate), row 4 rd_spending_growth; row 10 is a qualitative task
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({(3, "牵头单位"): "发展局"}, "第3行“牵头单位”列：未知单位“发展局”"),
        ({(3, "责任单位"): "发改委、宣传部"}, "第3行“责任单位”列：未知单位“宣传部”"),
        ({(4, "目标值"): "二十"}, "第4行“目标值”列：“二十”不是数字"),
        ({(4, "完成时限"): datetime(2024, 6, 30)}, "第4行“完成时限”列：2024-06-30 不在计划年度"),
        ({(4, "完成时限"): "明年"}, "第4行“完成时限”列：“明年”不是日期"),
        ({(3, "比较"): "≤"}, "第3行“比较”列：“≤”与类型“增速”不符"),
        ({(3, "比较"): "完成"}, "第3行“比较”列：“完成”与类型“增速”不符"),
        ({(4, "指标代码"): "gdp_growth"}, "第4行“指标代码”列：“gdp_growth”与第3行重复"),
        ({(4, "目标任务"): "地区生产总值增长"}, "第4行“目标任务”列：“地区生产总值增长”与第3行同名"),
        ({(3, "类型"): "愿景"}, "第3行“类型”列：未知类型“愿景”"),
        ({(3, "原文"): "GDP 增长 9%以上"}, "第3行“原文”列：在报告原文中找不到这段话"),
        ({(3, "单位"): "吨标煤"}, "第3行“单位”列：未知计量单位“吨标煤”"),
        ({(3, "序时进度曲线"): "季节曲线"}, "第3行“序时进度曲线”列：“季节曲线”不适用于“增速”"),
        ({(3, "报送周期"): "每天"}, "第3行“报送周期”列：无法识别“每天”"),
        ({(3, "报送日"): 31}, "第3行“报送日”列：“31”不是 1–28 之间的整数"),
    ],
)
def test_each_kind_of_bad_cell_is_named_by_row_and_column(
    cfg, exported, catalogue_dir, changes, expected
):
    found = problems(cfg, edit(exported, changes), catalogue_dir)
    assert any(expected in p for p in found), found


def test_a_seasonal_curve_below_the_quarter_floor_is_refused(cfg, hongqi, exported, catalogue_dir):
    row = 3 + [t.code for t in hongqi.targets].index("new_high_tech_enterprises")
    curve = ",".join(["0"] * 11 + ["100"])
    found = problems(cfg, edit(exported, {(row, "各月累计进度(%)"): curve}), catalogue_dir)
    assert f"第{row}行“各月累计进度(%)”列：第1季度末只安排了0%，低于下限10%" in found[0]


def test_every_bad_row_is_listed_at_once_and_an_existing_catalogue_is_left_alone(
    cfg, exported, catalogue_dir
):
    before = "# the office's current plan\n"
    (catalogue_dir / "hongqi-2023.yaml").write_text(before, encoding="utf-8")
    edit(exported, {(3, "牵头单位"): "发展局", (5, "目标值"): "abc", (6, "比较"): "完成"})
    with pytest.raises(ImportError_) as info:
        import_plan(cfg, exported, "hongqi-2023", catalogue_dir)
    assert len(info.value.problems) == 3
    assert (catalogue_dir / "hongqi-2023.yaml").read_text("utf-8") == before


def test_new_rows_without_a_code_are_numbered_and_defaults_fill_the_rest(
    cfg, exported, catalogue_dir
):
    from kpi.catalogue import load_catalogue

    edit(exported, {(3, "指标代码"): None, (3, "报送日"): None, (3, "序时进度曲线"): None})
    cat = load_catalogue(import_plan(cfg, exported, "hongqi-2023", catalogue_dir))
    t = cat.targets[0]
    assert t.code == "t001" and t.due_day == 10 and t.pace == "direct"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "文件为空"), (b"not a zip at all", "文件已损坏或不是 .xlsx"), (b"x" * 5000, "文件过大")],
)
def test_a_file_that_is_no_workbook_is_refused_whole(cfg, tmp_path, catalogue_dir, content, reason):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    small = replace(cfg, max_file_bytes=4000)
    with pytest.raises(ImportError_) as info:
        import_plan(small, path, "hongqi-2023", catalogue_dir)
    assert reason in info.value.problems[0]


def test_a_zip_bomb_is_refused_before_it_is_opened(cfg, exported, catalogue_dir):
    small = replace(cfg, max_xlsx_uncompressed_bytes=10_000)
    with pytest.raises(ImportError_, match="解压后过大"):
        import_plan(small, exported, "hongqi-2023", catalogue_dir)


def test_the_cli_prints_the_problems_in_chinese_and_exits_non_zero(exported, catalogue_dir, forks):
    import os

    edit(exported, {(3, "牵头单位"): "发展局"})
    # `kpi plan import` in a process of its own (a fork of the warm interpreter, in ROOT).
    done = forks.run(
        ["plan", "import", str(exported), "--plan", "x-2023", "-o", str(catalogue_dir)],
        dict(os.environ),
    )
    assert done.returncode == 1
    assert "第3行“牵头单位”列：未知单位“发展局”" in done.stderr
    assert not (catalogue_dir / "x-2023.yaml").exists()
