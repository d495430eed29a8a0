"""`kpi plan draft`: the 2023 report's commitments as 分解表 rows, by rules and a lexicon."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kpi.config import ROOT
from kpi.plan.draft import clean_text, draft_plan, find_date, load_keywords
from kpi.plan.score import Squashed, catalogue_gold, labelled_gold, score

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
REPORT = ROOT / "catalogue" / "hongqi-2023.report.txt"
RAW = REPORT.read_text("utf-8")


@pytest.fixture(scope="module")
def draft(hongqi):
    return draft_plan(RAW, departments=hongqi.departments)


def rows_with(draft, text):
    return [r for r in draft.rows if text in r.source_clean]


def test_the_2023_report_reaches_the_goals_by_the_benchmarks_own_count(draft, hongqi):
    sq = Squashed(RAW)
    s = score(draft.rows, catalogue_gold(hongqi, sq), sq)
    assert s.gold >= 85
    assert s.recall >= 0.90 and s.precision >= 0.80, (s.misses, s.false_rows)


def test_every_source_is_an_exact_substring_of_the_text(draft):
    assert draft.year == 2023 and draft.district_zh == "红旗区"
    for r in draft.rows:
        assert RAW[r.start : r.end] == r.source
        assert r.source_clean in clean_text(RAW)[0]


def test_the_review_of_last_year_and_the_glossary_stay_out(draft):
    sources = "".join(r.source_clean for r in draft.rows)
    for past in ("254 亿元", "9200", "214.3", "即办件率", "13710", "1 天内"):
        assert past not in sources
    assert {r.section for r in draft.rows} <= {"二"} | {f"三({n})" for n in "一二三四五六七"}


def test_headline_rates_are_growth_targets_at_or_above_the_number(draft):
    gdp = rows_with(draft, "GDP 增长 8.5%以上")[0]
    assert (gdp.kind, gdp.comparator, gdp.value, gdp.unit) == ("growth_rate", ">=", 8.5, "%")
    assert gdp.headline and gdp.section == "二" and gdp.department == "统计局"


def test_a_ceiling_a_relative_target_and_never_happening(draft):
    cap = rows_with(draft, "失业率控制在 4.5%以内")[0]
    assert (cap.kind, cap.comparator, cap.value, cap.firmness) == ("ceiling", "<=", 4.5, "firm")
    city = rows_with(draft, "高于全市平均水平")[0]
    assert (city.kind, city.comparator, city.reference) == ("relative", ">", "city_average")
    zone = rows_with(draft, "高于全区平均增速 5")[0]
    assert (zone.value, zone.unit, zone.reference) == (5, "百分点", "district_average")
    never = rows_with(draft, "不发生规模性返贫致贫")[0]
    assert (never.kind, never.value) == ("ceiling", 0)


def test_a_multi_item_clause_becomes_one_row_per_figure_with_its_firmness(draft):
    both = rows_with(draft, "新增国家高新技术企业 30 家、国家科技型中小企业 40 家")
    assert [(r.value, r.unit, r.firmness) for r in both] == [
        (30, "家", "aspirational"),
        (40, "家", "aspirational"),
    ]
    assert both[1].name_zh == "新增国家科技型中小企业"
    platforms = rows_with(draft, "确保全年新增省级研发平台")
    assert [r.firmness for r in platforms] == ["firm", "firm"]
    carriers = rows_with(draft, "力争创建省级众创空间")[0]
    assert carriers.firmness == "aspirational"


def test_dated_clauses_become_milestones_one_per_thing_named(draft):
    banks = rows_with(draft, "恒丰银行")
    assert [(r.kind, r.deadline) for r in banks] == [("milestone", "2023-12-31")] * 3
    assert [r.name_zh for r in banks] == ["市工商银行落位", "恒丰银行落位", "浙商银行落位"]
    schools = rows_with(draft, "平原小学改扩建项目年内开工")
    assert len(schools) == 5
    h1 = rows_with(draft, "张庄、马小营")
    assert len(h1) == 4 and {r.deadline for r in h1} == {"2023-06-30"}
    parlour = rows_with(draft, "金融会客厅")[0]
    assert (parlour.deadline, parlour.firmness) == ("2023-06-30", "aspirational")


def test_scope_figures_are_not_commitments(draft):
    figures = {(r.value, r.unit) for r in draft.rows}
    for scope in ((1373, "亿元"), (150, "亿元"), (908, "亿元"), (30, "亿元"), (2000, "MWh")):
        assert scope not in figures


@pytest.mark.parametrize(
    ("clause", "deadline"),
    [
        ("力争 6 月底完成改造任务", "2023-06-30"),
        ("三季度建成投用", "2023-09-30"),
        ("9月15日前完成招标", "2023-09-15"),
        ("十月份开工", "2023-10-31"),
        ("年底前全部竣工", "2023-12-31"),
        ("1-6月增长8%", None),
    ],
)
def test_dates_in_a_clause(clause, deadline):
    d, *_ = find_date(clause, 2023)
    assert (d.isoformat() if d else None) == deadline


def test_other_districts_reports_find_most_targets_with_few_false_rows():
    found = gold = correct = rows = 0
    for path in sorted(FIXTURES.glob("*.txt")):
        labels = yaml.safe_load(path.with_suffix(".yaml").read_text("utf-8"))
        text = path.read_text("utf-8")
        sq = Squashed(text)
        s = score(
            draft_plan(text, year=labels["year"]).rows, labelled_gold(labels["targets"], sq), sq
        )
        found, gold, correct, rows = (
            found + s.found,
            gold + s.gold,
            correct + s.correct,
            rows + s.rows,
        )
    assert gold >= 40
    assert found / gold >= 0.85 and correct / rows >= 0.85


def test_approximately_is_at_or_above_and_marked():
    r = draft_plan("主要预期目标是:全市生产总值增长5%左右。", year=2024).rows[0]
    assert (r.kind, r.comparator, r.value, r.approx) == ("growth_rate", ">=", 5, True)
    assert "左右" in r.notes


def test_new_schools_three_and_kindergartens_five_are_two_rows():
    rows = draft_plan("今年新建学校3所、幼儿园5所。", year=2024).rows
    assert [(r.name_zh, r.value, r.unit) for r in rows] == [
        ("新建学校", 3, "所"),
        ("新建幼儿园", 5, "所"),
    ]


def test_the_keyword_table_in_config_decides_the_suggested_department(tmp_path):
    text = "确保新增城镇就业 8500人。"
    assert draft_plan(text, year=2023).rows[0].department == "人社局"
    (tmp_path / "kw.toml").write_text(
        '[[rule]]\ndepartment = ["就业服务中心"]\nkeywords = ["城镇就业"]\n', encoding="utf-8"
    )
    rows = draft_plan(text, year=2023, keywords=load_keywords(tmp_path / "kw.toml")).rows
    assert rows[0].department == "就业服务中心"


def test_the_suggested_department_is_found_by_the_registers_aliases_and_district_prefix():
    from kpi.catalogue import Department

    text = "红旗区人民政府工作报告\n2023年主要预期目标：完成投资 227.4亿元。新增城镇就业 8500人。"
    register = [
        # neither name is in the keyword table (发改委, 发展改革委, 发改局, ...): an alias is
        Department(
            code="jfj", name_zh="区经济发展局", short_zh="经发局", route="dept-jfj",
            aliases=["发改局"],
        ),
        # the register writes the district's prefix, the keyword table does not
        Department(code="rsj", name_zh="红旗区人社局", short_zh="区人社局", route="dept-rsj"),
    ]  # fmt: skip
    rows = {r.name_zh: r.department for r in draft_plan(text, departments=register).rows}
    assert rows == {"完成投资": "经发局", "新增城镇就业": "区人社局"}
    # without a register, the first name of the keyword rule, for the reviewer to correct
    assert {r.department for r in draft_plan(text).rows} == {"发改委", "人社局"}


def test_a_docx_report_drafts_the_same_rows_as_its_text(tmp_path):
    import docx

    from kpi.plan.text import read_report

    text = (FIXTURES / "baiyun-2023.txt").read_text("utf-8")
    doc = docx.Document()
    for para in text.splitlines():
        doc.add_paragraph(para)
    doc.save(tmp_path / "r.docx")
    got = draft_plan(read_report(tmp_path / "r.docx"), year=2023).rows
    want = draft_plan(text, year=2023).rows
    assert [(r.value, r.unit, r.name_zh) for r in got] == [
        (r.value, r.unit, r.name_zh) for r in want
    ]


def test_kpi_plan_draft_json_prints_the_fields_the_issue_names(tmp_path, forks):
    done = forks.run(["plan", "draft", str(REPORT), "--json"], dict(os.environ))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rows = json.loads(out)
    need = {"name_zh", "kind", "comparator", "value", "unit", "deadline", "department",
            "firmness", "source"}  # fmt: skip
    assert len(rows) >= 80 and all(need <= r.keys() for r in rows)
    assert all(r["source"] in RAW for r in rows)
    assert all(r["value"] is None or isinstance(r["value"], int | float) for r in rows)


def test_kpi_plan_draft_writes_a_workbook_that_imports_once_reviewed(
    tmp_path, cfg, catalogue_dir, forks
):
    from openpyxl import load_workbook

    from kpi.plan import import_plan

    out = tmp_path / "draft.xlsx"
    done = forks.run(["plan", "draft", str(REPORT), "-o", str(out)], dict(os.environ))
    assert done.returncode == 0, done.stderr
    wb = load_workbook(out)
    ws = wb["分解表"]
    lead = [c.value for c in ws[2]].index("牵头单位") + 1
    for row in range(3, ws.max_row + 1):  # the review: every lead department in the register
        if ws.cell(row, lead).value in (None, "交通运输局"):
            ws.cell(row, lead).value = "住建局"
    wb.save(out)
    path = import_plan(cfg, out, "red-2023", catalogue_dir, report=REPORT)
    from kpi.catalogue import load_catalogue

    cat = load_catalogue(path)
    assert (
        len(cat.targets) >= 80
        and cat.plan.year == 2023
        and cat.plan.report == "red-2023.report.txt"
    )
